"""Fulfilment shows goods won in a lottery while they wait for the winner's address, and the lottery form says
physical prizes are accepted."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from siyu.kit.time import utcnow
from siyu.ledger import service as ledger
from siyu.mall import lottery, service
from siyu.mall.models import PrizeKind, RewardKind, Status
from siyu.mall.schemas import LotteryIn, PrizeIn, RewardIn
from tests.console.conftest import Desk
from tests.support import factories


async def test_goods_won_wait_under_their_own_tab_until_the_address_comes(desk: Desk) -> None:
    now = utcnow()
    cup = await service.create_reward(
        desk.session,
        actor=desk.owner,
        data=RewardIn(kind=RewardKind.physical, title="直播间保温杯", points_price=100, stock=5),
    )
    wheel = await lottery.create_lottery(
        desk.session,
        actor=desk.owner,
        data=LotteryIn(
            title="周末大转盘",
            points_cost=10,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
            prizes=[
                PrizeIn(kind=PrizeKind.reward, title="直播间保温杯", weight=1_000_000, reward_id=cup.id),
                PrizeIn(kind=PrizeKind.nothing, title="谢谢参与", weight=1),
            ],
        ),
    )
    fan = await factories.member(desk.session, desk.tenant_id)
    await ledger.earn(desk.session, tenant_id=desk.tenant_id, member_id=fan.id, amount=50, source_ref="seed:cup")
    won = await lottery.draw(
        desk.session, tenant_id=desk.tenant_id, timezone="Asia/Shanghai", member_id=fan.id, lottery_id=wheel.id
    )
    assert won.redemption_id is not None

    page = (await desk.get("/console/mall/redemptions", status=Status.awaiting_address)).text
    tabs = page[page.index('id="status-filter"') : page.index("</ul>", page.index('id="status-filter"'))]
    assert "待填地址" in tabs and 'href="/console/mall/redemptions?status=awaiting_address"' in tabs
    assert f'data-redemption="{won.redemption_id}"' in page and "直播间保温杯" in page
    waiting = (await desk.get("/console/mall/redemptions", status=Status.pending_shipment)).text
    assert f'data-redemption="{won.redemption_id}"' not in waiting  # nothing to ship before the address

    form = (await desk.get(f"/console/mall/lottery/{wheel.id}")).text
    assert "实物" in form and "只能选卡券" not in form


async def test_the_member_page_names_lottery_spending_and_the_last_day_points_are_valid(desk: Desk) -> None:
    now = utcnow()
    wheel = await lottery.create_lottery(
        desk.session,
        actor=desk.owner,
        data=LotteryIn(
            title="周末大转盘",
            points_cost=10,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
            prizes=[
                PrizeIn(kind=PrizeKind.nothing, title="谢谢参与", weight=1),
                PrizeIn(kind=PrizeKind.points, title="1 积分", weight=1, points=1),
            ],
        ),
    )
    fan = await factories.member(desk.session, desk.tenant_id)
    gone_at = datetime(2099, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai"))  # the first moment they are gone
    await ledger.earn(
        desk.session, tenant_id=desk.tenant_id, member_id=fan.id, amount=50, source_ref="seed:year", expires_at=gone_at
    )
    await lottery.draw(
        desk.session, tenant_id=desk.tenant_id, timezone="Asia/Shanghai", member_id=fan.id, lottery_id=wheel.id
    )
    page = (await desk.get(f"/console/members/{fan.id}")).text
    entries = page[page.index('id="entries"') :]
    assert "积分抽奖" in entries and "积分兑换" not in entries
    assert "2098-12-31" in page and "2099-01-01" not in page
