"""linkage: an alert keeps the reference of the record that raised it

A team alerted on a record it may not see is told which organisation holds it; now also the
record's reference (a report's, or ``entity:N``), so that the holder can find the record and
decide whether to share it. The reference is read when the alert is raised (as the system:
on PostgreSQL row-level security would hide it from the team), and filled in here for the
alerts that already exist.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 11:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("linkage_alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("record_ref", sa.String(length=40), nullable=True))
    op.execute(
        "UPDATE linkage_alerts SET record_ref = "
        "(SELECT r.reference FROM reports r WHERE r.id = linkage_alerts.record_id) "
        "WHERE record_type = 'report'"
    )
    op.execute(
        "UPDATE linkage_alerts SET record_ref = record_type || ':' || CAST(record_id AS TEXT) "
        "WHERE record_ref IS NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table("linkage_alerts", schema=None) as batch_op:
        batch_op.drop_column("record_ref")
