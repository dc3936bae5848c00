"""The loyalty programme: the tenant's points policy, campaigns and tiers, and crediting an order by them.

The ledger keeps the books; this domain decides how many points an order earns (siyu.loyalty.rules), when
they post (the hold) and expire (the policy), and what a member's tier is. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.jobs import service as jobs
from siyu.kit.cache import tenant_configs
from siyu.kit.errors import Conflict, NotFound
from siyu.kit.ids import new_id
from siyu.kit.time import to_local, utcnow
from siyu.kit.web import Principal
from siyu.loyalty import repository, rules
from siyu.loyalty.models import Campaign, CampaignAward, MemberTier, Tier, TierChange
from siyu.loyalty.repository import holds_tier as holds_tier  # (an SQL condition, to filter members by)
from siyu.loyalty.repository import tiers_of as tiers_of
from siyu.loyalty.rules import Calculation, CampaignFacts, OrderFacts, TierFacts
from siyu.loyalty.schemas import CampaignIn, PointsPolicy, PreviewIn, TierIn
from siyu.members import service as members
from siyu.tenants import service as tenants
from siyu.tenants.service import TenantConfig


class CampaignNotFound(NotFound):
    code = "campaign_not_found"
    message = "找不到这个活动"


class TierNotFound(NotFound):
    code = "tier_not_found"
    message = "找不到这个会员等级"


class TierThresholdTaken(Conflict):
    code = "tier_threshold_taken"
    message = "已有等级使用这个成长值门槛"


class CampaignInUse(Conflict):
    code = "campaign_in_use"
    message = "这个活动已经发放过积分，不能删除，可以停用"


POLICY_KEY = "points"


# Policy


async def policy_of(session: AsyncSession, tenant_id: int) -> tuple[PointsPolicy, str]:
    """The tenant's points policy (defaults for what was never set) and timezone."""
    tenant = await tenants.get_tenant(session, tenant_id)
    return _read_policy((tenant.settings or {}).get(POLICY_KEY)), tenant.timezone


def _read_policy(stored: Any) -> PointsPolicy:
    try:
        return PointsPolicy.model_validate(stored or {})
    except ValidationError:  # written by an older version: keep what still reads
        return PointsPolicy()


@dataclass(frozen=True)
class TierRule:
    facts: TierFacts
    threshold: int


@dataclass(frozen=True)
class CampaignRule:
    """An active campaign as the rules see it; `facts.room_left` is filled in per member when crediting."""

    facts: CampaignFacts
    cap_per_member_day: int | None
    cap_total: int | None


@dataclass(frozen=True)
class Programme:
    """The tenant's points programme as of one configuration version: shared by every credit of the process."""

    tenant_id: int
    timezone: str
    policy: PointsPolicy
    tiers: tuple[TierRule, ...]  # lowest threshold first
    campaigns: tuple[CampaignRule, ...]  # active ones, highest priority first

    def running(self, at: datetime) -> list[CampaignRule]:
        return [c for c in self.campaigns if c.facts.starts_at <= at < c.facts.ends_at]

    def tier(self, tier_id: int | None) -> TierFacts | None:
        return next((t.facts for t in self.tiers if t.facts.id == tier_id), None)


_PROGRAMME = "loyalty"


async def programme_of(session: AsyncSession, config: TenantConfig) -> Programme:
    """Policy, tiers and active campaigns, read once per process and configuration version."""
    cached: Programme | None = tenant_configs.get(_PROGRAMME, config.id, config.version)
    if cached is not None:
        return cached
    tiers = await repository.tiers(session, tenant_id=config.id)
    campaigns = await repository.active_campaigns(session, tenant_id=config.id)
    programme = Programme(
        tenant_id=config.id,
        timezone=config.timezone,
        policy=_read_policy(config.section(POLICY_KEY)),
        tiers=tuple(TierRule(TierFacts(t.id, t.name, t.multiplier_pct), t.threshold) for t in tiers),
        campaigns=tuple(CampaignRule(_facts(c, None), c.cap_per_member_day, c.cap_total) for c in campaigns),
    )
    return tenant_configs.put(_PROGRAMME, config.id, config.version, programme)


async def save_policy(session: AsyncSession, *, actor: Principal, policy: PointsPolicy) -> PointsPolicy:
    channels = {str(c.id) for c in await tenants.list_channels(session, tenant_id=actor.tenant_id)}
    unknown = sorted(set(policy.channel_fen_per_point) - channels)
    if unknown:
        raise tenants.ChannelNotFound("渠道不存在：" + "、".join(unknown))
    after = policy.model_dump(mode="json")
    before = await tenants.put_setting(session, tenant_id=actor.tenant_id, key=POLICY_KEY, value=after)
    audit.record_change(
        session,
        actor=actor,
        action="points.policy",
        target_type="tenant",
        target_id=actor.tenant_id,
        before=before or {},
        after=after,
    )
    return policy


