"""Fan groups over HTTP: the fan API (groups with reasons, the QR picture only when offered, "我已入群" and its
refusals with stable codes and Chinese words), the staff API (create, overflow, QR upload refused when bad or too
large, members and candidates, permissions), the H5 page and the console pages with their QR warning."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from siyu.fans import service as fans
from siyu.groups import service
from siyu.groups.models import FanGroup
from siyu.kit import images
from tests.groups.conftest import PNG, Groups
from tests.support import factories
from tests.support.fans import h5_cookies


@pytest.fixture
def app_dir(app: FastAPI, tmp_path: Path) -> Path:
    app.state.settings = app.state.settings.model_copy(update={"data_dir": tmp_path})
    return tmp_path


def _refused(response: httpx.Response, status: int, code: str, words: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body
    if words is not None:
        assert words in body["message"], body


async def _bearer(app: FastAPI, groups: Groups, member_id: int) -> dict[str, str]:
    tokens = await fans.issue_tokens(
        groups.session, secret=app.state.settings.secret_key, tenant_id=groups.tenant_id, member_id=member_id
    )
    return {"Authorization": f"Bearer {tokens.access_token}"}


async def test_a_fan_sees_why_not_and_joins_the_group_she_qualifies_for(
    app: FastAPI, client: httpx.AsyncClient, groups: Groups, app_dir: Path
) -> None:
    open_group = await groups.qr(await groups.group("普通粉丝群", sort_order=1), app_dir)
    gold = await groups.qr(await groups.group("金卡群", min_tier_id=groups.tiers["金卡"].id, min_points=1000), app_dir)
    fan = await groups.fan(tier="银卡", points=680)
    auth = await _bearer(app, groups, fan)
    base = f"/api/v1/fan/{groups.tenant.slug}/groups"
    listed = (await client.get(base, headers=auth)).json()
    assert [g["name"] for g in listed] == ["普通粉丝群", "金卡群"]
    assert (
        listed[0]["qualified"] is True and listed[0]["qr_url"] == f"{base.removeprefix('/api/v1')}/{open_group.id}/qr"
    )
    assert listed[1]["qualified"] is False and listed[1]["qr_url"] is None
    assert listed[1]["reasons"] == ["需要金卡及以上", "还差 320 积分"]
    assert listed[1]["thresholds"] == ["金卡及以上", "积分不少于 1000"]
    picture = await client.get(f"{base}/{open_group.id}/qr", headers=auth)
    assert picture.status_code == 200 and picture.content == PNG and picture.headers["content-type"] == "image/png"
    _refused(await client.get(f"{base}/{gold.id}/qr", headers=auth), 404, "group_not_found")
    _refused(await client.post(f"{base}/{gold.id}/join", headers=auth), 409, "group_not_qualified", "还差 320 积分")
    for _ in range(2):
        done = await client.post(f"{base}/{open_group.id}/join", headers=auth)
        assert done.status_code == 200 and done.json() == {
            "group_id": open_group.id,
            "joined": True,
            "message": "已记录，欢迎入群",
        }
    after = (await client.get(base, headers=auth)).json()
    assert after[0]["joined"] is True and after[0]["qr_url"] is None and after[0]["message"] == "你已在这个群里"
    _refused(await client.post(f"{base}/{gold.id + 1}/join", headers=auth), 404, "group_not_found")


async def test_a_full_group_is_refused_in_words(app: FastAPI, client: httpx.AsyncClient, groups: Groups) -> None:
    group = await groups.group("小群", cap=1)
    first, second = await groups.fan("一号"), await groups.fan("二号")
    base = f"/api/v1/fan/{groups.tenant.slug}/groups/{group.id}/join"
    assert (await client.post(base, headers=await _bearer(app, groups, first))).status_code == 200
    _refused(await client.post(base, headers=await _bearer(app, groups, second)), 409, "group_full", "满了")


async def test_staff_manage_groups_through_the_api(client: httpx.AsyncClient, groups: Groups, app_dir: Path) -> None:
    key = await factories.api_key(groups.session, groups.owner)
    auth = {"Authorization": f"Bearer {key}"}
    body: dict[str, Any] = {
        "name": "黑钻群",
        "min_tier_id": groups.tiers["黑钻"].id,
        "min_paid_fen": 100000,
        "cap": 200,
    }
    created = await client.post("/api/v1/groups", json=body, headers=auth)
    assert created.status_code == 201, created.text
    group = created.json()
    assert group["thresholds"] == ["黑钻及以上", "近 30 天消费满 1000 元"] and group["qr_state"] == "missing"
    gid = group["id"]
    _refused(await client.post("/api/v1/groups", json=body | {"cap": 501}, headers=auth), 422, "invalid_request")
    _refused(
        await client.post("/api/v1/groups", json=body | {"min_tier_id": 12345}, headers=auth), 404, "tier_not_found"
    )
    overflow = await client.post(f"/api/v1/groups/{gid}/overflow", json={"name": "黑钻二群"}, headers=auth)
    assert overflow.status_code == 201 and overflow.json()["seq"] == 2
    _refused(
        await client.put(f"/api/v1/groups/{overflow.json()['id']}", json=body, headers=auth), 409, "group_not_main"
    )
    bad = await client.put(f"/api/v1/groups/{gid}/qr", files={"file": ("q.png", b"GIF? no", "image/png")}, headers=auth)
    _refused(bad, 422, "not_an_image")
    huge = PNG + b"\0" * images.MAX_BYTES
    _refused(
        await client.put(f"/api/v1/groups/{gid}/qr", files={"file": ("q.png", huge, "image/png")}, headers=auth),
        422,
        "image_too_large",
    )
    assert not (app_dir / service.IMAGE_AREA).exists()
    uploaded = await client.put(f"/api/v1/groups/{gid}/qr", files={"file": ("q.png", PNG, "image/png")}, headers=auth)
    assert uploaded.status_code == 200 and uploaded.json()["qr_state"] == "valid"
    fan = await groups.fan(tier="黑钻")
    await groups.order(fan, paid_fen=100000)
    candidates = (await client.get(f"/api/v1/groups/{gid}/candidates", headers=auth)).json()
    assert [c["member_id"] for c in candidates] == [fan]
    await service.join(groups.session, tenant_id=groups.tenant_id, member_id=fan, group_id=gid)
    members = (await client.get(f"/api/v1/groups/{gid}/members", headers=auth)).json()
    assert [m["member_id"] for m in members] == [fan]
    assert (await client.get(f"/api/v1/groups/{gid}/candidates", headers=auth)).json() == []
    assert (await client.delete(f"/api/v1/groups/{gid}/members/{fan}", headers=auth)).status_code == 204
    _refused(await client.delete(f"/api/v1/groups/{gid}", headers=auth), 409, "group_has_overflow")
    listed = (await client.get("/api/v1/groups", headers=auth)).json()
    assert [g["name"] for g in listed] == ["黑钻群"] and listed[0]["overflow"][0]["name"] == "黑钻二群"
    reader = await factories.api_key(groups.session, groups.owner, permissions=["members.read"])
    _refused(
        await client.post("/api/v1/groups", json=body, headers={"Authorization": f"Bearer {reader}"}), 403, "forbidden"
    )


async def test_the_h5_page_shows_the_qr_code_and_why_not(
    app: FastAPI, client: httpx.AsyncClient, groups: Groups, app_dir: Path
) -> None:
    open_group = await groups.qr(await groups.group("普通粉丝群", sort_order=1), app_dir)
    gold = await groups.qr(await groups.group("金卡群", min_tier_id=groups.tiers["金卡"].id), app_dir)
    slug = groups.tenant.slug
    signed_out = await client.get(f"/h5/{slug}/groups")
    assert signed_out.status_code == 200 and "登录查看" in signed_out.text and "data-qr" not in signed_out.text
    assert (await client.get(f"/h5/{slug}/groups/{open_group.id}/qr")).status_code == 404
    fan = await groups.fan(tier="银卡")
    cookies = await h5_cookies(app, groups.session, groups.tenant, fan)
    page = await client.get(f"/h5/{slug}/groups", cookies=cookies)
    assert page.status_code == 200
    assert f'data-qr="{open_group.id}"' in page.text and f'data-qr="{gold.id}"' not in page.text
    assert "需要金卡及以上" in page.text and "我已入群" in page.text
    assert (await client.get(f"/h5/{slug}/groups/{open_group.id}/qr", cookies=cookies)).content == PNG
    refused = await client.post(f"/h5/{slug}/groups/{gold.id}/join", cookies=cookies)
    assert refused.status_code == 409 and "暂时还不能加入：需要金卡及以上" in refused.text
    joined = await client.post(f"/h5/{slug}/groups/{open_group.id}/join", cookies=cookies)
    assert joined.status_code == 303 and joined.headers["location"] == f"/h5/{slug}/groups?joined=1"
    after = await client.get(f"/h5/{slug}/groups?joined=1", cookies=cookies)
    assert "已记录，欢迎入群" in after.text and "已入群" in after.text
    home = await client.get(f"/h5/{slug}/", cookies=cookies)
    assert f'href="/h5/{slug}/groups"' in home.text


async def test_console_creates_groups_replaces_qr_and_warns_before_expiry(
    client: httpx.AsyncClient, groups: Groups, app_dir: Path
) -> None:
    owner = await factories.staff_login(groups.session, groups.tenant_id)
    kw: dict[str, Any] = {"cookies": owner.cookies, "headers": owner.headers}
    form = {"csrf_token": owner.csrf, "name": "金卡群", "intro": "每周三专属秒杀", "sort_order": "0",
            "min_tier_id": str(groups.tiers["金卡"].id), "min_points": "", "min_orders": "", "min_paid": "abc",
            "window_days": "30", "cap": "200"}  # fmt: skip
    refused = await client.post("/console/groups/new", data=form, **kw)
    assert (
        refused.status_code == 422 and "消费金额门槛：请填写金额" in refused.text and "每周三专属秒杀" in refused.text
    )
    assert await service.overview(groups.session, tenant_id=groups.tenant_id) == []
    too_big = await client.post("/console/groups/new", data=form | {"min_paid": "", "cap": "900"}, **kw)
    assert too_big.status_code == 422 and "人数上限" in too_big.text
    created = await client.post("/console/groups/new", data=form | {"min_paid": "1,000"}, **kw)
    assert created.status_code == 303
    gid = int(created.headers["location"].split("/")[-1].split("?")[0])
    group = await service.get_group(groups.session, tenant_id=groups.tenant_id, group_id=gid)
    assert group.min_paid_fen == 100000
    listing = await client.get("/console/groups", **kw)
    assert listing.status_code == 200 and "还没有上传群二维码" in listing.text and 'id="qr-warnings"' in listing.text
    bad = await client.post(
        f"/console/groups/{gid}/qr",
        data={"csrf_token": owner.csrf},
        files={"qr": ("q.png", b"nope" * 10, "image/png")},
        **kw,
    )
    assert bad.status_code == 422 and "请上传 JPG、PNG、GIF 或 WebP 格式的图片" in bad.text
    good = await client.post(
        f"/console/groups/{gid}/qr", data={"csrf_token": owner.csrf}, files={"qr": ("q.png", PNG, "image/png")}, **kw
    )
    assert good.status_code == 303
    assert 'id="qr-warnings"' not in (await client.get("/console/groups", **kw)).text
    await groups.session.refresh(group)
    assert group.qr_expires_at is not None
    group.qr_expires_at -= timedelta(days=6, hours=1)  # as if uploaded six days ago
    await groups.session.flush()
    warned = await client.get("/console/groups", **kw)
    assert "群二维码一天内过期，请尽快更换" in warned.text and f'data-warning="{gid}"' in warned.text
    overflow = await client.post(
        f"/console/groups/{gid}/overflow",
        data={"csrf_token": owner.csrf, "overflow_name": "金卡二群", "overflow_cap": "100"},
        **kw,
    )
    assert overflow.status_code == 303
    fan = await groups.fan("金卡小鱼", tier="金卡")
    await groups.order(fan, paid_fen=100000)
    candidates = await client.get(f"/console/groups/{gid}?tab=candidates", **kw)
    assert candidates.status_code == 200 and "金卡小鱼" in candidates.text
    await service.join(groups.session, tenant_id=groups.tenant_id, member_id=fan, group_id=gid)
    page = await client.get(f"/console/groups/{gid}", **kw)
    assert page.status_code == 200 and "金卡小鱼" in page.text and "金卡二群" in page.text
    removed = await client.post(f"/console/groups/{gid}/members/{fan}/remove", data={"csrf_token": owner.csrf}, **kw)
    assert removed.status_code == 303
    families = await service.overview(groups.session, tenant_id=groups.tenant_id)
    assert families[0].members == 0
    assert (await client.get(f"/console/groups/{gid}/qr", **kw)).content == PNG


async def test_changes_are_audited(groups: Groups, app_dir: Path) -> None:
    from sqlalchemy import select

    from siyu.audit.models import AuditEntry

    group: FanGroup = await groups.qr(await groups.group(), app_dir)
    actions = set(
        await groups.session.scalars(select(AuditEntry.action).where(AuditEntry.tenant_id == groups.tenant_id))
    )
    assert {"groups.create", "groups.qr"} <= actions
    await service.delete_group(groups.session, actor=groups.owner, group_id=group.id)
    assert "groups.delete" in set(
        await groups.session.scalars(select(AuditEntry.action).where(AuditEntry.tenant_id == groups.tenant_id))
    )
