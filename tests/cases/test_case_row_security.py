"""PostgreSQL row-level security on cases mirrors the application's filters.

These checks query the tables directly as the application's role, skipping the service
layer, to prove the database alone keeps a partner to its own actions and away from linked
records and cases it may not see (migration 0012). SQLite has no row-level security; there
the policy filters in vigil.cases.views are the only line, covered by the API tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, text

from tests.cases.world import COUNCIL, ELSEWHERE, HEALTH, build_world, shared_case
from tests.conftest import engine_for, rolled_back
from tests.factories import staff_token
from vigil.db import ACTING, Database
from vigil.settings import Settings
from vigil.web.app import create_app
from vigil.web.runtime import Runtime


@pytest.fixture
def app_connection(postgres_url: str) -> Iterator[Connection]:
    with rolled_back(postgres_url) as conn:
        yield conn


@pytest.fixture
def pg_rt(app_connection: Connection, postgres_url: str, tmp_path: Path) -> Runtime:
    settings = Settings(
        environment="test",
        database_url=postgres_url,
        data_dir=tmp_path / "var",
        public_rate_limit=0,
        log_level="warning",
        jobs_in_process=False,
    )
    return Runtime.build(settings, db=Database(engine_for(postgres_url), bind=app_connection))


def rows(conn: Connection, user_id: int, query: str) -> list[tuple[object, ...]]:
    conn.execute(ACTING, {"actor": "staff", "user_id": str(user_id)})
    return [tuple(r) for r in conn.execute(text(query))]


def test_the_database_keeps_each_agency_to_its_own_part_of_a_case(
    pg_rt: Runtime, app_connection: Connection
) -> None:
    with TestClient(create_app(rt=pg_rt)) as client:
        world = build_world(client, pg_rt)
        ref, _, _, actions = shared_case(world)
        nurse_token = world.partner("nurse@example.org")
        staff_token(pg_rt, "outsider@example.org", org=ELSEWHERE, teams=("North",))
        world.partner("housing@example.org", COUNCIL)
        world.patch(f"/{ref}/actions/{actions[HEALTH]}", nurse_token, {"text": "Booked"})
        shown = world.case(ref, nurse_token)
    analyst = world.user_id("analyst@example.org")
    nurse = world.user_id("nurse@example.org")
    housing = world.user_id("housing@example.org")
    outsider = world.user_id("outsider@example.org")
    conn = app_connection

    assert rows(conn, nurse, "SELECT reference FROM cases") == [(ref,)]
    assert rows(conn, nurse, "SELECT id FROM case_actions") == [(actions[HEALTH],)]
    assert rows(conn, housing, "SELECT id FROM case_actions") == [(actions[COUNCIL],)]
    assert len(rows(conn, analyst, "SELECT id FROM case_actions")) == 3
    assert rows(conn, nurse, "SELECT text FROM case_action_updates") == [("Booked",)]
    assert rows(conn, housing, "SELECT text FROM case_action_updates") == []
    # Neither linked report is shared with Health: their links are invisible to it.
    assert rows(conn, nurse, "SELECT id FROM case_links") == []
    assert len(rows(conn, analyst, "SELECT id FROM case_links")) == 2
    # The timeline the database lets Health read is exactly the one the API showed it.
    timeline = rows(conn, nurse, "SELECT kind FROM case_events ORDER BY at DESC, id DESC")
    assert [k for (k,) in timeline] == [e["kind"] for e in shown["timeline"]]
    assert "shared" not in {k for (k,) in timeline}
    # An agency cannot change another's action even with a hand-written UPDATE.
    changed = conn.execute(
        text("UPDATE case_actions SET state = 'done' WHERE id = :id"), {"id": actions[COUNCIL]}
    )
    assert changed.rowcount == 0
    for table in ("cases", "case_actions", "case_events", "case_links", "case_meetings"):
        assert rows(conn, outsider, f"SELECT 1 FROM {table}") == [], table
