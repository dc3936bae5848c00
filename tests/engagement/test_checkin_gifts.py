"""A day-N reward may give a mall reward too: once per streak day, free of points, the day's points alone when the
reward ran out; the fan's page says what today and tomorrow give, and a reward of another tenant is refused."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from siyu.engagement.checkin import service
from siyu.engagement.checkin.schemas import DayReward
from siyu.kit.errors import AppError
from siyu.mall import service as mall
from siyu.mall.models import Redemption, RewardKind
from siyu.mall.schemas import RewardIn
from tests.engagement.conftest import JOINED, Desk, days
from tests.support import factories

D = date(2030, 3, 2)


async def _gifts(desk: Desk) -> list[Redemption]:
    rows = await desk.session.scalars(select(Redemption).where(Redemption.tenant_id == desk.tenant.id))
    return list(rows)


async def test_the_third_day_in_a_row_gives_the_reward_once_free_of_points(desk: Desk) -> None:
    mask = await mall.create_reward(
        desk.session,
        actor=desk.owner,
        data=RewardIn(kind=RewardKind.physical, title="补水面膜", points_price=300, stock=1),
    )
    saved = await desk.rules(base_points=2, cycle_days=3, rewards=[DayReward(day=3, points=10, reward_id=mask.id)])
    assert saved.rewards[0].reward_title == "补水面膜"
    preview = service.rules_out(saved).preview
    assert [d.gift for d in preview[:6]] == [None, None, "补水面膜", None, None, "补水面膜"]

    fan, other = await desk.fan(), await desk.fan()
    status = await service.status(
        desk.session,
        tenant=await desk.config(),
        member_id=fan,
        joined=JOINED.date(),
        now=desk.local(D + timedelta(days=1)),
    )
    assert status.today_gift is None and status.tomorrow_gift is None
    results = [await desk.check_in(fan, desk.local(day)) for day in days(D, 3)]
    assert [r.gift for r in results] == [None, None, "补水面膜"]
    again = await desk.check_in(fan, desk.local(D + timedelta(days=2), hour=20))  # a second tap that day
    assert again.created is False and again.gift is None
    [gift] = await _gifts(desk)
    assert (gift.member_id, gift.points, gift.status) == (fan, 0, "awaiting_address")
    assert await desk.available(fan) == 2 + 2 + 10

    # the one mask is gone: her third day gives its points alone
    results = [await desk.check_in(other, desk.local(day)) for day in days(D, 3)]
    assert [r.gift for r in results] == [None, None, None] and results[2].points == 10
    assert len(await _gifts(desk)) == 1


async def test_the_page_says_what_today_and_tomorrow_give(desk: Desk) -> None:
    mask = await mall.create_reward(
        desk.session,
        actor=desk.owner,
        data=RewardIn(kind=RewardKind.coupon, title="无门槛券", points_price=300, stock=9),
    )
    await desk.rules(base_points=2, cycle_days=0, rewards=[DayReward(day=2, points=5, reward_id=mask.id)])
    fan = await desk.fan()
    await desk.check_in(fan, desk.local(D))
    status = await service.status(
        desk.session, tenant=await desk.config(), member_id=fan, joined=JOINED.date(), now=desk.local(D, hour=22)
    )
    assert status.tomorrow_gift == "无门槛券" and status.today_gift is None
    status = await service.status(
        desk.session,
        tenant=await desk.config(),
        member_id=fan,
        joined=JOINED.date(),
        now=desk.local(D + timedelta(days=1)),
    )
    assert status.today_gift == "无门槛券" and status.today_points == 5


async def test_a_reward_of_another_tenant_is_refused(desk: Desk) -> None:
    other = await factories.tenant(desk.session)
    other_owner = await factories.staff_login(desk.session, other.id)
    theirs = await mall.create_reward(
        desk.session,
        actor=other_owner.principal,
        data=RewardIn(kind=RewardKind.coupon, title="别家的券", points_price=1, stock=1),
    )
    before = await service.rules_of(desk.session, desk.tenant.id)
    with pytest.raises(AppError) as refused:
        await desk.rules(rewards=[DayReward(day=7, points=20, reward_id=theirs.id)])
    assert refused.value.status == 404
    assert await service.rules_of(desk.session, desk.tenant.id) == before


async def test_a_free_draw_spends_no_points_and_is_not_held_back_by_the_caps(desk: Desk) -> None:
    import random

    from siyu.mall import lottery
    from siyu.mall.models import PrizeKind
    from siyu.mall.schemas import LotteryIn, PrizeIn

    start = desk.local(D, hour=0)
    wheel = await lottery.create_lottery(
        desk.session,
        actor=desk.owner,
        data=LotteryIn(
            title="幸运大转盘",
            points_cost=50,
            cap_total=1,
            starts_at=start,
            ends_at=start + timedelta(days=20),
            prizes=[
                PrizeIn(kind=PrizeKind.points, title="10 积分", weight=1, points=10, stock=100),
                PrizeIn(kind=PrizeKind.nothing, title="谢谢参与", weight=1),
            ],
        ),
    )
    saved = await desk.rules(base_points=1, cycle_days=2, rewards=[DayReward(day=2, points=1, lottery_id=wheel.id)])
    assert service.rules_out(saved).preview[1].gift == "一次“幸运大转盘”免费抽奖"
    fan = await desk.fan(points=60)
    tz = desk.tenant.timezone

    async def draw(day: date) -> int:
        row = await lottery.draw(
            desk.session,
            tenant_id=desk.tenant.id,
            timezone=tz,
            member_id=fan,
            lottery_id=wheel.id,
            now=desk.local(day, hour=13),
            rng=random.Random(1),
        )
        return row.points_cost

    first = await desk.check_in(fan, desk.local(D))
    assert first.free_draw_lottery_id is None
    assert await draw(D) == 50  # her one draw of the campaign, paid
    second = await desk.check_in(fan, desk.local(D + timedelta(days=1)))
    assert second.free_draw_lottery_id == wheel.id
    left = await lottery.chances(
        desk.session, tenant_id=desk.tenant.id, lottery=wheel, member_id=fan, timezone=tz, now=desk.local(D)
    )
    assert (left.total, left.free) == (0, 1)
    assert await desk.available(fan) < 50  # neither her points nor the cap hold the free draw back
    assert await draw(D + timedelta(days=1)) == 0
    with pytest.raises(lottery.OverDrawLimit):
        await draw(D + timedelta(days=1))
    again = await desk.check_in(fan, desk.local(D + timedelta(days=1), hour=21))
    assert again.created is False and again.free_draw_lottery_id is None
