"""The mall's staff API: catalogue with image and codes, the fulfilment queue, tracking import, pick list, stats."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.mall import redeem
from tests.mall.conftest import ADDRESS, Mall
from tests.support import factories


async def _key(session: AsyncSession, tenant_id: int, role: str = "owner") -> dict[str, str]:
    login = await factories.staff_login(session, tenant_id, role=role)
    permissions = sorted(login.principal.permissions)
    return {"Authorization": f"Bearer {await factories.api_key(session, login.principal, permissions)}"}


async def test_staff_manage_the_catalogue_and_ship(client: httpx.AsyncClient, mall: Mall) -> None:
    auth = await _key(mall.session, mall.tenant_id)
    body = {"kind": "physical", "title": "定制帆布包", "points_price": 200, "stock": 3, "category": "周边"}
    created = await client.post("/api/v1/mall/rewards", json=body, headers=auth)
    assert created.status_code == 201, created.text
    reward = created.json()
    assert reward["stock"] == 3 and reward["sold"] == 0
    bad = await client.post("/api/v1/mall/rewards", json={**body, "stock": None}, headers=auth)
    assert bad.status_code == 422
    refused = await client.put(
        f"/api/v1/mall/rewards/{reward['id']}/image",
        files={"file": ("a.png", b"GIF? no, text", "image/png")},
        headers=auth,
    )
    assert refused.status_code == 422 and refused.json()["code"] == "not_an_image"

    codes = await client.post(
        "/api/v1/mall/rewards",
        json={"kind": "virtual_code", "title": "月卡", "points_price": 9, "stock": 0},
        headers=auth,
    )
    pool = await client.post(
        f"/api/v1/mall/rewards/{codes.json()['id']}/codes", files={"file": ("c.txt", b"X1\nX2\n\nX1\n")}, headers=auth
    )
    assert pool.json() == {
        "applied": 2,
        "problems": [{"row": 3, "value": "", "reason": "空行"}, {"row": 4, "value": "X1", "reason": "与第 1 行重复"}],
    }

    fan = await mall.fan(1000)
    row = await redeem.redeem(
        mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=reward["id"], address=ADDRESS, now=mall.now
    )
    queue = (await client.get("/api/v1/mall/redemptions", params={"status": "pending_shipment"}, headers=auth)).json()
    assert [(r["id"], r["status_label"]) for r in queue] == [(row.id, "待发货")]
    pick = await client.get("/api/v1/mall/redemptions/pick-list", headers=auth)
    assert pick.status_code == 200 and pick.content.startswith(b"PK")

    analyst = await _key(mall.session, mall.tenant_id, role="analyst")
    ship = {"carrier": "顺丰速运", "tracking_no": "SF1234567890"}
    assert (await client.post(f"/api/v1/mall/redemptions/{row.id}/ship", json=ship, headers=analyst)).status_code == 403
    shipper = await _key(mall.session, mall.tenant_id, role="fulfillment")
    shipped = await client.post(f"/api/v1/mall/redemptions/{row.id}/ship", json=ship, headers=shipper)
    assert shipped.status_code == 200 and shipped.json()["status"] == "shipped"
    cancelled = await client.post(
        f"/api/v1/mall/redemptions/{row.id}/cancel", json={"reason": "地址无法送达"}, headers=auth
    )
    assert cancelled.status_code == 200 and cancelled.json()["status_label"] == "已取消"
    assert await mall.available(fan) == 1000
    again = await client.post(f"/api/v1/mall/redemptions/{row.id}/cancel", json={"reason": "再来"}, headers=auth)
    assert again.status_code == 409 and again.json()["code"] == "wrong_status"

    report = await client.post(
        "/api/v1/mall/tracking-imports",
        files={"file": ("t.csv", "兑换单号,快递公司,运单号\n1,顺丰,SF0001\n".encode())},
        headers=shipper,
    )
    assert report.json()["applied"] == 0 and report.json()["problems"][0]["reason"] == "找不到这笔兑换"
    stats = (await client.get("/api/v1/mall/stats", headers=auth)).json()
    assert stats["by_status"] == {"cancelled": 1} and stats["points_spent"] == 0
    assert (await client.delete(f"/api/v1/mall/rewards/{reward['id']}", headers=auth)).status_code == 409
