"""Administering organisations, teams, users and tokens from the command line: every change
is audited with who ran it, a bad name changes nothing, and one leaked token can be revoked.

Commands run for real against a scratch database per test (``tests.scratch``), on SQLite and
PostgreSQL.
"""

from __future__ import annotations

import os
import pwd
import socket

import pytest
from sqlalchemy import select

from tests.scratch import Cli, flat, runner
from vigil.access import commands
from vigil.access.models import ApiToken, Organisation, Team, TeamMembership, User
from vigil.access.services import user_for_token
from vigil.audit.models import AuditEvent
from vigil.cli import app

ORG = "QA Health Trust"
WHO = f"cli:{pwd.getpwuid(os.getuid()).pw_name}@{socket.gethostname()}"
if os.getuid() == 0 and os.environ.get("SUDO_USER"):  # the suite itself run through sudo
    WHO += f"(sudo:{os.environ['SUDO_USER']})"


def events(cli: Cli, action: str) -> list[AuditEvent]:
    with cli.engine() as engine, engine.connect() as conn:
        rows = conn.execute(select(AuditEvent).where(AuditEvent.action == action))
        return [AuditEvent(**row._mapping) for row in rows]


def names(cli: Cli, model: type[Organisation] | type[Team]) -> list[str]:
    with cli.engine() as engine, engine.connect() as conn:
        return list(conn.scalars(select(model.name).order_by(model.id)))


def everything(cli: Cli) -> tuple[int, ...]:
    """How many of each thing a refused command must not have added to."""
    return tuple(
        cli.count(model)
        for model in (Organisation, Team, User, TeamMembership, ApiToken, AuditEvent)
    )


# --- 1. created implicitly: audited; a mistyped team is refused ------------------------------


def test_users_create_audits_the_organisation_and_teams_it_makes_and_says_so(
    migrated: Cli,
) -> None:
    made = migrated(
        "users", "create", "typo@example.org", "--org", "Natonal CT Reporting Hub",
        "--role", "administrator", "--team", "Triage", "--team", "Desk",
    )  # fmt: skip
    said = flat(made.stderr)
    assert "Created organisation Natonal CT Reporting Hub (other)." in said
    assert "Created team Triage in Natonal CT Reporting Hub." in said
    assert "Created team Desk in Natonal CT Reporting Hub." in said
    with migrated.engine() as engine, engine.connect() as conn:
        org_id = conn.scalar(select(Organisation.id))
        team_ids = list(conn.scalars(select(Team.id).order_by(Team.id)))
    [org_event] = events(migrated, "organisation.created")
    assert org_event.record_type == "organisation" and org_event.record_ids == [str(org_id)]
    team_events = events(migrated, "team.created")
    assert sorted(e.record_ids[0] for e in team_events) == sorted(map(str, team_ids))
    assert {e.actor_label for e in [org_event, *team_events]} == {WHO}

    # An organisation and team that exist are used, not made again, and nothing more said.
    again = migrated(
        "users", "create", "second@example.org", "--org", "Natonal CT Reporting Hub",
        "--role", "auditor", "--team", "Triage",
    )  # fmt: skip
    assert "Created organisation" not in again.stderr and "Created team" not in again.stderr
    assert len(events(migrated, "organisation.created")) == 1
    assert len(events(migrated, "team.created")) == 2


def test_users_create_for_a_taken_address_makes_no_organisation_or_team(migrated: Cli) -> None:
    migrated("users", "create", "ana@example.org", "--org", ORG, "--role", "investigator")
    before = everything(migrated)
    refused = migrated(
        "users", "create", "ana@example.org", "--org", "New Org", "--role", "auditor",
        "--team", "New Team", code=1,
    )  # fmt: skip
    assert "a user with e-mail ana@example.org already exists" in flat(refused.stderr)
    assert everything(migrated) == before and names(migrated, Organisation) == [ORG]