# Campaigns


def _campaign_view(campaign: Campaign) -> dict[str, Any]:
    return {
        "name": campaign.name,
        "priority": campaign.priority,
        "starts_at": campaign.starts_at.isoformat(),
        "ends_at": campaign.ends_at.isoformat(),
        "multiplier_pct": campaign.multiplier_pct,
        "bonus_points": campaign.bonus_points,
        "first_claim_bonus": campaign.first_claim_bonus,
        "cap_per_member_day": campaign.cap_per_member_day,
        "cap_total": campaign.cap_total,
        "channel_ids": list(campaign.channel_ids or []),
        "tier_ids": list(campaign.tier_ids or []),
        "live_room": campaign.live_room,
        "exclusive": campaign.exclusive,
        "active": campaign.active,
    }


async def list_campaigns(session: AsyncSession, *, tenant_id: int) -> list[Campaign]:
    return await repository.campaigns(session, tenant_id=tenant_id)


async def get_campaign(session: AsyncSession, *, tenant_id: int, campaign_id: int) -> Campaign:
    campaign = await repository.get_campaign(session, tenant_id=tenant_id, campaign_id=campaign_id)
    if campaign is None:
        raise CampaignNotFound()
    return campaign


async def _check_references(session: AsyncSession, tenant_id: int, data: CampaignIn) -> None:
    channels = {c.id for c in await tenants.list_channels(session, tenant_id=tenant_id)}
    if set(data.channel_ids) - channels:
        raise tenants.ChannelNotFound("活动里选的渠道不存在")
    tier_ids = {t.id for t in await repository.tiers(session, tenant_id=tenant_id)}
    if set(data.tier_ids) - tier_ids:
        raise TierNotFound()


async def create_campaign(session: AsyncSession, *, actor: Principal, data: CampaignIn) -> Campaign:
    await _check_references(session, actor.tenant_id, data)
    campaign = Campaign(tenant_id=actor.tenant_id, id=new_id(), awarded_total=0, **data.model_dump())
    repository.add(session, campaign)
    await session.flush()
    await tenants.config_changed(session, actor.tenant_id)
    audit.record(
        session,
        actor=actor,
        action="campaign.create",
        target_type="campaign",
        target_id=campaign.id,
        after=_campaign_view(campaign),
    )
    return campaign


async def update_campaign(session: AsyncSession, *, actor: Principal, campaign_id: int, data: CampaignIn) -> Campaign:
    campaign = await get_campaign(session, tenant_id=actor.tenant_id, campaign_id=campaign_id)
    await _check_references(session, actor.tenant_id, data)
    before = _campaign_view(campaign)
    for key, value in data.model_dump().items():
        setattr(campaign, key, value)
    await session.flush()
    after = _campaign_view(campaign)
    if after != before:
        await tenants.config_changed(session, actor.tenant_id)
    audit.record_change(
        session,
        actor=actor,
        action="campaign.update",
        target_type="campaign",
        target_id=campaign.id,
        before=before,
        after=after,
    )
    return campaign


async def delete_campaign(session: AsyncSession, *, actor: Principal, campaign_id: int) -> None:
    campaign = await get_campaign(session, tenant_id=actor.tenant_id, campaign_id=campaign_id)
    if campaign.awarded_total > 0:
        raise CampaignInUse()
    before = _campaign_view(campaign)
    await repository.delete_row(session, campaign)
    await session.flush()
    await tenants.config_changed(session, actor.tenant_id)
    audit.record(
        session, actor=actor, action="campaign.delete", target_type="campaign", target_id=campaign_id, before=before
    )


# Tiers


async def list_tiers(session: AsyncSession, *, tenant_id: int) -> list[Tier]:
    return await repository.tiers(session, tenant_id=tenant_id)


async def get_tier(session: AsyncSession, *, tenant_id: int, tier_id: int) -> Tier:
    tier = await repository.get_tier(session, tenant_id=tenant_id, tier_id=tier_id)
    if tier is None:
        raise TierNotFound()
    return tier


async def _check_threshold(session: AsyncSession, tenant_id: int, threshold: int, tier_id: int | None) -> None:
    for tier in await repository.tiers(session, tenant_id=tenant_id):
        if tier.threshold == threshold and tier.id != tier_id:
            raise TierThresholdTaken()


