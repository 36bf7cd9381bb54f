"""api tokens: an optional scope, the permissions a token may use

An integration rarely needs everything its user's role allows: a partner feed only submits
referrals, a dashboard only reads statistics. A token's ``scopes`` lists the permissions it
may use; on each request the token acts with the user's current role permissions narrowed to
that list, so a later change of role can only take permissions away. NULL keeps the earlier
meaning (the role's permissions), so tokens issued before this revision keep working.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28 07:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.add_column(sa.Column("scopes", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("api_tokens") as batch:
        batch.drop_column("scopes")
