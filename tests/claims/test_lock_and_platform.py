"""Only guesses pause claiming (not a show's orders waiting for their import, nor an order someone else claimed);
the pause says when it ends and ops can lift it; a number of another platform's shape is questioned first."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.claims import service
from siyu.claims.models import Claim, Outcome
from siyu.kit.pagination import PageRequest
from siyu.kit.ratelimit import RateLimiter
from siyu.kit.time import format_local, utcnow
from siyu.kit.web import Principal
from siyu.tenants.models import Platform
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


async def test_a_shows_orders_waiting_and_orders_claimed_by_others_never_pause_her(
    session: AsyncSession, shop: int
) -> None:
    limiter = RateLimiter()
    fan, other = await factories.member(session, shop), await factories.member(session, shop, "小桃")
    taken = [await factories.order(session, shop) for _ in range(6)]
    for order in taken:
        assert (await claim(session, shop, other.id, order.order_id, limiter=limiter)).outcome == Outcome.credited
    outcomes = []
    # Right after a show: four orders not imported yet (asked about twice each), six someone else claimed,
    # text with no number in it. None of it is a guess.
    for order in taken:
        outcomes.append((await claim(session, shop, fan.id, order.order_id, limiter=limiter)).outcome)
    for n in range(4):
        for _twice in range(2):
            outcomes.append((await claim(session, shop, fan.id, f"6938472013455{n:06d}", platform="douyin",
                                         limiter=limiter)).outcome)  # fmt: skip
    for _ in range(6):
        outcomes.append((await claim(session, shop, fan.id, "我的订单号找不到了", limiter=limiter)).outcome)
    assert Outcome.locked not in outcomes
    lock = await service.lock_of(session, tenant_id=shop, member_id=fan.id, limiter=limiter)
    assert (lock.until, lock.guesses) == (None, 0)


async def test_the_pause_says_when_it_ends_and_ops_can_lift_it(session: AsyncSession, shop: int) -> None:
    limiter = RateLimiter()
    fan = await factories.member(session, shop)
    real = await factories.order(session, shop)
    started = utcnow()
    for n in range(5):  # five numbers of no platform's shape: guesses
        await claim(session, shop, fan.id, f"1930679858{n:03d}", limiter=limiter, device_hash="phone1")
    locked = await claim(session, shop, fan.id, real.order_id, limiter=limiter, device_hash="phone1")
    assert locked.outcome == Outcome.locked
    lock = await service.lock_of(session, tenant_id=shop, member_id=fan.id, limiter=limiter)
    assert lock.guesses == 5 and lock.until is not None
    assert started + timedelta(minutes=29) < lock.until < utcnow() + timedelta(minutes=31)
    assert format_local(lock.until, "Asia/Shanghai", "%H:%M") in locked.message
    assert "失败" not in locked.message and "你" not in locked.message
    until = await service.locked_until(
        session, tenant_id=shop, member_id=fan.id, ip_hash=None, device_hash="phone1", limiter=limiter
    )
    assert until == lock.until

    lifted = await service.lift_lock(session, actor=owner(shop), member_id=fan.id, limiter=limiter)
    assert lifted.until == lock.until
    after = await service.lock_of(session, tenant_id=shop, member_id=fan.id, limiter=limiter)
    assert (after.until, after.guesses) == (None, 0)
    credited = await claim(session, shop, fan.id, real.order_id, limiter=limiter, device_hash="phone1")
    assert credited.outcome == Outcome.credited
    entries = (await audit.about_member(session, tenant_id=shop, member_id=fan.id, page=PageRequest(size=5))).items
    assert [e.action for e in entries] == ["claims.unlock"]
    assert entries[0].before == {"locked_until": lock.until.isoformat(), "guesses": 5}


async def test_waits_count_once_she_has_many_still_waiting(session: AsyncSession, shop: int) -> None:
    """Real orders leave the waiting list at the import; guessed numbers stay on it."""
    limiter = RateLimiter()
    fan = await factories.member(session, shop)
    numbers = [f"69384720134550{n:05d}" for n in range(5)]
    for number in numbers:
        await claim(session, shop, fan.id, number, platform="douyin", limiter=limiter)
    assert (await service.lock_of(session, tenant_id=shop, member_id=fan.id, limiter=limiter)).guesses == 0
    await claim(session, shop, fan.id, "6938472013455099999", platform="douyin", limiter=limiter)
    assert (await service.lock_of(session, tenant_id=shop, member_id=fan.id, limiter=limiter)).guesses == 1
    for number in numbers:  # ops import the show: her waits are credited
        await factories.order(session, shop, platform="douyin", order_id=number)
    await service.resolve_pending(session, tenant_id=shop)
    await claim(session, shop, fan.id, "6938472013455088888", platform="douyin", limiter=limiter)
    assert (await service.lock_of(session, tenant_id=shop, member_id=fan.id, limiter=limiter)).guesses == 1


async def test_a_wrong_check_value_counts_as_a_guess(session: AsyncSession, shop: int) -> None:
    from siyu.claims.schemas import Check, ClaimPolicy
    from siyu.tenants import service as tenants

    await tenants.put_setting(
        session, tenant_id=shop, key="claims", value=ClaimPolicy(check=Check.amount).model_dump(mode="json")
    )
    limiter = RateLimiter()
    fan = await factories.member(session, shop)
    order = await factories.order(session, shop, paid_fen=13990)
    row = await claim(session, shop, fan.id, order.order_id, check_value="1", limiter=limiter)
    assert row.outcome == Outcome.check_failed
    assert (await service.lock_of(session, tenant_id=shop, member_id=fan.id, limiter=limiter)).guesses == 1


async def test_a_number_of_another_platforms_shape_is_questioned_before_it_waits(
    session: AsyncSession, shop: int
) -> None:
    fan = await factories.member(session, shop)
    with pytest.raises(service.PlatformMismatch) as asked:
        await claim(session, shop, fan.id, "订单编号：1930679858170647 复制", platform="douyin")
    assert (asked.value.status, asked.value.code) == (409, "platform_mismatch")
    assert asked.value.detail == {"chosen": "douyin", "suggested": ["taobao", "kuaishou"]}
    assert await service.claims_of(session, tenant_id=shop, member_id=fan.id) == []  # nothing kept

    # The shop sells on Taobao and Douyin: only Taobao is suggested, in words.
    await factories.channel(session, owner(shop), Platform.taobao)
    await factories.channel(session, owner(shop), Platform.douyin)
    with pytest.raises(service.PlatformMismatch) as asked:
        await claim(session, shop, fan.id, "1930679858170647", platform="douyin")
    assert asked.value.detail["suggested"] == ["taobao"]
    assert asked.value.message == "这看起来是淘宝/天猫订单号，要改成淘宝/天猫吗？"

    # She says she did choose right: it waits as she asked.
    kept = await claim(session, shop, fan.id, "1930679858170647", platform="douyin", confirm_platform=True)
    assert kept.outcome == Outcome.pending

    # A 19-digit number fits Taobao as well as Douyin: no question; nor for an odd number the shop has.
    assert (await claim(session, shop, fan.id, "6938472013455026992")).outcome == Outcome.pending
    odd = await factories.order(session, shop, platform="douyin", order_id="2411093358212345")
    assert (await claim(session, shop, fan.id, odd.order_id, platform="douyin")).outcome == Outcome.credited

    # A Pinduoduo number typed under Taobao.
    with pytest.raises(service.PlatformMismatch) as asked:
        await claim(session, shop, fan.id, "订单编号：261120-338201774062", platform="taobao")
    assert asked.value.detail["suggested"] == ["pdd"]


async def test_the_pause_ends_are_told_in_shop_time() -> None:
    now = utcnow()
    assert service.local_time(now, "Asia/Shanghai") == format_local(now, "Asia/Shanghai", "%H:%M")
    later = datetime(2020, 1, 2, 0, 10, tzinfo=UTC)
    assert service.local_time(later, "Asia/Shanghai") == "01月02日 08:10"