def _tier_view(tier: Tier) -> dict[str, Any]:
    return {"name": tier.name, "threshold": tier.threshold, "multiplier_pct": tier.multiplier_pct}


async def create_tier(session: AsyncSession, *, actor: Principal, data: TierIn) -> Tier:
    await _check_threshold(session, actor.tenant_id, data.threshold, None)
    tier = Tier(tenant_id=actor.tenant_id, id=new_id(), **data.model_dump())
    repository.add(session, tier)
    await session.flush()
    await tenants.config_changed(session, actor.tenant_id)
    await repository.forget_reviews(session, tenant_id=actor.tenant_id)
    audit.record(
        session, actor=actor, action="tier.create", target_type="tier", target_id=tier.id, after=_tier_view(tier)
    )
    return tier


async def update_tier(session: AsyncSession, *, actor: Principal, tier_id: int, data: TierIn) -> Tier:
    tier = await get_tier(session, tenant_id=actor.tenant_id, tier_id=tier_id)
    await _check_threshold(session, actor.tenant_id, data.threshold, tier.id)
    before = _tier_view(tier)
    for key, value in data.model_dump().items():
        setattr(tier, key, value)
    await session.flush()
    if _tier_view(tier) != before:
        await tenants.config_changed(session, actor.tenant_id)
        await repository.forget_reviews(session, tenant_id=actor.tenant_id)
        audit.record(
            session,
            actor=actor,
            action="tier.update",
            target_type="tier",
            target_id=tier.id,
            before=before,
            after=_tier_view(tier),
        )
    return tier


async def delete_tier(session: AsyncSession, *, actor: Principal, tier_id: int) -> None:
    """Members in the tier drop to the one their growth reaches at the next review (base level meanwhile)."""
    tier = await get_tier(session, tenant_id=actor.tenant_id, tier_id=tier_id)
    before = _tier_view(tier)
    await repository.clear_tier(session, tenant_id=actor.tenant_id, tier_id=tier_id)
    await repository.delete_row(session, tier)
    await tenants.config_changed(session, actor.tenant_id)
    await repository.forget_reviews(session, tenant_id=actor.tenant_id)
    await session.flush()
    audit.record(session, actor=actor, action="tier.delete", target_type="tier", target_id=tier_id, before=before)


@dataclass(frozen=True)
class TierStanding:
    tier: Tier | None
    growth: int
    next_tier: Tier | None  # the next one up, if any


async def standing(
    session: AsyncSession, *, tenant_id: int, member_id: int, now: datetime | None = None
) -> TierStanding:
    """A member's tier and growth now (growth counted fresh over the policy's window)."""
    now = now or utcnow()
    policy, _tz = await policy_of(session, tenant_id)
    tiers = await repository.tiers(session, tenant_id=tenant_id)
    row = await repository.member_tier(session, tenant_id=tenant_id, member_id=member_id)
    grown = await repository.growth(
        session, tenant_id=tenant_id, member_ids=[member_id], since=now - timedelta(days=policy.tier_window_days)
    )
    current = next((t for t in tiers if row is not None and t.id == row.tier_id), None)
    above = [t for t in tiers if current is None or t.threshold > current.threshold]
    return TierStanding(current, grown[member_id], above[0] if above else None)


async def tier_history(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int = 50) -> list[TierChange]:
    await members.get_member(session, tenant_id=tenant_id, member_id=member_id)
    return await repository.tier_changes(session, tenant_id=tenant_id, member_id=member_id, limit=limit)


def _reached(tiers: list[Tier], growth: int) -> Tier | None:
    reached = [t for t in tiers if t.threshold <= growth]
    return reached[-1] if reached else None


async def refresh_tiers(
    session: AsyncSession, *, tenant_id: int, member_ids: list[int], now: datetime, review_period: str | None = None
) -> int:
    """Recount the members' growth. Without `review_period` a member only moves up (upgrades happen at once);
    in a review she gets the tier her growth reaches, up or down, and is marked reviewed for that period.
    Returns the number of members whose tier changed."""
    if not member_ids:
        return 0
    policy, _tz = await policy_of(session, tenant_id)
    tiers = await repository.tiers(session, tenant_id=tenant_id)
    names = {t.id: t.name for t in tiers}
    grown = await repository.growth(
        session, tenant_id=tenant_id, member_ids=member_ids, since=now - timedelta(days=policy.tier_window_days)
    )
    await repository.ensure_member_tiers(session, tenant_id=tenant_id, member_ids=member_ids)
    rows = await repository.member_tiers(session, tenant_id=tenant_id, member_ids=member_ids)
    changed = 0
    for member_id in member_ids:
        row: MemberTier = rows[member_id]
        growth = grown[member_id]
        current = next((t for t in tiers if t.id == row.tier_id), None)
        target = _reached(tiers, growth)
        if review_period is None and current is not None and (target is None or target.threshold < current.threshold):
            target = current  # between reviews a member never goes down
        row.growth = growth
        if review_period is not None:
            row.reviewed_period = review_period
        new_id_ = target.id if target else None
        if new_id_ != row.tier_id:
            repository.add(
                session,
                TierChange(
                    tenant_id=tenant_id,
                    id=new_id(),
                    member_id=member_id,
                    from_tier=names.get(row.tier_id) if row.tier_id else None,
                    to_tier=target.name if target else None,
                    growth=growth,
                    reason="review" if review_period else "upgrade",
                    created_at=now,
                ),
            )
            row.tier_id = new_id_
            row.changed_at = now
            changed += 1
    await session.flush()
    return changed


