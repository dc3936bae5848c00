"""Free draws of a lottery given to a member (a check-in's day-N gift).

Revision ID: 0023_lottery_free_draws
Revises: 0022_board_prizes
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import siyu.kit.types

revision: str = "0023_lottery_free_draws"
down_revision: str | None = "0022_board_prizes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "mall_lottery_free_draws",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("lottery_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("used_draw_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "lottery_id"],
            ["mall_lotteries.tenant_id", "mall_lotteries.id"],
            name=op.f("fk_mall_lottery_free_draws_tenant_id_lottery_id_mall_lotteries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_mall_lottery_free_draws_tenant_id_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_mall_lottery_free_draws")),
        sa.UniqueConstraint(
            "tenant_id", "member_id", "key", name=op.f("uq_mall_lottery_free_draws_tenant_id_member_id_key")
        ),
    )
    with op.batch_alter_table("mall_lottery_free_draws", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mall_lottery_free_draws_unused", ["tenant_id", "member_id", "lottery_id", "used_draw_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("mall_lottery_free_draws", schema=None) as batch_op:
        batch_op.drop_index("ix_mall_lottery_free_draws_unused")

    op.drop_table("mall_lottery_free_draws")
