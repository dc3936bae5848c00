"""Fan groups' rules: thresholds met at their value exactly and missed by one, tiers at and above the one asked
for, orders and spend only within the window (refunds taken off, closed orders left out), overflow into the next
group when one is full, the QR code's expiry and its warning a day before, and refusals that store nothing."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from siyu.audit.models import AuditEntry
from siyu.groups import rules, service
from siyu.groups.models import GroupMember
from siyu.groups.schemas import OverflowIn
from siyu.kit import images
from siyu.kit.pagination import PageRequest
from siyu.kit.time import utcnow
from tests.groups.conftest import PNG, Groups


async def _view(groups: Groups, member_id: int | None, name: str) -> service.FanView:
    views = await service.fan_groups(groups.session, tenant_id=groups.tenant_id, member_id=member_id)
    return next(v for v in views if v.main.name == name)


async def _joins(groups: Groups) -> int:
    return int(
        await groups.session.scalar(
            select(func.count()).select_from(GroupMember).where(GroupMember.tenant_id == groups.tenant_id)
        )
        or 0
    )


async def test_points_threshold_is_met_at_its_value_and_missed_by_one(groups: Groups) -> None:
    await groups.group("积分群", min_points=1000)
    exactly = await groups.fan("刚好", points=1000)
    short = await groups.fan("差一分", points=999)
    assert (await _view(groups, exactly, "积分群")).reasons == []
    assert (await _view(groups, short, "积分群")).reasons == ["还差 1 积分"]
    nothing = await groups.fan("没积分")
    assert (await _view(groups, nothing, "积分群")).reasons == ["还差 1000 积分"]


async def test_tier_threshold_admits_that_tier_and_higher_ones(groups: Groups) -> None:
    await groups.group("金卡群", min_tier_id=groups.tiers["金卡"].id)
    gold = await groups.fan("金卡", tier="金卡")
    black = await groups.fan("黑钻", tier="黑钻")
    silver = await groups.fan("银卡", tier="银卡")
    none = await groups.fan("新粉")
    assert (await _view(groups, gold, "金卡群")).qualified
    assert (await _view(groups, black, "金卡群")).qualified
    assert (await _view(groups, silver, "金卡群")).reasons == ["需要金卡及以上"]
    assert (await _view(groups, none, "金卡群")).reasons == ["需要金卡及以上"]


async def test_orders_and_spend_count_only_inside_the_window(groups: Groups) -> None:
    await groups.group("回购群", min_orders=2, min_paid_fen=20000, window_days=30)
    fan = await groups.fan()
    await groups.order(fan, days_ago=29.9, paid_fen=10000)
    await groups.order(fan, days_ago=30.1, paid_fen=50000)  # outside the window
    await groups.order(fan, days_ago=1, paid_fen=50000, status="closed")  # closed: not counted
    view = await _view(groups, fan, "回购群")
    assert view.reasons == ["近 30 天还差 1 笔订单", "近 30 天还差消费 100 元"]
    await groups.order(fan, days_ago=2, paid_fen=12000, refund_fen=2000)  # 100 yuan after its refund
    assert (await _view(groups, fan, "回购群")).qualified


async def test_several_shortfalls_are_all_said(groups: Groups) -> None:
    await groups.group("黑钻群", min_tier_id=groups.tiers["黑钻"].id, min_points=5000, min_paid_fen=123456)
    fan = await groups.fan(tier="金卡", points=4680)
    view = await _view(groups, fan, "黑钻群")
    assert view.reasons == ["需要黑钻及以上", "还差 320 积分", "近 30 天还差消费 1234.56 元"]
    assert view.message == "暂时还不能加入：需要黑钻及以上，还差 320 积分，近 30 天还差消费 1234.56 元"
    assert not view.shows_qr


async def test_a_group_without_thresholds_is_open_and_signed_out_fans_see_only_thresholds(
    groups: Groups, tmp_path: Path
) -> None:
    group = await groups.qr(await groups.group("普通粉丝群"), tmp_path)
    fan = await groups.fan()
    view = await _view(groups, fan, "普通粉丝群")
    assert view.qualified and view.shows_qr and view.thresholds == []
    signed_out = await _view(groups, None, "普通粉丝群")
    assert not signed_out.shows_qr
    with pytest.raises(service.GroupNotFound):
        await service.fan_can_see_qr(groups.session, tenant_id=groups.tenant_id, member_id=fan, group_id=group.id + 1)


async def test_overflow_a_full_group_shows_the_next_one(groups: Groups, tmp_path: Path) -> None:
    first = await groups.qr(await groups.group("粉丝一群", cap=2), tmp_path)
    second = await service.add_overflow(
        groups.session, actor=groups.owner, group_id=first.id, data=OverflowIn(name="粉丝二群", cap=1)
    )
    await groups.qr(second, tmp_path)
    fans = [await groups.fan(f"粉丝{i}") for i in range(4)]
    assert (await _view(groups, fans[0], "粉丝一群")).group.id == first.id
    await service.join(groups.session, tenant_id=groups.tenant_id, member_id=fans[0], group_id=first.id)
    await service.join(groups.session, tenant_id=groups.tenant_id, member_id=fans[1], group_id=first.id)
    shown = await _view(groups, fans[2], "粉丝一群")
    assert shown.group.id == second.id and shown.shows_qr
    with pytest.raises(service.GroupFull):  # she still had the old page open
        await service.join(groups.session, tenant_id=groups.tenant_id, member_id=fans[2], group_id=first.id)
    await service.join(groups.session, tenant_id=groups.tenant_id, member_id=fans[2], group_id=second.id)
    everything_full = await _view(groups, fans[3], "粉丝一群")
    assert everything_full.full and not everything_full.shows_qr and "都满了" in everything_full.message
    mine = await _view(groups, fans[0], "粉丝一群")
    assert mine.joined and mine.group.id == first.id and mine.message == "你已在这个群里"
    # the overflow shares the main group's thresholds
    await service.update_group(
        groups.session,
        actor=groups.owner,
        group_id=first.id,
        data=service.GroupIn(name="粉丝一群", cap=2, min_points=10),
    )
    assert (await _view(groups, fans[3], "粉丝一群")).reasons == ["还差 10 积分"]


async def test_joining_twice_is_one_join_and_a_family_holds_her_once(groups: Groups) -> None:
    group = await groups.group("普通粉丝群")
    overflow = await service.add_overflow(
        groups.session, actor=groups.owner, group_id=group.id, data=OverflowIn(name="普通二群")
    )
    fan = await groups.fan()
    one = await service.join(groups.session, tenant_id=groups.tenant_id, member_id=fan, group_id=group.id)
    again = await service.join(groups.session, tenant_id=groups.tenant_id, member_id=fan, group_id=overflow.id)
    assert again.id == one.id and await _joins(groups) == 1


async def test_refused_join_stores_nothing(groups: Groups) -> None:
    group = await groups.group("积分群", min_points=1000)
    fan = await groups.fan(points=680)
    with pytest.raises(service.NotQualified) as refused:
        await service.join(groups.session, tenant_id=groups.tenant_id, member_id=fan, group_id=group.id)
    assert refused.value.message == "暂时还不能加入：还差 320 积分"
    assert await _joins(groups) == 0


async def test_members_and_those_who_qualify_but_have_not_joined(groups: Groups) -> None:
    group = await groups.group("金卡群", min_tier_id=groups.tiers["金卡"].id, min_points=100, min_orders=1)
    joined = await groups.fan("已入群", tier="金卡", points=100)
    await groups.order(joined)
    waiting = await groups.fan("符合条件", tier="黑钻", points=500)
    await groups.order(waiting, days_ago=10)
    no_order = await groups.fan("没订单", tier="金卡", points=500)
    low = await groups.fan("银卡", tier="银卡", points=500)
    await groups.order(low)
    await service.join(groups.session, tenant_id=groups.tenant_id, member_id=joined, group_id=group.id)
    found = await service.candidates(
        groups.session, tenant_id=groups.tenant_id, family_id=group.id, page=PageRequest(1, 50)
    )
    assert [m.id for m in found.items] == [waiting] and found.total == 1
    listed, names = await service.members_of(
        groups.session, tenant_id=groups.tenant_id, family_id=group.id, page=PageRequest(1, 50)
    )
    assert [m.member_id for m in listed.items] == [joined] and names[joined] == "已入群"
    assert no_order not in [m.id for m in found.items]


def test_qr_state_warns_a_day_before_it_expires() -> None:
    now = utcnow()
    assert rules.qr_state(None, now) == "missing"
    assert rules.qr_state(now + timedelta(days=7), now) == "valid"
    assert rules.qr_state(now + timedelta(days=1, seconds=1), now) == "valid"
    assert rules.qr_state(now + timedelta(days=1), now) == "expiring"
    assert rules.qr_state(now + timedelta(seconds=1), now) == "expiring"
    assert rules.qr_state(now, now) == "expired"


async def test_an_uploaded_qr_lasts_seven_days_and_is_warned_of_on_the_sixth(groups: Groups, tmp_path: Path) -> None:
    group = await groups.qr(await groups.group("普通粉丝群"), tmp_path)
    assert group.qr_expires_at is not None and group.qr_uploaded_at is not None
    assert group.qr_expires_at - group.qr_uploaded_at == timedelta(days=7)
    families = await service.overview(groups.session, tenant_id=groups.tenant_id)
    assert service.qr_warnings(families) == []
    sixth_day = group.qr_uploaded_at + timedelta(days=6, hours=1)
    assert [(g.id, words) for g, words in service.qr_warnings(families, sixth_day)] == [
        (group.id, "群二维码一天内过期，请尽快更换")
    ]
    later = group.qr_uploaded_at + timedelta(days=7)
    assert [w for _, w in service.qr_warnings(families, later)] == ["群二维码已过期，请更换"]
    fan = await groups.fan()
    expired = await service.fan_groups(groups.session, tenant_id=groups.tenant_id, member_id=fan, now=later)
    assert not expired[0].shows_qr and expired[0].message == "群二维码更新中，请稍后再来"


async def test_bad_or_too_large_qr_images_are_refused_and_store_nothing(groups: Groups, tmp_path: Path) -> None:
    group = await groups.group()
    before = await groups.session.scalar(select(func.count()).select_from(AuditEntry))
    for data, error in (
        (b"<svg onload=alert(1)></svg>........", images.NotAnImage),
        (PNG + b"\0" * images.MAX_BYTES, images.ImageTooLarge),
    ):
        with pytest.raises(error):
            async with groups.session.begin_nested():
                await groups.qr(group, tmp_path, data)
    await groups.session.refresh(group)
    assert group.qr_image is None and group.qr_expires_at is None
    assert not (tmp_path / service.IMAGE_AREA).exists()
    assert await groups.session.scalar(select(func.count()).select_from(AuditEntry)) == before


async def test_a_deleted_tier_closes_its_group(groups: Groups) -> None:
    await groups.group("银卡群", min_tier_id=groups.tiers["银卡"].id)
    fan = await groups.fan(tier="黑钻")
    await service.loyalty.delete_tier(groups.session, actor=groups.owner, tier_id=groups.tiers["银卡"].id)
    view = await _view(groups, fan, "银卡群")
    assert view.reasons == ["这个群暂未开放"]


async def test_a_main_group_with_overflow_groups_is_not_deleted(groups: Groups) -> None:
    group = await groups.group()
    overflow = await service.add_overflow(
        groups.session, actor=groups.owner, group_id=group.id, data=OverflowIn(name="二群")
    )
    with pytest.raises(service.HasOverflow):
        await service.delete_group(groups.session, actor=groups.owner, group_id=group.id)
    await service.delete_group(groups.session, actor=groups.owner, group_id=overflow.id)
    await service.delete_group(groups.session, actor=groups.owner, group_id=group.id)
    assert await service.overview(groups.session, tenant_id=groups.tenant_id) == []
