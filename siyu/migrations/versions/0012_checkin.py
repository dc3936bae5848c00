"""check-in: one row per member per tenant-local day (the key decides "once a day"), and reminder opt-ins

Revision ID: 0012_checkin
Revises: 0011_orders_last_import_index
Create Date: 2026-12-04 23:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import siyu.kit.types

revision: str = "0012_checkin"
down_revision: str | None = "0011_orders_last_import_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "checkins",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("streak", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("made_up_on", sa.Date(), nullable=True),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("created_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_checkins_tenant_id_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "member_id", "day", name=op.f("pk_checkins")),
    )
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_checkins_tenant_id_day"), ["tenant_id", "day"], unique=False)

    op.create_table(
        "checkin_reminders",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("created_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_checkin_reminders_tenant_id_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "member_id", name=op.f("pk_checkin_reminders")),
    )


def downgrade() -> None:
    op.drop_table("checkin_reminders")
    with op.batch_alter_table("checkins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_checkins_tenant_id_day"))
    op.drop_table("checkins")
