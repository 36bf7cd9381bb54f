"""PostgreSQL row-level security around the search index (migration 0013).

Documents and name words are derived indexes the application role may read (a row filter
on them would stop PostgreSQL using the full-text index); what keeps a reader to their own
records is the join back to each record, which runs under the records' own row-level
security. These checks query as the application's role, skipping the service layer: that
join alone hides another force's report, only the system writes the index, and only the
system reads the vocabulary and the to-do list. SQLite has no row-level security; there the
policy filter is the only line, covered by the API tests on both engines.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, select, text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from tests.conftest import engine_for, rolled_back
from tests.factories import staff_token
from tests.search import OTHER_FORCE, found, move_report, person, submit
from vigil.access.models import User
from vigil.access.services import staff_user
from vigil.db import ACTING, Database, utcnow
from vigil.search import hits
from vigil.search.criteria import SearchCriteria, searchable_types
from vigil.search.matching import candidates, matched
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


def user_id(rt: Runtime, email: str) -> int:
    found_id = rt.db.write_sync(lambda s: s.scalar(select(User.id).where(User.email == email)))
    assert found_id is not None
    return int(found_id)


def rows(conn: Connection, user_id: int, query: str) -> list[tuple[object, ...]]:
    conn.execute(ACTING, {"actor": "staff", "user_id": str(user_id)})
    return [tuple(r) for r in conn.execute(text(query))]


def test_the_database_shows_each_reader_only_the_index_of_what_they_may_see(
    pg_rt: Runtime, app_connection: Connection
) -> None:
    with TestClient(create_app(rt=pg_rt)) as client:
        hub = staff_token(pg_rt)
        staff_token(pg_rt, "north@example.org", org=OTHER_FORCE, teams=("North",))
        ours = submit(client, "Drone over the reservoir.", people=[person("Colm Tierney")])
        theirs = submit(client, "Drone over the quarry.", people=[person("Ana Ferreira")])
        move_report(pg_rt, theirs, OTHER_FORCE)
        found(client, hub, "drone")  # brings the index up to date
    conn = app_connection
    analyst, north = (user_id(pg_rt, e) for e in ("analyst@example.org", "north@example.org"))

    joined_back = (
        "SELECT d.title FROM search_documents d WHERE d.record_type = 'report' "
        "AND EXISTS (SELECT 1 FROM reports r WHERE r.id = d.record_id) ORDER BY d.id"
    )
    assert rows(conn, analyst, joined_back) == [(f"{ours} behaviour",)]
    assert rows(conn, north, joined_back) == [(f"{theirs} behaviour",)]
    # The vocabulary and the to-do list are the system's alone.
    assert rows(conn, analyst, "SELECT term FROM search_name_keys") == []
    assert rows(conn, analyst, "SELECT id FROM search_pending") == []
    # Only the system writes the index.
    conn.execute(ACTING, {"actor": "staff", "user_id": str(analyst)})
    with pytest.raises(ProgrammingError, match="row-level security"), conn.begin_nested():
        conn.execute(
            text(
                "INSERT INTO search_documents (record_type, record_id, at, title, body) "
                "VALUES ('report', 1, now(), 'forged', 'forged')"
            )
        )


def test_the_batched_check_keeps_row_level_security_under_the_policy_filter(
    pg_rt: Runtime,
) -> None:
    """A batch of candidates is checked by the policy filter and, inside the same join, by
    the records' row-level security: built for one reader but run as another, it finds only
    what both may see (here nothing), though both documents are candidates."""
    with TestClient(create_app(rt=pg_rt)) as client:
        hub = staff_token(pg_rt)
        staff_token(pg_rt, "north@example.org", org=OTHER_FORCE, teams=("North",))
        submit(client, "Drone over the reservoir.")
        theirs = submit(client, "Drone over the quarry.")
        move_report(pg_rt, theirs, OTHER_FORCE)
        assert found(client, hub, "drone")["total"] == 1  # brings the index up to date
    analyst, north = (user_id(pg_rt, e) for e in ("analyst@example.org", "north@example.org"))
    criteria = SearchCriteria(q="drone")

    def walk(session: Session, reader: int) -> tuple[int, int]:
        user = staff_user(session, session.get_one(User, reader))
        m = matched(session, user, criteria, searchable_types(user, criteria), {})
        visible = hits.visible_hits(m, session, "facets", utcnow(), before=None, want=10)
        return len(candidates(m, session, None, None, 10)), len(visible)

    for acting, reader, expected in ((analyst, analyst, 1), (north, north, 1), (north, analyst, 0)):
        with pg_rt.db.session(as_user=acting) as session:
            assert walk(session, reader) == (2, expected), (acting, reader)
