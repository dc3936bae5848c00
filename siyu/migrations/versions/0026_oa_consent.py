"""A subscribe consent remembers the tap that gave it (a tap reported twice is one consent) and the WeChat account
that gave it (an official-account consent is spent on that account's openid).

Revision ID: 0026_oa_consent
Revises: 0023_lottery_free_draws
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_oa_consent"
down_revision: str | None = "0023_lottery_free_draws"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notice_consents", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tap", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("openid", sa.String(length=128), server_default="", nullable=False))
        batch_op.create_unique_constraint(
            batch_op.f("uq_notice_consents_tenant_id_member_id_template_id_tap"),
            ["tenant_id", "member_id", "template_id", "tap"],
        )


def downgrade() -> None:
    with op.batch_alter_table("notice_consents", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_notice_consents_tenant_id_member_id_template_id_tap"), type_="unique")
        batch_op.drop_column("openid")
        batch_op.drop_column("tap")
