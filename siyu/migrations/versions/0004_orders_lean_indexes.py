"""orders: leaner secondary indexes for bulk imports

The buyer-nickname index is dropped: no query can use it (order search matches the nickname inside an OR
with a substring test, which scans the tenant's orders anyway) and it cost about a fifth of a large
import's write time. The buyer open-uid index only covers orders that have one (most exports carry none).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 13:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

HAS_OPEN_UID = sa.text("buyer_open_uid IS NOT NULL")


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_tenant_id_buyer_nick"))
        batch_op.drop_index(batch_op.f("ix_orders_tenant_id_buyer_open_uid"))
        batch_op.create_index(
            batch_op.f("ix_orders_tenant_id_buyer_open_uid"),
            ["tenant_id", "buyer_open_uid"],
            unique=False,
            postgresql_where=HAS_OPEN_UID,
            sqlite_where=HAS_OPEN_UID,
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_orders_tenant_id_buyer_open_uid"))
        batch_op.create_index(
            batch_op.f("ix_orders_tenant_id_buyer_open_uid"), ["tenant_id", "buyer_open_uid"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_orders_tenant_id_buyer_nick"), ["tenant_id", "buyer_nick"], unique=False)
