"""The live calendar over HTTP: the fan API (shows, one show with her reservation, reserve / cancel, mine), the
staff API with its refusals in words (a past show, an end before the start, a product without a price), the H5
pages with and without htmx, and the console's calendar, editor, reports and XLSX export."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from siyu.fans import service as fans
from siyu.kit.time import to_local, utcnow
from siyu.live import service
from tests.live.conftest import Live
from tests.support import factories
from tests.support.fans import h5_cookies

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def app_dir(app: FastAPI, tmp_path: Path) -> Path:
    app.state.settings = app.state.settings.model_copy(update={"data_dir": tmp_path})
    return tmp_path


def _refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body


async def test_a_fan_reserves_and_cancels_through_the_api(app: FastAPI, client: httpx.AsyncClient, live: Live) -> None:
    show = await live.show()
    fan = await live.fan()
    tokens = await fans.issue_tokens(
        live.session, secret=app.state.settings.secret_key, tenant_id=live.tenant_id, member_id=fan
    )
    auth = {"Authorization": f"Bearer {tokens.access_token}"}
    base = f"/api/v1/fan/{live.tenant.slug}/live"
    listed = (await client.get(base, headers=auth)).json()
    assert [s["id"] for s in listed] == [show.id] and listed[0]["reserved"] is False
    assert listed[0]["benefits"] == ["预约抽 100 份小样"] and listed[0]["status_label"] == "未开播"
    for _ in range(2):
        done = await client.post(f"{base}/{show.id}/reservation", headers=auth)
        assert done.status_code == 200 and done.json()["reserved"] is True
    assert (await client.get(f"{base}/{show.id}", headers=auth)).json()["reserved"] is True
    assert [s["id"] for s in (await client.get(f"{base}/mine", headers=auth)).json()] == [show.id]
    for _ in range(2):
        assert (await client.delete(f"{base}/{show.id}/reservation", headers=auth)).json()["reserved"] is False
    assert (await client.get(f"{base}/mine", headers=auth)).json() == []
    await service.cancel_show(live.session, actor=live.owner, show_id=show.id)
    _refused(await client.post(f"{base}/{show.id}/reservation", headers=auth), 409, "show_closed")


async def test_staff_plan_shows_and_bad_input_is_refused_in_words(client: httpx.AsyncClient, live: Live) -> None:
    key = await factories.api_key(live.session, live.owner)
    auth = {"Authorization": f"Bearer {key}"}
    start = utcnow() + timedelta(days=2)
    body: dict[str, Any] = {
        "channel_id": live.channel.id,
        "title": "新品首发",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "benefits": ["预约抽 100 份小样"],
    }
    past = body | {"starts_at": (utcnow() - timedelta(hours=1)).isoformat()}
    _refused(await client.post("/api/v1/live/shows", json=past, headers=auth), 422, "show_in_past")
    backwards = body | {"ends_at": (start - timedelta(minutes=1)).isoformat()}
    _refused(await client.post("/api/v1/live/shows", json=backwards, headers=auth), 422, "ends_before_start")
    created = await client.post("/api/v1/live/shows", json=body, headers=auth)
    assert created.status_code == 201, created.text
    show_id = created.json()["id"]
    products = f"/api/v1/live/shows/{show_id}/products"
    _refused(await client.post(products, json={"title": "精华液"}, headers=auth), 422, "price_required")
    assert (await client.post(products, json={"title": "精华液", "price_fen": 19900}, headers=auth)).status_code == 201
    one = (await client.get(f"/api/v1/live/shows/{show_id}", headers=auth)).json()
    assert one["products"][0]["price_fen"] == 19900 and one["status"] == "planned"
    moved = await client.put(
        f"/api/v1/live/shows/{show_id}",
        json=body | {"starts_at": (start + timedelta(hours=1)).isoformat()},
        headers=auth,
    )
    assert moved.status_code == 200 and moved.json()["notice"].startswith("直播时间改为")
    assert (await client.post(f"/api/v1/live/shows/{show_id}/cancel", headers=auth)).json()["status"] == "cancelled"
    report = (await client.get(f"/api/v1/live/shows/{show_id}/report", headers=auth)).json()
    assert report["orders"] == 0 and report["private_share"] == 0
    month = to_local(start, live.tenant.timezone).strftime("%Y-%m")
    assert (await client.get("/api/v1/live/report", params={"month": month}, headers=auth)).json()["shows"] == []
    assert (await client.get("/api/v1/live/settings", headers=auth)).json() == {"remind_minutes": 15}


async def test_the_h5_calendar_show_page_and_reservation(app: FastAPI, client: httpx.AsyncClient, live: Live) -> None:
    show = await live.show()
    fan = await live.fan()
    anonymous = await client.get(f"/h5/{live.tenant.slug}/live")
    assert anonymous.status_code == 200 and show.title in anonymous.text
    cookies = await h5_cookies(app, live.session, live.tenant, fan)
    home = await client.get(f"/h5/{live.tenant.slug}/", cookies=cookies)
    assert 'id="next-show"' in home.text and show.title in home.text and "直播预约" in home.text
    page = await client.get(f"/h5/{live.tenant.slug}/live/{show.id}", cookies=cookies)
    assert page.status_code == 200 and "预约直播" in page.text and "预约抽 100 份小样" in page.text
    plain = await client.post(f"/h5/{live.tenant.slug}/live/{show.id}/reserve", cookies=cookies)
    assert plain.status_code == 303  # no JavaScript: back to the show page
    assert "已预约" in (await client.get(f"/h5/{live.tenant.slug}/live/{show.id}", cookies=cookies)).text
    fragment = await client.post(
        f"/h5/{live.tenant.slug}/live/{show.id}/cancel", cookies=cookies, headers={"HX-Request": "true"}
    )
    assert fragment.status_code == 200 and 'id="live-action"' in fragment.text and "<html" not in fragment.text
    await service.reserve(live.session, tenant_id=live.tenant_id, member_id=fan, show_id=show.id)
    await service.cancel_show(live.session, actor=live.owner, show_id=show.id)
    mine = await client.get(f"/h5/{live.tenant.slug}/live/mine", cookies=cookies)
    assert "这场直播已取消" in mine.text
    closed = await client.post(
        f"/h5/{live.tenant.slug}/live/{show.id}/reserve", cookies=cookies, headers={"HX-Request": "true"}
    )
    assert closed.status_code == 409 and "不能预约" in closed.text


async def test_the_console_plans_a_show_and_exports_its_report(
    client: httpx.AsyncClient, live: Live, app_dir: Path
) -> None:
    owner = await factories.staff_login(live.session, live.tenant_id)
    kw: dict[str, Any] = {"cookies": owner.cookies, "headers": owner.headers}
    tz = live.tenant.timezone
    start = to_local(utcnow() + timedelta(days=1), tz).replace(second=0, microsecond=0)
    form = {
        "csrf_token": owner.csrf,
        "channel_id": str(live.channel.id),
        "title": '=HYPERLINK("x")',
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "benefits": "预约抽 100 份小样",
    }
    refused = await client.post("/console/live/new", data=form, **kw)
    assert (
        refused.status_code == 422 and "下播时间要晚于开播时间" in refused.text and "预约抽 100 份小样" in refused.text
    )
    saved = await client.post(
        "/console/live/new", data=form | {"ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")}, **kw
    )
    assert saved.status_code == 303, saved.text
    show_id = int(saved.headers["location"].split("/")[-1].split("?")[0])
    no_price = await client.post(
        f"/console/live/{show_id}/products", data={"csrf_token": owner.csrf, "title": "面霜", "price": ""}, **kw
    )
    assert no_price.status_code == 422 and "请填写商品的直播价" in no_price.text and "面霜" in no_price.text
    added = await client.post(
        f"/console/live/{show_id}/products",
        data={"csrf_token": owner.csrf, "title": "面霜", "price": "199.00"},
        files={"image": ("p.png", PNG, "image/png")},
        **kw,
    )
    assert added.status_code == 303
    cover = await client.post(
        f"/console/live/{show_id}/cover",
        data={"csrf_token": owner.csrf},
        files={"cover": ("c.png", b"not an image at all", "image/png")},
        **kw,
    )
    assert cover.status_code == 422 and "请上传 JPG、PNG、GIF 或 WebP 格式的图片" in cover.text
    page = await client.get(f"/console/live/{show_id}", **kw)
    assert page.status_code == 200 and "¥199.00" in page.text
    month = start.strftime("%Y-%m")
    calendar = await client.get(f"/console/live?month={month}", **kw)
    assert calendar.status_code == 200 and 'id="live-calendar"' in calendar.text
    report = await client.get(f"/console/live/{show_id}/report", **kw)
    assert report.status_code == 200 and "live-split-chart" in report.text
    exported = await client.get(f"/console/live/{show_id}/report/export", **kw)
    assert exported.status_code == 200
    with zipfile.ZipFile(io.BytesIO(exported.content)) as book:
        strings = book.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in book.namelist() else ""
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "'=HYPERLINK" in strings + sheet  # a title that would be a formula is text
    assert (await client.get(f"/console/live/report?month={month}", **kw)).status_code == 200
    assert (await client.get(f"/console/live/report/export?month={month}", **kw)).status_code == 200
    cancelled = await client.post(f"/console/live/{show_id}/cancel", data={"csrf_token": owner.csrf}, **kw)
    assert cancelled.status_code == 303
