"""A member's last visit (signed-in H5 page or fan API call), written at most once per tenant-local day; churn
risk counts it beside her last order.

Revision ID: 0025_visits
Revises: 0026_oa_consent
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import siyu.kit.types

revision: str = "0025_visits"
down_revision: str | None = "0026_oa_consent"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_visit_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_members_tenant_id_last_visit_at"), ["tenant_id", "last_visit_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_members_tenant_id_last_visit_at"))
        batch_op.drop_column("last_visit_at")
