"""Claims for staff: lookup by order, member and outcome; the claim policy."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims import service
from siyu.fans import service as fans
from tests.support import factories


async def _key(session: AsyncSession, tenant_id: int, role: str = "owner") -> dict[str, str]:
    login = await factories.staff_login(session, tenant_id, role=role)
    permissions = sorted(login.principal.permissions)
    return {"Authorization": f"Bearer {await factories.api_key(session, login.principal, permissions)}"}


async def test_staff_look_claims_up_and_set_the_policy(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    order = await factories.order(session, tenant.id)
    await service.claim(session, tenant_id=tenant.id, member_id=fan.id, platform="taobao", text=order.order_id)
    await service.claim(session, tenant_id=tenant.id, member_id=fan.id, platform="taobao", text="1930679858179999999")
    auth = await _key(session, tenant.id)

    found = (await client.get("/api/v1/claims", params={"order_id": order.order_id}, headers=auth)).json()
    assert [(c["outcome"], c["outcome_label"], c["points"]) for c in found] == [("credited", "已获得积分", 12)]
    waiting = (await client.get("/api/v1/claims", params={"outcome": "pending"}, headers=auth)).json()
    assert [c["order_id"] for c in waiting] == ["1930679858179999999"]
    bad = await client.get("/api/v1/claims", params={"outcome": "nope"}, headers=auth)
    assert bad.status_code == 422

    policy = (await client.get("/api/v1/claims/policy", headers=auth)).json()
    assert policy["check"] == "none" and policy["pending_days"] == 15
    saved = await client.put("/api/v1/claims/policy", json={**policy, "check": "phone_last4"}, headers=auth)
    assert saved.status_code == 200 and saved.json()["check"] == "phone_last4"
    analyst = await _key(session, tenant.id, role="analyst")
    assert (await client.put("/api/v1/claims/policy", json=policy, headers=analyst)).status_code == 403


async def test_the_fan_api_asks_about_a_number_of_another_platform_and_takes_her_word(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI
) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    tokens = await fans.issue_tokens(
        session, secret=app.state.settings.secret_key, tenant_id=tenant.id, member_id=fan.id
    )
    auth = {"Authorization": f"Bearer {tokens.access_token}"}
    path = f"/api/v1/fan/{tenant.slug}/claims"

    asked = await client.post(path, json={"platform": "douyin", "order": "1930679858170647"}, headers=auth)
    assert asked.status_code == 409
    assert asked.json()["code"] == "platform_mismatch"
    assert asked.json()["detail"] == {"chosen": "douyin", "suggested": ["taobao", "kuaishou"]}
    assert "这看起来是淘宝/天猫或快手的订单号" in asked.json()["message"]
    assert (await client.get(path, headers=auth)).json() == []  # nothing kept

    body = {"platform": "douyin", "order": "1930679858170647", "confirm_platform": True}
    kept = await client.post(path, json=body, headers=auth)
    assert kept.status_code == 200 and kept.json()["outcome"] == "pending"


async def test_the_fan_api_tells_an_app_when_her_pause_ends(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI
) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    tokens = await fans.issue_tokens(
        session, secret=app.state.settings.secret_key, tenant_id=tenant.id, member_id=fan.id
    )
    auth = {"Authorization": f"Bearer {tokens.access_token}", "X-Device-Id": "phone-1"}
    base = f"/api/v1/fan/{tenant.slug}/claims"
    assert (await client.get(f"{base}/lock", headers=auth)).json() == {
        "locked": False,
        "locked_until": None,
        "message": "可以领取",
    }
    for n in range(5):  # numbers of no platform's shape
        await client.post(base, json={"platform": "taobao", "order": f"19306798{n:05d}"}, headers=auth)
    lock = (await client.get(f"{base}/lock", headers=auth)).json()
    assert lock["locked"] is True and lock["locked_until"] and "后再试" in lock["message"]
    refused = (await client.post(base, json={"platform": "taobao", "order": "1930679858170647"}, headers=auth)).json()
    assert refused["outcome"] == "locked" and refused["message"] == lock["message"]
    assert (await client.get(f"{base}/lock")).status_code == 401
