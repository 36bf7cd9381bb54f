"""search: index reports and entities again, now with their identifiers' other spellings

A search document now ends with the spellings of its phones, e-mail addresses, vehicle marks
and postcodes that its text does not already hold (``vigil.search.identifiers``): a report
that says "MN73 VOX" is found by ``MN73VOX``, the form alerts and entities show. Documents
are derived and only rebuilt when their record changes, so this revision notes every report
and entity in ``search_pending`` (oldest first, as migration 0013 did); the next search and
the ``search.index`` job rebuild them. Cases carry no such identifiers and are left alone.
No table changes. Going down notes them again, so the older code rebuilds them without.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 09:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REBUILT = (
    ("report", "reports", "received_at"),
    ("entity", "linkage_entities", "created_at"),
)


def _note_every_record() -> None:
    existing = " UNION ALL ".join(
        f"SELECT '{record_type}' AS t, id, {at} AS at FROM {table}"
        for record_type, table, at in REBUILT
    )
    op.execute(
        "INSERT INTO search_pending (record_type, record_id) "
        f"SELECT t, id FROM ({existing}) AS existing ORDER BY at, t, id"
    )


def upgrade() -> None:
    _note_every_record()


def downgrade() -> None:
    _note_every_record()
