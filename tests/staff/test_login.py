"""Console sign-in: same answer for unknown email and wrong password, throttling, CSRF, sessions."""

from __future__ import annotations

import re

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit.models import AuditEntry
from siyu.staff.models import StaffSession
from tests.support import factories


async def _form_token(client: httpx.AsyncClient) -> str:
    page = await client.get("/console/login")
    assert page.status_code == 200
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match
    return match.group(1)


async def _login(client: httpx.AsyncClient, email: str, password: str, next_url: str = "/console/") -> httpx.Response:
    token = await _form_token(client)
    return await client.post(
        "/console/login", data={"email": email, "password": password, "csrf_token": token, "next": next_url}
    )


async def test_login_opens_a_session_with_a_safe_cookie_and_is_audited(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id, email="boss@example.com")
    response = await _login(client, " Boss@Example.com ", factories.PASSWORD, "/console/channels")
    assert response.status_code == 303 and response.headers["location"] == "/console/channels"
    cookie = next(h for h in response.headers.get_list("set-cookie") if h.startswith("siyu_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie
    dashboard = await client.get("/console/")
    assert dashboard.status_code == 200 and "概览" in dashboard.text
    entry = await session.scalar(
        select(AuditEntry).where(AuditEntry.action == "auth.login", AuditEntry.actor_id == login.user.id)
    )
    assert entry is not None and entry.tenant_id == tenant.id


async def test_unknown_email_and_wrong_password_get_the_same_answer(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    await factories.staff_login(session, tenant.id, email="real@example.com")
    wrong = await _login(client, "real@example.com", "not-the-password")
    unknown = await _login(client, "nobody@example.com", "not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    assert "邮箱或密码不正确" in wrong.text and "邮箱或密码不正确" in unknown.text
    strip = re.compile(r'value="[^"]*"')
    assert strip.sub("", wrong.text) == strip.sub("", unknown.text).replace("nobody@example.com", "real@example.com")
    assert "siyu_session" not in wrong.headers.get("set-cookie", "")


async def test_repeated_failures_are_throttled_even_for_the_right_password(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    await factories.staff_login(session, tenant.id, email="target@example.com")
    for _ in range(5):
        assert (await _login(client, "target@example.com", "guess")).status_code == 401
    blocked = await _login(client, "target@example.com", factories.PASSWORD)
    assert blocked.status_code == 429 and "登录失败次数过多" in blocked.text
    assert "siyu_session" not in blocked.headers.get("set-cookie", "")


async def test_login_form_without_its_csrf_cookie_is_refused(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    await factories.staff_login(session, tenant.id, email="x@example.com")
    response = await client.post(
        "/console/login", data={"email": "x@example.com", "password": factories.PASSWORD, "csrf_token": "forged"}
    )
    assert response.status_code == 403 and "页面已过期" in response.text


async def test_next_parameter_cannot_leave_the_console(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    await factories.staff_login(session, tenant.id, email="y@example.com")
    response = await _login(client, "y@example.com", factories.PASSWORD, "//evil.example.com/")
    assert response.headers["location"] == "/console/"


async def test_logout_ends_the_session(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id)
    client.cookies.set("siyu_session", login.token)
    assert (await client.get("/console/")).status_code == 200
    out = await client.post("/console/logout", data={"csrf_token": login.csrf})
    assert out.status_code == 303 and out.headers["location"] == "/console/login"
    assert await session.scalar(select(StaffSession).where(StaffSession.staff_id == login.user.id)) is None
    client.cookies.set("siyu_session", login.token)
    again = await client.get("/console/")
    assert again.status_code == 303 and again.headers["location"].startswith("/console/login")


async def test_console_forms_and_cookie_api_calls_need_the_csrf_token(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id)
    no_token = await client.post("/console/channels", data={"platform": "taobao", "name": "店"}, cookies=login.cookies)
    assert no_token.status_code == 403
    api = await client.patch("/api/v1/tenant", json={"name": "改名"}, cookies=login.cookies)
    assert api.status_code == 403 and api.json()["code"] == "csrf_failed"
    assert (await client.get("/api/v1/tenant", cookies=login.cookies)).status_code == 200
