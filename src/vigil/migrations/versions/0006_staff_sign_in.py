"""staff sign-in: password hashes, sealed TOTP secrets, lockout counters, staff sessions

Every column added to ``users`` is nullable or has a server default, so existing accounts
keep working (they simply cannot sign in to the website until given a password and a TOTP
secret with ``vigil users set-password`` and ``vigil users enrol-totp``).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 23:31:15.934288
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import vigil.db

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", vigil.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", vigil.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("authenticated_at", vigil.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("second_factor_at", vigil.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_at", vigil.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ended_reason", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_staff_sessions_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_sessions")),
    )
    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_staff_sessions_last_seen_at"), ["last_seen_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_staff_sessions_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("password_hash", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("password_changed_at", vigil.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("totp_sealed", sa.LargeBinary(), nullable=True))
        batch_op.add_column(
            sa.Column("totp_enrolled_at", vigil.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("totp_last_step", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("failed_sign_ins", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(
            sa.Column("failures_since", vigil.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("locked_until", vigil.db.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("locked_until")
        batch_op.drop_column("failures_since")
        batch_op.drop_column("failed_sign_ins")
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_enrolled_at")
        batch_op.drop_column("totp_sealed")
        batch_op.drop_column("password_changed_at")
        batch_op.drop_column("password_hash")

    with op.batch_alter_table("staff_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_staff_sessions_user_id"))
        batch_op.drop_index(batch_op.f("ix_staff_sessions_last_seen_at"))

    op.drop_table("staff_sessions")
