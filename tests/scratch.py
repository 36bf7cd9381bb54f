"""Scratch Vigil installations for tests that run commands: one fresh database per test.

A SQLite file under the test's temporary folder, and (when a server answers) a dedicated
PostgreSQL database created for the test and dropped afterwards. Configuration goes through
the same ``VIGIL_*`` environment variables an operator would set.
"""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.engine import make_url
from typer.testing import CliRunner, Result

from vigil.cli import app
from vigil.db import Base, create_db_engine
from vigil.settings import get_settings
from vigil.web.runtime import Runtime

PG_URL = os.environ.get("VIGIL_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
PG_ADMIN_URL = make_url(PG_URL).set(database="postgres").render_as_string(hide_password=False)
PG_CLI_DB = f"vigil_cli_test_{os.getpid()}"  # per run: parallel runs never share it
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
ENV_KEYS = ("VIGIL_MASTER_KEYS", "VIGIL_MASTER_KEY_ID", "VIGIL_RECEIVING_ORG", "VIGIL_SECRET_KEY")
runner = CliRunner()


@dataclass
class Cli:
    """One scratch Vigil installation: where its data lives, and a way to run commands."""

    url: str
    monkeypatch: pytest.MonkeyPatch

    def __call__(self, *args: str, code: int = 0) -> Result:
        get_settings.cache_clear()  # the environment may have changed since the last command
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, (result.stdout, result.stderr, result.exception)
        return result

    def setenv(self, **values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                self.monkeypatch.delenv(f"VIGIL_{name}", raising=False)
            else:
                self.monkeypatch.setenv(f"VIGIL_{name}", value)
        get_settings.cache_clear()

    @contextmanager
    def engine(self) -> Iterator[Engine]:
        engine = create_db_engine(self.url, pool_size=1)
        try:
            yield engine
        finally:
            engine.dispose()

    def count(self, model: type[Base]) -> int:
        with self.engine() as engine, engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(model)) or 0

    @contextmanager
    def runtime(self) -> Iterator[Runtime]:
        rt = Runtime.build(get_settings())
        try:
            yield rt
        finally:
            rt.db.close()


@contextmanager
def fresh_database(engine_name: str, tmp_path: Path, label: str) -> Iterator[str]:
    """An empty database of one test's own, for work that must commit and be seen by other
    connections or processes; yields the owner's URL. A SQLite file under ``tmp_path``, or a
    PostgreSQL database named after ``label`` that is dropped afterwards (skipped with the
    reason when no server answers, a failure in CI)."""
    if engine_name == "sqlite":
        yield f"sqlite:///{tmp_path / f'{label}.db'}"
        return
    from tests.conftest import postgres_problem

    problem = postgres_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"{problem}; CI must run the PostgreSQL half of the {label} test")
        pytest.skip(problem)
    name = f"vigil_{label}_{uuid.uuid4().hex[:12]}"
    base = make_url(PG_URL)
    admin = create_db_engine(PG_ADMIN_URL, pool_size=1).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.engine.dispose()


def app_url(owner_url: str) -> str:
    """The URL the application uses for a scratch database: on PostgreSQL the ``vigil_app``
    role (row-level security on, as in production); on SQLite the same file."""
    if owner_url.startswith("sqlite"):
        return owner_url
    return (
        make_url(owner_url)
        .set(username="vigil_app", password=None)
        .render_as_string(hide_password=False)
    )


def flat(text_: str) -> str:
    """Rich wraps long lines for the terminal; compare messages with whitespace collapsed."""
    return " ".join(text_.split())


def master_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


@pytest.fixture(scope="module")
def postgres_admin() -> str:
    try:
        engine = create_db_engine(PG_ADMIN_URL, pool_size=1)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:
        problem = f"PostgreSQL at {PG_ADMIN_URL} is unavailable ({type(exc).__name__})"
        if IN_CI:
            pytest.fail(f"{problem}; CI must run the PostgreSQL half")
        pytest.skip(problem)
    return PG_ADMIN_URL


def _recreate_pg_database(admin_url: str, *, create: bool) -> None:
    engine = create_db_engine(admin_url, pool_size=1).execution_options(
        isolation_level="AUTOCOMMIT"
    )
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_CLI_DB}" WITH (FORCE)'))
        if create:
            conn.execute(text(f'CREATE DATABASE "{PG_CLI_DB}"'))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def cli(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Cli]:
    admin: str | None = None
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'v.db'}"
    else:
        admin = request.getfixturevalue("postgres_admin")
        _recreate_pg_database(admin, create=True)
        url = make_url(admin).set(database=PG_CLI_DB).render_as_string(hide_password=False)
    for name in ENV_KEYS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("VIGIL_DATABASE_URL", url)
    monkeypatch.setenv("VIGIL_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("VIGIL_LOG_LEVEL", "warning")
    monkeypatch.setenv("VIGIL_ENVIRONMENT", "test")
    get_settings.cache_clear()
    try:
        yield Cli(url, monkeypatch)
    finally:
        get_settings.cache_clear()
        if admin is not None:
            _recreate_pg_database(admin, create=False)


@pytest.fixture
def migrated(cli: Cli) -> Cli:
    cli("db", "upgrade")
    return cli
