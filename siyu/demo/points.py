"""The demo tenant's points programme: rules (points post one day after completion), tiers, campaigns, and fans
who claimed some of the imported orders after the show, credited through the same services the product uses."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims import crediting
from siyu.claims import service as claims
from siyu.claims.schemas import ClaimPolicy
from siyu.kit.pagination import PageRequest
from siyu.kit.time import to_local, utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.loyalty.schemas import CampaignIn, PointsPolicy, TierIn
from siyu.members import service as members
from siyu.orders import service as orders
from siyu.orders.models import EARNS_NOTHING
from siyu.tenants import service as tenants

TIERS = [("银卡会员", 100, 100), ("金卡会员", 400, 120), ("黑金会员", 1500, 150)]


def _system(tenant_id: int) -> Principal:
    return Principal(
        tenant_id=tenant_id, kind="system", actor_id=None, label="演示数据", permissions=frozenset({"points.rules"})
    )


async def load(session: AsyncSession, *, slug: str, seed: int = 11, now: datetime | None = None) -> int:
    """Set up the programme and credit a share of the tenant's orders to its members. Returns orders credited;
    nothing happens when the programme is already set up."""
    now = now or utcnow()
    tenant = await tenants.get_by_slug(session, slug)
    actor = _system(tenant.id)
    if await loyalty.list_tiers(session, tenant_id=tenant.id):
        return 0
    await loyalty.save_policy(session, actor=actor, policy=PointsPolicy(hold_days=1))
    for name, threshold, pct in TIERS:
        await loyalty.create_tier(session, actor=actor, data=TierIn(name=name, threshold=threshold, multiplier_pct=pct))
    campaigns = [
        CampaignIn(
            name="双11",
            priority=10,
            starts_at=now - timedelta(days=20),
            ends_at=now - timedelta(days=8),
            multiplier_pct=200,
            cap_per_member_day=500,
        ),
        CampaignIn(
            name="周末直播",
            priority=8,
            starts_at=now - timedelta(days=4),
            ends_at=now - timedelta(days=2),
            multiplier_pct=200,
            cap_per_member_day=300,
        ),
        CampaignIn(
            name="直播专场",
            priority=5,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=4),
            bonus_points=5,
        ),
        CampaignIn(
            name="新客礼",
            priority=0,
            starts_at=now - timedelta(days=60),
            ends_at=now + timedelta(days=90),
            first_claim_bonus=20,
        ),
    ]
    for data in campaigns:
        await loyalty.create_campaign(session, actor=actor, data=data)

    rng = random.Random(seed)
    found = await members.search(session, tenant_id=tenant.id, query=None, page=PageRequest(size=60))
    fans = sorted(m.id for m in found.items)
    credited = 0
    unclaimed: list[tuple[int, str, str, str | None]] = []  # (paid, platform, order id, buyer nick)
    async for chunk in orders.stream_orders(session, tenant_id=tenant.id):
        for order in chunk:
            if order.status in EARNS_NOTHING or not fans:
                continue
            if rng.random() < 0.35:
                unclaimed.append((order.paid_fen, order.platform, order.order_id, order.buyer_nick))
                continue
            placed = order.paid_at or order.placed_at or now - timedelta(days=10)
            claimed_at = min(placed + timedelta(hours=rng.randint(1, 72)), now - timedelta(minutes=5))
            row = await claims.claim(
                session,
                tenant_id=tenant.id,
                member_id=rng.choice(fans),
                platform=order.platform,
                text=f"订单编号：{order.order_id} 复制",
                now=claimed_at,
            )
            if row.outcome != "credited":
                continue
            credited += 1
    # Some fans were quicker than the exports: their claims wait for the next import.
    for n in range(3):
        await claims.claim(
            session, tenant_id=tenant.id, member_id=fans[n], platform="douyin", text=f"69384720134{n:08d}", now=now
        )
    await _review_and_bound(session, tenant.id, fans, unclaimed, now)
    # Holds that ended by now post, tiers follow; two fans got a goodwill adjustment from ops.
    while (await crediting.sweep(session, tenant_id=tenant.id, now=now)).more:
        pass
    for member_id, amount, reason in ((fans[0], 50, "直播间抽奖补发"), (fans[1], 30, "物流延误补偿")):
        await ledger.adjust(
            session, tenant_id=tenant.id, member_id=member_id, amount=amount, reason=reason, actor=actor, now=now
        )
    return credited


async def gift(session: AsyncSession, *, slug: str) -> None:
    """The demo fan (the richest, once every other part of the demo has paid its points) holds a gift about to
    expire: the H5 shows the last day she may use it. Last, so nothing of the demo spends it."""
    tenant = await tenants.get_by_slug(session, slug)
    now = utcnow()
    richest = await ledger.richest_member(session, tenant_id=tenant.id)
    if richest is None:
        return
    today = to_local(now, tenant.timezone).replace(hour=0, minute=0, second=0, microsecond=0)
    await ledger.adjust(
        session,
        tenant_id=tenant.id,
        member_id=richest,
        amount=20,
        reason="会员日礼包（限时使用）",
        actor=_system(tenant.id),
        expires_at=(today + timedelta(days=5)).astimezone(UTC),
        now=now,
    )


async def _review_and_bound(
    session: AsyncSession,
    tenant_id: int,
    fans: list[int],
    unclaimed: list[tuple[int, str, str, str | None]],
    now: datetime,
) -> None:
    """Large orders wait for review (two are in the queue); one fan bound her Taobao account, and the orders it
    carries were credited without a claim."""
    if len(fans) < 6 or len(unclaimed) < 3:
        return
    largest = sorted(unclaimed, reverse=True)[:2]
    threshold = max(1, min(paid for paid, *_ in largest) // 100)
    await tenants.put_setting(
        session, tenant_id=tenant_id, key="claims", value=ClaimPolicy(review_paid_yuan=threshold).model_dump()
    )
    for n, (_paid, platform, order_id, _nick) in enumerate(largest):
        await claims.claim(
            session, tenant_id=tenant_id, member_id=fans[3 + n], platform=platform, text=order_id, now=now
        )
    taken = {order_id for *_, order_id, _nick in largest}
    for _paid, platform, order_id, nick in unclaimed:
        if platform == "taobao" and nick and "*" not in nick and order_id not in taken:
            found = await members.find_by_identity(session, tenant_id=tenant_id, kind="taobao_nick", value=nick)
            if found is None:
                member = await members.get_member(session, tenant_id=tenant_id, member_id=fans[5])
                await members.bind_identity(session, tenant_id=tenant_id, member=member, kind="taobao_nick", value=nick)
                await claims.credit_bound(session, tenant_id=tenant_id, member_id=fans[5], now=now)
                return
