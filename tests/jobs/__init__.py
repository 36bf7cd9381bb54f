"""Tests of the job queue, and what they share: a clock to move, and scratch databases.

Most tests use the rolled-back ``rt`` fixture. Tests that need committed rows seen by other
connections or processes (concurrent claims, a worker killed with SIGKILL) get a scratch
database of their own, migrated from nothing, so nothing they commit leaks into the others.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path

from tests.scratch import app_url, fresh_database
from vigil import migrate
from vigil.db import utcnow
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
    with fresh_database(engine_name, tmp_path, "jobs") as owner_url:
        migrate.upgrade(owner_url)
        yield app_url(owner_url)


def settings_for(url: str, tmp_path: Path) -> Settings:
    return Settings(
        environment="test", database_url=url, data_dir=tmp_path / "var", log_level="warning"
    )
