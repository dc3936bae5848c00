"""What the private domain contributes, against a tenant computed by hand: members (claimed or bound account),
members who reserved a show that month, unknown buyers, the members' share, repeat purchase of members and of the
rest; months without orders, refunds, zero-fen and unpaid orders; the page, its export and the API; tenants apart."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import polars as pl
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.analytics import service
from siyu.analytics.periods import months_of
from siyu.kit.ids import new_id
from siyu.kit.time import to_local, utcnow
from siyu.live.models import Reservation, Show
from siyu.members import service as members
from tests.analytics.support import credit, order
from tests.support import factories


@pytest.fixture
def own_data_dir(app: FastAPI, tmp_path: Path) -> Path:
    app.state.settings = app.state.settings.model_copy(update={"data_dir": tmp_path})
    return tmp_path


def _month(back: int, timezone: str) -> tuple[str, datetime]:
    """ "2026-10" of `back` months before this one, and noon on its 10th (tenant-local) as an aware instant."""
    today = to_local(utcnow(), timezone)
    index = today.year * 12 + today.month - 1 - back
    year, number = index // 12, index % 12 + 1
    return f"{year:04d}-{number:02d}", datetime(year, number, 10, 12, tzinfo=ZoneInfo(timezone))


async def _show(session: AsyncSession, tenant_id: int, starts_at: datetime, reservers: dict[int, bool]) -> Show:
    """A past show on Taobao with reservations (member -> still held)."""
    show = Show(
        tenant_id=tenant_id,
        id=new_id(),
        channel_id=None,
        platform="taobao",
        title="年货节护肤专场",
        benefits=[],
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        version=0,
        notice="",
        created_at=starts_at - timedelta(days=3),
    )
    session.add(show)
    await session.flush()
    for member_id, held in reservers.items():
        session.add(
            Reservation(
                tenant_id=tenant_id,
                id=new_id(),
                show_id=show.id,
                member_id=member_id,
                reserved_at=starts_at - timedelta(days=1),
                cancelled_at=None if held else starts_at - timedelta(hours=5),
            )
        )
    await session.flush()
    return show


async def _shop(session: AsyncSession) -> tuple[int, str, list[str]]:
    """The tenant worked out by hand in the tests below; returns (tenant, timezone, [m2, m1, m0])."""
    tenant = await factories.tenant(session)
    shop, zone = tenant.id, tenant.timezone
    (m0, at0), (m1, _), (m2, at2) = _month(0, zone), _month(1, zone), _month(2, zone)
    a = await factories.member(session, shop, "阿美")  # claims; reserved this month's show
    b = await factories.member(session, shop, "小贝")  # bound nick_b; reserved the show two months ago
    c = await factories.member(session, shop, "小慈")  # claimed one order of nick_c
    await members.bind_identity(session, tenant_id=shop, member=b, kind="taobao_nick", value="nick_b")
    await _show(session, shop, at0, {a.id: True, c.id: False})  # c cancelled hers
    await _show(session, shop, at2, {b.id: True, a.id: False})
    # this month
    await credit(session, await order(session, shop, paid_at=at0, paid_fen=10000, buyer_nick="nick_a"), a.id)
    await credit(session, await order(session, shop, paid_at=at0, paid_fen=5000, refund_fen=2000), a.id)
    await credit(
        session,
        await order(session, shop, paid_at=at0, paid_fen=3000, refund_fen=3000, status="refunded"),
        a.id,
    )
    await order(session, shop, paid_at=at0, paid_fen=20000, buyer_nick="nick_b")  # bound account, not credited
    await order(session, shop, paid_at=at0, paid_fen=8000, buyer_nick="nick_x")
    await order(session, shop, paid_at=at0, paid_fen=0, buyer_nick="nick_x")  # a zero-fen order
    await order(session, shop, paid_at=at0, paid_fen=4000, buyer_nick="x***y")  # masked: nobody can be told
    await order(session, shop, paid_at=at0, paid_fen=9999, status="unpaid", buyer_nick="nick_x")
    await credit(session, await order(session, shop, paid_at=at0, paid_fen=6000, buyer_nick="nick_c"), c.id)
    await order(session, shop, paid_at=at0, paid_fen=7000, buyer_nick="nick_c")  # tied to c, not bound
    # two months ago
    await credit(session, await order(session, shop, paid_at=at2, paid_fen=15000, status="completed"), b.id)
    await order(session, shop, paid_at=at2, paid_fen=5000, buyer_nick="nick_x")
    return shop, zone, [m2, m1, m0]


async def test_the_figures_of_a_tenant_worked_out_by_hand(session: AsyncSession, tmp_path: Path) -> None:
    shop, zone, months = await _shop(session)
    assert await service.contribution(session, tenant_id=shop, timezone=zone, months=months, directory=tmp_path) is None
    await service.refresh(session, tenant_id=shop, directory=tmp_path)
    found = await service.contribution(session, tenant_id=shop, timezone=zone, months=months, directory=tmp_path)
    assert found is not None
    (_, m2), (_, m1), (_, m0) = found.months
    # this month: 9 paid orders (the unpaid one left out) worth 10000 + 3000 + 0 + 20000 + 8000 + 0 + 4000 + 6000 + 7000
    assert (m0.orders, m0.gmv_fen) == (9, 58000)
    assert (m0.member_orders, m0.member_gmv_fen) == (5, 39000)  # a's three, b's bound account, c's claimed one
    assert (m0.reserved_orders, m0.reserved_gmv_fen) == (3, 13000)  # a reserved; c cancelled
    assert (m0.unknown_orders, m0.unknown_gmv_fen) == (4, 19000)
    assert m0.share == 39000 / 58000
    assert (m1.orders, m1.gmv_fen, m1.share) == (0, 0, None)  # a month without orders
    assert (m2.orders, m2.gmv_fen, m2.member_gmv_fen, m2.reserved_gmv_fen) == (2, 20000, 15000, 15000)
    # repeat: a (2 counted: the refunded one is not), b (bound order + two months ago) again; c once
    assert (found.members.buyers, found.members.repeat_buyers) == (3, 2)
    # the rest: nick_x three times (the zero-fen order counts), nick_c once; the masked order is nobody's
    assert (found.others.buyers, found.others.repeat_buyers, found.others.rate) == (2, 1, 0.5)
    assert found.unidentified_orders == 1
    assert found.total.gmv_fen == 78000 and found.total.member_gmv_fen == 54000


async def test_nothing_at_all_is_dashes_not_errors(
    session: AsyncSession, client: httpx.AsyncClient, own_data_dir: Path
) -> None:
    shop = (await factories.tenant(session)).id
    login = await factories.staff_login(session, shop, role="analyst")
    page = await client.get("/console/analytics/contribution", cookies=login.cookies)
    assert page.status_code == 200 and "立即计算" in page.text and "没有直播" in page.text
    done = await client.post(
        "/console/analytics/refresh",
        data={"csrf_token": login.csrf, "next": "/console/analytics/contribution"},
        cookies=login.cookies,
    )
    assert done.status_code == 303 and done.headers["location"] == "/console/analytics/contribution"
    page = await client.get(
        "/console/analytics/contribution", params={"first": "garbage", "last": "2031-99"}, cookies=login.cookies
    )
    assert page.status_code == 200 and 'data-stat="member_repeat">—<' in page.text and "没有已付款的订单" in page.text
    api = await client.get("/api/v1/analytics/contribution", cookies=login.cookies)
    body = api.json()
    assert api.status_code == 200 and len(body["months"]) == 12
    assert all(m["member_share"] is None and m["gmv_fen"] == 0 for m in body["months"])
    assert body["members_repeat"]["rate"] is None


async def test_the_page_the_export_and_the_api_and_tenants_stay_apart(
    session: AsyncSession, client: httpx.AsyncClient, own_data_dir: Path
) -> None:
    shop, _, months = await _shop(session)
    other = (await factories.tenant(session)).id
    stranger = await factories.member(session, other, "别家的会员")
    await credit(session, await order(session, other, paid_at=utcnow(), paid_fen=990000), stranger.id)
    await service.refresh(session, tenant_id=other, directory=own_data_dir / "analytics")
    login = await factories.staff_login(session, shop, role="owner")
    await client.post("/console/analytics/refresh", data={"csrf_token": login.csrf}, cookies=login.cookies)

    page = await client.get("/console/analytics/contribution", cookies=login.cookies)
    assert page.status_code == 200 and "contribution-chart" in page.text
    assert 'data-stat="gmv">¥780.00<' in page.text and 'data-stat="share">69.2%<' in page.text
    assert 'data-stat="member_repeat">66.7%<' in page.text and 'data-stat="other_repeat">50.0%<' in page.text
    assert "¥9,900.00" not in page.text  # the other tenant's order
    assert "年货节护肤专场" in page.text and "/console/live/" in page.text  # this month's show, linked to its report

    sheet = await client.get(
        "/console/analytics/contribution.xlsx", params={"first": months[0], "last": months[-1]}, cookies=login.cookies
    )
    frame = pl.read_excel(io.BytesIO(sheet.content), infer_schema_length=0)
    assert frame.height == 3 and frame["会员成交额（元）"].to_list() == ["150", "0", "390"]
    assert frame["会员成交占比"].to_list() == ["75.0%", "—", "67.2%"]

    api = await client.get(
        "/api/v1/analytics/contribution", params={"first": months[0], "last": months[-1]}, cookies=login.cookies
    )
    body = api.json()
    assert [m["month"] for m in body["months"]] == months
    assert body["months"][2]["reserved_gmv_fen"] == 13000 and body["months"][2]["unknown_gmv_fen"] == 19000
    assert body["others_repeat"] == {"buyers": 2, "repeat_buyers": 1, "rate": 0.5}
    theirs = await factories.staff_login(session, other, role="owner")
    elsewhere = (await client.get("/api/v1/analytics/contribution", cookies=theirs.cookies)).json()
    assert sum(m["gmv_fen"] for m in elsewhere["months"]) == 990000


@pytest.mark.parametrize(
    ("first", "last", "expected"),
    [
        ("2026-03", "2026-01", ["2026-01", "2026-02", "2026-03"]),  # reversed: swapped
        ("2025-11", "2026-02", ["2025-11", "2025-12", "2026-01", "2026-02"]),
        (None, None, [f"2026-{n:02d}" for n in range(1, 13)]),
        ("junk", "2026-13", [f"2026-{n:02d}" for n in range(1, 13)]),
    ],
)
def test_months_asked_for(first: str | None, last: str | None, expected: list[str]) -> None:
    from datetime import date

    assert months_of(first, last, today=date(2026, 12, 5)) == expected


def test_at_most_three_years_of_months() -> None:
    from datetime import date

    found = months_of("2000-01", "2026-12", today=date(2026, 12, 5))
    assert len(found) == 36 and found[-1] == "2026-12"
