"""Inputs that used to end in a 500: each now gets an answer (a Chinese refusal, or the right result)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from siyu.fans.wechat import WechatUser
from siyu.kit.types import plain_text
from siyu.kit.web import form_text
from siyu.members import service as members
from siyu.tenants import service as tenants
from tests.support import factories
from tests.support.fans import h5_cookies


async def _owner_key(session: AsyncSession) -> tuple[Any, dict[str, str]]:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id)
    key = await factories.api_key(session, login.principal)
    return tenant, {"Authorization": f"Bearer {key}"}


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/merge-patch+json",
        "application/vnd.siyu+json; charset=utf-8",
        "Application/JSON",
        "APPLICATION/JSON;charset=UTF-8",
        "",
    ],
)
async def test_a_nul_in_any_json_body_is_refused(
    client: httpx.AsyncClient, session: AsyncSession, content_type: str
) -> None:
    _tenant, auth = await _owner_key(session)
    headers = {**auth, "Content-Type": content_type} if content_type else auth
    response = await client.patch("/api/v1/tenant", content=b'{"name": "a\\u0000b"}', headers=headers)
    assert response.status_code == 422 and response.json()["message"] == "请求中含有不允许的字符"


async def test_a_nul_in_a_form_body_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/console/login",
        content=b"email=a%00b%40example.com&password=x&csrf_token=t",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": "siyu_login_csrf=t"},
    )
    assert response.status_code == 422


def test_multipart_text_fields_lose_their_nuls() -> None:
    assert form_text(FormData([("title", " 面\x00膜 ")]), "title") == "面膜"


async def test_times_without_a_zone_are_the_shops_local_time(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant, auth = await _owner_key(session)
    order = await factories.order(session, tenant.id)
    order.paid_at = datetime(2026, 11, 10, 16, 30, tzinfo=UTC)  # 00:30 on 11 November in Shanghai
    await session.flush()
    day = {"paid_from": "2026-11-11T00:00:00", "paid_to": "2026-11-12T00:00:00"}
    found = await client.get("/api/v1/orders", params=day, headers=auth)
    assert found.status_code == 200 and found.json()["total"] == 1
    before = await client.get("/api/v1/orders", params={"paid_to": "2026-11-11T00:00:00"}, headers=auth)
    assert before.status_code == 200 and before.json()["total"] == 0

    reward = await client.post(
        "/api/v1/mall/rewards",
        json={
            "kind": "physical",
            "title": "面膜",
            "points_price": 10,
            "stock": 5,
            "redeem_from": "2026-11-11T20:00:00",
            "redeem_until": "2026-12-11T00:00:00+08:00",
        },
        headers=auth,
    )
    assert reward.status_code == 201, reward.text
    assert datetime.fromisoformat(reward.json()["redeem_from"]) == datetime(2026, 11, 11, 12, tzinfo=UTC)

    lottery = await client.post(
        "/api/v1/mall/lotteries",
        json={
            "title": "双十一抽奖",
            "points_cost": 1,
            "starts_at": "2026-11-11T20:00:00",
            "ends_at": "2026-11-12T20:00:00",
            "prizes": [
                {"kind": "nothing", "title": "谢谢参与", "weight": 1},
                {"kind": "points", "title": "50 积分", "weight": 1, "points": 50},
            ],
        },
        headers=auth,
    )
    assert lottery.status_code == 201, lottery.text
    assert datetime.fromisoformat(lottery.json()["starts_at"]) == datetime(2026, 11, 11, 12, tzinfo=UTC)


async def test_a_nineteen_digit_member_search_finds_nothing(client: httpx.AsyncClient, session: AsyncSession) -> None:
    _tenant, auth = await _owner_key(session)
    for query in ("9999999999999999999", "99999999999999999999999", "١٢٣"):
        response = await client.get("/api/v1/members", params={"q": query}, headers=auth)
        assert response.status_code == 200 and response.json()["total"] == 0, query


async def test_huge_numbers_in_console_forms_are_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id)
    member = await factories.member(session, tenant.id)
    form = {"csrf_token": login.csrf}
    adjusted = await client.post(
        f"/console/members/{member.id}/points",
        data={**form, "amount": "9" * 30, "reason": "测试", "direction": "add"},
        cookies=login.cookies,
    )
    assert adjusted.status_code == 422 and "积分数量" in adjusted.text
    switched = await client.post("/console/switch-tenant", data={**form, "tenant_id": "9" * 30}, cookies=login.cookies)
    assert switched.status_code == 303
    preview = await client.post("/console/points/preview", data={**form, "paid": "1e400"}, cookies=login.cookies)
    assert preview.status_code == 200


def test_outside_text_loses_nul_and_lone_surrogates() -> None:
    assert plain_text("小\x00鱼\ud800!", 100) == "小鱼\ufffd!"
    assert plain_text(None, 10) == "" and plain_text("x" * 300, 100) == "x" * 100


class _Wechat:
    """WeChat answering with a nickname no column can hold."""

    async def oauth_user(self, **_: object) -> WechatUser:
        return WechatUser(openid="oa-\x00nul", unionid=None, nickname="小\x00鱼\ud83d")


async def test_a_wechat_nickname_with_nul_or_a_lone_surrogate_signs_in(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    app.state.wechat = _Wechat()
    tenant = await factories.tenant(session)
    await tenants.put_setting(session, tenant_id=tenant.id, key="wechat", value={"app_id": "wx1", "app_secret": "s"})
    base = f"/h5/{tenant.slug}"
    chinese = f"{base}/积分"  # a path no cookie can carry as it is
    start = await client.get(f"{base}/wechat", params={"next": chinese})
    assert start.status_code == 303
    state = httpx.URL(start.headers["location"]).params["state"]
    back = await client.get(
        f"{base}/wechat/callback",
        params={"code": "ok", "state": state},
        cookies={"siyu_wx_state": start.cookies["siyu_wx_state"]},
    )
    assert back.status_code == 303, back.text
    assert httpx.URL(back.headers["location"]).path == chinese
    member = await members.find_by_identity(session, tenant_id=tenant.id, kind="wechat_openid", value="oa-nul")
    assert member is not None and member.nickname == "小鱼\ufffd"
    jar = await h5_cookies(app, session, tenant, member.id)
    assert (await client.get(f"{base}/", cookies=jar)).status_code == 200