def review_period(now: datetime, timezone: str) -> str:
    """Tiers are reviewed once a month (the tenant's local month)."""
    return to_local(now, timezone).strftime("%Y-%m")


# Pricing an order (the crediting module in siyu.claims locks the member and writes the ledger)


class NothingToEarn(Conflict):
    code = "nothing_to_earn"
    message = "这笔订单的金额不足以获得积分"


def _facts(campaign: Campaign, room_left: int | None) -> CampaignFacts:
    return CampaignFacts(
        id=campaign.id,
        name=campaign.name,
        priority=campaign.priority,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        channel_ids=tuple(int(c) for c in campaign.channel_ids or ()),
        tier_ids=tuple(int(t) for t in campaign.tier_ids or ()),
        live_room=campaign.live_room,
        multiplier_pct=campaign.multiplier_pct,
        bonus_points=campaign.bonus_points,
        first_claim_bonus=campaign.first_claim_bonus,
        exclusive=campaign.exclusive,
        room_left=room_left,
    )


def wants_first_claim(programme: Programme, order: OrderFacts, now: datetime) -> bool:
    """Whether her first credited order would matter to this one (a running campaign gives a first-claim bonus):
    only then does the crediting module ask the ledger."""
    return any(c.facts.first_claim_bonus for c in programme.running(order.placed_at or now))


@dataclass(frozen=True)
class Priced:
    calculation: Calculation
    pending: bool  # held until post_after (or until the order completes, when None)
    post_after: datetime | None
    expires_at: datetime | None
    day: date  # the tenant's local day (campaign daily caps)


async def price(
    session: AsyncSession,
    *,
    programme: Programme,
    member_id: int,
    order: OrderFacts,
    first_claim: bool,
    now: datetime,
) -> Priced:
    """What an order earns this member now by the programme: points with their explanation, the hold and the
    expiry. The caller holds the member's lock (caps per member and day); a campaign with a total cap is locked
    here, so members credited at once share it exactly. NothingToEarn when it comes to nothing."""
    tenant_id, policy = programme.tenant_id, programme.policy
    tier = None
    if programme.tiers:
        row = await repository.member_tier(session, tenant_id=tenant_id, member_id=member_id)
        tier = programme.tier(row.tier_id if row is not None else None)
    day = to_local(now, programme.timezone).date()
    running = programme.running(order.placed_at or now)
    capped_daily = [c.facts.id for c in running if c.cap_per_member_day is not None]
    today = (
        await repository.awarded_today(
            session, tenant_id=tenant_id, member_id=member_id, campaign_ids=capped_daily, day=day
        )
        if capped_daily
        else {}
    )
    campaigns = []
    for rule in running:
        rooms = []
        if rule.cap_per_member_day is not None:
            rooms.append(rule.cap_per_member_day - today.get(rule.facts.id, 0))
        if rule.cap_total is not None:  # serialise the campaign's total between members
            locked = await repository.get_campaign(
                session, tenant_id=tenant_id, campaign_id=rule.facts.id, for_update=True
            )
            rooms.append(rule.cap_total - (locked.awarded_total if locked is not None else 0))
        campaigns.append(replace(rule.facts, room_left=max(min(rooms), 0) if rooms else None))
    calculation = rules.calculate(policy, order, campaigns=campaigns, tier=tier, first_claim=first_claim, now=now)
    if calculation.total <= 0:
        raise NothingToEarn()
    completed_at = order.completed_at or (now if order.status == "completed" else None)  # the export had no time
    hold_ends = rules.post_after(policy, completed_at)
    pending = rules.holds(policy) and (hold_ends is None or hold_ends > now)
    return Priced(
        calculation=calculation,
        pending=pending,
        post_after=hold_ends if pending else None,
        expires_at=rules.expires_at(policy, now, programme.timezone),
        day=day,
    )


