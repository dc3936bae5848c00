"""The member points endpoints: balance with recent entries, and staff adjustments."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.ledger import service
from tests.support import factories


async def _key(session: AsyncSession, tenant_id: int, role: str = "owner") -> dict[str, str]:
    login = await factories.staff_login(session, tenant_id, role=role)
    permissions = sorted(login.principal.permissions)
    return {"Authorization": f"Bearer {await factories.api_key(session, login.principal, permissions)}"}


async def test_points_of_a_member_and_an_adjustment(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    auth = await _key(session, tenant.id)
    url = f"/api/v1/members/{fan.id}/points"

    empty = await client.get(url, headers=auth)
    assert empty.status_code == 200, empty.text
    assert empty.json() == {"member_id": fan.id, "available": 0, "pending": 0, "debt": 0, "entries": []}

    await service.earn(
        session, tenant_id=tenant.id, member_id=fan.id, amount=40, source_ref="order:douyin:1", pending=True
    )
    added = await client.post(f"{url}/adjustments", json={"amount": 300, "reason": "直播间抽奖补发"}, headers=auth)
    assert added.status_code == 201, added.text
    body = added.json()
    assert (body["available"], body["pending"], body["debt"]) == (300, 40, 0)
    assert body["entry"]["kind"] == "adjust" and body["entry"]["explanation"] == "积分调整：直播间抽奖补发"

    taken = await client.post(f"{url}/adjustments", json={"amount": -100, "reason": "重复补发"}, headers=auth)
    assert taken.status_code == 201 and taken.json()["available"] == 200

    shown = (await client.get(url, params={"limit": 2}, headers=auth)).json()
    assert shown["available"] == 200 and shown["pending"] == 40
    assert [(e["kind"], e["amount"], e["kind_label"]) for e in shown["entries"]] == [
        ("adjust", -100, "人工调整"),
        ("adjust", 300, "人工调整"),
    ]

    audit = (await client.get("/api/v1/audit", params={"action": "points."}, headers=auth)).json()
    assert [item["after"]["reason"] for item in audit["items"]] == ["重复补发", "直播间抽奖补发"]


async def test_adjustment_refusals(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    auth = await _key(session, tenant.id)
    url = f"/api/v1/members/{fan.id}/points/adjustments"

    for body in (
        {"amount": 0, "reason": "x"},
        {"amount": 5, "reason": "   "},
        {"amount": 5},
        {"amount": 1.5, "reason": "x"},
    ):
        response = await client.post(url, json=body, headers=auth)
        assert response.status_code == 422, (body, response.text)
    short = await client.post(url, json={"amount": -1, "reason": "扣减"}, headers=auth)
    assert short.status_code == 409 and short.json()["code"] == "insufficient_points"
    missing = await client.post(
        f"/api/v1/members/{fan.id + 1}/points/adjustments", json={"amount": 1, "reason": "x"}, headers=auth
    )
    assert missing.status_code == 404 and missing.json()["code"] == "member_not_found"


async def test_roles_and_tenants(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant, other = await factories.tenant(session), await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    theirs = await factories.member(session, other.id)
    analyst = await _key(session, tenant.id, role="analyst")
    operator = await _key(session, tenant.id, role="operator")
    body = {"amount": 10, "reason": "补发"}

    assert (await client.get(f"/api/v1/members/{fan.id}/points", headers=analyst)).status_code == 200
    denied = await client.post(f"/api/v1/members/{fan.id}/points/adjustments", json=body, headers=analyst)
    assert denied.status_code == 403
    allowed = await client.post(f"/api/v1/members/{fan.id}/points/adjustments", json=body, headers=operator)
    assert allowed.status_code == 201

    for method, path in (("GET", "points"), ("POST", "points/adjustments")):
        response = await client.request(method, f"/api/v1/members/{theirs.id}/{path}", json=body, headers=operator)
        assert response.status_code == 404 and response.json()["code"] == "member_not_found"
