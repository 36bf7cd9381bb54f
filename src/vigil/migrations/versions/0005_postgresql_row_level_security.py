"""PostgreSQL: an application role that owns nothing, insert-only audit, row-level security.

Defence in depth behind vigil.access.policy: even a query that forgot the policy filter, run
by the application's role, only returns reports the acting user may see. The acting user is
set per transaction with ``set_config('vigil.user_id', …, true)``; the intake and internal
work run as ``vigil.actor`` = 'public' or 'system'. The owner (who runs migrations) is not
subject to these policies. On SQLite this migration does nothing.

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APP_ROLE = "vigil_app"
CHILD_TABLES = ("report_people", "report_vehicles", "report_online", "attachments", "followups")
APPEND_ONLY = ("audit_events", "audit_checkpoints")

VISIBLE_FUNCTION = """
CREATE OR REPLACE FUNCTION vigil_visible(
    org integer, team integer, marking text, rtype text, rid integer
) RETURNS boolean LANGUAGE sql STABLE AS $fn$
  SELECT CASE
    WHEN coalesce(current_setting('vigil.actor', true), '') IN ('public', 'system') THEN true
    WHEN coalesce(current_setting('vigil.user_id', true), '') = '' THEN false
    ELSE EXISTS (
      SELECT 1 FROM users u
      WHERE u.id = nullif(current_setting('vigil.user_id', true), '')::integer
        AND u.disabled_at IS NULL
        AND vigil_marking_rank(marking) <= vigil_marking_rank(u.clearance)
        AND (
          (team IS NOT NULL AND EXISTS (
             SELECT 1 FROM team_memberships m WHERE m.user_id = u.id AND m.team_id = team))
          OR (team IS NULL AND org = u.organisation_id)
          OR EXISTS (
             SELECT 1 FROM record_shares s
             WHERE s.record_type = rtype AND s.record_id = rid AND s.revoked_at IS NULL
               AND (s.org_id = u.organisation_id
                    OR s.team_id IN (SELECT team_id FROM team_memberships WHERE user_id = u.id)))
        )
    )
  END
$fn$;
"""

RANK_FUNCTION = """
CREATE OR REPLACE FUNCTION vigil_marking_rank(marking text) RETURNS integer
LANGUAGE sql IMMUTABLE AS $fn$
  SELECT CASE marking WHEN 'OFFICIAL' THEN 1 WHEN 'OFFICIAL-SENSITIVE' THEN 2
                      WHEN 'SECRET' THEN 3 ELSE 99 END
$fn$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"""
        DO $do$ BEGIN
          IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
            -- roles belong to the cluster: another database's migration may create it first
            BEGIN
              CREATE ROLE {APP_ROLE} LOGIN NOINHERIT;
            EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
            END;
          END IF;
        END $do$;
    """)
    op.execute(f"GRANT USAGE ON SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {APP_ROLE}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {APP_ROLE}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE}"
    )
    op.execute(f"REVOKE ALL ON alembic_version FROM {APP_ROLE}")
    op.execute(f"GRANT SELECT ON alembic_version TO {APP_ROLE}")
    for table in APPEND_ONLY:
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM {APP_ROLE}")
    op.execute(RANK_FUNCTION)
    op.execute(VISIBLE_FUNCTION)
    op.execute("ALTER TABLE reports ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY reports_insert ON reports FOR INSERT TO {APP_ROLE} WITH CHECK (true)"
    )
    for action in ("SELECT", "UPDATE", "DELETE"):
        op.execute(
            f"CREATE POLICY reports_{action.lower()} ON reports FOR {action} TO {APP_ROLE} "
            "USING (vigil_visible(owning_org_id, owning_team_id, classification, 'report', id))"
        )
    for table in CHILD_TABLES:
        op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
        op.execute(
            f"CREATE POLICY {table}_insert ON {table} FOR INSERT TO {APP_ROLE} WITH CHECK (true)"
        )
        for action in ("SELECT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE POLICY {table}_{action.lower()} ON {table} FOR {action} TO {APP_ROLE} "
                "USING (EXISTS (SELECT 1 FROM reports r WHERE r.id = report_id))"
            )
    op.execute("ALTER TABLE reporter_identities ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY reporter_identities_internal ON reporter_identities TO {APP_ROLE} "
        "USING (coalesce(current_setting('vigil.actor', true), '') IN ('public', 'system')) "
        "WITH CHECK (coalesce(current_setting('vigil.actor', true), '') IN ('public', 'system'))"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP POLICY IF EXISTS reporter_identities_internal ON reporter_identities")
    op.execute("ALTER TABLE reporter_identities DISABLE ROW LEVEL SECURITY")
    for table in ("reports", *CHILD_TABLES):
        for action in ("insert", "select", "update", "delete"):
            op.execute(f"DROP POLICY IF EXISTS {table}_{action} ON {table}")
        op.execute(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY")
    op.execute("DROP FUNCTION IF EXISTS vigil_visible(integer, integer, text, text, integer)")
    op.execute("DROP FUNCTION IF EXISTS vigil_marking_rank(text)")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {APP_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM {APP_ROLE}"
    )
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {APP_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA public FROM {APP_ROLE}")
