"""PostgreSQL row-level security mirrors the policy, as defence in depth.

These tests talk to PostgreSQL directly as the application's role (``vigil_app``), skipping
the application's own filters, to prove the database alone keeps records apart. SQLite has
no row-level security; there the policy filter is the only line, and the matrix tests cover it.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, ProgrammingError
from sqlalchemy.orm import Session

from tests.conftest import engine_for, rolled_back
from tests.factories import minimal_report, report_payload
from vigil.access.markings import Classification
from vigil.access.permissions import OrganisationKind, Role
from vigil.access.services import create_user, ensure_organisation, ensure_team
from vigil.audit.services import SYSTEM
from vigil.db import ACTING, Database
from vigil.settings import Settings
from vigil.web.app import create_app
from vigil.web.runtime import Runtime


@pytest.fixture
def app_connection(postgres_url: str) -> Iterator[Connection]:
    with rolled_back(postgres_url) as conn:
        yield conn


@pytest.fixture
def pg_rt(app_connection: Connection, postgres_url: str, tmp_path: object) -> Runtime:
    settings = Settings(
        environment="test",
        database_url=postgres_url,
        data_dir=f"{tmp_path}/var",
        public_rate_limit=0,
        log_level="warning",
    )
    return Runtime.build(settings, db=Database(engine_for(postgres_url), bind=app_connection))


def act(conn: Connection, actor: str, user_id: int | None = None) -> None:
    conn.execute(ACTING, {"actor": actor, "user_id": str(user_id or "")})


def count(conn: Connection, table: str) -> int:
    return int(conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one())


def submit(pg_rt: Runtime, payload: dict[str, object]) -> str:
    with TestClient(create_app(rt=pg_rt)) as client:
        return str(client.post("/api/v1/reports", json=payload).json()["reference"])


def make_user(pg_rt: Runtime, email: str, org: str, team: str, clearance: Classification) -> int:
    def work(session: Session) -> int:
        kind = (
            OrganisationKind.ct_policing
            if org == pg_rt.settings.receiving_org
            else OrganisationKind.health
        )
        ensure_team(session, ensure_organisation(session, org, kind), team)
        return create_user(
            session, SYSTEM, email, org, Role.investigator, kind, teams=(team,), clearance=clearance
        ).id

    return pg_rt.db.write_sync(work)


def test_the_database_hides_reports_from_users_who_may_not_see_them(
    pg_rt: Runtime, app_connection: Connection
) -> None:
    submit(pg_rt, minimal_report())
    outsider = make_user(
        pg_rt,
        "rls-out@example.org",
        "Synthetic Health Trust",
        "Safeguarding",
        Classification.secret,
    )
    insider = make_user(
        pg_rt,
        "rls-in@example.org",
        pg_rt.settings.receiving_org,
        pg_rt.settings.receiving_team,
        Classification.official_sensitive,
    )
    act(app_connection, "system")
    total = count(app_connection, "reports")
    assert total >= 1
    act(app_connection, "staff", outsider)
    assert count(app_connection, "reports") == 0
    assert count(app_connection, "report_people") == 0
    act(app_connection, "staff", insider)
    assert count(app_connection, "reports") == total


def test_nobody_acting_sees_nothing(pg_rt: Runtime, app_connection: Connection) -> None:
    submit(pg_rt, minimal_report())
    act(app_connection, "", None)
    assert count(app_connection, "reports") == 0


def test_clearance_is_enforced_by_the_database(pg_rt: Runtime, app_connection: Connection) -> None:
    submit(pg_rt, minimal_report())
    act(app_connection, "system")
    app_connection.execute(text("UPDATE reports SET classification = 'SECRET'"))
    low = make_user(
        pg_rt,
        "rls-low@example.org",
        pg_rt.settings.receiving_org,
        pg_rt.settings.receiving_team,
        Classification.official_sensitive,
    )
    act(app_connection, "staff", low)
    assert count(app_connection, "reports") == 0


def test_reporter_identity_is_out_of_reach_of_staff_queries(
    pg_rt: Runtime, app_connection: Connection
) -> None:
    submit(pg_rt, report_payload())
    insider = make_user(
        pg_rt,
        "rls-id@example.org",
        pg_rt.settings.receiving_org,
        pg_rt.settings.receiving_team,
        Classification.secret,
    )
    act(app_connection, "system")
    assert count(app_connection, "reporter_identities") == 1
    act(app_connection, "staff", insider)
    assert count(app_connection, "reporter_identities") == 0


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_events SET action = 'x'",
        "DELETE FROM audit_events",
        "UPDATE audit_checkpoints SET hash = 'x'",
    ],
)
def test_the_application_role_may_only_append_to_the_audit_log(
    pg_rt: Runtime, app_connection: Connection, statement: str
) -> None:
    submit(pg_rt, minimal_report())
    act(app_connection, "system")
    savepoint = app_connection.begin_nested()
    with pytest.raises((ProgrammingError, DBAPIError), match="permission denied"):
        app_connection.execute(text(statement))
    savepoint.rollback()
