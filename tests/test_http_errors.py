"""Bad requests get a stable code and a Chinese message; pages get pages, machines get JSON."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from tests.support import factories


async def test_malformed_json_is_422_with_a_code(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    key = await factories.api_key(session, (await factories.staff_login(session, tenant.id)).principal)
    response = await client.post(
        "/api/v1/channels",
        content=b'{"platform": "taobao", "name": ',
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json()["code"] == "malformed_json" and response.json()["message"]


async def test_extra_fields_are_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    key = await factories.api_key(session, (await factories.staff_login(session, tenant.id)).principal)
    response = await client.patch("/api/v1/tenant", json={"slug": "hijack"}, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 422 and response.json()["code"] == "invalid_request"


async def test_unknown_tenant_slug_is_a_404_page_in_chinese(client: httpx.AsyncClient) -> None:
    response = await client.get("/h5/no-such-host/")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"]
    assert "找不到这个店铺" in response.text and 'data-code="tenant_not_found"' in response.text


async def test_unknown_api_path_is_json_404_and_unauthenticated_api_is_401(client: httpx.AsyncClient) -> None:
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    anonymous = await client.get("/api/v1/channels")
    assert anonymous.status_code == 401 and anonymous.json() == {"code": "not_authenticated", "message": "请先登录"}


async def test_console_pages_send_strangers_to_the_login_page(client: httpx.AsyncClient) -> None:
    response = await client.get("/console/channels")
    assert response.status_code == 303 and response.headers["location"] == "/console/login?next=/console/channels"
    htmx = await client.get("/console/channels", headers={"HX-Request": "true"})
    assert htmx.headers["hx-redirect"].startswith("/console/login")


async def test_healthz_checks_the_database(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200 and response.json()["database"] == "ok"


async def test_h5_shell_shows_the_tenant(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session, name="小Y星球")
    owner = (await factories.staff_login(session, tenant.id)).principal
    await factories.channel(session, owner)
    response = await client.get(f"/h5/{tenant.slug}/")
    assert response.status_code == 200 and "小Y星球" in response.text and "淘宝/天猫" in response.text
    assert 'lang="zh-CN"' in response.text and "width=device-width" in response.text


async def test_nul_characters_are_refused_before_they_reach_the_database(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    key = await factories.api_key(session, (await factories.staff_login(session, tenant.id)).principal)
    auth = {"Authorization": f"Bearer {key}"}
    query = await client.get("/api/v1/audit", params={"action": "a\x00b"}, headers=auth)
    assert query.status_code == 422 and query.json()["code"] == "invalid_request"
    body = await client.post("/api/v1/channels", json={"platform": "taobao", "name": "店\x00"}, headers=auth)
    assert body.status_code == 422
