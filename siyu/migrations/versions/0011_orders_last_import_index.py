"""orders: index the import that last wrote an order

Crediting the orders of bound accounts after an import looks for the orders that import wrote
(`last_import_id`); without this index that query read every order of the tenant's platform.

Revision ID: 0011_orders_last_import_index
Revises: 0010
Create Date: 2026-12-04 20:05:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_orders_last_import_index"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_orders_tenant_id_last_import_id", "orders", ["tenant_id", "last_import_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_orders_tenant_id_last_import_id", table_name="orders")
