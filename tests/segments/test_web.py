"""Tags and segments over HTTP: the staff API (CRUD, a count on demand, members, the XLSX export with formulas made
harmless, a tag on a whole segment, a notice once per key, refusals with codes and Chinese words, permissions) and
the console pages (build a segment from the filter form, its count and when it was computed in tenant time, its
members and export, a member's tags on her page, a tag's rule)."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import httpx
import polars as pl
import pytest
from fastapi import FastAPI

from siyu.segments import service
from tests.segments.conftest import World
from tests.support import factories


@pytest.fixture
def app_dir(app: FastAPI, world: World) -> Path:
    app.state.settings = app.state.settings.model_copy(update={"data_dir": world.data_dir})
    return world.data_dir


def _refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body


async def test_the_api_saves_counts_lists_and_exports_a_segment(
    client: httpx.AsyncClient, world: World, app_dir: Path
) -> None:
    owner = await factories.staff_login(world.session, world.tenant_id)
    key = {"Authorization": f"Bearer {await factories.api_key(world.session, owner.principal)}"}
    sly = await world.fan('=HYPERLINK("http://x")', tier="金卡", points=300)
    plain = await world.fan("小鱼", tier="金卡", points=100)
    await world.fan("银卡", tier="银卡")
    tag = (await client.post("/api/v1/tags", json={"name": "高客单", "color": "#E4572E"}, headers=key)).json()
    body = {"name": "金卡会员", "filter": {"tier_ids": [world.tiers["金卡"].id]}}
    created = await client.post("/api/v1/segments", json=body, headers=key)
    assert created.status_code == 201, created.text
    segment = created.json()
    assert segment["member_count"] == 2 and segment["counted_at"] and segment["filter_words"] == ["会员等级：金卡"]
    _refused(await client.post("/api/v1/segments", json=body, headers=key), 409, "segment_name_taken")
    bad = {"name": "错", "filter": {"tags_any": [123456789]}}
    _refused(await client.post("/api/v1/segments", json=bad, headers=key), 422, "segment_bad_tag")
    sid = segment["id"]
    await world.fan("新金卡", tier="金卡")
    counted = (await client.post(f"/api/v1/segments/{sid}/count", headers=key)).json()
    assert counted["member_count"] == 3
    members = (await client.get(f"/api/v1/segments/{sid}/members", headers=key)).json()
    assert {m["member_id"] for m in members} >= {sly, plain} and len(members) == 3
    tagged = await client.post(f"/api/v1/segments/{sid}/tag", json={"tag_id": tag["id"]}, headers=key)
    assert tagged.json() == {"added": 3, "removed": 0}
    assert (await client.get(f"/api/v1/tags/{tag['id']}", headers=key)).json()["members"] == 3
    sheet = await client.get(f"/api/v1/segments/{sid}/export.xlsx", headers=key)
    assert sheet.status_code == 200 and sheet.headers["content-type"].startswith("application/vnd.openxml")
    frame = pl.read_excel(io.BytesIO(sheet.content), infer_schema_length=0)
    assert frame.height == 3
    row = frame.filter(pl.col("会员号") == str(sly))
    assert row["昵称"][0] == '\'=HYPERLINK("http://x")' and row["标签"][0] == "高客单" and row["等级"][0] == "金卡"
    preview = await client.post("/api/v1/segments/preview", json={"points_min": 200}, headers=key)
    assert preview.json()["member_count"] == 1
    nothing = await client.post("/api/v1/segments/preview", json={"cities": ["拉萨"]}, headers=key)
    assert nothing.json()["member_count"] == 0
    _refused(
        await client.post("/api/v1/segments/preview", json={"points_min": 9, "points_max": 1}, headers=key),
        422,
        "invalid_request",
    )


async def test_the_api_sends_a_notice_once_per_key(client: httpx.AsyncClient, world: World, app_dir: Path) -> None:
    owner = await factories.staff_login(world.session, world.tenant_id)
    key = {"Authorization": f"Bearer {await factories.api_key(world.session, owner.principal)}"}
    await world.fan("金", tier="金卡")
    segment = await world.segment("金卡", tier_ids=[world.tiers["金卡"].id])
    notice = {"title": "会员福利", "text": "今晚 8 点金卡专享", "key": "abcdefgh-1"}
    first = await client.post(f"/api/v1/segments/{segment.id}/notices", json=notice, headers=key)
    second = await client.post(f"/api/v1/segments/{segment.id}/notices", json=notice, headers=key)
    assert first.status_code == 202 and first.json() == second.json() and first.json()["members"] == 1


async def test_reading_needs_members_read_and_changing_needs_members_write(
    client: httpx.AsyncClient, world: World, app_dir: Path
) -> None:
    owner = await factories.staff_login(world.session, world.tenant_id)
    reader = {"Authorization": f"Bearer {await factories.api_key(world.session, owner.principal, ['members.read'])}"}
    segment = await world.segment("全部")
    assert (await client.get("/api/v1/segments", headers=reader)).status_code == 200
    assert (await client.get(f"/api/v1/segments/{segment.id}/members", headers=reader)).status_code == 200
    refused = await client.post("/api/v1/tags", json={"name": "宝妈"}, headers=reader)
    assert refused.status_code == 403
    refused = await client.delete(f"/api/v1/segments/{segment.id}", headers=reader)
    assert refused.status_code == 403


async def test_console_builds_a_segment_shows_its_count_and_exports_it(
    client: httpx.AsyncClient, world: World, app_dir: Path
) -> None:
    owner = await factories.staff_login(world.session, world.tenant_id)
    kw: dict[str, Any] = {"cookies": owner.cookies, "headers": owner.headers}
    gold = await world.fan("金卡小鱼", tier="金卡", points=800)
    await world.address(gold, "浙江省 杭州市 西湖区")
    await world.fan("银卡", tier="银卡")
    page = await client.get("/console/segments/new", **kw)
    assert page.status_code == 200 and "筛选条件" in page.text and "重要价值" in page.text
    form = {"csrf_token": owner.csrf, "name": "杭州金卡", "description": "", "tier_ids": str(world.tiers["金卡"].id),
            "cities": "杭州", "points_min": "500", "points_max": "100"}  # fmt: skip
    refused = await client.post("/console/segments/new", data=form, **kw)
    assert (
        refused.status_code == 422 and "可用积分的下限不能大于上限" in refused.text and 'value="杭州"' in refused.text
    )
    preview = await client.post("/console/segments/preview", data=form | {"points_max": ""}, **kw)
    assert 'data-count="1"' in preview.text
    saved = await client.post("/console/segments/new", data=form | {"points_max": ""}, **kw)
    assert saved.status_code == 303
    segment_url = saved.headers["location"].split("?")[0]
    shown = await client.get(segment_url, **kw)
    assert shown.status_code == 200 and 'id="segment-count">1<' in shown.text and "计算于 " in shown.text
    assert "会员等级：金卡" in shown.text and "收货城市：杭州" in shown.text and "金卡小鱼" in shown.text
    counted = await client.post(f"{segment_url}/count", data={"csrf_token": owner.csrf}, **kw)
    assert counted.status_code == 303
    sheet = await client.get(f"{segment_url}/export.xlsx", **kw)
    frame = pl.read_excel(io.BytesIO(sheet.content), infer_schema_length=0)
    assert frame["昵称"].to_list() == ["金卡小鱼"]
    listing = await client.get("/console/segments", **kw)
    assert "杭州金卡" in listing.text and "会员分群" in listing.text
    nothing = await client.post(
        "/console/segments/new", data=form | {"name": "没有人", "cities": "拉萨", "points_max": ""}, **kw
    )
    empty = await client.get(nothing.headers["location"], **kw)
    assert 'id="segment-count">0<' in empty.text and "现在没有符合条件的会员" in empty.text


async def test_console_tags_a_member_and_sets_a_tag_rule(
    client: httpx.AsyncClient, world: World, app_dir: Path
) -> None:
    owner = await factories.staff_login(world.session, world.tenant_id)
    kw: dict[str, Any] = {"cookies": owner.cookies, "headers": owner.headers}
    fan = await world.fan("小鱼", points=50)
    rich = await world.fan("大户", points=5000)
    created = await client.post("/console/tags", data={"csrf_token": owner.csrf, "name": "宝妈", "color": ""}, **kw)
    assert created.status_code == 303
    tag_url = created.headers["location"].split("?")[0]
    tag_id = int(tag_url.rsplit("/", 1)[1])
    tagged = await client.post(f"/console/members/{fan}/tags", data={"csrf_token": owner.csrf, "tag_id": tag_id}, **kw)
    assert tagged.status_code == 303
    page = await client.get(f"/console/members/{fan}", **kw)
    assert 'data-tag="宝妈"' in page.text
    removed = await client.post(f"/console/members/{fan}/tags/{tag_id}/remove", data={"csrf_token": owner.csrf}, **kw)
    assert removed.status_code == 303
    assert 'data-tag="宝妈"' not in (await client.get(f"/console/members/{fan}", **kw)).text
    ruled = await client.post(f"{tag_url}/rule", data={"csrf_token": owner.csrf, "points_min": "1000"}, **kw)
    assert ruled.status_code == 303 and "added=1" in ruled.headers["location"]
    shown = await client.get(ruled.headers["location"], **kw)
    assert "新打上 1 位" in shown.text and "可用积分不少于 1000" in shown.text
    tags = await service.tags_of_members(world.session, tenant_id=world.tenant_id, member_ids=[rich])
    assert [(t.name, source) for t, source in tags[rich]] == [("宝妈", "rule")]
    empty = await client.post(f"{tag_url}/rule", data={"csrf_token": owner.csrf}, **kw)
    assert empty.status_code == 422 and "请至少选一个条件" in empty.text
    listing = await client.get("/console/tags", **kw)
    assert "宝妈" in listing.text and "可用积分不少于 1000" in listing.text
