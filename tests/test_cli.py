"""The ``vigil`` command line, run for real against a scratch database per test.

Each test gets its own migrated-from-nothing database: a SQLite file under the test's temporary
folder, and (when a server answers) a dedicated PostgreSQL database created for the test and
dropped afterwards. Configuration goes through the same ``VIGIL_*`` environment variables an
operator would set; ``get_settings`` is cached, so the cache is cleared around every command.
PostgreSQL is skipped with a visible reason only when no server answers and CI is not set; in CI
a missing server is a failure. Commands run in-process through Typer's ``CliRunner``.
"""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import orjson
import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import func, inspect, select

from tests.scratch import Cli, flat, master_key, runner
from vigil.access.commands import CLI_ACTOR
from vigil.access.models import ApiToken, Organisation, SharingAgreement, Team, User
from vigil.audit.models import AuditEvent
from vigil.cli import app
from vigil.db import as_utc
from vigil.intake.export import CSV_FIELDS
from vigil.intake.models import Report, ReporterIdentity, ReportOnline, ReportPerson, ReportVehicle
from vigil.intake.services import open_identity
from vigil.settings import get_settings
from vigil.web.app import create_app

TOKEN = re.compile(r"vgl_[A-Za-z0-9_-]{20,}")
EXAMPLE_HOSTS = {"example.org", "example.com", "example.net"}
EMAIL = re.compile(r"[\w.+-]+@([\w-]+(?:\.[\w-]+)+)")
PHONE = re.compile(r"(?<![\w+])(?:\+44\s?|0)7\d{3}\s?\d{3}\s?\d{3}(?!\w)")
POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$")


@pytest.fixture
def seeded(migrated: Cli) -> Cli:
    migrated("demo", "seed", "--reports", "40", "--seed", "11")
    return migrated


def identities(cli: Cli) -> dict[str, dict[str, str | None]]:
    """Every sealed reporter identity, opened (for checking, never for printing)."""
    with cli.runtime() as rt, rt.db.session() as session:
        rows = session.execute(
            select(ReporterIdentity, Report.reference).join(
                Report, Report.id == ReporterIdentity.report_id
            )
        ).all()
        return {ref: open_identity(rt, row, ref) for row, ref in rows}


def key_ids(cli: Cli) -> set[str]:
    with cli.engine() as engine, engine.connect() as conn:
        return set(conn.scalars(select(ReporterIdentity.key_id)))


# --- help and schema ---------------------------------------------------------------------


