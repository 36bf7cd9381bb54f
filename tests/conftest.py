"""Test ground: every database test runs on SQLite and on PostgreSQL.

Each engine's database is migrated once per session; each test then runs inside a
transaction that is rolled back, so tests never see each other's rows. PostgreSQL tests are
skipped with a visible reason only when no server answers and CI is not set; in CI a missing
server is a failure.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text

from vigil import migrate
from vigil.db import Database, create_db_engine
from vigil.settings import Settings
from vigil.web.app import create_app
from vigil.web.runtime import Runtime

pytest_plugins = ["tests.scratch"]  # scratch installations for command-line tests

PG_URL = os.environ.get("VIGIL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
_engines: dict[str, Engine] = {}


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used, or None when it answers."""
    try:
        engine = create_db_engine(PG_URL, pool_size=1)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        return f"PostgreSQL at {PG_URL} is unavailable ({type(exc).__name__})"
    return None


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'vigil-test.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_url() -> str:
    problem = postgres_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"{problem}; CI must run the PostgreSQL half")
        pytest.skip(problem)
    engine = create_db_engine(PG_URL, pool_size=1)
    with engine.begin() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    migrate.upgrade(PG_URL)
    return PG_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


def engine_for(url: str) -> Engine:
    if url not in _engines:
        _engines[url] = create_db_engine(url, pool_size=2)
    return _engines[url]


@pytest.fixture
def connection(db_url: str) -> Iterator[Connection]:
    conn = engine_for(db_url).connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=db_url,
        data_dir=tmp_path / "var",
        public_rate_limit=0,
        log_level="warning",
    )


@pytest.fixture
def rt(settings: Settings, connection: Connection) -> Runtime:
    db = Database(engine_for(settings.database_url), bind=connection)
    return Runtime.build(settings, db=db)


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt=rt), raise_server_exceptions=False) as test_client:
        yield test_client


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    for engine in _engines.values():
        engine.dispose()