def test_users_grant_refuses_an_unknown_team_naming_close_ones_and_changes_nothing(
    migrated: Cli,
) -> None:
    migrated("orgs", "create", "Test Force", "--kind", "police")
    migrated("teams", "create", "Triage", "--org", "Test Force")
    migrated("users", "create", "analyst@example.org", "--org", "Test Force", "--role", "auditor")
    before = everything(migrated)
    refused = migrated(
        "users", "grant", "analyst@example.org", "--role", "triage_analyst", "--team", "Triaje",
        code=1,
    )  # fmt: skip
    said = flat(refused.stderr)
    assert "No team called 'Triaje' in Test Force. Did you mean 'Triage'?" in said
    assert "To make it: vigil teams create Triaje --org 'Test Force'" in said
    assert everything(migrated) == before
    assert names(migrated, Team) == ["Triage"]
    with migrated.engine() as engine, engine.connect() as conn:
        assert conn.scalar(select(User.role)) == "auditor"  # the --role given with it too

    nothing_close = migrated("users", "grant", "analyst@example.org", "--team", "Zzz", code=1)
    assert "Did you mean" not in nothing_close.stderr
    assert "No team called 'Zzz' in Test Force." in flat(nothing_close.stderr)


def test_users_grant_adds_an_existing_team_and_audits_it(migrated: Cli) -> None:
    migrated("orgs", "create", "Test Force", "--kind", "police")
    migrated("teams", "create", "Triage", "--org", "Test Force")
    migrated("users", "create", "analyst@example.org", "--org", "Test Force", "--role", "auditor")
    migrated("users", "grant", "analyst@example.org", "--team", " Triage ")  # spaces trimmed
    assert migrated.count(TeamMembership) == 1 and migrated.count(Team) == 1
    [granted] = events(migrated, "user.granted")
    assert granted.purpose == "team=Triage" and granted.actor_label == WHO


# --- 2. one name rule for organisations and teams -------------------------------------------


BAD_NAMES: list[tuple[str, str]] = [
    ("", "The {what} name '' is empty"),
    ("   ", "The {what} name '   ' is empty"),
    ("qa health trust", "called 'QA Health Trust' already exists{where} (names are compared"),
    (" QA Health Trust ", "called 'QA Health Trust' already exists{where}."),
    ("QA  HEALTH\u00a0Trust", "called 'QA Health Trust' already exists{where} (names are"),
    ("\uff31\uff21 Health Trust", "called 'QA Health Trust' already exists{where} (names are"),
    ("Evil\x1b[31mOrg", "The {what} name 'Evil\\x1b[31mOrg' contains a control character (U+001B)"),
    ("Tab\there", "contains a control character (U+0009)"),
    ("Two\nlines", "must be a single line"),
    ("Zero\u200bwidth", "contains an invisible character (U+200B)"),
    ("Word\u2060joiner", "contains an invisible character (U+2060)"),
    ("Flip\u202eped", "contains a text direction control (U+202E)"),
    ("A" * 5000, "is 5,000 characters long: at most 200 are allowed"),
    ("B" * 201, "is 201 characters long: at most 200 are allowed"),
]


def refuse_every_bad_name(cli: Cli, what: str, *create: str, where: str = "") -> None:
    for name, message in BAD_NAMES:
        before = everything(cli)
        result = cli(*create[:2], name, *create[2:], code=2)
        expected = flat(message.format(what=what, where=where))
        assert expected in flat(result.stderr), (name, result.stderr)
        assert "Created" not in result.stderr and "\x1b" not in result.stderr, name
        assert everything(cli) == before, name


def test_orgs_create_refuses_every_bad_name_with_exit_2_and_changes_nothing(
    migrated: Cli,
) -> None:
    migrated("orgs", "create", ORG, "--kind", "health")
    refuse_every_bad_name(migrated, "organisation", "orgs", "create", "--kind", "health")
    assert names(migrated, Organisation) == [ORG]


def test_teams_create_refuses_every_bad_name_with_exit_2_and_changes_nothing(
    migrated: Cli,
) -> None:
    migrated("orgs", "create", "Test Force", "--kind", "police")
    migrated("teams", "create", ORG, "--org", "Test Force")  # a team of the same name, here
    refuse_every_bad_name(
        migrated, "team", "teams", "create", "--org", "Test Force", where=" in Test Force"
    )
    assert names(migrated, Team) == [ORG]


