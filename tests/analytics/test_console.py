"""The analytics pages: the owner's home is the dashboard, numbers link to the lists behind them, the RFM page
computes on demand, settings are checked, the churn list exports with formulas neutralised; tenants stay apart."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import httpx
import polars as pl
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.time import utcnow
from tests.analytics.support import credit, order
from tests.support import factories


@pytest.fixture
def own_data_dir(app: FastAPI, tmp_path: Path) -> Path:
    app.state.settings = app.state.settings.model_copy(update={"data_dir": tmp_path})
    return tmp_path


async def _login(session: AsyncSession, tenant_id: int, role: str) -> factories.StaffLogin:
    return await factories.staff_login(session, tenant_id, role=role)


async def test_the_owner_and_the_analyst_land_on_the_dashboard_others_on_the_overview(
    session: AsyncSession, client: httpx.AsyncClient
) -> None:
    shop = (await factories.tenant(session)).id
    fan = await factories.member(session, shop)
    o = await order(session, shop, paid_at=utcnow() - timedelta(days=1), paid_fen=10000, platform="douyin")
    await credit(session, o, fan.id)
    await order(session, shop, paid_at=utcnow() - timedelta(days=1), paid_fen=30000, platform="douyin")
    for role in ("owner", "analyst"):
        login = await _login(session, shop, role)
        page = await client.get("/console/", cookies=login.cookies)
        assert page.status_code == 200
        assert 'data-stat="claim_rate"' in page.text and "50.0%" in page.text and "25.0%" in page.text
        assert "/console/orders?paid_from=" in page.text and "&amp;platform=douyin&amp;claimed=yes" in page.text
        assert "claim-funnel" in page.text and "rate-bars" in page.text
    fulfiller = await _login(session, shop, "fulfillment")
    page = await client.get("/console/", cookies=fulfiller.cookies)
    assert page.status_code == 200 and 'data-stat="members"' in page.text and "claim_rate" not in page.text
    assert (await client.get("/console/analytics/rfm", cookies=fulfiller.cookies)).status_code == 403
    overview = await client.get("/console/overview", cookies=(await _login(session, shop, "owner")).cookies)
    assert overview.status_code == 200 and 'data-stat="staff"' in overview.text


@pytest.mark.parametrize(("first", "last"), [("2030-01-01", "2030-01-31"), ("garbage", "2026-13-45"), ("", "")])
async def test_any_period_shows_figures_or_dashes(
    session: AsyncSession, client: httpx.AsyncClient, first: str, last: str
) -> None:
    shop = (await factories.tenant(session)).id
    login = await _login(session, shop, "owner")
    page = await client.get("/console/", params={"first": first, "last": last}, cookies=login.cookies)
    assert page.status_code == 200 and "—" in page.text


async def test_rfm_page_computes_on_demand_and_exports_the_churn_list(
    session: AsyncSession, client: httpx.AsyncClient, own_data_dir: Path
) -> None:
    shop = (await factories.tenant(session)).id
    other = (await factories.tenant(session)).id
    login = await _login(session, shop, "owner")
    sly = await factories.member(session, shop, '=HYPERLINK("http://x")')
    now = utcnow()
    for days in (100, 110, 120):  # every 10 days, then nothing for 100 days: at risk
        await credit(session, await order(session, shop, paid_at=now - timedelta(days=days), paid_fen=50000), sly.id)
    stranger = await factories.member(session, other, "别家的会员")
    for days in (200, 210):
        await credit(session, await order(session, other, paid_at=now - timedelta(days=days)), stranger.id)

    page = await client.get("/console/analytics/rfm", cookies=login.cookies)
    assert page.status_code == 200 and "还没有计算过" in page.text
    done = await client.post("/console/analytics/refresh", data={"csrf_token": login.csrf}, cookies=login.cookies)
    assert done.status_code == 303
    page = await client.get("/console/analytics/rfm", cookies=login.cookies)
    assert "数据计算于" in page.text and 'data-stat="at_risk">1<' in page.text and "rfm-heat" in page.text
    assert "别家的会员" not in page.text

    sheet = await client.get("/console/analytics/at-risk.xlsx", cookies=login.cookies)
    assert sheet.status_code == 200
    frame = pl.read_excel(io.BytesIO(sheet.content), infer_schema_length=0)
    assert frame.height == 1 and frame["会员号"][0] == str(sly.id)
    assert frame["昵称"][0] == '\'=HYPERLINK("http://x")'  # shown as text, never run as a formula
    assert frame["最近一单距今（天）"][0] == "100" and frame["消费金额（元）"][0] == "1500"

    bad = await client.post(
        "/console/analytics/settings", data={"csrf_token": login.csrf, "yuan_per_point": "abc"}, cookies=login.cookies
    )
    assert bad.status_code == 303 and "error=" in bad.headers["location"]
    edges = {
        f"{letter}{n}": str(v)
        for letter, values in {"r": [7, 30, 90, 180], "f": [1, 2, 3, 5], "m": [10, 100, 500, 1000]}.items()
        for n, v in enumerate(values)
    }
    saved = await client.post(
        "/console/analytics/settings",
        data={"csrf_token": login.csrf, "yuan_per_point": "0", "edges": "own", **edges},
        cookies=login.cookies,
    )
    assert saved.headers["location"] == "/console/analytics/rfm"
    page = await client.get("/console/analytics/rfm", cookies=login.cookies)
    assert 'value="0"' in page.text and 'name="m3" value="1000.00"' in page.text
    home = await client.get("/console/", cookies=login.cookies)
    assert 'data-stat="liability"' in home.text and "¥0.00" in home.text


async def test_the_api_gives_every_figure_to_its_own_tenant_only(
    session: AsyncSession, client: httpx.AsyncClient, own_data_dir: Path
) -> None:
    shop = (await factories.tenant(session)).id
    other = (await factories.tenant(session)).id
    owner = await _login(session, shop, "owner")
    key = await factories.api_key(session, owner.principal)
    headers = {"Authorization": f"Bearer {key}"}
    fan = await factories.member(session, shop)
    now = utcnow()
    await credit(session, await order(session, shop, paid_at=now - timedelta(days=2), paid_fen=12000), fan.id)
    stranger = await factories.member(session, other)
    await credit(session, await order(session, other, paid_at=now - timedelta(days=2), paid_fen=99000), stranger.id)

    board = (await client.get("/api/v1/analytics/dashboard", headers=headers)).json()
    assert board["total"]["claimed"]["now"] == 1 and board["total"]["claimed_fen"]["now"] == 12000
    assert board["total"]["rate"] == 1.0 and board["new_members"]["change"] is None
    empty = (await client.get("/api/v1/analytics/rfm", headers=headers)).json()
    assert empty["computed_at"] is None and empty["members"] == 0
    done = (await client.post("/api/v1/analytics/refresh", headers=headers)).json()
    assert done["full"] and done["rows"] == 1
    rfm = (await client.get("/api/v1/analytics/rfm", headers=headers)).json()
    assert rfm["members"] == 1 and rfm["monetary_fen"] == 12000 and sum(map(sum, rfm["grid"])) == 1
    assert (await client.get("/api/v1/analytics/rfm/at-risk", headers=headers)).json() == []
    saved = await client.put(
        "/api/v1/analytics/settings",
        headers=headers,
        json={"yuan_per_point": "0", "rfm_edges": {"r": [1, 2, 3, 4], "f": [1, 2, 3, 4], "m": [1, 2, 3, 4]}},
    )
    assert saved.status_code == 200 and saved.json()["rfm_edges"]["r"] == [1, 2, 3, 4]
    wrong = await client.put(
        "/api/v1/analytics/settings",
        headers=headers,
        json={"rfm_edges": {"r": [4, 3, 2, 1], "f": [1, 2, 3, 4], "m": [1, 2, 3, 4]}},
    )
    assert wrong.status_code == 422
    assert (await client.get("/api/v1/analytics/dashboard", headers=headers)).json()["liability_fen"] == 0
