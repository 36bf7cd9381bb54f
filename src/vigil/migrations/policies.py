"""PostgreSQL row-level security policies, written the same way by every migration.

Each protected table gets four policies for the application role: insert (``write``),
select (``read``), update and delete (``change``, the read condition unless given). Kept in
one place so a new area's migration states only its conditions. Migrations that import
this must keep working as written: change it only by adding, never by altering behaviour.
"""

from __future__ import annotations

from collections.abc import Iterable

from alembic import op

APP_ROLE = "vigil_app"
SYSTEM = "coalesce(current_setting('vigil.actor', true), '') IN ('public', 'system')"
ACTIONS = ("insert", "select", "update", "delete")


def protect(table: str, *, read: str, write: str = "true", change: str | None = None) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY {table}_insert ON {table} FOR INSERT TO {APP_ROLE} WITH CHECK ({write})"
    )
    op.execute(f"CREATE POLICY {table}_select ON {table} FOR SELECT TO {APP_ROLE} USING ({read})")
    for action in ("update", "delete"):
        op.execute(
            f"CREATE POLICY {table}_{action} ON {table} FOR {action.upper()} TO {APP_ROLE} "
            f"USING ({change or read})"
        )


def unprotect(tables: Iterable[str]) -> None:
    for table in tables:
        for action in ACTIONS:
            op.execute(f"DROP POLICY IF EXISTS {table}_{action} ON {table}")
