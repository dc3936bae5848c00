"""Leaderboards of a live show or a campaign, with mall rewards as prizes.

Revision ID: 0022_board_prizes
Revises: 0017_notices
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0022_board_prizes"
down_revision = "0017_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("referral_boards") as batch:
        batch.add_column(
            sa.Column(
                "reward_prizes",
                sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
                nullable=True,
            )
        )
        batch.add_column(sa.Column("show_id", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("campaign_id", sa.BigInteger(), nullable=True))
    with op.batch_alter_table("referral_board_prizes") as batch:
        batch.add_column(sa.Column("reward_title", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("redemption_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referral_board_prizes") as batch:
        batch.drop_column("redemption_id")
        batch.drop_column("reward_title")
    with op.batch_alter_table("referral_boards") as batch:
        batch.drop_column("campaign_id")
        batch.drop_column("show_id")
        batch.drop_column("reward_prizes")
