"""live: the live calendar (shows, their featured products) and fans' reservations

Revision ID: 0016_live
Revises: 0013_missions
Create Date: 2026-12-04 23:20:18.832621

It follows 0013 here; the revision it follows is re-chained when the parts are merged.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import siyu.kit.types

revision: str = "0016_live"
down_revision: str | None = "0015_analytics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "live_shows",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("platform", sa.String(length=16), nullable=False),
        sa.Column("live_room", sa.String(length=64), nullable=True),
        sa.Column("author_id", sa.String(length=100), nullable=True),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("cover", sa.String(length=80), nullable=True),
        sa.Column(
            "benefits", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("starts_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("notice", sa.String(length=200), nullable=False),
        sa.Column("notice_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_live_shows_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_live_shows_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_live_shows")),
    )
    with op.batch_alter_table("live_shows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_live_shows_tenant_id_starts_at"), ["tenant_id", "starts_at"], unique=False)

    op.create_table(
        "live_reservations",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("show_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("reserved_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("cancelled_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_live_reservations_tenant_id_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "show_id"],
            ["live_shows.tenant_id", "live_shows.id"],
            name=op.f("fk_live_reservations_tenant_id_show_id_live_shows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_live_reservations")),
        sa.UniqueConstraint(
            "tenant_id", "show_id", "member_id", name=op.f("uq_live_reservations_tenant_id_show_id_member_id")
        ),
    )
    with op.batch_alter_table("live_reservations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_live_reservations_tenant_id_member_id"), ["tenant_id", "member_id"], unique=False
        )

    op.create_table(
        "live_show_products",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("show_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=60), nullable=False),
        sa.Column("price_fen", sa.BigInteger(), nullable=False),
        sa.Column("image", sa.String(length=80), nullable=True),
        sa.Column("sort_order", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("price_fen > 0", name=op.f("ck_live_show_products_price_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "show_id"],
            ["live_shows.tenant_id", "live_shows.id"],
            name=op.f("fk_live_show_products_tenant_id_show_id_live_shows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_live_show_products")),
    )
    with op.batch_alter_table("live_show_products", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_live_show_products_tenant_id_show_id"), ["tenant_id", "show_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("live_show_products", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_show_products_tenant_id_show_id"))

    op.drop_table("live_show_products")
    with op.batch_alter_table("live_reservations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_reservations_tenant_id_member_id"))

    op.drop_table("live_reservations")
    with op.batch_alter_table("live_shows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_live_shows_tenant_id_starts_at"))

    op.drop_table("live_shows")
