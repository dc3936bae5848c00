"""Leaderboards of a live show or a points campaign, and mall rewards as prizes: the window comes from what the board
belongs to; settling gives each rank its reward once, free of points, and a reward out of stock leaves the rank its
points."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.referrals import service
from siyu.engagement.referrals.schemas import BoardIn
from siyu.kit.errors import AppError
from siyu.live import service as live
from siyu.live.schemas import ShowIn
from siyu.loyalty import service as loyalty
from siyu.loyalty.schemas import CampaignIn
from siyu.mall import service as mall
from siyu.mall.models import Redemption, Reward, RewardKind
from siyu.mall.schemas import RewardIn
from siyu.tenants.models import Platform
from tests.engagement.referrals.conftest import Invites
from tests.support import factories


async def _reward(invites: Invites, title: str = "定制帆布袋", stock: int = 5) -> Reward:
    data = RewardIn(kind=RewardKind.physical, title=title, points_price=800, stock=stock)
    return await mall.create_reward(invites.session, actor=invites.owner, data=data)


async def test_a_board_of_a_live_show_runs_until_the_show_ends(invites: Invites, session: AsyncSession) -> None:
    channel = await factories.channel(session, invites.owner, Platform.douyin)
    start = invites.now + timedelta(days=2)
    show = await live.create_show(
        session,
        actor=invites.owner,
        data=ShowIn(channel_id=channel.id, title="双12 专场", starts_at=start, ends_at=start + timedelta(hours=3)),
    )
    board = await service.create_board(
        session, actor=invites.owner, data=BoardIn(title="直播邀请榜", show_id=show.id, prizes=[100]), now=invites.now
    )
    assert board.show_id == show.id and board.starts_at == invites.now and board.ends_at == show.ends_at


async def test_a_board_of_a_campaign_takes_its_window(invites: Invites, session: AsyncSession) -> None:
    start = invites.now + timedelta(days=1)
    campaign = await loyalty.create_campaign(
        session,
        actor=invites.owner,
        data=CampaignIn(name="双11", starts_at=start, ends_at=start + timedelta(days=1), multiplier_pct=200),
    )
    board = await service.create_board(
        session, actor=invites.owner, data=BoardIn(title="双11 邀请榜", campaign_id=campaign.id, prizes=[50])
    )
    assert (board.starts_at, board.ends_at, board.campaign_id) == (campaign.starts_at, campaign.ends_at, campaign.id)


async def test_a_board_needs_a_window_or_what_it_belongs_to(invites: Invites) -> None:
    with pytest.raises(ValueError, match="请填写开始和结束时间"):
        BoardIn(title="榜", prizes=[10])
    with pytest.raises(ValueError, match="至少一名要有奖励"):
        BoardIn(title="榜", starts_at=invites.now, ends_at=invites.later(60), prizes=[0])


async def test_another_tenants_reward_is_refused_as_a_prize(invites: Invites, session: AsyncSession) -> None:
    other = await factories.tenant(session)
    other_owner = await factories.staff_login(session, other.id)
    data = RewardIn(kind=RewardKind.physical, title="别家的奖品", points_price=10, stock=1)
    theirs = await mall.create_reward(session, actor=other_owner.principal, data=data)
    with pytest.raises(AppError) as refused:
        await service.create_board(
            session,
            actor=invites.owner,
            data=BoardIn(title="榜", starts_at=invites.now, ends_at=invites.later(60), reward_ids=[theirs.id]),
        )
    assert refused.value.status == 404
    assert await service.boards(session, tenant_id=invites.tenant_id) == []


async def test_settling_gives_each_rank_its_reward_once_and_points_when_none_is_left(
    invites: Invites, session: AsyncSession
) -> None:
    bag = await _reward(invites, stock=1)  # enough for the first rank only
    first, second = await invites.member("一号"), await invites.member("二号")
    codes = {first.id: await invites.code(first), second.id: await invites.code(second, device="d2", ip="i2")}
    board = await service.create_board(
        session,
        actor=invites.owner,
        data=BoardIn(
            title="榜",
            starts_at=invites.later(-60),
            ends_at=invites.later(60),
            prizes=[0, 30],
            reward_ids=[bag.id, bag.id],
        ),
    )
    for _ in range(2):
        await invites.join(codes[first.id])
    await invites.join(codes[second.id])
    standings = await service.standings(session, board=board)
    assert [(s.member_id, s.prize_points, s.prize_reward_id) for s in standings] == [
        (first.id, 0, bag.id),
        (second.id, 30, bag.id),
    ]

    assert await service.settle(session, tenant_id=invites.tenant_id, board_id=board.id, now=invites.later(61)) == 2
    assert await service.settle(session, tenant_id=invites.tenant_id, board_id=board.id, now=invites.later(62)) == 0
    given = list(await session.scalars(select(Redemption).where(Redemption.tenant_id == invites.tenant_id)))
    assert [(r.member_id, r.points, r.title, r.status) for r in given] == [
        (first.id, 0, "定制帆布袋", "awaiting_address")
    ]
    prizes = {p.rank: p for p in await service.prizes_of_board(session, tenant_id=invites.tenant_id, board_id=board.id)}
    assert prizes[1].redemption_id == given[0].id and prizes[1].reward_title == "定制帆布袋"
    assert prizes[2].redemption_id is None and prizes[2].points == 30  # the bag ran out: her points stand
    assert await invites.available(first.id) == 0 and await invites.available(second.id) == 30
    assert await service.prize_rewards(session, board=board) == ["定制帆布袋", "定制帆布袋"]
