"""browser sessions: an idle session's answers go, its language stays a while

Housekeeping used to delete a public session as soon as it had been idle too long. A visitor
coming back then could not be told apart from one whose session never held answers, and the
site forgot that they had chosen Welsh. Now an idle session's sealed data is replaced by a
husk (its language, and whether it held answers) and ``ended_at`` is set; husks are deleted
a day later. Answers still go at the idle timeout, as before.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vigil.db

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ended_at", vigil.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    # The older code reads a husk as a session; deleting them ends those visits at once.
    op.execute("DELETE FROM browser_sessions WHERE ended_at IS NOT NULL")
    with op.batch_alter_table("browser_sessions", schema=None) as batch_op:
        batch_op.drop_column("ended_at")
