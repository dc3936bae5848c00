from __future__ import annotations

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit.models import AuditEntry
from tests.support import factories


async def test_channels_created_listed_and_updated_with_audit(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    key = await factories.api_key(session, (await factories.staff_login(session, tenant.id)).principal)
    auth = {"Authorization": f"Bearer {key}"}

    created = await client.post("/api/v1/channels", json={"platform": "douyin", "name": " 抖音直播间 "}, headers=auth)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "抖音直播间" and body["platform"] == "douyin" and body["active"] is True

    listed = await client.get("/api/v1/channels", headers=auth)
    assert [c["id"] for c in listed.json()] == [body["id"]]

    patched = await client.patch(f"/api/v1/channels/{body['id']}", json={"active": False}, headers=auth)
    assert patched.status_code == 200 and patched.json()["active"] is False

    actions = list(
        await session.scalars(
            select(AuditEntry.action).where(AuditEntry.tenant_id == tenant.id).order_by(AuditEntry.id)
        )
    )
    assert actions == ["api_key.create", "channel.create", "channel.update"]


async def test_duplicate_channel_is_a_conflict_and_unknown_platform_is_422(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    key = await factories.api_key(session, (await factories.staff_login(session, tenant.id)).principal)
    auth = {"Authorization": f"Bearer {key}"}
    first = await client.post("/api/v1/channels", json={"platform": "taobao", "name": "天猫店"}, headers=auth)
    assert first.status_code == 201
    again = await client.post("/api/v1/channels", json={"platform": "taobao", "name": "天猫店"}, headers=auth)
    assert again.status_code == 409 and again.json()["code"] == "channel_exists"
    bad = await client.post("/api/v1/channels", json={"platform": "weibo", "name": "x"}, headers=auth)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"
    count = await session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.tenant_id == tenant.id, AuditEntry.action == "channel.create")
    )
    assert count == 1


async def test_tenant_settings_update_is_audited_with_before_and_after(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session, name="旧名字")
    login = await factories.staff_login(session, tenant.id)
    response = await client.patch(
        "/api/v1/tenant",
        json={"name": "新名字", "brand_color": "#112233"},
        cookies=login.cookies,
        headers=login.headers,
    )
    assert response.status_code == 200, response.text
    assert response.json()["settings"]["brand_color"] == "#112233"
    entry = await session.scalar(
        select(AuditEntry).where(AuditEntry.action == "tenant.update", AuditEntry.tenant_id == tenant.id)
    )
    assert entry is not None
    assert entry.before is not None and entry.before["name"] == "旧名字"
    assert entry.after is not None and entry.after["name"] == "新名字"
    assert entry.actor_kind == "staff" and entry.actor_id == login.user.id


async def test_unknown_timezone_is_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id)
    response = await client.patch(
        "/api/v1/tenant", json={"timezone": "Mars/Olympus"}, cookies=login.cookies, headers=login.headers
    )
    assert response.status_code == 422 and response.json()["code"] == "invalid_timezone"
