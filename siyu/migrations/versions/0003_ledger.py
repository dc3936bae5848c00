"""ledger: entries, lots, allocations, balances (the points ledger core)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 12:47:22.000105
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import siyu.kit.types

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ledger_balances",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("available", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.BigInteger(), nullable=False),
        sa.Column("debt", sa.BigInteger(), nullable=False),
        sa.Column("merged_into", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "pending >= 0 AND debt >= 0 AND available + debt >= 0", name=op.f("ck_ledger_balances_never_overdrawn")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_ledger_balances_tenant_id_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "member_id", name=op.f("pk_ledger_balances")),
    )
    op.create_table(
        "ledger_entries",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("pending_amount", sa.BigInteger(), nullable=False),
        sa.Column("source_ref", sa.String(length=160), nullable=False),
        sa.Column("lot_id", sa.BigInteger(), nullable=True),
        sa.Column("explanation", sa.String(length=300), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("created_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_ledger_entries_tenant_id_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ledger_entries")),
        sa.UniqueConstraint(
            "tenant_id", "kind", "source_ref", name=op.f("uq_ledger_entries_tenant_id_kind_source_ref")
        ),
    )
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ledger_entries_tenant_id_lot_id"), ["tenant_id", "lot_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_ledger_entries_tenant_id_member_id_created_at"),
            ["tenant_id", "member_id", "created_at"],
            unique=False,
        )

    op.create_table(
        "ledger_lots",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("source_ref", sa.String(length=160), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("remaining", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("post_after", siyu.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("expires_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "remaining >= 0 AND remaining <= amount", name=op.f("ck_ledger_lots_remaining_within_amount")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "entry_id"],
            ["ledger_entries.tenant_id", "ledger_entries.id"],
            name=op.f("fk_ledger_lots_tenant_id_entry_id_ledger_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_ledger_lots_tenant_id_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ledger_lots")),
        sa.UniqueConstraint("tenant_id", "source_ref", name=op.f("uq_ledger_lots_tenant_id_source_ref")),
    )
    with op.batch_alter_table("ledger_lots", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_lots_tenant_id_member_id_status"), ["tenant_id", "member_id", "status"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_ledger_lots_tenant_id_status_expires_at"),
            ["tenant_id", "status", "expires_at"],
            unique=False,
        )

    op.create_table(
        "ledger_allocations",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("entry_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("lot_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "entry_id"],
            ["ledger_entries.tenant_id", "ledger_entries.id"],
            name=op.f("fk_ledger_allocations_tenant_id_entry_id_ledger_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "lot_id"],
            ["ledger_lots.tenant_id", "ledger_lots.id"],
            name=op.f("fk_ledger_allocations_tenant_id_lot_id_ledger_lots"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "entry_id", "lot_id", name=op.f("pk_ledger_allocations")),
    )
    with op.batch_alter_table("ledger_allocations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ledger_allocations_tenant_id_lot_id"), ["tenant_id", "lot_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("ledger_allocations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_allocations_tenant_id_lot_id"))

    op.drop_table("ledger_allocations")
    with op.batch_alter_table("ledger_lots", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_lots_tenant_id_status_expires_at"))
        batch_op.drop_index(batch_op.f("ix_ledger_lots_tenant_id_member_id_status"))

    op.drop_table("ledger_lots")
    with op.batch_alter_table("ledger_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ledger_entries_tenant_id_member_id_created_at"))
        batch_op.drop_index(batch_op.f("ix_ledger_entries_tenant_id_lot_id"))

    op.drop_table("ledger_entries")
    op.drop_table("ledger_balances")
