"""Migration 0009 builds exactly the ``jobs`` table the model describes, and comes off again."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from vigil import migrate
from vigil.db import Base
from vigil.jobs.models import Job


def only_jobs(obj: Any, name: str | None, type_: str, reflected: bool, other: Any) -> bool:
    table = obj if type_ == "table" else getattr(obj, "table", None)
    return getattr(table, "name", None) == Job.__tablename__


def test_the_jobs_table_matches_its_model(owner_connection: Connection) -> None:
    context = MigrationContext.configure(
        owner_connection, opts={"compare_type": True, "include_object": only_jobs}
    )
    assert compare_metadata(context, Base.metadata) == []
    indexes = {
        ix["name"]: ix["column_names"] for ix in inspect(owner_connection).get_indexes("jobs")
    }
    assert indexes["ix_jobs_claim"] == ["status", "run_after"]


def test_downgrading_below_0009_removes_the_table_and_upgrading_restores_it(
    owner_connection: Connection,
) -> None:
    migrate.downgrade(connection=owner_connection, revision="0008")
    assert "jobs" not in inspect(owner_connection).get_table_names()
    migrate.upgrade(connection=owner_connection)
    assert "jobs" in inspect(owner_connection).get_table_names()
