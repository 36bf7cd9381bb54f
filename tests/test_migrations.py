"""Migrations and models agree, and the migration chain runs down and up again."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from vigil import migrate
from vigil.models import metadata


def test_models_and_migrations_agree(owner_connection: Connection) -> None:
    context = MigrationContext.configure(owner_connection, opts={"compare_type": True})
    assert compare_metadata(context, metadata) == []


def test_downgrade_to_base_and_upgrade_again(owner_connection: Connection) -> None:
    migrate.downgrade(connection=owner_connection, revision="base")
    assert set(inspect(owner_connection).get_table_names()) <= {"alembic_version"}
    migrate.upgrade(connection=owner_connection)
    assert {"reports", "audit_events", "reporter_identities"} <= set(
        inspect(owner_connection).get_table_names()
    )