def _command_paths(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and group under ``command`` (groups are the ones with sub-commands)."""
    yield path
    subcommands: dict[str, object] = getattr(command, "commands", None) or {}
    for name, sub in subcommands.items():
        yield from _command_paths(sub, (*path, name))


def test_help_works_on_every_command_and_subcommand() -> None:
    paths = list(_command_paths(typer.main.get_command(app)))
    expected: set[tuple[str, ...]] = {("db", "upgrade"), ("demo", "seed"), ("users", "create")}
    expected |= {("reports", "export"), ("keys", "rotate"), ("serve",)}
    assert expected <= set(paths)
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage:" in result.stdout and "--help" in result.stdout, path


def test_db_upgrade_creates_the_schema(cli: Cli) -> None:
    result = cli("db", "upgrade")
    assert "Database at head" in result.stderr
    with cli.engine() as engine:
        tables = set(inspect(engine).get_table_names())
    assert {"alembic_version", "reports", "reporter_identities", "users", "audit_events"} <= tables
    cli("db", "upgrade")  # running it again is harmless


# --- users -------------------------------------------------------------------------------


def test_users_create_makes_the_org_and_prints_a_working_token_once(migrated: Cli) -> None:
    result = migrated(
        "users", "create", "Ana@Example.org", "--org", "Test Force", "--role", "triage_analyst",
        "--org-kind", "police", "--token",
    )  # fmt: skip
    lines = result.stdout.split()
    assert len(lines) == 1 and lines[0].startswith("vgl_"), result.stdout
    token = lines[0]
    assert token not in result.stderr
    assert "Created ana@example.org (triage_analyst) in Test Force." in flat(result.stderr)
    with migrated.engine() as engine, engine.connect() as conn:
        org = conn.execute(select(Organisation).where(Organisation.name == "Test Force")).one()
        user = conn.execute(select(User).where(User.email == "ana@example.org")).one()
    assert org.kind == "police" and user.organisation_id == org.id
    assert user.role == "triage_analyst"
    with TestClient(create_app(get_settings())) as client:
        ok = client.get("/api/v1/reports", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200, ok.text
        assert ok.json()["items"] == []
        wrong = client.get("/api/v1/reports", headers={"Authorization": f"Bearer {token}x"})
        assert wrong.status_code == 401


def test_creating_the_same_user_twice_fails_with_a_clear_message(migrated: Cli) -> None:
    args = ("users", "create", "dup@example.org", "--org", "Org A", "--role", "investigator")
    first = migrated(*args)
    assert first.stdout == ""  # no --token: nothing secret, nothing on stdout
    again = migrated(*args, code=1)
    assert "a user with e-mail dup@example.org already exists" in flat(again.stderr)
    assert again.stdout == ""
    assert migrated.count(User) == 1


def test_an_unknown_role_is_refused(migrated: Cli) -> None:
    result = migrated(
        "users", "create", "x@example.org", "--org", "Org", "--role", "overlord", "--token",
        code=2,
    )  # fmt: skip
    assert "Invalid value for '--role'" in flat(result.stderr)
    assert result.stdout == ""
    assert migrated.count(User) == 0 and migrated.count(Organisation) == 0


# --- demo data ---------------------------------------------------------------------------


def test_demo_seed_creates_reports_of_several_kinds_and_staff_tokens(migrated: Cli) -> None:
    result = migrated("demo", "seed", "--reports", "40")
    output = flat(result.stderr)
    assert "Created 40 synthetic reports" in output
    analyst = re.search(r"Demo analyst token \(dev only\): (vgl_[\w-]+)", output)
    assert analyst and re.search(r"Demo admin token \(dev only\): vgl_[\w-]+", output)
    with migrated.engine() as engine, engine.connect() as conn:
        kinds = set(conn.scalars(select(Report.kind)))
        staff = {email: role for email, role in conn.execute(select(User.email, User.role))}
    assert migrated.count(Report) == 40
    assert len(kinds) >= 4
    assert staff == {
        "analyst@example.org": "triage_analyst",
        "admin@example.org": "administrator",
        "investigator@example.org": "investigator",  # the regional unit's (linkage demo)
    }
    assert re.search(r"Demo investigator token \(dev only\): vgl_[\w-]+", output)
    assert re.search(r"Demo closed subject SUB-\w+ uses vehicle", output)
    with TestClient(create_app(get_settings())) as client:
        page = client.get(
            "/api/v1/reports?limit=100", headers={"Authorization": f"Bearer {analyst.group(1)}"}
        )
        assert page.status_code == 200 and len(page.json()["items"]) == 40

    again = migrated("demo", "seed", "--reports", "40", "--if-empty")
    assert "40 reports already present" in flat(again.stderr)
    assert migrated.count(Report) == 40 and migrated.count(User) == 3


def test_demo_seed_is_refused_in_production(migrated: Cli) -> None:
    migrated.setenv(
        ENVIRONMENT="production",
        SECRET_KEY="s" * 40,
        MASTER_KEYS=f"p1={master_key()}",
        AUDIT_SIGNING_KEY=master_key(),
    )
    result = migrated("demo", "seed", "--reports", "3", code=1)
    assert "never seeded into production" in flat(result.stderr)
    assert "vgl_" not in result.stderr + result.stdout
    assert migrated.count(Report) == 0 and migrated.count(User) == 0


def test_demo_data_has_only_synthetic_contact_details(seeded: Cli) -> None:
    with seeded.engine() as engine, engine.connect() as conn:
        urls = list(conn.scalars(select(ReportOnline.url)))
        postcodes = [p for p in conn.scalars(select(Report.where_postcode)) if p]
        texts = [
            value
            for model in (Report, ReportPerson, ReportVehicle, ReportOnline)
            for row in conn.execute(select(model))
            for column, value in row._mapping.items()
            if isinstance(value, str) and column != "content_sha256"  # hex, not text
        ]
        emails = list(conn.scalars(select(User.email)))
    assert urls and all(urlsplit(u).hostname in EXAMPLE_HOSTS for u in urls), urls
    assert postcodes and all(POSTCODE.match(p) for p in postcodes), postcodes
    blob = "\n".join(texts)
    for match in EMAIL.finditer(blob):
        assert match.group(1) in EXAMPLE_HOSTS, match.group(0)
    for match in PHONE.finditer(blob):
        digits = re.sub(r"\D", "", match.group(0)).removeprefix("44").removeprefix("0")
        assert digits.startswith("7700900"), match.group(0)
    assert all(e.endswith("@example.org") for e in emails)


# --- export --------------------------------------------------------------------------------


def test_export_jsonl_writes_one_object_per_report_and_no_reporter_identity(
    seeded: Cli,
) -> None:
    result = seeded("reports", "export", "--format", "jsonl")
    records = [orjson.loads(line) for line in result.stdout.splitlines()]
    with seeded.engine() as engine, engine.connect() as conn:
        references = set(conn.scalars(select(Report.reference)))
    assert len(records) == 40 and {r["reference"] for r in records} == references
    assert all("reporter" not in r and r["channel"] == "demo" for r in records)
    who = identities(seeded)
    assert len(who) >= 5  # about a third of demo reporters leave contact details
    for identity in who.values():
        for key in ("name", "phone", "email"):
            value = identity.get(key)
            if value:
                assert value not in result.stdout, key
        if identity.get("phone"):
            national = "0" + str(identity["phone"]).removeprefix("+44")
            assert national not in result.stdout.replace(" ", "")
    assert "Exported 40 reports" in result.stderr


def test_export_since_returns_only_reports_received_from_then(seeded: Cli) -> None:
    with seeded.engine() as engine, engine.connect() as conn:
        latest = conn.scalar(select(func.max(Report.received_at)))
    assert latest is not None
    latest = latest.replace(tzinfo=UTC) if latest.tzinfo is None else latest
    since = latest.replace(microsecond=0) + timedelta(seconds=1)  # the option takes seconds
    while datetime.now(UTC) < since + timedelta(milliseconds=20):
        time.sleep(0.05)
    seeded("demo", "seed", "--reports", "5", "--seed", "7")
    stamp = since.strftime("%Y-%m-%dT%H:%M:%S")
    newer = seeded("reports", "export", "--since", stamp).stdout.splitlines()
    assert len(newer) == 5
    assert all(orjson.loads(line)["received_at"] >= since.isoformat()[:19] for line in newer)
    assert len(seeded("reports", "export").stdout.splitlines()) == 45


def test_export_csv_writes_a_header_and_a_row_per_report(seeded: Cli) -> None:
    result = seeded("reports", "export", "--format", "csv")
    reader = csv.DictReader(io.StringIO(result.stdout))
    rows = list(reader)
    assert reader.fieldnames == CSV_FIELDS
    assert len(rows) == 40 and len({r["reference"] for r in rows}) == 40
    assert all(isinstance(orjson.loads(r["people"]), list) for r in rows)


def test_export_is_recorded_as_one_audit_event(seeded: Cli) -> None:
    seeded("reports", "export", "--purpose", "weekly review")
    with seeded.engine() as engine, engine.connect() as conn:
        events = conn.execute(
            select(AuditEvent).where(AuditEvent.action == "report.exported")
        ).all()
        references = set(conn.scalars(select(Report.reference)))
    assert len(events) == 1
    event = events[0]
    assert event.purpose == "weekly review" and event.actor_label == CLI_ACTOR.label
    assert event.actor_label.startswith("cli:") and "@" in event.actor_label  # who, and where
    assert set(event.record_ids) == references and len(event.record_ids) == 40


# --- master keys -----------------------------------------------------------------------------


def test_keys_rotate_rewraps_every_identity_and_the_old_key_can_then_go(migrated: Cli) -> None:
    k1, k2 = master_key(), master_key()
    migrated.setenv(MASTER_KEYS=f"k1={k1}", MASTER_KEY_ID=None)
    migrated("demo", "seed", "--reports", "30", "--seed", "5")
    before = identities(migrated)
    assert len(before) >= 5 and key_ids(migrated) == {"k1"}

    migrated.setenv(MASTER_KEYS=f"k1={k1},k2={k2}", MASTER_KEY_ID="k2")
    result = migrated("keys", "rotate", "--batch", "4")
    assert f"reporter identities: {len(before)} re-wrapped" in flat(result.stderr)
    assert "Everything sealed is now wrapped by key k2." in flat(result.stderr)
    assert key_ids(migrated) == {"k2"}
    assert identities(migrated) == before
    with migrated.engine() as engine, engine.connect() as conn:
        audited = [
            rid
            for ids in conn.scalars(
                select(AuditEvent.record_ids).where(
                    AuditEvent.action == "keys.rotated",
                    AuditEvent.record_type == "reporter_identity",
                )
            )
            for rid in ids
        ]
    assert len(audited) == len(before)

    again = migrated("keys", "rotate")
    assert "reporter identities: 0 re-wrapped" in flat(again.stderr)

    migrated.setenv(MASTER_KEYS=f"k2={k2}", MASTER_KEY_ID=None)
    assert identities(migrated) == before


# --- users, teams and tokens: refusals and expiry -------------------------------------------


def token_expiries(cli: Cli) -> list[datetime | None]:
    with cli.engine() as engine, engine.connect() as conn:
        return [as_utc(e) for e in conn.scalars(select(ApiToken.expires_at))]


def test_users_create_token_expires_after_90_days_by_default(migrated: Cli) -> None:
    before = datetime.now(UTC)
    made = migrated(
        "users", "create", "ana@example.org", "--org", "Test Force", "--role", "investigator",
        "--token",
    )  # fmt: skip
    assert "expiring in 90 days" in flat(made.stderr)
    [expires] = token_expiries(migrated)
    assert expires is not None
    assert before + timedelta(days=90) <= expires <= datetime.now(UTC) + timedelta(days=90)


def test_users_create_token_days_sets_the_expiry_and_out_of_range_is_refused(
    migrated: Cli,
) -> None:
    before = datetime.now(UTC)
    args = ("users", "create", "ben@example.org", "--org", "Test Force", "--role", "auditor")
    refused = migrated(*args, "--token", "--token-days", "0", code=2)
    assert "--token-days" in flat(refused.stderr)
    assert migrated.count(User) == 0 and migrated.count(ApiToken) == 0
    migrated(*args, "--token", "--token-days", "7")
    [expires] = token_expiries(migrated)
    assert expires is not None
    assert before + timedelta(days=7) <= expires <= datetime.now(UTC) + timedelta(days=7)


def test_tokens_create_without_days_expires_after_90_days(migrated: Cli) -> None:
    migrated("users", "create", "cy@example.org", "--org", "Test Force", "--role", "auditor")
    before = datetime.now(UTC)
    migrated("tokens", "create", "cy@example.org")
    [expires] = token_expiries(migrated)
    assert expires is not None
    assert before + timedelta(days=90) <= expires <= datetime.now(UTC) + timedelta(days=90)


@pytest.mark.parametrize(
    "address", ["not-an-email", "ana@", "@example.org", "ana example@example.org", "ana@example"]
)
def test_an_invalid_email_is_refused_and_changes_nothing(migrated: Cli, address: str) -> None:
    result = migrated(
        "users", "create", address, "--org", "Test Force", "--role", "investigator", "--token",
        code=2,
    )  # fmt: skip
    assert f"{address!r} is not an e-mail address" in flat(result.stderr.replace("│", " "))
    assert result.stdout == ""
    assert migrated.count(User) == 0 and migrated.count(Organisation) == 0
    assert migrated.count(ApiToken) == 0


def test_creating_a_team_that_exists_says_so_and_changes_nothing(migrated: Cli) -> None:
    migrated("orgs", "create", "Test Force", "--kind", "police")
    first = migrated("teams", "create", "Triage", "--org", "Test Force")
    assert "Created team Triage in Test Force." in flat(first.stderr)
    events = migrated.count(AuditEvent)
    again = migrated("teams", "create", "Triage", "--org", "Test Force", code=2)
    assert "A team called 'Triage' already exists in Test Force." in flat(again.stderr)
    assert "Created" not in again.stderr
    assert migrated.count(Team) == 1 and migrated.count(AuditEvent) == events
    migrated("orgs", "create", "Other Force", "--kind", "police")
    migrated("teams", "create", "Triage", "--org", "Other Force")  # the same name elsewhere
    assert migrated.count(Team) == 2


# --- agreements ------------------------------------------------------------------------------


def test_agreements_list_with_none_shows_an_empty_table(migrated: Cli) -> None:
    result = migrated("agreements", "list")
    assert "Between" in result.stdout and "Purpose" in result.stdout
    assert migrated.count(SharingAgreement) == 0


def test_agreements_list_shows_each_agreement_with_both_organisations(migrated: Cli) -> None:
    migrated("orgs", "create", "Force A", "--kind", "police")
    migrated("orgs", "create", "Trust B", "--kind", "health")
    migrated("orgs", "create", "Council C", "--kind", "local_authority")
    for other, purpose in (("Trust B", "safeguard"), ("Council C", "prevent")):
        migrated(
            "agreements", "create", "--between", "Force A", "--and", other, "--records",
            "report", "--max-classification", "OFFICIAL", "--purpose", purpose,
        )  # fmt: skip
    result = migrated("agreements", "list")
    rows = [line for line in result.stdout.splitlines() if "Force A" in line]
    assert len(rows) == 2, result.stdout
    assert "Trust B" in rows[0] and "safeguard" in rows[0] and "open-ended" in rows[0]
    assert "Council C" in rows[1] and "prevent" in rows[1] and "OFFICIAL" in rows[1]


# --- audit files -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"garbage{", "line 1 is not JSON"),
        (b'{"a":1}', "line 1 has no entry number (seq)"),
        (b'[{"seq":1}]', "line 1 is not a checkpoint (a JSON object)"),
        (b'{"seq":1}', "line 1 lacks hash, created_at, signature"),
        (b"\n\xff\xfe\n", "line 2 is not JSON"),
    ],
)
def test_audit_verify_refuses_a_malformed_checkpoints_file_with_exit_2(
    migrated: Cli, tmp_path: Path, content: bytes, message: str
) -> None:
    bad = tmp_path / "checkpoints.jsonl"
    bad.write_bytes(content)
    result = migrated("audit", "verify", "--checkpoints", str(bad), code=2)
    assert message in flat(result.stderr), result.stderr
    assert "broken" not in result.stderr and result.exception is not None
    assert isinstance(result.exception, SystemExit)  # a clean exit, not a traceback


def test_audit_verify_accepts_the_checkpoints_it_exported(migrated: Cli, tmp_path: Path) -> None:
    migrated("orgs", "create", "Test Force", "--kind", "police")  # an audited entry
    migrated("audit", "checkpoint")
    exported = tmp_path / "checkpoints.jsonl"
    migrated("audit", "export-checkpoints", "--out", str(exported))
    result = migrated("audit", "verify", "--checkpoints", str(exported))
    assert "Audit chain intact" in flat(result.stderr) and "2 checkpoints" in flat(result.stderr)


def test_audit_verify_of_a_missing_checkpoints_file_exits_2(migrated: Cli, tmp_path: Path) -> None:
    result = migrated("audit", "verify", "--checkpoints", str(tmp_path / "nope.jsonl"), code=2)
    assert "does not exist" in flat(result.stderr)


def test_export_checkpoints_to_a_missing_folder_says_so_with_exit_2(
    migrated: Cli, tmp_path: Path
) -> None:
    target = tmp_path / "nonexistent" / "x.json"
    result = migrated("audit", "export-checkpoints", "--out", str(target), code=2)
    assert f"Cannot write {target}: No such file or directory." in flat(result.stderr)
    assert isinstance(result.exception, SystemExit) and not target.parent.exists()


def test_audit_help_documents_the_exit_codes() -> None:
    verify_help = flat(runner.invoke(app, ["audit", "verify", "--help"]).stdout)
    assert "Exit codes: 0 the chain is intact; 1 the chain is broken" in verify_help
    assert "2 the --checkpoints file is missing" in verify_help
    export_help = flat(runner.invoke(app, ["audit", "export-checkpoints", "--help"]).stdout)
    assert "Exit codes: 0 written; 2 the file could not be written." in export_help
