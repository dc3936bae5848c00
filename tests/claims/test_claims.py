"""Every outcome of a claim, waiting claims settled by a later import, and the lock after repeated failures."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.claims import service
from siyu.claims import tasks as claims_tasks
from siyu.claims.models import Claim, Outcome
from siyu.claims.schemas import Check, ClaimPolicy
from siyu.jobs.service import enqueue
from siyu.jobs.worker import Worker
from siyu.kit.ratelimit import RateLimiter
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.orders import events
from siyu.tasks import load_handlers
from siyu.tenants import service as tenants
from tests.support import factories


def owner(tenant_id: int) -> Principal:
    return Principal(tenant_id=tenant_id, kind="staff", actor_id=1, label="店主", permissions=frozenset())


@pytest.fixture
async def shop(session: AsyncSession) -> int:
    return (await factories.tenant(session)).id


async def claim(session: AsyncSession, tenant_id: int, member_id: int, text: str, **kw: object) -> Claim:
    return await service.claim(
        session,
        tenant_id=tenant_id,
        member_id=member_id,
        platform=str(kw.pop("platform", "taobao")),
        text=text,
        **kw,  # type: ignore[arg-type]
    )


async def test_a_fan_claims_an_order_and_gets_an_honest_answer_every_time(session: AsyncSession, shop: int) -> None:
    fan, other = await factories.member(session, shop), await factories.member(session, shop, "小桃")
    order = await factories.order(session, shop, status="shipped", paid_fen=13990)

    first = await claim(session, shop, fan.id, f"订单编号：{order.order_id} 复制")
    assert (first.outcome, first.points, first.order_id) == (Outcome.credited, 13, order.order_id)
    assert first.message.startswith("已获得 13 积分（待入账，确认收货后入账）")
    assert f"订单 {order.order_id} 获得 13 积分" in first.message
    assert (await ledger.balance(session, tenant_id=shop, member_id=fan.id)).pending == 13

    again = await claim(session, shop, fan.id, order.order_id)
    assert again.outcome == Outcome.claimed_by_you
    taken = await claim(session, shop, other.id, order.order_id)
    assert taken.outcome == Outcome.claimed_by_other
    assert (await ledger.balance(session, tenant_id=shop, member_id=other.id)).pending == 0

    closed = await factories.order(session, shop, status="closed")
    assert (await claim(session, shop, fan.id, closed.order_id)).reason == "closed"
    tiny = await factories.order(session, shop, paid_fen=500)
    assert (await claim(session, shop, fan.id, tiny.order_id)).reason == "too_small"
    unread = await claim(session, shop, fan.id, "我找不到订单号")
    assert (unread.outcome, unread.order_id) == (Outcome.invalid, "")
    history = await service.claims_of(session, tenant_id=shop, member_id=fan.id)
    assert len(history) == 5


async def test_an_old_order_and_a_failed_check(session: AsyncSession, shop: int) -> None:
    await service.save_policy(session, actor=owner(shop), policy=ClaimPolicy(check=Check.amount, window_days=30))
    fan = await factories.member(session, shop)
    order = await factories.order(session, shop, paid_fen=13990)
    wrong = await claim(session, shop, fan.id, order.order_id, check_value="100")
    assert wrong.outcome == Outcome.check_failed
    right = await claim(session, shop, fan.id, order.order_id, check_value="139.90")
    assert right.outcome == Outcome.credited
    old = await factories.order(session, shop)
    old.paid_at = utcnow() - timedelta(days=31)
    await session.flush()
    late = await claim(session, shop, fan.id, old.order_id, check_value=str(old.paid_fen / 100))
    assert (late.outcome, late.reason) == (Outcome.not_eligible, "too_old")


async def test_a_claim_waits_for_its_order_and_is_credited_when_it_arrives(session: AsyncSession, shop: int) -> None:
    fan = await factories.member(session, shop)
    waiting = await claim(session, shop, fan.id, "6938472013455026992", platform="douyin")
    assert waiting.outcome == Outcome.pending and "最多等待 15 天" in waiting.message
    assert await service.resolve_pending(session, tenant_id=shop) == (0, 0)

    await factories.order(session, shop, platform="douyin", order_id="6938472013455026992", paid_fen=5000)
    assert await service.resolve_pending(session, tenant_id=shop) == (1, 0)
    await session.refresh(waiting)
    assert (waiting.outcome, waiting.points) == (Outcome.credited, 5)
    assert waiting.resolved_at is not None
    assert (await ledger.balance(session, tenant_id=shop, member_id=fan.id)).pending == 5
    assert await service.resolve_pending(session, tenant_id=shop) == (0, 0)


async def test_a_waiting_claim_expires(session: AsyncSession, shop: int) -> None:
    fan = await factories.member(session, shop)
    waiting = await claim(session, shop, fan.id, "1930679858170600000")
    later = utcnow() + timedelta(days=16)
    assert await service.resolve_pending(session, tenant_id=shop, now=later) == (0, 1)
    await session.refresh(waiting)
    assert waiting.outcome == Outcome.expired


async def test_guessing_order_numbers_is_locked_out_before_it_finds_one(session: AsyncSession, shop: int) -> None:
    limiter = RateLimiter()
    fan = await factories.member(session, shop)
    real = await factories.order(session, shop)
    outcomes = []
    for guess in range(13):
        row = await claim(session, shop, fan.id, f"19306798581{guess:06d}99", limiter=limiter, ip_hash="ab")
        outcomes.append(row.outcome)
    # Her first five waits are plausible (a show not imported yet); past them each one counts, five lock.
    assert outcomes[:10] == [Outcome.pending] * 10 and outcomes[10:] == [Outcome.locked] * 3
    found = await claim(session, shop, fan.id, real.order_id, limiter=limiter, ip_hash="ab")
    assert found.outcome == Outcome.locked
    assert "可在 " in found.message and "后再试" in found.message and "失败" not in found.message
    assert (await ledger.balance(session, tenant_id=shop, member_id=fan.id)).pending == 0
    # Another fan on another network is not affected.
    other = await factories.member(session, shop, "小桃")
    ok = await claim(session, shop, other.id, real.order_id, limiter=limiter, ip_hash="cd")
    assert ok.outcome == Outcome.credited


async def test_fans_behind_one_network_address_have_a_limit_of_their_own(session: AsyncSession, shop: int) -> None:
    policy = ClaimPolicy(max_failures=5, ip_max_failures=6).model_dump(mode="json")
    await tenants.put_setting(session, tenant_id=shop, key="claims", value=policy)
    limiter = RateLimiter()
    outcomes = []
    for n in range(4):  # four fans on one carrier NAT, two numbers of no platform's shape each
        fan = await factories.member(session, shop)
        for guess in range(2):
            row = await claim(session, shop, fan.id, f"1930679858{n}{guess:02d}", limiter=limiter, ip_hash="nat")
            outcomes.append(row.outcome)
    assert outcomes[:6] == [Outcome.pending] * 6 and outcomes[6:] == [Outcome.locked] * 2


async def test_claiming_faster_than_the_minute_allows_is_refused_and_keeps_nothing(
    session: AsyncSession, shop: int
) -> None:
    policy = ClaimPolicy(per_minute=3, ip_per_minute=6).model_dump(mode="json")
    await tenants.put_setting(session, tenant_id=shop, key="claims", value=policy)
    limiter = RateLimiter()
    fan = await factories.member(session, shop)
    real = await factories.order(session, shop)
    for n in range(3):
        await claim(session, shop, fan.id, f"1930679858175{n:03d}", limiter=limiter, ip_hash="ab", device_hash="d1")
    with pytest.raises(service.ClaimsTooFast) as refused:
        await claim(session, shop, fan.id, real.order_id, limiter=limiter, ip_hash="ab", device_hash="d1")
    assert (refused.value.status, refused.value.code) == (429, "claims_too_fast")
    assert len(await service.claims_of(session, tenant_id=shop, member_id=fan.id, limit=10)) == 3  # not kept
    assert (await ledger.balance(session, tenant_id=shop, member_id=fan.id)).pending == 0
    # Her phone is counted whoever signs in on it; the network address has a larger limit of its own.
    other = await factories.member(session, shop)
    with pytest.raises(service.ClaimsTooFast):
        await claim(session, shop, other.id, real.order_id, limiter=limiter, ip_hash="ab", device_hash="d1")
    assert (await claim(session, shop, other.id, real.order_id, limiter=limiter, ip_hash="ab")).outcome == (
        Outcome.credited
    )
    third = await factories.member(session, shop)
    with pytest.raises(service.ClaimsTooFast):  # the address has had its 6 this minute
        await claim(session, shop, third.id, real.order_id, limiter=limiter, ip_hash="ab")
    assert (await claim(session, shop, third.id, real.order_id, limiter=limiter, ip_hash="cd")).outcome == (
        Outcome.claimed_by_other
    )


async def test_an_unknown_platform_is_refused(session: AsyncSession, shop: int) -> None:
    fan = await factories.member(session, shop)
    with pytest.raises(service.UnknownPlatform):
        await claim(session, shop, fan.id, "1930679858170647", platform="amazon")


async def test_an_import_that_brings_the_order_settles_the_waiting_claim(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], shop: int
) -> None:
    load_handlers()
    assert events.ARRIVALS["claims"] is claims_tasks.on_orders_arrived
    fan = await factories.member(session, shop)
    waiting = await claim(session, shop, fan.id, "快手订单 2411093358212345", platform="kuaishou")
    assert waiting.outcome == Outcome.pending
    await factories.order(session, shop, platform="kuaishou", order_id="2411093358212345", paid_fen=8800)
    imported = await factories.order_import(session, shop)
    await enqueue(session, "orders.arrived", {"import_id": imported.id}, tenant_id=shop)
    await session.flush()
    await Worker(sessionmaker).drain()
    await session.refresh(waiting)
    assert (waiting.outcome, waiting.points) == (Outcome.credited, 8)
