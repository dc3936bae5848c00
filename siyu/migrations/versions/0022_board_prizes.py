"""Leaderboards of a live show or a campaign, with mall rewards as prizes, ranked by invitations or by the
sign-ins that members' shares led to.

Revision ID: 0022_board_prizes
Revises: 0019_trials
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import siyu.kit.types

revision = "0022_board_prizes"
down_revision = "0019_trials"
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
        batch.add_column(sa.Column("metric", sa.String(length=12), nullable=True))
    op.create_table(
        "referral_visits",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("inviter_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("visitor_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("created_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "inviter_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_referral_visits_tenant_id_inviter_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "visitor_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_referral_visits_tenant_id_visitor_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "inviter_id", "visitor_id", "day", name=op.f("pk_referral_visits")),
    )
    with op.batch_alter_table("referral_visits") as batch:
        batch.create_index(
            batch.f("ix_referral_visits_tenant_id_created_at"), ["tenant_id", "created_at"], unique=False
        )
    with op.batch_alter_table("referral_board_prizes") as batch:
        batch.add_column(sa.Column("reward_title", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("redemption_id", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("referral_visits") as batch:
        batch.drop_index(batch.f("ix_referral_visits_tenant_id_created_at"))
    op.drop_table("referral_visits")
    with op.batch_alter_table("referral_board_prizes") as batch:
        batch.drop_column("redemption_id")
        batch.drop_column("reward_title")
    with op.batch_alter_table("referral_boards") as batch:
        batch.drop_column("metric")
        batch.drop_column("campaign_id")
        batch.drop_column("show_id")
        batch.drop_column("reward_prizes")
