"""referrals: invite codes, invitations with their review state, rules, share leaderboards and their prizes

Revision ID: 0014_referrals
Revises: 0011_orders_last_import_index
Create Date: 2026-12-04 22:34:36.726391
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import siyu.kit.types

revision: str = "0014_referrals"
down_revision: str | None = "0013_missions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "referral_boards",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("title", sa.String(length=40), nullable=False),
        sa.Column("starts_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ends_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "prizes", sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"), nullable=False
        ),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("settled_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_referral_boards_window_forward")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_referral_boards_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_referral_boards")),
    )
    with op.batch_alter_table("referral_boards", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referral_boards_tenant_id_starts_at"), ["tenant_id", "starts_at"], unique=False
        )

    op.create_table(
        "referral_rules",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("inviter_points", sa.BigInteger(), nullable=False),
        sa.Column("invitee_points", sa.BigInteger(), nullable=False),
        sa.Column("cap", sa.BigInteger(), nullable=False),
        sa.Column("network_limit", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("cap >= 0", name=op.f("ck_referral_rules_cap_not_negative")),
        sa.CheckConstraint(
            "inviter_points >= 0 AND invitee_points >= 0", name=op.f("ck_referral_rules_points_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_referral_rules_tenant_id_tenants"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_referral_rules")),
    )
    op.create_table(
        "referral_board_prizes",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("board_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("rank", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("member_id", sa.BigInteger(), nullable=False),
        sa.Column("invitations", sa.BigInteger(), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("created_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "board_id"],
            ["referral_boards.tenant_id", "referral_boards.id"],
            name=op.f("fk_referral_board_prizes_tenant_id_board_id_referral_boards"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_referral_board_prizes_tenant_id_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "board_id", "rank", name=op.f("pk_referral_board_prizes")),
    )
    with op.batch_alter_table("referral_board_prizes", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referral_board_prizes_tenant_id_member_id"), ["tenant_id", "member_id"], unique=False
        )

    op.create_table(
        "referral_codes",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("member_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("device_hash", sa.String(length=64), nullable=True),
        sa.Column("ip_hash", sa.String(length=64), nullable=True),
        sa.Column("created_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "member_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_referral_codes_tenant_id_member_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "member_id", name=op.f("pk_referral_codes")),
        sa.UniqueConstraint("tenant_id", "code", name=op.f("uq_referral_codes_tenant_id_code")),
    )
    op.create_table(
        "referrals",
        sa.Column("tenant_id", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("inviter_id", sa.BigInteger(), nullable=False),
        sa.Column("invitee_id", sa.BigInteger(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("suspicion", sa.String(length=20), nullable=True),
        sa.Column("device_hash", sa.String(length=64), nullable=True),
        sa.Column("ip_hash", sa.String(length=64), nullable=True),
        sa.Column("inviter_points", sa.BigInteger(), nullable=False),
        sa.Column("invitee_points", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.Column("reviewed_by", sa.String(length=100), nullable=True),
        sa.Column("rewarded_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", siyu.kit.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invitee_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_referrals_tenant_id_invitee_id_members"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "inviter_id"],
            ["members.tenant_id", "members.id"],
            name=op.f("fk_referrals_tenant_id_inviter_id_members"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_referrals")),
        sa.UniqueConstraint("tenant_id", "invitee_id", name=op.f("uq_referrals_tenant_id_invitee_id")),
    )
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_referrals_tenant_id_device_hash"), ["tenant_id", "device_hash"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_referrals_tenant_id_inviter_id_state"), ["tenant_id", "inviter_id", "state"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_referrals_tenant_id_ip_hash_created_at"),
            ["tenant_id", "ip_hash", "created_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_referrals_tenant_id_state_created_at"), ["tenant_id", "state", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("referrals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referrals_tenant_id_state_created_at"))
        batch_op.drop_index(batch_op.f("ix_referrals_tenant_id_ip_hash_created_at"))
        batch_op.drop_index(batch_op.f("ix_referrals_tenant_id_inviter_id_state"))
        batch_op.drop_index(batch_op.f("ix_referrals_tenant_id_device_hash"))

    op.drop_table("referrals")
    op.drop_table("referral_codes")
    with op.batch_alter_table("referral_board_prizes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_board_prizes_tenant_id_member_id"))

    op.drop_table("referral_board_prizes")
    op.drop_table("referral_rules")
    with op.batch_alter_table("referral_boards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_referral_boards_tenant_id_starts_at"))

    op.drop_table("referral_boards")
