"""Every dashboard figure against a small tenant computed by hand, and the figures of a tenant with nothing."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.analytics import service
from siyu.analytics.periods import Period, period_of
from siyu.kit.errors import InvalidInput
from siyu.kit.time import to_local, utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from tests.analytics.support import credit, order
from tests.support import factories


def this_month(timezone: str = "Asia/Shanghai") -> Period:
    today = to_local(utcnow(), timezone).date()
    return Period(today - timedelta(days=29), today)


async def test_every_figure_of_a_small_tenant(session: AsyncSession, tmp_path: Path) -> None:
    shop = (await factories.tenant(session)).id
    other = (await factories.tenant(session)).id  # its numbers must not show
    now = utcnow()
    m1, m2, m3 = [await factories.member(session, shop, name) for name in ("小一", "小二", "小三")]
    o1 = await order(session, shop, paid_at=now - timedelta(days=1), paid_fen=10000)
    await order(session, shop, paid_at=now - timedelta(days=2), paid_fen=20000)  # nobody claimed it
    o3 = await order(session, shop, paid_at=now - timedelta(days=3), paid_fen=5000, platform="douyin")
    await order(session, shop, paid_at=now - timedelta(days=3), paid_fen=7000, platform="douyin", status="unpaid")
    o5 = await order(session, shop, paid_at=now - timedelta(days=35), paid_fen=8000)  # the period before
    o6 = await order(session, shop, paid_at=now - timedelta(days=1), paid_fen=0)  # zero fen
    o7 = await order(  # refunded more than paid
        session,
        shop,
        paid_at=now - timedelta(days=1),
        paid_fen=3000,
        refund_fen=5000,
        platform="douyin",
        status="refunding",
    )
    o8 = await order(session, shop, paid_at=now + timedelta(days=10), paid_fen=9900)  # dated in the future
    for o, m in ((o1, m1), (o3, m2), (o5, m1), (o6, m3), (o7, m2), (o8, m3)):
        await credit(session, o, m.id)
    stranger = await factories.member(session, other)
    await credit(session, await order(session, other, paid_at=now, paid_fen=99900), stranger.id)

    await ledger.earn(session, tenant_id=shop, member_id=m1.id, amount=100, source_ref="order:taobao:a")
    await ledger.earn(session, tenant_id=shop, member_id=m2.id, amount=50, source_ref="order:douyin:b", pending=True)
    await ledger.spend(session, tenant_id=shop, member_id=m1.id, amount=30, source_ref="redemption:1")
    staff = Principal(tenant_id=shop, kind="staff", actor_id=1, label="店主")
    await ledger.adjust(session, tenant_id=shop, member_id=m3.id, amount=20, reason="补偿", actor=staff)
    await ledger.earn(
        session,
        tenant_id=shop,
        member_id=m3.id,
        amount=10,
        source_ref="order:taobao:c",
        expires_at=now - timedelta(days=1),
        now=now - timedelta(days=2),
    )
    await ledger.expire(session, tenant_id=shop, now=now)
    await ledger.earn(session, tenant_id=other, member_id=stranger.id, amount=5000, source_ref="order:taobao:z")

    board = await service.dashboard(session, tenant_id=shop, timezone="Asia/Shanghai", period=this_month())
    assert board.members == 3
    assert (board.new_members.now, board.new_members.before) == (3, 0)
    by = {p.platform: p for p in board.platforms}
    assert list(by) == ["taobao", "douyin"]
    taobao, douyin = by["taobao"], by["douyin"]
    assert (taobao.orders.now, taobao.claimed.now, taobao.gmv_fen.now, taobao.claimed_fen.now) == (3, 2, 30000, 10000)
    assert (taobao.orders.before, taobao.claimed.before, taobao.gmv_fen.before) == (1, 1, 8000)
    assert taobao.rate == (2 / 3, 1.0)
    assert taobao.gmv_rate == (1 / 3, 1.0)
    assert (douyin.orders.now, douyin.claimed.now, douyin.gmv_fen.now, douyin.claimed_fen.now) == (2, 2, 8000, 8000)
    assert douyin.rate == (1.0, None)  # nothing before: no rate, not a division by zero
    assert (board.total.orders.now, board.total.claimed.now) == (5, 4)
    assert (board.issued.now, board.spent.now, board.expired.now) == (180, 30, 10)
    assert (board.available, board.pending, board.debt) == (90, 50, 0)
    assert board.yuan_per_point == Decimal("0.01") and board.liability_fen == 90
    assert sum(n for _, _, n in board.joined_series) == 3 and len(board.joined_series) == 30

    # The snapshot gives the same figures, for this period and one with nothing in it
    await service.refresh(session, tenant_id=shop, directory=tmp_path)
    for period in (this_month(), Period(date(2020, 1, 1), date(2020, 1, 31))):
        from_database = await service.dashboard(session, tenant_id=shop, timezone="Asia/Shanghai", period=period)
        from_snapshot = await service.dashboard(
            session, tenant_id=shop, timezone="Asia/Shanghai", period=period, directory=tmp_path
        )
        assert from_snapshot.orders_as_of is not None
        assert replace(from_snapshot, orders_as_of=None) == from_database

    await service.save_settings(session, tenant_id=shop, yuan_per_point=Decimal("0.5"))
    board = await service.dashboard(session, tenant_id=shop, timezone="Asia/Shanghai", period=this_month())
    assert board.liability_fen == 4500
    await service.save_settings(session, tenant_id=shop, yuan_per_point=service.parse_rate("0"))
    board = await service.dashboard(session, tenant_id=shop, timezone="Asia/Shanghai", period=this_month())
    assert board.liability_fen == 0


async def test_a_tenant_with_nothing_has_zeros_and_no_rates(session: AsyncSession) -> None:
    shop = (await factories.tenant(session)).id
    board = await service.dashboard(session, tenant_id=shop, timezone="Asia/Shanghai", period=this_month())
    assert board.members == 0 and board.platforms == [] and board.total.rate == (None, None)
    assert (board.issued.now, board.available, board.liability_fen) == (0, 0, 0)
    assert board.new_members.change is None


@pytest.mark.parametrize("text", ["abc", "-1", "0.00001", "1e9", "NaN", ""])
async def test_a_rate_that_is_not_one(text: str) -> None:
    with pytest.raises(InvalidInput):
        service.parse_rate(text)


def test_periods_read_what_people_type() -> None:
    today = Period(period_of(None, None, today=utcnow().date()).last, utcnow().date()).last
    p = period_of("2026-11-01", "2026-11-30", today=today)
    assert (p.days, p.previous()) == (30, Period(p.first - timedelta(days=30), p.first - timedelta(days=1)))
    assert period_of("2026-11-30", "2026-11-01", today=today) == p  # reversed ends swapped
    assert period_of("garbage", "", today=today) == Period(today - timedelta(days=29), today)
    assert period_of("2020-01-01", "2026-11-30", today=today).days == 366
