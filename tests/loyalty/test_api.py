"""The loyalty API: policy, campaigns, tiers, preview and a member's tier, with clear refusals."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support import factories

DOUBLE_11 = {
    "name": "双11",
    "starts_at": "2030-11-10T16:00:00+00:00",
    "ends_at": "2030-11-11T16:00:00+00:00",
    "multiplier_pct": 200,
}


async def _key(session: AsyncSession, tenant_id: int, role: str = "owner") -> dict[str, str]:
    login = await factories.staff_login(session, tenant_id, role=role)
    permissions = sorted(login.principal.permissions)
    return {"Authorization": f"Bearer {await factories.api_key(session, login.principal, permissions)}"}


async def test_the_policy_reads_defaults_and_saves_with_an_audit_record(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    auth = await _key(session, tenant.id)
    policy = (await client.get("/api/v1/points/policy", headers=auth)).json()
    assert (policy["fen_per_point"], policy["rounding"], policy["hold_mode"], policy["hold_days"]) == (
        1000,
        "down",
        "after_completion",
        7,
    )
    changed = {**policy, "fen_per_point": 500, "expiry_mode": "days", "expiry_days": 180}
    saved = await client.put("/api/v1/points/policy", json=changed, headers=auth)
    assert saved.status_code == 200, saved.text
    assert (await client.get("/api/v1/points/policy", headers=auth)).json()["fen_per_point"] == 500
    audit = (await client.get("/api/v1/audit", params={"action": "points.policy"}, headers=auth)).json()
    assert audit["items"][0]["after"]["expiry_days"] == 180

    bad = await client.put("/api/v1/points/policy", json={**policy, "fen_per_point": 0}, headers=auth)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"
    unknown = await client.put(
        "/api/v1/points/policy", json={**policy, "channel_fen_per_point": {"12345": 100}}, headers=auth
    )
    assert unknown.status_code == 404 and unknown.json()["code"] == "channel_not_found"
    assert (await client.get("/api/v1/points/policy", headers=auth)).json()["fen_per_point"] == 500  # kept


async def test_campaigns_and_tiers_round_trip_and_preview(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    auth = await _key(session, tenant.id)
    created = await client.post("/api/v1/points/campaigns", json=DOUBLE_11, headers=auth)
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["awarded_total"] == 0 and campaign["exclusive"] is False
    updated = await client.put(
        f"/api/v1/points/campaigns/{campaign['id']}", json={**DOUBLE_11, "multiplier_pct": 300}, headers=auth
    )
    assert updated.json()["multiplier_pct"] == 300

    gold = (
        await client.post(
            "/api/v1/points/tiers", json={"name": "金卡", "threshold": 1000, "multiplier_pct": 120}, headers=auth
        )
    ).json()
    taken = await client.post("/api/v1/points/tiers", json={"name": "钻石", "threshold": 1000}, headers=auth)
    assert taken.status_code == 409 and taken.json()["code"] == "tier_threshold_taken"

    preview = await client.post(
        "/api/v1/points/preview",
        json={"paid_fen": 13990, "tier_id": gold["id"], "at": "2030-11-11T02:00:00+00:00"},
        headers=auth,
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["points"] == 46  # 13 × 3 × 1.2
    assert preview.json()["explanation"] == "获得 46 积分：基础 13 × 双11 3倍 × 金卡 1.2倍"

    assert (await client.delete(f"/api/v1/points/campaigns/{campaign['id']}", headers=auth)).status_code == 204
    assert (await client.get("/api/v1/points/campaigns", headers=auth)).json() == []


async def test_bad_campaigns_are_refused_with_a_reason(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    auth = await _key(session, tenant.id)
    backwards = {**DOUBLE_11, "ends_at": "2030-11-01T00:00:00+00:00"}
    refused = await client.post("/api/v1/points/campaigns", json=backwards, headers=auth)
    assert refused.status_code == 422 and "结束时间必须晚于开始时间" in refused.text
    nothing = {**DOUBLE_11, "multiplier_pct": 100}
    assert (await client.post("/api/v1/points/campaigns", json=nothing, headers=auth)).status_code == 422
    unknown_tier = await client.post("/api/v1/points/campaigns", json={**DOUBLE_11, "tier_ids": [42]}, headers=auth)
    assert unknown_tier.status_code == 404 and unknown_tier.json()["code"] == "tier_not_found"
    assert (await client.get("/api/v1/points/campaigns", headers=auth)).json() == []


async def test_only_rule_keepers_change_rules(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    analyst = await _key(session, tenant.id, role="analyst")
    assert (await client.get("/api/v1/points/policy", headers=analyst)).status_code == 200
    refused = await client.post("/api/v1/points/campaigns", json=DOUBLE_11, headers=analyst)
    assert refused.status_code == 403


async def test_a_members_tier(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    auth = await _key(session, tenant.id)
    await client.post("/api/v1/points/tiers", json={"name": "银卡", "threshold": 10}, headers=auth)
    body = (await client.get(f"/api/v1/members/{fan.id}/tier", headers=auth)).json()
    assert body["tier"] is None and body["growth"] == 0 and body["next_tier"]["name"] == "银卡"
    assert body["history"] == []
