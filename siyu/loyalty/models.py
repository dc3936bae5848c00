"""Tables of the loyalty programme: campaigns, what they awarded, tiers and members' tiers, expiry warnings.

The tenant's points policy (rate, rounding, hold, expiry) lives in `tenants.settings["points"]`, validated by
`siyu.loyalty.schemas.PointsPolicy`; the points themselves live in the ledger.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, Json, created_at_column


class Campaign(Base):
    """Extra points for orders that match: a time window, channels, a live room, tiers. Campaigns are looked at
    by priority (highest first); an exclusive one stops those below it."""

    __tablename__ = "loyalty_campaigns"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("multiplier_pct >= 100", name="multiplier_at_least_one"),
        CheckConstraint("bonus_points >= 0 AND first_claim_bonus >= 0", name="bonus_not_negative"),
        CheckConstraint("awarded_total >= 0", name="awarded_not_negative"),
        Index(None, "tenant_id", "active", "priority"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(40))
    priority: Mapped[int]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    channel_ids: Mapped[list[Any]] = mapped_column(Json, default=list)  # empty: every channel
    tier_ids: Mapped[list[Any]] = mapped_column(Json, default=list)  # empty: every tier (and no tier)
    live_room: Mapped[str | None] = mapped_column(String(64))  # only orders from this live room / author
    multiplier_pct: Mapped[int] = mapped_column(default=100)  # 200: double points
    bonus_points: Mapped[int] = mapped_column(default=0)  # on top, per order
    first_claim_bonus: Mapped[int] = mapped_column(default=0)  # on top, for a member's first credited order
    cap_per_member_day: Mapped[int | None]  # extra points one member may get from it in one (local) day
    cap_total: Mapped[int | None]  # extra points it may give in all
    awarded_total: Mapped[int] = mapped_column(default=0)
    exclusive: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at_column()


class CampaignAward(Base):
    """The extra points one campaign gave for one credit (for caps and for the campaign's report)."""

    __tablename__ = "loyalty_campaign_awards"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "campaign_id"], ["loyalty_campaigns.tenant_id", "loyalty_campaigns.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "member_id", "campaign_id", "day"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    source_ref: Mapped[str] = mapped_column(String(160), primary_key=True)
    member_id: Mapped[int]
    day: Mapped[date] = mapped_column(Date)  # the tenant's local day of the credit
    points: Mapped[int]
    created_at: Mapped[datetime] = created_at_column()


class Tier(Base):
    """A membership level reached by growth (posted order points over the policy's rolling window)."""

    __tablename__ = "loyalty_tiers"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("threshold > 0", name="threshold_positive"),
        CheckConstraint("multiplier_pct >= 100", name="multiplier_at_least_one"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(20))
    threshold: Mapped[int]  # growth value needed
    multiplier_pct: Mapped[int] = mapped_column(default=100)  # 120: 1.2 times the points
    created_at: Mapped[datetime] = created_at_column()


class MemberTier(Base):
    """A member's current tier (none: the base level) and the growth it was decided on."""

    __tablename__ = "loyalty_member_tiers"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "reviewed_period"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    tier_id: Mapped[int | None]
    growth: Mapped[int] = mapped_column(default=0)
    reviewed_period: Mapped[str | None] = mapped_column(String(7))  # "2026-11": the last periodic review
    changed_at: Mapped[datetime] = created_at_column()


class TierChange(Base):
    __tablename__ = "loyalty_tier_changes"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "member_id", "created_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int]
    from_tier: Mapped[str | None] = mapped_column(String(20))  # names as they were then; None: base level
    to_tier: Mapped[str | None] = mapped_column(String(20))
    growth: Mapped[int]
    reason: Mapped[str] = mapped_column(String(16))  # upgrade | review | rules_changed
    created_at: Mapped[datetime] = created_at_column()


class ExpiryWarning(Base):
    """A lot whose coming expiry the member was warned about (at most once per lot)."""

    __tablename__ = "loyalty_expiry_warnings"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int]
    points: Mapped[int]
    expires_at: Mapped[datetime]
    created_at: Mapped[datetime] = created_at_column()


TIER_REASON_LABELS = {"upgrade": "成长值达到，立即升级", "review": "定期评估", "rules_changed": "等级规则调整"}