def test_users_create_applies_the_name_rule_to_the_organisation_and_teams(
    migrated: Cli,
) -> None:
    migrated("orgs", "create", ORG, "--kind", "health")
    before = everything(migrated)
    args = ("users", "create", "ana@example.org", "--role", "investigator")
    evil = migrated(*args, "--org", "Evil\x1b[31mOrg", code=2)
    assert "contains a control character (U+001B)" in flat(evil.stderr)
    long = migrated(*args, "--org", ORG, "--team", "T" * 5000, code=2)
    assert "The team name 'TTTT" in flat(long.stderr) and "5,000 characters" in long.stderr
    assert everything(migrated) == before

    # Surrounding spaces, or another case, find the organisation as it was kept: a name
    # the rule would refuse as taken is that organisation.
    made = migrated(*args, "--org", f"  {ORG} ")
    assert "Created organisation" not in made.stderr
    assert f"Created ana@example.org (investigator) in {ORG}." in flat(made.stderr)
    other = ("users", "create", "bo@example.org", "--role", "investigator")
    variant = migrated(*other, "--org", "qa health trust", "--team", "desk  one")
    assert "Created organisation" not in variant.stderr
    assert f"Created bo@example.org (investigator) in {ORG}." in flat(variant.stderr)
    assert names(migrated, Organisation) == [ORG]
    # The same team named twice, in two spellings, is one team.
    twice = ("users", "create", "cy@example.org", "--role", "investigator", "--org", ORG)
    migrated(*twice, "--team", "Desk", "--team", "desk")
    assert sorted(names(migrated, Team)) == ["Desk", "desk one"]


def test_a_good_name_is_kept_trimmed_and_up_to_200_characters_are_allowed(
    migrated: Cli,
) -> None:
    made = migrated("orgs", "create", "  Cyngor   Sir Ddinbych ", "--kind", "local_authority")
    assert "Created organisation Cyngor Sir Ddinbych (local_authority)." in flat(made.stderr)
    longest = "Ŵ" + "y" * 199
    migrated("orgs", "create", longest, "--kind", "other")
    migrated("teams", "create", "Tîm [bold]Triage[/bold]", "--org", "Cyngor Sir Ddinbych")
    assert names(migrated, Organisation) == ["Cyngor Sir Ddinbych", longest]
    assert names(migrated, Team) == ["Tîm [bold]Triage[/bold]"]
    assert len(events(migrated, "organisation.created")) == 2


def test_an_unknown_organisation_names_close_ones(migrated: Cli) -> None:
    migrated("orgs", "create", "Test Force", "--kind", "police")
    result = migrated("teams", "create", "Triage", "--org", "Tset Force", code=1)
    assert "No organisation called 'Tset Force'. Did you mean 'Test Force'?" in flat(result.stderr)
    assert migrated.count(Team) == 0


# --- 3. who ran the command -------------------------------------------------------------------


def test_admin_events_name_the_account_and_host_that_ran_the_command(migrated: Cli) -> None:
    migrated("orgs", "create", "Test Force", "--kind", "police")
    migrated("users", "create", "ana@example.org", "--org", "Test Force", "--role", "auditor")
    migrated("users", "disable", "ana@example.org")
    labels = {
        e.actor_label
        for action in ("organisation.created", "user.created", "user.disabled")
        for e in events(migrated, action)
    }
    assert labels == {WHO}


def test_the_cli_label_comes_from_the_user_id_not_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("USER", "mallory")
    monkeypatch.setenv("LOGNAME", "mallory")
    monkeypatch.setenv("SUDO_USER", "mallory")  # not root: sudo is not involved
    if os.getuid() == 0:
        monkeypatch.setattr(commands.os, "getuid", lambda: 4242)
        monkeypatch.setattr(commands.pwd, "getpwuid", _no_such_account)
        assert commands.cli_actor_label() == f"cli:uid=4242@{socket.gethostname()}"
    else:
        assert commands.cli_actor_label() == WHO
    assert commands.CLI_ACTOR.label == WHO


def _no_such_account(uid: int) -> pwd.struct_passwd:
    raise KeyError(uid)


