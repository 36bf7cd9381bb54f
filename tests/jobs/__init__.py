"""Tests of the job queue, and what they share: a clock to move, and scratch databases.

Most tests use the rolled-back ``rt`` fixture. Tests that need committed rows seen by other
connections or processes (concurrent claims, a worker killed with SIGKILL) get a scratch
database of their own, migrated from nothing, so nothing they commit leaks into the others.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from tests.conftest import IN_CI, PG_URL, postgres_problem
from vigil import migrate
from vigil.db import create_db_engine, utcnow
from vigil.settings import Settings


class Clock:
    """A UTC clock that only moves when told (starts a second ahead of the wall clock, so
    jobs enqueued "now" by the wall clock are already due)."""

    def __init__(self) -> None:
        self.now = utcnow() + timedelta(seconds=1)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@contextmanager
def scratch_database(engine_name: str, tmp_path: Path) -> Iterator[str]:
    """A freshly migrated database; yields the URL the application uses (on PostgreSQL the
    ``vigil_app`` role, so the jobs table's grants are proven too)."""
    if engine_name == "sqlite":
        url = f"sqlite:///{tmp_path / 'jobs.db'}"
        migrate.upgrade(url)
        yield url
        return
    problem = postgres_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"{problem}; CI must run the PostgreSQL half")
        pytest.skip(problem)
    name = f"vigil_jobs_{uuid.uuid4().hex[:12]}"
    base = make_url(PG_URL)
    admin = create_db_engine(
        base.set(database="postgres").render_as_string(hide_password=False), pool_size=1
    ).execution_options(isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            migrate.upgrade(base.set(database=name).render_as_string(hide_password=False))
            yield (
                base.set(database=name, username="vigil_app", password=None).render_as_string(
                    hide_password=False
                )
            )
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.engine.dispose()


def settings_for(url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test", database_url=url, data_dir=tmp_path / "var", log_level="warning"
    )
