"""How many points an order earns, and why: pure arithmetic, no database.

Base points = (paid - refunded) / the rate (tenant's, or the channel's override), rounded as the tenant says.
Then the matching campaigns, highest priority first (an exclusive one stops those below it): each multiplies
what the order has so far and adds its bonuses; then the member's tier multiplies. Each campaign's extra
points are limited by what is left of its caps. Every step becomes a part of the fan's explanation:
"订单 1930… 获得 26 积分：基础 13 × 双11 2倍".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from siyu.loyalty.schemas import ExpiryMode, HoldMode, PointsPolicy, Rounding


@dataclass(frozen=True)
class OrderFacts:
    """What the rules need to know of an order."""

    platform: str
    order_id: str
    paid_fen: int
    refund_fen: int = 0
    status: str = "paid"
    channel_id: int | None = None
    rooms: tuple[str, ...] = ()  # its live room and author, when the export says
    placed_at: datetime | None = None  # when it was placed (campaign windows); None: now
    completed_at: datetime | None = None


@dataclass(frozen=True)
class TierFacts:
    id: int
    name: str
    multiplier_pct: int


@dataclass(frozen=True)
class CampaignFacts:
    id: int
    name: str
    priority: int
    starts_at: datetime
    ends_at: datetime
    channel_ids: tuple[int, ...] = ()
    tier_ids: tuple[int, ...] = ()
    live_room: str | None = None
    multiplier_pct: int = 100
    bonus_points: int = 0
    first_claim_bonus: int = 0
    exclusive: bool = False
    room_left: int | None = None  # extra points its caps still allow for this member today; None: no cap


@dataclass(frozen=True)
class Part:
    label: str  # "双11 2倍", "金卡会员 1.2倍", "首单奖励 5"
    points: int  # what it added
    operator: str  # "×" or "+"
    capped: bool = False
    campaign_id: int | None = None


@dataclass
class Calculation:
    base: int
    parts: list[Part] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.base + sum(part.points for part in self.parts)

    def awards(self) -> dict[int, int]:
        """Extra points by campaign id."""
        by_campaign: dict[int, int] = {}
        for part in self.parts:
            if part.campaign_id is not None and part.points:
                by_campaign[part.campaign_id] = by_campaign.get(part.campaign_id, 0) + part.points
        return by_campaign

    def explanation(self, order_id: str | None = None) -> str:
        """The steps in the order they were applied: a multiplier after a bonus multiplies the bonus too, so what
        came before it is bracketed ("(基础 10 × 双11 2倍 + 双11奖励 5) × 金卡会员 1.2倍")."""
        steps, added = f"基础 {self.base}", False
        for part in self.parts:
            if part.points == 0 and not part.capped:
                continue
            if part.operator == "×" and added:
                steps, added = f"({steps})", False
            added = added or part.operator == "+"
            steps += f" {part.operator} {part.label}" + ("（已达活动上限）" if part.capped else "")
        head = f"订单 {order_id} 获得 {self.total} 积分" if order_id else f"获得 {self.total} 积分"
        return head if not self.parts else f"{head}：{steps}"


def base_points(policy: PointsPolicy, value_fen: int, channel_id: int | None) -> int:
    override = policy.channel_fen_per_point.get(str(channel_id)) if channel_id is not None else None
    rate = override or policy.fen_per_point
    value = max(value_fen, 0)
    if policy.rounding == Rounding.up:
        return -(-value // rate)
    if policy.rounding == Rounding.nearest:
        return (2 * value + rate) // (2 * rate)
    return value // rate


def times(pct: int) -> str:
    """200 -> "2倍", 150 -> "1.5倍", 125 -> "1.25倍"."""
    return f"{pct / 100:g}倍"


def _matches(campaign: CampaignFacts, order: OrderFacts, tier: TierFacts | None, at: datetime) -> bool:
    if not campaign.starts_at <= at < campaign.ends_at:
        return False
    if campaign.channel_ids and order.channel_id not in campaign.channel_ids:
        return False
    if campaign.tier_ids and (tier is None or tier.id not in campaign.tier_ids):
        return False
    if campaign.live_room:
        wanted = campaign.live_room.strip().casefold()
        return any(room and room.strip().casefold() == wanted for room in order.rooms)
    return True


def calculate(
    policy: PointsPolicy,
    order: OrderFacts,
    *,
    campaigns: Sequence[CampaignFacts] = (),
    tier: TierFacts | None = None,
    first_claim: bool = False,
    now: datetime,
) -> Calculation:
    at = order.placed_at or now
    calculation = Calculation(base=base_points(policy, order.paid_fen - order.refund_fen, order.channel_id))
    running = calculation.base
    ordered = sorted(campaigns, key=lambda c: (-c.priority, c.id))
    for campaign in (c for c in ordered if _matches(c, order, tier, at)):
        room = campaign.room_left
        if campaign.multiplier_pct > 100:
            extra = running * campaign.multiplier_pct // 100 - running
            part = _capped(f"{campaign.name} {times(campaign.multiplier_pct)}", extra, "×", room, campaign.id)
            room = None if room is None else room - part.points
            calculation.parts.append(part)
            running += part.points
        for label, bonus in (("奖励", campaign.bonus_points), ("首单奖励", campaign.first_claim_bonus)):
            if bonus and (label == "奖励" or first_claim):
                part = _capped(f"{campaign.name}{label} {bonus}", bonus, "+", room, campaign.id)
                room = None if room is None else room - part.points
                calculation.parts.append(part)
                running += part.points
        if campaign.exclusive:
            break
    if tier is not None and tier.multiplier_pct > 100:
        extra = running * tier.multiplier_pct // 100 - running
        calculation.parts.append(Part(f"{tier.name} {times(tier.multiplier_pct)}", extra, "×"))
    return calculation


def _capped(label: str, points: int, operator: str, room: int | None, campaign_id: int) -> Part:
    if room is not None and points > room:
        return Part(label, max(room, 0), operator, capped=True, campaign_id=campaign_id)
    return Part(label, points, operator, campaign_id=campaign_id)


# When points expire and when held points post


def expires_at(policy: PointsPolicy, earned_at: datetime, timezone: str) -> datetime | None:
    """The expiry of points earned at `earned_at`; month and year ends are the tenant's local midnight."""
    if policy.expiry_mode == ExpiryMode.never:
        return None
    if policy.expiry_mode == ExpiryMode.days:
        return earned_at + timedelta(days=policy.expiry_days)
    local = earned_at.astimezone(ZoneInfo(timezone))
    if policy.expiry_mode == ExpiryMode.month_end:
        months = local.year * 12 + local.month - 1 + policy.expiry_months + 1  # the first day after it
        year, month = divmod(months, 12)
        end = local.replace(year=year, month=month + 1, day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        end = local.replace(year=local.year + policy.expiry_years + 1, month=1, day=1, hour=0, minute=0, second=0)
        end = end.replace(microsecond=0)
    return end.astimezone(earned_at.tzinfo)


def post_after(policy: PointsPolicy, completed_at: datetime | None) -> datetime | None:
    """When held points of an order completed at `completed_at` post (None: not completed yet)."""
    if policy.hold_mode == HoldMode.immediate:
        return None
    if completed_at is None:
        return None
    return completed_at + timedelta(days=policy.hold_days)


def holds(policy: PointsPolicy) -> bool:
    return policy.hold_mode != HoldMode.immediate
