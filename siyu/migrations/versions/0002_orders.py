"""orders: canonical orders, items, changes, imports, rejections, column mappings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 11:50:07.154248
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import siyu.kit.types

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_changes",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("import_id", sa.BigInteger(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("from_refund_fen", sa.BigInteger(), nullable=False),
        sa.Column("to_refund_fen", sa.BigInteger(), nullable=False),
        sa.Column("created_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "import_id", "platform", "order_id", name=op.f("pk_order_changes")),
    )
    with op.batch_alter_table("order_changes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_changes_tenant_id_platform_order_id"),
            ["tenant_id", "platform", "order_id"],
            unique=False,
        )

    op.create_table(
        "order_import_rejections",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("import_id", sa.BigInteger(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.String(length=80), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "import_id", "row", name=op.f("pk_order_import_rejections")),
    )
    op.create_table(
        "order_column_mappings",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("header_key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column(
            "columns",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_order_column_mappings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "header_key", name=op.f("pk_order_column_mappings")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_order_column_mappings_tenant_id_name")),
    )
    op.create_table(
        "order_imports",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("requested_platform", sa.String(length=16), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=True),
        sa.Column("layout", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("inserted", sa.Integer(), nullable=False),
        sa.Column("updated", sa.Integer(), nullable=False),
        sa.Column("unchanged", sa.Integer(), nullable=False),
        sa.Column("rejected", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=True),
        sa.Column("job_id", sa.BigInteger(), nullable=True),
        sa.Column("created_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_order_imports_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_order_imports")),
    )
    with op.batch_alter_table("order_imports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_imports_tenant_id_created_at"), ["tenant_id", "created_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_order_imports_tenant_id_sha256"), ["tenant_id", "sha256"], unique=False)

    op.create_table(
        "orders",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("status_rank", sa.Integer(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("refund_fen", sa.BigInteger(), nullable=False),
        sa.Column("item_count", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("buyer_nick", sa.String(length=100), nullable=True),
        sa.Column("buyer_open_uid", sa.String(length=100), nullable=True),
        sa.Column("receiver_phone", sa.String(length=20), nullable=True),
        sa.Column("shop", sa.String(length=100), nullable=True),
        sa.Column("author", sa.String(length=100), nullable=True),
        sa.Column("live_room", sa.String(length=64), nullable=True),
        sa.Column("placed_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("paid_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("completed_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_import_id", sa.BigInteger(), nullable=True),
        sa.Column("last_import_id", sa.BigInteger(), nullable=True),
        sa.Column("first_seen_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_changed_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_orders_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "platform", "order_id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_tenant_id_buyer_nick"), ["tenant_id", "buyer_nick"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_orders_tenant_id_buyer_open_uid"), ["tenant_id", "buyer_open_uid"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_orders_tenant_id_paid_at"), ["tenant_id", "paid_at"], unique=False)

    op.create_table(
        "order_items",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("order_id", sa.String(length=40), nullable=False),
        sa.Column("sub_id", sa.String(length=48), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=True),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("paid_fen", sa.BigInteger(), nullable=False),
        sa.Column("refund_fen", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "platform", "order_id"],
            ["orders.tenant_id", "orders.platform", "orders.order_id"],
            name=op.f("fk_order_items_tenant_id_platform_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "platform", "order_id", "sub_id", name=op.f("pk_order_items")),
    )


def downgrade() -> None:
    op.drop_table("order_items")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_tenant_id_paid_at"))
        batch_op.drop_index(batch_op.f("ix_orders_tenant_id_buyer_open_uid"))
        batch_op.drop_index(batch_op.f("ix_orders_tenant_id_buyer_nick"))

    op.drop_table("orders")
    with op.batch_alter_table("order_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_imports_tenant_id_sha256"))
        batch_op.drop_index(batch_op.f("ix_order_imports_tenant_id_created_at"))

    op.drop_table("order_imports")
    op.drop_table("order_column_mappings")
    op.drop_table("order_import_rejections")
    with op.batch_alter_table("order_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_changes_tenant_id_platform_order_id"))

    op.drop_table("order_changes")
