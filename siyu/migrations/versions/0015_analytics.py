"""analytics: the tenant's report settings and its snapshot's bookkeeping

Revision ID: 0015_analytics
Revises: 0011_orders_last_import_index
Create Date: 2026-12-04 22:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from siyu.kit.types import UTCDateTime

revision: str = "0015_analytics"
down_revision: str | None = "0014_referrals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "analytics_settings",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("yuan_per_point", sa.String(length=16), nullable=False),
        sa.Column("rfm_edges", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_analytics_settings_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_analytics_settings")),
    )
    op.create_table(
        "analytics_snapshots",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("import_mark", sa.BigInteger(), nullable=False),
        sa.Column("claim_mark", UTCDateTime(timezone=True), nullable=False),
        sa.Column("entry_mark", sa.BigInteger(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("built_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("refreshed_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_analytics_snapshots_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_analytics_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("analytics_snapshots")
    op.drop_table("analytics_settings")
