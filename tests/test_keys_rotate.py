"""``vigil keys rotate`` re-wraps everything sealed with a master key, on both databases.

Every place a sealed value is kept (reporter identities, TOTP secrets, OpenID client
secrets, idempotency records, browser sessions) is filled under an old key, rotated, and
then the old key is removed from the configuration, as the README says to: each must still
work through the code that reads it (sign-in with a TOTP code, an idempotent retry, a
visitor's session, the provider's secret, a disclosed identity).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import LargeBinary, select

from tests.factories import minimal_report
from tests.scratch import Cli, flat, master_key, runner
from vigil.access import signin
from vigil.access.models import User
from vigil.access.oidc import IdentityProvider, client_secret
from vigil.audit.models import AuditEvent
from vigil.cli import app
from vigil.db import Base
from vigil.intake.models import IdempotencyRecord, Report, ReporterIdentity
from vigil.intake.services import open_identity
from vigil.keys_rotation import SEALED_PLACES
from vigil.sealing import Sealed
from vigil.settings import get_settings
from vigil.web.app import create_app
from vigil.web.sessions import BrowserSession

PASSWORD = "correct horse battery staple"
IDP_SECRET = "synthetic-client-secret-4f2a"  # made up for the test
STAFF = "officer@example.org"
# Binary columns that hold no sealed value (a WebAuthn challenge and a public key).
NOT_SEALED = {("webauthn_challenges", "challenge"), ("webauthn_credentials", "public_key")}


@pytest.fixture(autouse=True)
def cheap_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signin, "PASSWORDS", signin.Passwords(time_cost=1, memory_kib=1024))


def stored_key_ids(cli: Cli) -> dict[str, set[str]]:
    """The master key id every stored sealed value names, by where it is kept."""
    with cli.engine() as engine, engine.connect() as conn:
        blobs = {
            "users": conn.scalars(select(User.totp_sealed).where(User.totp_sealed.is_not(None))),
            "identity_providers": conn.scalars(select(IdentityProvider.client_secret_sealed)),
            "idempotency_records": conn.scalars(select(IdempotencyRecord.sealed_response)),
            "browser_sessions": conn.scalars(select(BrowserSession.sealed)),
        }
        found = {name: {Sealed.unpack(b).key_id for b in rows} for name, rows in blobs.items()}
        found["reporter_identities"] = set(conn.scalars(select(ReporterIdentity.key_id)))
        idem = set(conn.scalars(select(IdempotencyRecord.key_id)))
    assert idem == found["idempotency_records"]  # the plain copy is kept in step
    return found


def identities(cli: Cli) -> dict[str, dict[str, str | None]]:
    with cli.runtime() as rt, rt.db.session() as session:
        rows = session.execute(
            select(ReporterIdentity, Report.reference).join(
                Report, Report.id == ReporterIdentity.report_id
            )
        ).all()
        return {ref: open_identity(rt, row, ref) for row, ref in rows}


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


@pytest.fixture
def everything_sealed_under_k1(migrated: Cli) -> Iterator[tuple[Cli, dict[str, object]]]:
    """A scratch installation with one of every sealed value, all under key ``k1``."""
    k1 = master_key()
    migrated.setenv(MASTER_KEYS=f"k1={k1}", MASTER_KEY_ID=None)
    migrated("demo", "seed", "--reports", "12", "--seed", "3")
    migrated("users", "create", STAFF, "--org", "Test Force", "--role", "investigator")
    get_settings.cache_clear()
    done = runner.invoke(app, ["users", "set-password", STAFF, "--password-stdin"], PASSWORD)
    assert done.exit_code == 0, done.output
    totp_secret = migrated("users", "enrol-totp", STAFF).stdout.split()[-1]
    get_settings.cache_clear()
    done = runner.invoke(
        app,
        [
            "idp", "add", "--org", "Test Force", "--name", "Force IdP", "--issuer",
            "https://idp.example.org", "--client-id", "vigil", "--client-secret-stdin",
        ],
        IDP_SECRET + "\n",
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    with TestClient(create_app(get_settings())) as client:
        headers = {"Idempotency-Key": "rotation-retry-1"}
        first = client.post("/api/v1/reports", json=minimal_report(), headers=headers)
        assert first.status_code == 201, first.text
        page = client.get("/report/what")
        assert page.status_code == 200, page.text
        visitor = client.cookies.get("vigil_session")
        assert visitor
    facts: dict[str, object] = {
        "k1": k1,
        "totp": totp_secret,
        "answer": first.json(),
        "visitor": visitor,
        "csrf": csrf_of(page.text),
        "identities": identities(migrated),
    }
    assert all(ids == {"k1"} for ids in stored_key_ids(migrated).values())
    yield migrated, facts


def test_rotating_then_removing_the_old_key_leaves_every_sealed_value_working(
    everything_sealed_under_k1: tuple[Cli, dict[str, object]],
) -> None:
    cli, facts = everything_sealed_under_k1
    k2 = master_key()
    cli.setenv(MASTER_KEYS=f"k1={facts['k1']},k2={k2}", MASTER_KEY_ID="k2")
    result = cli("keys", "rotate", "--batch", "2")
    out = flat(result.stderr)
    people = len(facts["identities"])  # type: ignore[arg-type]
    assert people >= 2
    for line in (
        f"reporter identities: {people} re-wrapped",
        "TOTP secrets: 1 re-wrapped",
        "OpenID client secrets: 1 re-wrapped",
        "idempotency records: 1 re-wrapped",
        "browser sessions: 1 re-wrapped",
        "Everything sealed is now wrapped by key k2.",
    ):
        assert line in out, out
    assert all(ids == {"k2"} for ids in stored_key_ids(cli).values()), stored_key_ids(cli)

    cli.setenv(MASTER_KEYS=f"k2={k2}", MASTER_KEY_ID=None)  # the old key is gone
    assert identities(cli) == facts["identities"]
    with cli.runtime() as rt:
        step = signin.check_password(rt, STAFF, PASSWORD, "192.0.2.10")
        assert step.outcome is signin.Outcome.accepted and step.token
        code = pyotp.TOTP(str(facts["totp"])).now()
        signed_in = signin.check_code(rt, step.token, code, "192.0.2.10")
        assert signed_in.outcome is signin.Outcome.accepted
        with rt.db.session() as session:
            provider = session.scalars(select(IdentityProvider)).one()
            assert client_secret(rt.sealer, provider) == IDP_SECRET
    with TestClient(create_app(get_settings())) as client:
        headers = {"Idempotency-Key": "rotation-retry-1"}
        retry = client.post("/api/v1/reports", json=minimal_report(), headers=headers)
        assert retry.status_code == 201, retry.text
        assert retry.json() == facts["answer"]
        client.cookies.set("vigil_session", str(facts["visitor"]))
        page = client.get("/report/what")
        assert page.status_code == 200
        assert csrf_of(page.text) == facts["csrf"]  # the same visitor's session, opened


def test_rotating_again_changes_nothing_and_is_audited_once_per_value(
    everything_sealed_under_k1: tuple[Cli, dict[str, object]],
) -> None:
    cli, facts = everything_sealed_under_k1
    cli.setenv(MASTER_KEYS=f"k1={facts['k1']},k2={master_key()}", MASTER_KEY_ID="k2")
    cli("keys", "rotate")
    again = flat(cli("keys", "rotate").stderr)
    for kind in SEALED_PLACES:
        assert f"{kind.kind}: 0 re-wrapped" in again, again
    with cli.engine() as engine, engine.connect() as conn:
        events = conn.execute(
            select(AuditEvent.record_type, AuditEvent.record_ids).where(
                AuditEvent.action == "keys.rotated"
            )
        ).all()
    by_type: dict[str, int] = {}
    for record_type, ids in events:
        by_type[record_type] = by_type.get(record_type, 0) + len(ids)
    people = len(facts["identities"])  # type: ignore[arg-type]
    assert by_type == {
        "reporter_identity": people,
        "user": 1,
        "identity_provider": 1,
        "idempotency_record": 1,
        "browser_session": 0,  # anonymous visitors: counted in the purpose, never named
    }


def test_a_value_no_configured_key_opens_is_reported_left_alone_and_exits_1(
    everything_sealed_under_k1: tuple[Cli, dict[str, object]],
) -> None:
    cli, facts = everything_sealed_under_k1
    with cli.engine() as engine, engine.begin() as conn:  # one TOTP secret under a lost key
        blob = conn.scalar(select(User.totp_sealed).where(User.email == STAFF))
        assert blob is not None
        lost = Sealed.unpack(blob)
        orphan = Sealed("k0", lost.wrapped_key, lost.nonce, lost.ciphertext).pack()
        conn.execute(User.__table__.update().where(User.email == STAFF).values(totp_sealed=orphan))
    cli.setenv(MASTER_KEYS=f"k1={facts['k1']},k2={master_key()}", MASTER_KEY_ID="k2")
    result = cli("keys", "rotate", code=1)
    out = flat(result.stderr)
    assert "TOTP secrets: 0 re-wrapped, 1 could not be opened" in out, out
    assert "keep the old key" in out
    assert "OpenID client secrets: 1 re-wrapped" in out  # the rest still moved on
    found = stored_key_ids(cli)
    assert found["users"] == {"k0"}
    assert found["identity_providers"] == found["reporter_identities"] == {"k2"}


def test_every_binary_column_is_either_rotated_or_declared_not_sealed() -> None:
    import vigil.web.app  # noqa: F401 - every area's models registered

    binary = {
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, LargeBinary)
    }
    rotated = set().union(*(place.columns for place in SEALED_PLACES))
    assert binary - NOT_SEALED == rotated
