"""积分抽奖: the wheel follows the weights; the cost is spent through the ledger; caps, stock fallback, prizes of
points and rewards; set-up rules; concurrent draws keep the caps (PostgreSQL)."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.audit.models import AuditEntry
from siyu.db import create_engine
from siyu.kit.errors import AppError
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.ledger.audit import check_invariants
from siyu.ledger.models import Entry
from siyu.mall import fulfil, lottery, service
from siyu.mall.models import Draw, Lottery, PrizeKind, Redemption, RewardKind, Status
from siyu.mall.schemas import LotteryIn, PrizeIn, ShipIn
from siyu.members import service as members
from siyu.tenants import service as tenants
from tests.mall.conftest import ADDRESS, Mall
from tests.support.databases import backend, fresh_database

TZ = "Asia/Shanghai"
NOTHING = PrizeIn(kind=PrizeKind.nothing, title="谢谢参与", weight=1)


def campaign(mall_now: Any, *prizes: PrizeIn, **values: Any) -> LotteryIn:
    data: dict[str, Any] = {
        "title": "周末大转盘",
        "points_cost": 10,
        "starts_at": mall_now - timedelta(days=1),
        "ends_at": mall_now + timedelta(days=1),
        "prizes": list(prizes) or [PrizeIn(kind=PrizeKind.points, title="50 积分", weight=1, points=50), NOTHING],
    }
    data.update(values)
    return LotteryIn(**data)


async def _draw(mall: Mall, fan: int, row: Lottery, **kw: Any) -> Draw:
    return await lottery.draw(
        mall.session, tenant_id=mall.tenant_id, timezone=TZ, member_id=fan, lottery_id=row.id, now=mall.now, **kw
    )


def test_draw_frequencies_match_the_weights() -> None:
    """20,000 spins of a 5:3:2 wheel (and a weight-0 entry) pass a chi-square test at a generous critical value."""
    weights = {"一等奖": 5, "二等奖": 3, "谢谢参与": 2, "停用": 0}
    draws = 20_000
    rng = random.Random(20261123)
    counts = Counter(lottery.pick(list(weights.items()), rng) for _ in range(draws))
    assert counts["停用"] == 0
    total = sum(weights.values())
    chi_square = sum(
        (counts[key] - draws * w / total) ** 2 / (draws * w / total) for key, w in weights.items() if w > 0
    )
    # Two degrees of freedom: the 99.9th percentile is 13.8.
    assert chi_square < 13.8, (chi_square, counts)
    skewed = {"一等奖": 55, "二等奖": 25, "谢谢参与": 20}  # the same counts judged against a wrong wheel
    off = sum((counts[k] - draws * w / 100) ** 2 / (draws * w / 100) for k, w in skewed.items())
    assert off > 13.8, off


def test_a_wheel_needs_a_weight() -> None:
    with pytest.raises(ValueError):
        lottery.pick([("谢谢参与", 0)], random.Random(1))


async def test_a_draw_spends_the_cost_through_the_ledger_and_credits_points_won(mall: Mall) -> None:
    fan = await mall.fan(100)
    row = await lottery.create_lottery(mall.session, actor=mall.owner, data=campaign(mall.now))
    rng = random.Random(7)
    results = [await _draw(mall, fan, row, rng=rng) for _ in range(6)]
    won = sum(d.points_won for d in results)
    assert {d.kind for d in results} == {PrizeKind.points, PrizeKind.nothing}
    assert await mall.available(fan) == 100 - 60 + won
    spends = (await mall.session.scalars(select(Entry).where(Entry.source_ref.like("lottery:%")))).all()
    assert sorted(e.amount for e in spends) == [-10] * 6 and all("周末大转盘" in e.explanation for e in spends)
    stored = (await mall.session.scalars(select(Draw).where(Draw.member_id == fan))).all()
    assert len(stored) == 6
    audited = (await mall.session.scalars(select(AuditEntry).where(AuditEntry.action == "lottery.draw"))).all()
    assert len(audited) == 6 and {a.actor_id for a in audited} == {fan}
    assert await check_invariants(mall.session, mall.tenant_id) == []


async def test_caps_window_and_points_refuse_and_take_nothing(mall: Mall) -> None:
    fan = await mall.fan(1000)
    row = await lottery.create_lottery(
        mall.session, actor=mall.owner, data=campaign(mall.now, cap_per_day=2, cap_total=3)
    )
    for _ in range(2):
        await _draw(mall, fan, row)
    balance = await mall.available(fan)
    with pytest.raises(AppError) as refused:
        await _draw(mall, fan, row)
    assert refused.value.code == "over_draw_limit" and "每天最多抽 2 次" in refused.value.message
    assert await mall.available(fan) == balance

    mall.now += timedelta(hours=20)  # the next local day
    await _draw(mall, fan, row)
    with pytest.raises(AppError) as refused:
        await _draw(mall, fan, row)
    assert refused.value.code == "over_draw_limit" and "最多抽 3 次" in refused.value.message

    poor = await mall.fan(5)
    with pytest.raises(AppError) as refused:
        await _draw(mall, poor, row)
    assert refused.value.code == "insufficient_points" and "还差 5 积分" in refused.value.message
    assert await mall.available(poor) == 5

    mall.now += timedelta(days=2)
    with pytest.raises(AppError) as refused:
        await _draw(mall, poor, row)
    assert refused.value.code == "outside_window"
    assert (await mall.session.scalars(select(Draw).where(Draw.member_id == poor))).all() == []


async def test_a_prize_out_of_stock_falls_back_to_no_prize(mall: Mall) -> None:
    fan = await mall.fan(1000)
    only_one = PrizeIn(kind=PrizeKind.points, title="100 积分", weight=1_000_000, stock=1, points=100)
    row = await lottery.create_lottery(mall.session, actor=mall.owner, data=campaign(mall.now, only_one, NOTHING))
    first = await _draw(mall, fan, row, rng=random.Random(3))
    second = await _draw(mall, fan, row, rng=random.Random(3))
    assert (first.kind, first.points_won, first.fell_back) == (PrizeKind.points, 100, False)
    assert (second.kind, second.title, second.fell_back) == (PrizeKind.nothing, "谢谢参与", True)
    assert second.drawn_prize_id == first.prize_id and second.prize_id is None
    prizes = await lottery.prizes_of(mall.session, tenant_id=mall.tenant_id, lottery_id=row.id)
    assert [(p.stock, p.won) for p in prizes if p.kind == PrizeKind.points] == [(0, 1)]
    assert await mall.available(fan) == 1000 - 20 + 100


async def test_a_reward_prize_becomes_a_redemption_that_spent_nothing(mall: Mall) -> None:
    fan = await mall.fan(100)
    coupon = await mall.reward(title="满 99 减 20 券", points_price=50, stock=1)
    prize = PrizeIn(kind=PrizeKind.reward, title="满 99 减 20 券", weight=1_000_000, reward_id=coupon.id)
    row = await lottery.create_lottery(mall.session, actor=mall.owner, data=campaign(mall.now, prize, NOTHING))
    won = await _draw(mall, fan, row, rng=random.Random(5))
    assert won.kind == PrizeKind.reward and won.redemption_id is not None
    redemption = await mall.session.get(Redemption, (mall.tenant_id, won.redemption_id))
    assert redemption is not None and (redemption.points, redemption.status) == (0, Status.completed)
    assert await mall.available(fan) == 90
    # The mall's stock ran out: the next win falls back to no prize, and nothing is taken.
    again = await _draw(mall, fan, row, rng=random.Random(5))
    assert (again.kind, again.fell_back, again.redemption_id) == (PrizeKind.nothing, True, None)
    prizes = await lottery.prizes_of(mall.session, tenant_id=mall.tenant_id, lottery_id=row.id)
    assert [p.won for p in prizes if p.kind == PrizeKind.reward] == [1]
    assert await check_invariants(mall.session, mall.tenant_id) == []


async def test_a_double_tap_is_one_draw(mall: Mall) -> None:
    fan = await mall.fan(100)
    row = await lottery.create_lottery(mall.session, actor=mall.owner, data=campaign(mall.now))
    first = await _draw(mall, fan, row, idempotency_key="tap-1")
    second = await _draw(mall, fan, row, idempotency_key="tap-1")
    assert first.id == second.id and await mall.available(fan) == 90 + first.points_won


async def test_set_up_rules(mall: Mall) -> None:
    points = PrizeIn(kind=PrizeKind.points, title="50 积分", weight=1, points=50)
    with pytest.raises(ValidationError, match="未中奖"):
        campaign(mall.now, points, points.model_copy(update={"title": "10 积分", "points": 10}))
    with pytest.raises(ValidationError, match="送多少积分"):
        PrizeIn(kind=PrizeKind.points, title="积分", weight=1)
    row = await lottery.create_lottery(mall.session, actor=mall.owner, data=campaign(mall.now))
    prizes = await lottery.prizes_of(mall.session, tenant_id=mall.tenant_id, lottery_id=row.id)
    fan = await mall.fan(1000)
    drawn = {(await _draw(mall, fan, row, rng=random.Random(n))).drawn_prize_id for n in range(12)}
    assert drawn == {p.id for p in prizes}
    # A prize somebody drew cannot be removed; its weight can go to 0; a new prize can be added.
    keep_only_blank = campaign(
        mall.now,
        PrizeIn(id=prizes[1].id, kind=PrizeKind.nothing, title="谢谢参与", weight=1),
        PrizeIn(kind=PrizeKind.nothing, title="再接再厉", weight=1),
    )
    with pytest.raises(AppError) as refused:
        await lottery.update_lottery(mall.session, actor=mall.owner, lottery_id=row.id, data=keep_only_blank)
    assert refused.value.code == "prize_in_use"
    zeroed = campaign(
        mall.now,
        PrizeIn(id=prizes[0].id, kind=PrizeKind.points, title="50 积分", weight=0, points=50),
        PrizeIn(id=prizes[1].id, kind=PrizeKind.nothing, title="谢谢参与", weight=1),
    )
    await lottery.update_lottery(mall.session, actor=mall.owner, lottery_id=row.id, data=zeroed)
    assert {(await _draw(mall, fan, row)).kind for _ in range(5)} == {PrizeKind.nothing}
    with pytest.raises(AppError) as refused:
        await lottery.delete_lottery(mall.session, actor=mall.owner, lottery_id=row.id)
    assert refused.value.code == "lottery_in_use"
    unused = await lottery.create_lottery(mall.session, actor=mall.owner, data=campaign(mall.now))
    await lottery.delete_lottery(mall.session, actor=mall.owner, lottery_id=unused.id)
    actions = set(await mall.session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "lottery")))
    assert {"lottery.create", "lottery.update", "lottery.delete", "lottery.draw"} <= actions


async def test_another_tenants_campaign_is_not_found(mall: Mall) -> None:
    row = await lottery.create_lottery(mall.session, actor=mall.owner, data=campaign(mall.now))
    with pytest.raises(lottery.LotteryNotFound):
        await lottery.get_lottery(mall.session, tenant_id=mall.tenant_id + 1, lottery_id=row.id)
    assert await service.list_rewards(mall.session, tenant_id=mall.tenant_id) == []


# Concurrency (PostgreSQL: real connections committing at the same time)

postgres_only = pytest.mark.skipif(backend() != "postgres", reason="concurrent writers need PostgreSQL")


@pytest.fixture(scope="module")
def lottery_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if backend() != "postgres":
        pytest.skip("concurrent writers need PostgreSQL")
    with fresh_database(tmp_path_factory.mktemp("lottery-db"), "lottery") as url:
        yield url


@pytest.fixture
async def db(lottery_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    from siyu.db import create_sessionmaker

    engine = create_engine(lottery_database_url, pool_size=12)
    yield create_sessionmaker(engine)
    await engine.dispose()


@postgres_only
async def test_concurrent_draws_keep_the_caps_and_the_stock(db: async_sessionmaker[AsyncSession]) -> None:
    from siyu.kit.time import utcnow

    now = utcnow()
    async with db() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug=f"wheel-{secrets.token_hex(5)}", name="星河直播间")
        owner = Principal(tenant_id=tenant.id, kind="system", actor_id=None, label="t", permissions=frozenset())
        big = PrizeIn(kind=PrizeKind.points, title="88 积分", weight=1_000_000, stock=3, points=88)
        row = await lottery.create_lottery(
            session, actor=owner, data=campaign(now, big, NOTHING, cap_per_day=4, cap_total=4)
        )
        fans = []
        for n in range(3):
            member = await members.create_member(session, tenant_id=tenant.id)
            await ledger.earn(session, tenant_id=tenant.id, member_id=member.id, amount=1000, source_ref=f"seed:{n}")
            fans.append(member.id)

    async def attempt(member_id: int) -> Any:
        try:
            async with db() as session, session.begin():
                return await lottery.draw(
                    session, tenant_id=tenant.id, timezone=TZ, member_id=member_id, lottery_id=row.id
                )
        except AppError as error:
            return error.code

    results = await asyncio.gather(*(attempt(m) for m in fans for _ in range(8)))
    made = [r for r in results if isinstance(r, Draw)]
    assert len(made) == 12 and {r for r in results if isinstance(r, str)} == {"over_draw_limit"}
    assert Counter(d.member_id for d in made) == dict.fromkeys(fans, 4)
    assert sum(d.kind == PrizeKind.points for d in made) == 3  # the stock, never more
    async with db() as session:
        for member_id in fans:
            won = sum(d.points_won for d in made if d.member_id == member_id)
            balance = await ledger.balance(session, tenant_id=tenant.id, member_id=member_id)
            assert balance.available == 1000 - 40 + won
        assert await check_invariants(session, tenant.id) == []


async def test_goods_won_wait_for_her_address_then_ship_or_go_back_to_stock(mall: Mall) -> None:
    goods = await mall.reward(kind=RewardKind.physical, title="保温杯", stock=2)
    cup = PrizeIn(kind=PrizeKind.reward, title="保温杯", weight=1_000_000, reward_id=goods.id)
    row = await lottery.create_lottery(mall.session, actor=mall.owner, data=campaign(mall.now, cup, NOTHING))
    fan = await mall.fan(100)
    won = await _draw(mall, fan, row, rng=random.Random(3))
    assert won.redemption_id is not None and await mall.available(fan) == 90
    prize = await service.get_redemption(mall.session, tenant_id=mall.tenant_id, redemption_id=won.redemption_id)
    assert (prize.status, prize.points, prize.address) == (Status.awaiting_address, 0, None)
    with pytest.raises(fulfil.WrongStatus):  # nowhere to send it yet
        await fulfil.ship(
            mall.session,
            actor=mall.owner,
            redemption_id=prize.id,
            data=ShipIn(carrier="顺丰速运", tracking_no="SF1234"),
        )
    other = await mall.fan(0)
    with pytest.raises(service.RedemptionNotFound):
        await service.set_address(
            mall.session, tenant_id=mall.tenant_id, member_id=other, redemption_id=prize.id, address=ADDRESS
        )
    given = await service.set_address(
        mall.session, tenant_id=mall.tenant_id, member_id=fan, redemption_id=prize.id, address=ADDRESS
    )
    assert given.status == Status.pending_shipment and given.address and given.address["detail"] == ADDRESS.detail
    await fulfil.ship(
        mall.session, actor=mall.owner, redemption_id=prize.id, data=ShipIn(carrier="顺丰速运", tracking_no="SF1234")
    )
    with pytest.raises(service.AddressLocked):  # on its way: too late to send it elsewhere
        await service.set_address(
            mall.session, tenant_id=mall.tenant_id, member_id=fan, redemption_id=prize.id, address=ADDRESS
        )
    second = await _draw(mall, fan, row, rng=random.Random(4))
    assert second.redemption_id is not None
    cancelled = await fulfil.cancel(
        mall.session, actor=mall.owner, redemption_id=second.redemption_id, reason="活动作废"
    )
    assert cancelled.status == Status.cancelled and await mall.available(fan) == 80  # the draw's cost stays spent
    assert (await service.get_reward(mall.session, tenant_id=mall.tenant_id, reward_id=goods.id)).stock == 1
