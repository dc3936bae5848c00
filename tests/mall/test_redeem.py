"""Redeeming: each refusal has its code and takes nothing; a double tap is one redemption; limits; codes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from siyu.kit.errors import AppError
from siyu.ledger.audit import check_invariants
from siyu.ledger.models import Entry
from siyu.loyalty import service as loyalty
from siyu.loyalty.models import MemberTier
from siyu.loyalty.schemas import TierIn
from siyu.mall import redeem, service
from siyu.mall.models import RewardKind, Status
from tests.mall.conftest import ADDRESS, Mall


async def _refused(mall: Mall, member_id: int, reward_id: int, code: str, **kwargs: object) -> AppError:
    before = await mall.available(member_id)
    stock_before = await _stock(mall, reward_id)
    with pytest.raises(AppError) as raised:
        await redeem.redeem(
            mall.session, tenant_id=mall.tenant_id, member_id=member_id, reward_id=reward_id, now=mall.now, **kwargs
        )
    assert raised.value.code == code
    assert raised.value.message and not raised.value.message.isascii()
    assert await mall.available(member_id) == before
    assert await _stock(mall, reward_id) == stock_before
    return raised.value


async def _stock(mall: Mall, reward_id: int) -> int | None:
    try:
        reward = await service.get_reward(mall.session, tenant_id=mall.tenant_id, reward_id=reward_id)
    except service.RewardNotFound:
        return None
    await mall.session.refresh(reward)
    return reward.stock


async def test_a_redemption_spends_points_takes_stock_and_is_complete_for_a_coupon(mall: Mall) -> None:
    fan = await mall.fan(250)
    reward = await mall.reward(points_price=100, stock=3)
    row = await redeem.redeem(mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=reward.id, now=mall.now)
    assert (row.status, row.points, row.kind) == (Status.completed, 100, RewardKind.coupon)
    assert await mall.available(fan) == 150
    await mall.session.refresh(reward)
    assert (reward.stock, reward.sold) == (2, 1)
    spend = await mall.session.scalar(select(Entry).where(Entry.source_ref == f"redeem:{row.id}"))
    assert spend is not None and spend.amount == -100 and "满 100 减 20 券" in spend.explanation
    assert await check_invariants(mall.session, mall.tenant_id) == []


async def test_each_refusal_has_its_code_and_takes_nothing(mall: Mall) -> None:
    fan = await mall.fan(150)
    cheap = await mall.reward(points_price=100, stock=5, limit_per_member=1)
    await redeem.redeem(mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=cheap.id, now=mall.now)
    await _refused(mall, fan, cheap.id, "over_member_limit")

    dear = await mall.reward(points_price=500)
    error = await _refused(mall, fan, dear.id, "insufficient_points")
    assert "还差 450 积分" in error.message

    later = await mall.reward(redeem_from=mall.now + timedelta(hours=2))
    error = await _refused(mall, fan, later.id, "outside_window")
    assert "14:00 开抢" in error.message
    over = await mall.reward(redeem_until=mall.now - timedelta(minutes=1))
    await _refused(mall, fan, over.id, "outside_window")

    gold = await loyalty.create_tier(mall.session, actor=mall.owner, data=TierIn(name="金卡", threshold=500))
    tiered = await mall.reward(tier_ids=[gold.id])
    await _refused(mall, fan, tiered.id, "not_eligible")

    gone = await mall.reward(stock=0)
    await _refused(mall, fan, gone.id, "sold_out")

    hidden = await mall.reward(visible_from=mall.now + timedelta(days=1))
    await _refused(mall, fan, hidden.id, "reward_not_found")
    off = await mall.reward(enabled=False)
    await _refused(mall, fan, off.id, "reward_not_found")
    await _refused(mall, fan, 12345, "reward_not_found")

    goods = await mall.reward(kind=RewardKind.physical, points_price=10)
    await _refused(mall, fan, goods.id, "address_required")


async def test_a_tier_reward_is_for_members_of_that_tier(mall: Mall) -> None:
    gold = await loyalty.create_tier(mall.session, actor=mall.owner, data=TierIn(name="金卡", threshold=500))
    fan = await mall.fan(300)
    mall.session.add(MemberTier(tenant_id=mall.tenant_id, member_id=fan, tier_id=gold.id, growth=600))
    await mall.session.flush()
    reward = await mall.reward(tier_ids=[gold.id])
    row = await redeem.redeem(mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=reward.id, now=mall.now)
    assert row.status == Status.completed


async def test_a_double_tap_redeems_once(mall: Mall) -> None:
    fan = await mall.fan(1000)
    reward = await mall.reward(points_price=100)
    first = await redeem.redeem(
        mall.session,
        tenant_id=mall.tenant_id,
        member_id=fan,
        reward_id=reward.id,
        idempotency_key="tap-1",
        now=mall.now,
    )
    again = await redeem.redeem(
        mall.session,
        tenant_id=mall.tenant_id,
        member_id=fan,
        reward_id=reward.id,
        idempotency_key="tap-1",
        now=mall.now,
    )
    assert again.id == first.id and await mall.available(fan) == 900
    other = await mall.reward(points_price=10)
    with pytest.raises(redeem.KeyReused):
        await redeem.redeem(
            mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=other.id, idempotency_key="tap-1"
        )
    # The same key of another fan is her own request.
    friend = await mall.fan(1000)
    hers = await redeem.redeem(
        mall.session,
        tenant_id=mall.tenant_id,
        member_id=friend,
        reward_id=reward.id,
        idempotency_key="tap-1",
        now=mall.now,
    )
    assert hers.id != first.id


async def test_the_daily_limit_counts_the_tenants_local_day(mall: Mall) -> None:
    fan = await mall.fan(1000)
    reward = await mall.reward(points_price=10, limit_per_day=2)
    for _ in range(2):
        await redeem.redeem(mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=reward.id, now=mall.now)
    await _refused(mall, fan, reward.id, "over_member_limit")
    # 23:59 in Shanghai is still the same day; 00:01 is the next.
    late = mall.now.replace(hour=15, minute=59)
    with pytest.raises(redeem.OverMemberLimit):
        await redeem.redeem(mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=reward.id, now=late)
    tomorrow = mall.now.replace(hour=16, minute=1)
    row = await redeem.redeem(mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=reward.id, now=tomorrow)
    assert str(row.day) == "2030-03-02"


async def test_goods_keep_the_address_as_it_was_and_save_it_to_the_book(mall: Mall) -> None:
    fan = await mall.fan(1000)
    goods = await mall.reward(kind=RewardKind.physical, title="珀莱雅精华小样", points_price=300, stock=2)
    row = await redeem.redeem(
        mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=goods.id, address=ADDRESS, now=mall.now
    )
    assert row.status == Status.pending_shipment and row.address is not None
    assert row.address["name"] == "林小鱼" and row.address["detail"].startswith("文三路")
    saved = await service.addresses(mall.session, tenant_id=mall.tenant_id, member_id=fan)
    assert len(saved) == 1 and saved[0].is_default
    saved[0].detail = "别处"
    second = await redeem.redeem(
        mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=goods.id, address_id=saved[0].id, now=mall.now
    )
    assert second.address is not None and second.address["detail"] == "别处"
    assert row.address["detail"].startswith("文三路")


async def test_each_code_is_given_once_and_the_pool_is_the_stock(mall: Mall) -> None:
    reward = await mall.reward(kind=RewardKind.virtual_code, title="视频会员月卡", points_price=50, stock=0)
    report = await service.import_codes(
        mall.session,
        actor=mall.owner,
        reward_id=reward.id,
        data=b"AAA-1\n\nBBB-2\nAAA-1\nCCC-3\n",
        filename="codes.txt",
    )
    assert report.applied == 3
    assert [(p.row, p.reason) for p in report.problems] == [(2, "空行"), (4, "与第 1 行重复")]
    again = await service.import_codes(
        mall.session, actor=mall.owner, reward_id=reward.id, data=b"code\nCCC-3\nDDD-4\n", filename="more.csv"
    )
    assert again.applied == 2 and [p.reason for p in again.problems] == ["已经导入过"]
    await mall.session.refresh(reward)
    assert reward.stock == 5  # "code" (a header someone left in) is a code too: ops see it in the report next time

    codes = []
    for _ in range(5):
        fan = await mall.fan(100)
        row = await redeem.redeem(
            mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=reward.id, now=mall.now
        )
        codes.append(row.code)
    assert sorted(codes) == sorted(["AAA-1", "BBB-2", "CCC-3", "code", "DDD-4"])
    late = await mall.fan(100)
    await _refused(mall, late, reward.id, "sold_out")
    with pytest.raises(service.NotACodeReward):
        coupon = await mall.reward()
        await service.import_codes(mall.session, actor=mall.owner, reward_id=coupon.id, data=b"X\n", filename="x.txt")


async def test_unlimited_stock_never_runs_out(mall: Mall) -> None:
    fan = await mall.fan(1000)
    reward = await mall.reward(kind=RewardKind.trial, stock=None, points_price=1)
    for _ in range(3):
        await redeem.redeem(mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=reward.id, now=mall.now)
    await mall.session.refresh(reward)
    assert (reward.stock, reward.sold) == (None, 3)