async def record_awards(
    session: AsyncSession, *, tenant_id: int, member_id: int, source_ref: str, priced: Priced, now: datetime
) -> None:
    """What each campaign gave for a credited source: its caps count it from now on."""
    for campaign_id, points in priced.calculation.awards().items():
        repository.add(
            session,
            CampaignAward(
                tenant_id=tenant_id,
                campaign_id=campaign_id,
                source_ref=source_ref,
                member_id=member_id,
                day=priced.day,
                points=points,
                created_at=now,
            ),
        )
        await repository.add_awarded(session, tenant_id=tenant_id, campaign_id=campaign_id, points=points)


async def preview(
    session: AsyncSession, *, tenant_id: int, data: PreviewIn, now: datetime | None = None
) -> Calculation:
    """What an order like this would earn now (caps not counted: they depend on the member)."""
    now = now or utcnow()
    policy, _tz = await policy_of(session, tenant_id)
    tier = None
    if data.tier_id is not None:
        found = await get_tier(session, tenant_id=tenant_id, tier_id=data.tier_id)
        tier = TierFacts(found.id, found.name, found.multiplier_pct)
    if data.channel_id is not None:
        await tenants.get_channel(session, tenant_id=tenant_id, channel_id=data.channel_id)
    order = OrderFacts(
        platform=data.platform,
        order_id="",
        paid_fen=data.paid_fen,
        refund_fen=min(data.refund_fen, data.paid_fen),
        channel_id=data.channel_id,
        rooms=(data.live_room,) if data.live_room else (),
        placed_at=data.at,
    )
    running = await repository.running_campaigns(session, tenant_id=tenant_id, at=data.at or now)
    campaigns = [_facts(c, None) for c in running]
    return rules.calculate(policy, order, campaigns=campaigns, tier=tier, first_claim=data.first_claim, now=now)


# The programme's part of the periodic sweep (siyu.claims.crediting.sweep posts and expires first)


WARNING_JOB = "loyalty.expiry_warning"


@dataclass
class ProgrammeSweep:
    warned: int = 0  # lots whose coming expiry was announced
    reviewed: int = 0  # members whose tier was reviewed
    tier_changes: int = 0


async def sweep_programme(
    session: AsyncSession, *, tenant_id: int, posted: list[int], now: datetime, batch: int
) -> ProgrammeSweep:
    """Upgrade the tiers of members whose held points just posted, warn members of points expiring within the
    policy's warning days (one outbox job per member), review tiers once a month. Idempotent."""
    policy, timezone = await policy_of(session, tenant_id)
    result = ProgrammeSweep()
    result.tier_changes += await refresh_tiers(session, tenant_id=tenant_id, member_ids=posted, now=now)
    if policy.warn_days > 0:
        lots_warned, warned = await repository.warn_expiring(
            session, tenant_id=tenant_id, now=now, until=now + timedelta(days=policy.warn_days), limit=batch
        )
        for member_id, points, soonest in warned:
            await jobs.enqueue(
                session,
                WARNING_JOB,
                {"member_id": member_id, "points": points, "expires_at": soonest.isoformat()},
                tenant_id=tenant_id,
                dedupe_key=f"{WARNING_JOB}:{tenant_id}:{member_id}:{soonest.date().isoformat()}:{points}",
            )
        result.warned = lots_warned
        await repository.drop_warnings(session, tenant_id=tenant_id, before=now - timedelta(days=1))
    period = review_period(now, timezone)
    due = await repository.members_to_review(session, tenant_id=tenant_id, period=period, limit=batch)
    result.reviewed = len(due)
    result.tier_changes += await refresh_tiers(
        session, tenant_id=tenant_id, member_ids=due, now=now, review_period=period
    )
    return result


@dataclass(frozen=True)
class ExpiringSoon:
    points: int
    soonest: datetime | None


async def expiring_soon(
    session: AsyncSession, *, tenant_id: int, member_id: int, now: datetime | None = None
) -> ExpiringSoon:
    """Points of the member expiring within the policy's warning days (30 days when warnings are off)."""
    now = now or utcnow()
    policy, _tz = await policy_of(session, tenant_id)
    days = policy.warn_days or 30
    lots = await repository.expiring_soon(
        session, tenant_id=tenant_id, member_id=member_id, now=now, until=now + timedelta(days=days)
    )
    return ExpiringSoon(sum(lot.remaining for lot in lots), lots[0].expires_at if lots else None)
