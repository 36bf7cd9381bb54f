"""Migrations and models agree, and the migration chain runs down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from vigil import migrate
from vigil.models import metadata


def test_models_and_migrations_agree(connection: Connection) -> None:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    assert compare_metadata(context, metadata) == []


def test_downgrade_to_base_and_upgrade_again(connection: Connection) -> None:
    migrate.downgrade(connection=connection, revision="base")
    assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(connection=connection)
    assert {"reports", "audit_events", "reporter_identities"} <= set(
        inspect(connection).get_table_names()
    )
