"""Test ground: every database test runs on SQLite and on PostgreSQL.

Each engine's database is migrated once per session; each test then runs inside a
transaction that is rolled back, so tests never see each other's rows. On PostgreSQL each
test session gets its own database (parallel runs never collide), migrated by the owner, and
the application connects as the ``vigil_app`` role, so row-level security is on, as in
production. PostgreSQL tests are skipped with a visible reason only when no server answers
and CI is not set; in CI a missing server is a failure.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url

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
def postgres_owner_url() -> Iterator[str]:
    """A fresh database for this test session, migrated by its owner; dropped at the end."""
    problem = postgres_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"{problem}; CI must run the PostgreSQL half")
        pytest.skip(problem)
    name = f"vigil_test_{os.getpid()}"
    admin = create_db_engine(PG_URL, pool_size=1).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    owner_url = make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    migrate.upgrade(owner_url)
    yield owner_url
    for url in [u for u in _engines if name in u]:
        _engines.pop(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def postgres_url(postgres_owner_url: str) -> str:
    """The same database as the application sees it: the vigil_app role, under RLS."""
    return (
        make_url(postgres_owner_url)
        .set(username="vigil_app", password=None)
        .render_as_string(hide_password=False)
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


def engine_for(url: str) -> Engine:
    if url not in _engines:
        _engines[url] = create_db_engine(url, pool_size=2)
    return _engines[url]


@contextmanager
def rolled_back(url: str) -> Iterator[Connection]:
    """A connection inside a transaction that is always rolled back."""
    conn = engine_for(url).connect()
    trans = conn.begin()
    try:
        yield conn
    finally:
        trans.rollback()
        conn.close()


@pytest.fixture
def connection(db_url: str) -> Iterator[Connection]:
    with rolled_back(db_url) as conn:
        yield conn


@pytest.fixture
def owner_connection(request: pytest.FixtureRequest, db_url: str) -> Iterator[Connection]:
    """A rolled-back connection as the schema's owner (for tests of migrations)."""
    url = db_url
    if db_url.startswith("postgresql"):
        url = request.getfixturevalue("postgres_owner_url")
    with rolled_back(url) as conn:
        yield conn


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=db_url,
        data_dir=tmp_path / "var",
        public_rate_limit=0,
        log_level="warning",
        jobs_in_process=False,  # tests run the pipeline explicitly (tests/triage)
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


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Files with slow tests first (each folder's together, in their order), then the rest,
    most tests first. `make test` runs files whole on each worker (`--dist loadfile
    --no-loadscope-reorder`), so the long files start early and the short ones fill the
    end, instead of one worker running the crash tests alone while the other waits. A
    folder's slow files stay together so the browser tests' shared server starts once per
    worker."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    folder_at: dict[Path, int] = {}
    for index, item in enumerate(items):
        folder_at.setdefault(item.path.parent, index)
    per_file = Counter(item.path for item in items)

    def key(item: pytest.Item) -> tuple[int, int]:
        if item.path in slow:
            return (0, folder_at[item.path.parent])
        return (1, -per_file[item.path])

    items.sort(key=key)
