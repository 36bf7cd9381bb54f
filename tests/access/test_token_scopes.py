"""Scoped API tokens, on both databases (the staff session's reads are in
test_api_callers.py).

A scoped token acts with its user's role permissions narrowed to the scopes, so it can never
do more than the role (issuing one beyond the role is refused, and a later role change only
takes permissions away).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from tests.access.test_sign_in import app as app
from tests.access.test_sign_in import cheap_hashing as cheap_hashing  # autouse fixture
from tests.factories import auth
from tests.scratch import Cli
from vigil.access.models import ApiToken, User
from vigil.access.permissions import OrganisationKind, Permission, Role
from vigil.access.services import ScopeRefused, create_user, issue_token
from vigil.audit.models import AuditEvent
from vigil.audit.services import SYSTEM
from vigil.web.runtime import Runtime

QUEUE = "/api/v1/triage/queue"
STATS = "/api/v1/stats/summary"


@pytest.fixture
def web(app: object) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=False, follow_redirects=False) as client:  # type: ignore[arg-type]
        yield client


def token_for(
    rt: Runtime, email: str, scopes: frozenset[Permission] | None, role: Role = Role.supervisor
) -> str:
    def work(session: Session) -> str:
        user = create_user(
            session,
            SYSTEM,
            email,
            rt.settings.receiving_org,
            role,
            OrganisationKind.ct_policing,
            teams=(rt.settings.receiving_team,),
        )
        return issue_token(session, SYSTEM, user, scopes=scopes)

    return rt.db.write_sync(work)


def denials(rt: Runtime) -> list[AuditEvent]:
    with rt.db.session() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.action == "access.denied")))


def test_a_scoped_token_may_use_its_scopes_and_nothing_else_its_role_holds(
    rt: Runtime, web: TestClient
) -> None:
    token = token_for(rt, "dashboard.feed@example.org", frozenset({Permission.stats_read}))

    assert web.get(STATS, headers=auth(token)).status_code == 200
    refused = web.get(QUEUE, headers=auth(token))

    assert refused.status_code == 403
    assert [e.purpose for e in denials(rt)] == [
        f"GET {QUEUE} needs {Permission.triage_queue_read.value}"
    ]


def test_an_unscoped_token_keeps_every_permission_of_the_role(rt: Runtime, web: TestClient) -> None:
    token = token_for(rt, "supervisor@example.org", None)

    assert web.get(STATS, headers=auth(token)).status_code == 200
    assert web.get(QUEUE, headers=auth(token)).status_code == 200


def test_a_role_change_narrows_a_scoped_token_at_once(rt: Runtime, web: TestClient) -> None:
    scopes = frozenset({Permission.stats_read, Permission.triage_queue_read})
    token = token_for(rt, "moved@example.org", scopes)
    assert web.get(QUEUE, headers=auth(token)).status_code == 200

    rt.db.write_sync(
        lambda s: s.execute(
            update(User).where(User.email == "moved@example.org").values(role=Role.auditor.value)
        )
    )

    assert web.get(QUEUE, headers=auth(token)).status_code == 403
    assert web.get(STATS, headers=auth(token)).status_code == 403


@pytest.mark.parametrize(
    ("scopes", "message"),
    [
        (frozenset({Permission.audit_read}), "does not hold: audit:event:read"),
        (frozenset(), "needs at least one permission"),
    ],
)
def test_a_scope_beyond_the_role_or_an_empty_one_is_refused_and_nothing_is_issued(
    rt: Runtime, scopes: frozenset[Permission], message: str
) -> None:
    with pytest.raises(ScopeRefused, match=message):
        token_for(rt, "greedy@example.org", scopes, role=Role.triage_analyst)

    with rt.db.session() as session:
        assert session.scalar(select(func.count()).select_from(ApiToken)) == 0
        assert session.scalar(select(func.count()).select_from(User)) == 0


def test_tokens_create_with_scopes_then_list_shows_them(migrated: Cli) -> None:
    migrated("users", "create", "feed@example.org", "--org", "Test Force", "--role", "supervisor")
    made = migrated(
        "tokens", "create", "feed@example.org", "--scope", "stats:summary:read", "--days", "7"
    )
    assert "limited to 1 permission(s)" in made.stderr

    listed = migrated("tokens", "list", "feed@example.org")
    assert "stats:summary:read" in listed.stdout
    assert "live" in listed.stdout


def test_tokens_create_refuses_unknown_and_beyond_role_scopes(migrated: Cli) -> None:
    migrated("users", "create", "a@example.org", "--org", "Test Force", "--role", "auditor")

    unknown = migrated("tokens", "create", "a@example.org", "--scope", "everything", code=2)
    assert "Unknown permission(s): everything" in unknown.stderr
    beyond = migrated("tokens", "create", "a@example.org", "--scope", "stats:summary:read", code=1)
    assert "does not hold: stats:summary:read" in beyond.stderr
    assert "No tokens" not in migrated("tokens", "list", "a@example.org").stdout
