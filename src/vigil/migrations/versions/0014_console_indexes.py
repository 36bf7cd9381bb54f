"""console at national scale: the open queue's own index; row-level security checked once

Measured with ``benchmarks/console.py`` at 1,000,000 reports (docs/benchmarks.md):

* ``ix_triage_open_queue``: the queue shows open reports (new or claimed), most urgent and
  oldest first. With only ``ix_triage_queue (state, priority_rank, received_at)`` an
  ``IN ('new', 'claimed')`` on the first column gives two ordered ranges, which neither
  engine merges, so every page sorted every open report. This partial index holds only open
  reports, already in queue order, so a page reads about as many rows as it shows. The
  queue writes its open-state filter with literal values (``vigil.triage.queue``), which is
  what lets SQLite match a partial index.

* PostgreSQL: every policy that called ``vigil_visible(org, team, marking, type, id)`` gets
  the same condition written out in the policy itself. The function's body has subqueries,
  which PostgreSQL never inlines, so it ran as a separate SQL function call for every row
  read (the supervisors' dashboard read 80,000 reports that way, about 8 s). Written in the
  policy, the acting user's clearance, organisation and teams are uncorrelated subqueries
  that PostgreSQL evaluates once per statement, leaving a comparison per row; the share
  lookup stays per row and runs only for rows the user's own teams do not own. The rule is
  the function's, term for term: the acting user must be live (not disabled) and cleared
  for the marking, and then own the record through a team, through their organisation when
  it has no team, or through a live share with their organisation or one of their teams;
  'public' and 'system' actors see everything, a missing user nothing. The function stays
  for later policies. Each rewritten policy keeps its previous condition in its comment, so
  the downgrade puts it back exactly.

* PostgreSQL: the application role runs without JIT compilation. Row-level security's
  subqueries inflate the planner's cost estimates past ``jit_above_cost``, so PostgreSQL
  compiled a filtered queue page's 4 ms query for about 2 s before running it. Vigil's
  queries are short; JIT only pays off for long analytical scans.

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-28 07:45:00.000000
"""

import re
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from vigil.migrations.policies import APP_ROLE

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "state IN ('new', 'claimed')"
NOTE = "vigil 0014 replaced: "
USER_ID = "nullif(current_setting('vigil.user_id', true), '')::integer"
LIVE = f"FROM users u WHERE u.id = {USER_ID} AND u.disabled_at IS NULL"
MY_ORG = f"(SELECT u.organisation_id {LIVE})"
MY_TEAMS = f"(SELECT m.team_id FROM team_memberships m WHERE m.user_id = {USER_ID})"
CALL = re.compile(r"vigil_visible\(((?:[^()]|\([^()]*\))*)\)")
COLUMN = re.compile(r"^\(?([a-z_]+)\)?(::text)?$")


def _qualified(table: str, arg: str) -> str:
    """A column argument named with its table (inside a subquery a bare ``id`` would be the
    subquery's own); literals such as ``'report'::text`` stay as they are."""
    match = COLUMN.match(arg.strip())
    if not match:
        return arg.strip()
    return f"({table}.{match.group(1)}){match.group(2) or ''}"


def visible_sql(table: str, org: str, team: str, marking: str, rtype: str, rid: str) -> str:
    """``vigil_visible(org, team, marking, rtype, rid)`` written out (see the docstring)."""
    org, team, marking, rid = (_qualified(table, a) for a in (org, team, marking, rid))
    shared = (
        f"EXISTS (SELECT 1 FROM record_shares s WHERE s.record_type = {rtype.strip()} "
        f"AND s.record_id = {rid} AND s.revoked_at IS NULL "
        f"AND (s.org_id = {MY_ORG} OR s.team_id IN {MY_TEAMS}))"
    )
    return (
        "(coalesce(current_setting('vigil.actor', true), '') IN ('public', 'system') OR ("
        f"vigil_marking_rank({marking}) <= (SELECT vigil_marking_rank(u.clearance) {LIVE}) "
        f"AND ({team} IN {MY_TEAMS} OR ({team} IS NULL AND {org} = {MY_ORG}) OR {shared})))"
    )


def _split(args: str) -> list[str]:
    out, depth, current = [], 0, ""
    for ch in args:
        if ch == "," and depth == 0:
            out.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(ch, 0)
        current += ch
    return [*out, current]


def expanded(table: str, qual: str) -> str:
    return CALL.sub(lambda m: visible_sql(table, *_split(m.group(1))), qual)


def upgrade() -> None:
    op.create_index(
        "ix_triage_open_queue",
        "triage_results",
        ["priority_rank", "received_at", "report_id"],
        unique=False,
        sqlite_where=sa.text(OPEN),
        postgresql_where=sa.text(OPEN),
    )
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    rows = bind.execute(
        sa.text(
            "SELECT tablename, policyname, qual FROM pg_policies "
            "WHERE schemaname = current_schema() AND qual LIKE '%vigil_visible(%'"
        )
    ).all()
    for table, name, qual in rows:
        note = (NOTE + qual).replace("'", "''")
        op.execute(f"ALTER POLICY {name} ON {table} USING ({expanded(table, qual)})")
        op.execute(f"COMMENT ON POLICY {name} ON {table} IS '{note}'")
    # The role's settings are one row for the whole cluster: written only when missing, so
    # migrations of several databases at once (parallel test workers) never update it together.
    op.execute(f"""
        DO $do$ BEGIN
          IF NOT EXISTS (
            SELECT FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole
            WHERE r.rolname = '{APP_ROLE}' AND s.setdatabase = 0 AND 'jit=off' = ANY(s.setconfig)
          ) THEN
            ALTER ROLE {APP_ROLE} SET jit = off;
          END IF;
        END $do$;
    """)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        rows = bind.execute(
            sa.text(
                "SELECT c.relname, p.polname, d.description FROM pg_policy p "
                "JOIN pg_class c ON c.oid = p.polrelid "
                "JOIN pg_description d ON d.objoid = p.oid AND d.classoid = 'pg_policy'::regclass "
                "WHERE d.description LIKE :note"
            ),
            {"note": NOTE + "%"},
        ).all()
        for table, name, note in rows:
            op.execute(f"ALTER POLICY {name} ON {table} USING ({note[len(NOTE) :]})")
            op.execute(f"COMMENT ON POLICY {name} ON {table} IS NULL")
        op.execute(f"ALTER ROLE {APP_ROLE} RESET jit")
    op.drop_index("ix_triage_open_queue", table_name="triage_results")
