"""Redeeming a reward, in the caller's one transaction (nothing here commits).

Order of work, so that a refusal takes nothing and a flash opening cannot oversell:
1. A double tap (same idempotency key) returns the first redemption; a sold-out reward is refused before
   anything is locked (the fast path that most of a flash crowd takes).
2. Window and tier are checked, then (goods) the address; without one, her points and limits are looked at
   first, so that she is told what she lacks rather than asked for an address that would not help (`refusal`).
3. The member's points are locked (siyu.ledger.service.lock_member), then her limits are counted and her
   balance compared: two redemptions of one member cannot both pass a limit.
4. The points are spent through the ledger (soonest-expiring lots first; the ledger writes its own tables).
5. Stock is taken by one conditional UPDATE (... WHERE stock >= 1): the database decides who gets the last one.
   It comes last so that the reward's row, which a whole flash crowd wants, stays locked only for the end of
   the transaction. A virtual reward's code is claimed by a conditional UPDATE of one unclaimed code; the
   redemption row is written.
A refusal raised before step 4 has written nothing. One raised after it (the last one taken between step 1 and
step 5, a code pool out of step) is undone by the caller's rollback: the request boundary rolls back on every
error that leaves the endpoint, and a page that answers a refusal in words rolls back before it renders.
The mall's own statements on this path are SQLAlchemy Core, built once (siyu.mall.repository).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.errors import AppError, Conflict, Forbidden, InvalidInput
from siyu.kit.ids import new_id
from siyu.kit.time import format_local, to_local, utcnow
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.loyalty.models import Tier
from siyu.mall import repository, service
from siyu.mall.gate import FlashGate
from siyu.mall.models import Redemption, Reward, RewardKind, Status, redeem_ref
from siyu.mall.schemas import AddressIn
from siyu.tenants import service as tenants
from siyu.tenants.models import Tenant


class InsufficientPoints(ledger.InsufficientPoints):
    message = "积分不够兑换这个奖品"


class OverMemberLimit(Conflict):
    code = "over_member_limit"
    message = "你已经达到这个奖品的兑换次数上限"


class OutsideWindow(Conflict):
    code = "outside_window"
    message = "现在不在兑换时间内"


class NotEligible(Forbidden):
    code = "not_eligible"
    message = "这个奖品只有指定等级的会员可以兑换"


class SoldOut(Conflict):
    code = "sold_out"
    message = "已经被抢光了，下次早点来"


class AddressRequired(InvalidInput):
    code = "address_required"
    message = "请填写收货地址"


class KeyReused(Conflict):
    code = "idempotency_key_reused"
    message = "这个请求编号已用于另一个奖品的兑换"


class CodePoolEmpty(Conflict):
    code = "code_pool_empty"
    message = "兑换码已发完，请联系客服"


async def _repeat(
    session: AsyncSession, *, tenant_id: int, member_id: int, reward_id: int, key: str | None
) -> Redemption | None:
    if not key:
        return None
    earlier = await repository.by_idempotency_key(session, tenant_id=tenant_id, member_id=member_id, key=key)
    if earlier is not None and earlier.reward_id != reward_id:
        raise KeyReused()
    return earlier


def tier_words(reward_tier_ids: list[int], tiers: list[Tier]) -> str:
    """Who may redeem, in words: "金卡及以上会员" when the allowed tiers are one and all above it, else their names."""
    allowed = sorted((t for t in tiers if t.id in set(reward_tier_ids)), key=lambda t: t.threshold)
    if not allowed:
        return "指定等级的会员"

    def bare(tier: Tier) -> str:  # "金卡会员" and "金卡" both read "金卡…会员"
        return tier.name.removesuffix("会员") or tier.name

    above = [t for t in sorted(tiers, key=lambda t: t.threshold) if t.threshold >= allowed[0].threshold]
    if [t.id for t in above] == [t.id for t in allowed] and len(allowed) > 1:
        return f"{bare(allowed[0])}及以上会员"
    return "、".join(bare(t) for t in allowed) + "会员"


async def _check_tier(session: AsyncSession, reward: Reward, member_id: int, now: datetime) -> None:
    if not reward.tier_ids:
        return
    standing = await loyalty.standing(session, tenant_id=reward.tenant_id, member_id=member_id, now=now)
    if standing.tier is None or standing.tier.id not in set(reward.tier_ids):
        tiers = await loyalty.list_tiers(session, tenant_id=reward.tenant_id)
        words = tier_words(list(reward.tier_ids), tiers)
        raise NotEligible(f"这个奖品需要{words}才能兑换", tiers=words)


async def _check_limits(session: AsyncSession, reward: Reward, member_id: int, day: date) -> None:
    tenant_id, reward_id = reward.tenant_id, reward.id
    if reward.limit_per_member is not None:
        had = await repository.count_redeemed(session, tenant_id=tenant_id, member_id=member_id, reward_id=reward_id)
        if had >= reward.limit_per_member:
            raise OverMemberLimit(f"每人限兑 {reward.limit_per_member} 次，你已经兑换过了")
    if reward.limit_per_day is not None:
        today = await repository.count_redeemed(
            session, tenant_id=tenant_id, member_id=member_id, reward_id=reward_id, day=day
        )
        if today >= reward.limit_per_day:
            raise OverMemberLimit(f"每人每天限兑 {reward.limit_per_day} 次，明天再来吧")


def _check_points(reward: Reward, available: int) -> None:
    if available < reward.points_price:
        short = reward.points_price - max(available, 0)
        raise InsufficientPoints(f"积分不够：需要 {reward.points_price} 积分，还差 {short} 积分", short=short)


async def refusal(
    session: AsyncSession, *, tenant_id: int, timezone: str, member_id: int, reward: Reward, now: datetime | None = None
) -> AppError | None:
    """What would refuse her redeeming the reward now, whatever she fills in (None: nothing known yet): sold out,
    outside the window, not her tier, over a limit, short of points. The pages disable the button with it; the
    redemption itself decides again under the lock."""
    now = now or utcnow()
    try:
        if reward.stock == 0:
            raise SoldOut()
        _check_window(reward, now, timezone)
        await _check_tier(session, reward, member_id, now)
        await _check_limits(session, reward, member_id, to_local(now, timezone).date())
        _check_points(reward, (await ledger.balance(session, tenant_id=tenant_id, member_id=member_id)).available)
    except AppError as refused:
        return refused
    return None


def _check_window(reward: Reward, now: datetime, timezone: str) -> None:
    if not service.is_visible(reward, now):
        raise service.RewardNotFound()
    if reward.redeem_from is not None and now < reward.redeem_from:
        when = format_local(reward.redeem_from, timezone, "%m月%d日 %H:%M")
        raise OutsideWindow(f"还没开始兑换，{when} 开抢", opens_at=reward.redeem_from.isoformat())
    if reward.redeem_until is not None and now >= reward.redeem_until:
        raise OutsideWindow("兑换已经结束了")


async def redeem(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    reward_id: int,
    idempotency_key: str | None = None,
    address_id: int | None = None,
    address: AddressIn | None = None,
    gate: FlashGate | None = None,
    now: datetime | None = None,
) -> Redemption:
    """Redeem one of the reward for the member. Goods need an address (a saved one or a new one, which is then
    saved to her address book). Raises, having taken nothing: reward_not_found, outside_window, not_eligible,
    over_member_limit, insufficient_points, sold_out."""
    now = now or utcnow()
    key = (idempotency_key or "").strip()[:64] or None
    earlier = await _repeat(session, tenant_id=tenant_id, member_id=member_id, reward_id=reward_id, key=key)
    if earlier is not None:
        return earlier
    reward = await repository.fresh_reward(session, tenant_id=tenant_id, reward_id=reward_id)
    if reward is None or not reward.enabled:
        raise service.RewardNotFound()
    if reward.stock == 0:
        if gate is not None and reward.limit_per_member == 1:
            await gate.note_sold_out(tenant_id=tenant_id, reward_id=reward_id)
        raise SoldOut()
    tenant = await tenants.get_tenant(session, tenant_id)
    _check_window(reward, now, tenant.timezone)
    await _check_tier(session, reward, member_id, now)
    shipping: dict[str, Any] | None = None
    if reward.kind == RewardKind.physical:
        if address is not None:  # a new address she filled in wins over a saved one
            shipping = service.address_snapshot(address)
        elif address_id is not None:
            saved = await service.get_address(session, tenant_id=tenant_id, member_id=member_id, address_id=address_id)
            shipping = service.address_snapshot(saved)
        else:
            lacking = await refusal(
                session, tenant_id=tenant_id, timezone=tenant.timezone, member_id=member_id, reward=reward, now=now
            )
            raise lacking or AddressRequired()

    gated = gate is not None and reward.stock is not None and reward.limit_per_member == 1
    if gated:
        assert gate is not None and reward.stock is not None
        if not await gate.admit(tenant_id=tenant_id, reward_id=reward_id, member_id=member_id, stock=reward.stock):
            raise SoldOut()  # (or she is trying already: her first tap answers)
        try:
            return await _take(session, reward, tenant, member_id, key, address, address_id, shipping, now)
        except Exception:
            await gate.release(tenant_id=tenant_id, reward_id=reward_id, member_id=member_id)
            raise
    return await _take(session, reward, tenant, member_id, key, address, address_id, shipping, now)


async def _take(
    session: AsyncSession,
    reward: Reward,
    tenant: Tenant,
    member_id: int,
    key: str | None,
    address: AddressIn | None,
    address_id: int | None,
    shipping: dict[str, Any] | None,
    now: datetime,
) -> Redemption:
    """The part under the member's lock: limits, points, stock, the redemption."""
    tenant_id, reward_id = tenant.id, reward.id
    points = await ledger.lock_member(session, tenant_id=tenant_id, member_id=member_id, now=now)
    earlier = await _repeat(session, tenant_id=tenant_id, member_id=member_id, reward_id=reward_id, key=key)
    if earlier is not None:  # the first tap finished while this one waited for the lock
        return earlier
    day = to_local(now, tenant.timezone).date()
    await _check_limits(session, reward, member_id, day)
    _check_points(reward, points.available)

    redemption_id = new_id()
    await ledger.spend(
        session,
        tenant_id=tenant_id,
        member_id=member_id,
        amount=reward.points_price,
        source_ref=redeem_ref(redemption_id),
        explanation=f"兑换 {reward.title}"[:300],
        now=now,
    )
    # Stock last: its row is the one every fan of a flash opening wants, so it is locked for as short a time as
    # possible (the insert and the commit). None left: the caller rolls the spend back with everything else.
    if not await repository.take_stock(session, tenant_id=tenant_id, reward_id=reward_id):
        raise SoldOut()
    code = None
    if reward.kind == RewardKind.virtual_code:
        postgres = session.get_bind().dialect.name == "postgresql"
        code = await repository.claim_code(
            session, tenant_id=tenant_id, reward_id=reward_id, redemption_id=redemption_id, now=now, postgres=postgres
        )
        if code is None:  # stock and pool disagree: the caller rolls everything back
            raise CodePoolEmpty()
    if address is not None and shipping is not None:
        saved_count = len(await service.addresses(session, tenant_id=tenant_id, member_id=member_id))
        if saved_count < service.MAX_ADDRESSES:
            await service.add_address(session, tenant_id=tenant_id, member_id=member_id, data=address)
    row = Redemption(
        tenant_id=tenant_id,
        id=redemption_id,
        member_id=member_id,
        reward_id=reward_id,
        idempotency_key=key,
        kind=reward.kind,
        title=reward.title,
        points=reward.points_price,
        status=Status.pending_shipment if reward.kind == RewardKind.physical else Status.completed,
        day=day,
        address=shipping,
        code=code,
        created_at=now,
    )
    await repository.insert_stored(session, row)
    return row
