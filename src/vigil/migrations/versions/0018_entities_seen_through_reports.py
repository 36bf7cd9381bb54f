"""linkage: a person, phone or vehicle taken from a report is seen by whoever sees the report

``vigil.access.policy`` now lets a reader see an entity whose source is a report they may
read (it holds nothing the report does not), so a report shared with a partner brings its
entities, and an alert's evidence on them, along. On PostgreSQL the entities' row-level
security read policy says the same: its previous condition, or the source report visible
to the acting user (the ``reports`` policy applies inside the subquery) and the entity's
marking within the user's clearance. Updates and deletes stay with the owner. The previous
condition and comment (migration 0014 keeps its own undo there) are kept in the policy's
comment, so the downgrade puts both back exactly. On SQLite this migration does nothing.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 10:00:00.000000
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

POLICY = "linkage_entities_select"
NOTE = "vigil 0018 replaced: "
USER_ID = "nullif(current_setting('vigil.user_id', true), '')::integer"
THROUGH_REPORT = (
    "(linkage_entities.source_type = 'report' "
    "AND vigil_marking_rank(linkage_entities.classification) <= "
    f"(SELECT vigil_marking_rank(u.clearance) FROM users u WHERE u.id = {USER_ID} "
    "AND u.disabled_at IS NULL) "
    "AND EXISTS (SELECT 1 FROM reports r WHERE r.id = linkage_entities.source_id))"
)


_COMMENT = (
    "SELECT obj_description(p.oid, 'pg_policy') FROM pg_policy p "
    "JOIN pg_class c ON c.oid = p.polrelid "
    "WHERE c.relname = 'linkage_entities' AND p.polname = :name"
)


def _comment_sql(text: str | None) -> str:
    return "NULL" if text is None else "'" + text.replace("'", "''") + "'"


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    qual = bind.execute(
        sa.text(
            "SELECT qual FROM pg_policies WHERE schemaname = current_schema() "
            "AND tablename = 'linkage_entities' AND policyname = :name"
        ),
        {"name": POLICY},
    ).scalar_one()
    comment = bind.execute(sa.text(_COMMENT), {"name": POLICY}).scalar_one_or_none()
    note = NOTE + json.dumps({"qual": qual, "comment": comment})
    op.execute(f"ALTER POLICY {POLICY} ON linkage_entities USING (({qual}) OR {THROUGH_REPORT})")
    op.execute(f"COMMENT ON POLICY {POLICY} ON linkage_entities IS {_comment_sql(note)}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    note = str(bind.execute(sa.text(_COMMENT), {"name": POLICY}).scalar_one())
    previous = json.loads(note.removeprefix(NOTE))
    op.execute(f"ALTER POLICY {POLICY} ON linkage_entities USING ({previous['qual']})")
    op.execute(
        f"COMMENT ON POLICY {POLICY} ON linkage_entities IS {_comment_sql(previous['comment'])}"
    )