def test_the_cli_label_under_sudo_names_who_invoked_it_and_fits_the_column(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(commands.os, "getuid", lambda: 0)
    monkeypatch.setenv("SUDO_USER", "alice")
    monkeypatch.setattr(commands.socket, "gethostname", lambda: "ops-1")
    assert commands.cli_actor_label() == "cli:root@ops-1(sudo:alice)"
    monkeypatch.setattr(commands.socket, "gethostname", lambda: "h\x1b" + "x" * 300)
    label = commands.cli_actor_label()
    assert len(label) == 80 and label.startswith("cli:root@h?xxx") and "\x1b" not in label


# --- 4. revoking one token --------------------------------------------------------------------


def token_ids(cli: Cli, email: str) -> list[int]:
    with cli.engine() as engine, engine.connect() as conn:
        user_id = conn.scalar(select(User.id).where(User.email == email))
        return list(conn.scalars(select(ApiToken.id).where(ApiToken.user_id == user_id)))


def revoked(cli: Cli) -> dict[int, bool]:
    with cli.engine() as engine, engine.connect() as conn:
        return {i: r is not None for i, r in conn.execute(select(ApiToken.id, ApiToken.revoked_at))}


def two_users_with_two_tokens_each(cli: Cli) -> dict[str, list[str]]:
    secrets: dict[str, list[str]] = {}
    for email in ("ana@example.org", "ben@example.org"):
        cli("users", "create", email, "--org", "Test Force", "--role", "auditor")
        secrets[email] = [cli("tokens", "create", email).stdout.strip() for _ in range(2)]
    return secrets


def works(cli: Cli, secret: str) -> bool:
    with cli.runtime() as rt, rt.db.session() as session:
        return user_for_token(session, secret) is not None


def test_tokens_revoke_id_revokes_that_token_only_and_audits_it(migrated: Cli) -> None:
    secrets = two_users_with_two_tokens_each(migrated)
    leaked, kept = token_ids(migrated, "ana@example.org")
    result = migrated("tokens", "revoke", "ana@example.org", "--id", str(leaked))
    assert f"Revoked token {leaked} of ana@example.org." in flat(result.stderr)
    assert [works(migrated, s) for s in secrets["ana@example.org"]] == [False, True]
    assert all(works(migrated, s) for s in secrets["ben@example.org"])
    [event] = events(migrated, "token.revoked")
    assert event.record_ids == [str(leaked)] and event.actor_label == WHO
    assert "revoked" in migrated("tokens", "list", "ana@example.org").stdout

    # Without the address: the id alone is enough.
    ben_first = token_ids(migrated, "ben@example.org")[0]
    alone = migrated("tokens", "revoke", "--id", str(ben_first))
    assert f"Revoked token {ben_first} of ben@example.org." in flat(alone.stderr)
    assert revoked(migrated)[kept] is False


def test_tokens_revoke_id_refuses_another_users_unknown_or_revoked_token(migrated: Cli) -> None:
    two_users_with_two_tokens_each(migrated)
    ana = token_ids(migrated, "ana@example.org")
    ben = token_ids(migrated, "ben@example.org")
    migrated("tokens", "revoke", "--id", str(ana[0]))
    before, state = everything(migrated), revoked(migrated)

    theirs = migrated("tokens", "revoke", "ana@example.org", "--id", str(ben[0]), code=1)
    assert f"No token {ben[0]} of ana@example.org" in flat(theirs.stderr)
    unknown = migrated("tokens", "revoke", "--id", "999", code=1)
    assert "No token 999: `vigil tokens list EMAIL` shows the ids." in flat(unknown.stderr)
    again = migrated("tokens", "revoke", "ana@example.org", "--id", str(ana[0]), code=1)
    assert f"Token {ana[0]} was already revoked on" in flat(again.stderr)
    nobody = migrated("tokens", "revoke", "nobody@example.org", "--id", str(ana[1]), code=1)
    assert "No user nobody@example.org" in flat(nobody.stderr)
    assert everything(migrated) == before and revoked(migrated) == state

    neither = migrated("tokens", "revoke", code=2)
    assert "Say whose tokens to revoke (EMAIL), or which one (--id N)." in flat(neither.stderr)
    zero = migrated("tokens", "revoke", "--id", "0", code=2)
    assert "--id" in flat(zero.stderr)
    assert everything(migrated) == before


def test_tokens_revoke_without_an_id_still_revokes_every_live_token(migrated: Cli) -> None:
    secrets = two_users_with_two_tokens_each(migrated)
    result = migrated("tokens", "revoke", "ana@example.org")
    assert "Revoked 2 token(s) of ana@example.org." in flat(result.stderr)
    assert not any(works(migrated, s) for s in secrets["ana@example.org"])
    assert all(works(migrated, s) for s in secrets["ben@example.org"])


def test_tokens_revoke_help_says_what_happens_with_and_without_an_id() -> None:
    shown = flat(runner.invoke(app, ["tokens", "revoke", "--help"]).stdout)
    assert "Without --id every live token of EMAIL is revoked." in shown
    assert "With --id only that token is" in shown
