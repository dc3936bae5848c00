"""Campaigns in the console: a form saved twice creates one campaign, a twin of an active campaign needs a
confirmation, 试算 takes any order time, the list shows where a campaign applies."""

from __future__ import annotations

import re

from siyu.loyalty import service as loyalty
from siyu.tenants import service as tenants
from siyu.tenants.schemas import ChannelIn
from tests.console.conftest import Desk

FORM = {
    "name": "双11 积分翻倍",
    "priority": "0",
    "starts_at": "2030-11-10T20:00",
    "ends_at": "2030-11-12T00:00",
    "multiplier": "2",
    "bonus_points": "",
    "first_claim_bonus": "",
    "cap_per_member_day": "",
    "cap_total": "",
    "live_room": "星河直播间",
    "active": "on",
}


async def _campaigns(desk: Desk) -> int:
    return len(await loyalty.list_campaigns(desk.session, tenant_id=desk.tenant_id))


async def test_saving_the_same_new_campaign_form_twice_creates_one(desk: Desk) -> None:
    form = (await desk.get("/console/points/campaigns/new")).text
    token = re.search(r'name="form_token" value="([^"]+)"', form)
    assert token
    first = await desk.post("/console/points/campaigns", {**FORM, "form_token": token[1]})
    assert first.status_code == 303 and await _campaigns(desk) == 1
    again = await desk.post("/console/points/campaigns", {**FORM, "form_token": token[1]})
    assert again.status_code == 303 and await _campaigns(desk) == 1
    assert again.headers["location"].endswith("?saved=again")
    shown = await desk.get(again.headers["location"].split("?")[0], saved="again")
    assert "这个表单已经保存过" in shown.text


async def test_an_identical_active_campaign_is_saved_only_when_ops_confirm(desk: Desk) -> None:
    await desk.post("/console/points/campaigns", {**FORM, "form_token": "a"})
    twin = await desk.post("/console/points/campaigns", {**FORM, "name": "双11 翻倍（复制）", "form_token": "b"})
    assert twin.status_code == 409 and await _campaigns(desk) == 1
    assert "已有规则完全相同、正在启用的活动「双11 积分翻倍」" in twin.text and 'name="allow_twin"' in twin.text
    assert "双11 翻倍（复制）" in twin.text  # what she typed is kept
    confirmed = await desk.post(
        "/console/points/campaigns", {**FORM, "name": "双11 翻倍（复制）", "form_token": "b", "allow_twin": "on"}
    )
    assert confirmed.status_code == 303 and await _campaigns(desk) == 2
    other_rules = await desk.post("/console/points/campaigns", {**FORM, "multiplier": "3", "form_token": "c"})
    assert other_rules.status_code == 303 and await _campaigns(desk) == 3


async def test_the_list_shows_channel_and_room_and_preview_takes_any_time(desk: Desk) -> None:
    channel = await tenants.create_channel(
        desk.session, actor=desk.owner, data=ChannelIn(platform="douyin", name="星河抖店")
    )
    saved = await desk.post(
        "/console/points/campaigns", {**FORM, "live_room": "", "channel_ids": str(channel.id), "form_token": "x"}
    )
    assert saved.status_code == 303
    page = (await desk.get("/console/points")).text
    scope = page[page.index("data-scope") :]
    assert "渠道：抖音 星河抖店" in scope[:400]
    assert 'name="at" type="datetime-local"' in page

    base = {"paid": "100", "channel_id": str(channel.id), "csrf_token": desk.csrf}
    during = await desk.client.post(
        "/console/points/preview", data={**base, "at": "2030-11-11T10:00"}, cookies=desk.cookies
    )
    now = await desk.client.post("/console/points/preview", data=base, cookies=desk.cookies)
    points_during = int(re.search(r'data-preview-points="(\d+)"', during.text)[1])  # type: ignore[index]
    points_now = int(re.search(r'data-preview-points="(\d+)"', now.text)[1])  # type: ignore[index]
    assert points_during == 2 * points_now and "2030-11-11 10:00" in during.text
