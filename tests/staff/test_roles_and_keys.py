"""Roles decide what staff may do; API keys are scoped, shown once, revocable and expire."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.time import utcnow
from siyu.staff import api_keys
from siyu.staff.models import ApiKey, StaffSession
from tests.support import factories
from tests.support.routes import route_table

OPEN_API_ROUTES = {"/api/v1/me"}  # any authenticated caller may ask who it is
FAN_API = "/api/v1/fan/"  # fans sign in and act with their own tokens, never a staff role (tests/fans)


def test_every_api_route_declares_a_permission(app: FastAPI) -> None:
    for path, route in route_table(app):
        if not path.startswith("/api/") or path in OPEN_API_ROUTES or path.startswith(FAN_API):
            continue
        required = [
            getattr(dependency.call, "required_permission", None) for dependency in route.dependant.dependencies
        ]
        assert any(required), f"{sorted(route.methods)} {path} has no require(...) permission"


@pytest.mark.parametrize(
    ("role", "method", "path", "status"),
    [
        ("analyst", "POST", "/api/v1/channels", 403),
        ("analyst", "GET", "/api/v1/audit", 200),
        ("fulfillment", "GET", "/api/v1/audit", 403),
        ("operator", "POST", "/api/v1/staff", 403),
        ("operator", "GET", "/api/v1/api-keys", 403),
        ("operator", "POST", "/api/v1/channels", 201),
        ("owner", "GET", "/api/v1/api-keys", 200),
    ],
)
async def test_roles_are_enforced(
    client: httpx.AsyncClient, session: AsyncSession, role: str, method: str, path: str, status: int
) -> None:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id, role=role)
    body = {"platform": "kuaishou", "name": "快手小店"} if path.endswith("channels") else None
    if path.endswith("staff"):
        body = {"email": "n@example.com", "role": "analyst", "password": "longenough"}
    response = await client.request(method, path, json=body, cookies=login.cookies, headers=login.headers)
    assert response.status_code == status, response.text
    if status == 403:
        assert response.json()["code"] == "forbidden"


async def test_a_key_is_shown_once_stored_hashed_and_limited_to_its_scopes(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id)
    created = await client.post(
        "/api/v1/api-keys",
        json={"name": "ERP", "permissions": ["channels.read"]},
        cookies=login.cookies,
        headers=login.headers,
    )
    assert created.status_code == 201
    secret = created.json()["secret"]
    stored = await session.scalar(select(ApiKey).where(ApiKey.tenant_id == tenant.id))
    assert stored is not None and secret not in (stored.key_hash, stored.prefix) and stored.key_hash != secret
    listed = await client.get("/api/v1/api-keys", cookies=login.cookies)
    assert "secret" not in listed.json()[0]
    auth = {"Authorization": f"Bearer {secret}"}
    assert (await client.get("/api/v1/channels", headers=auth)).status_code == 200
    assert (await client.get("/api/v1/members", headers=auth)).status_code == 403
    assert (await client.get("/api/v1/channels", headers={"X-API-Key": secret})).status_code == 200


async def test_revoked_expired_and_forged_keys_get_401(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    owner = (await factories.staff_login(session, tenant.id)).principal
    revoked = await factories.api_key(session, owner)
    key_id = (await api_keys.list_keys(session, tenant_id=tenant.id))[0][0].id
    await api_keys.revoke(session, actor=owner, api_key_id=key_id)
    _key, expiring = await api_keys.create(
        session, actor=owner, name="短期", permissions=["tenant.read"], expires_at=utcnow() + timedelta(hours=1)
    )
    _key.expires_at = utcnow() - timedelta(seconds=1)
    await session.flush()
    good = await factories.api_key(session, owner)
    forged = good[:-4] + "AAAA"
    for secret in (revoked, expiring, forged, "sk_nothing.here", "garbage"):
        response = await client.get("/api/v1/tenant", headers={"Authorization": f"Bearer {secret}"})
        assert response.status_code == 401, secret
        assert response.json()["code"] == "not_authenticated"
        assert response.headers["www-authenticate"] == "Bearer"
    assert (await client.get("/api/v1/tenant", headers={"Authorization": f"Bearer {good}"})).status_code == 200


async def test_a_key_cannot_grant_more_than_its_creator_holds(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    owner = (await factories.staff_login(session, tenant.id)).principal
    limited = await factories.api_key(session, owner, ["api_keys.manage"])
    response = await client.post(
        "/api/v1/api-keys",
        json={"name": "escalate", "permissions": ["staff.write"]},
        headers={"Authorization": f"Bearer {limited}"},
    )
    assert response.status_code == 422 and response.json()["code"] == "permission_beyond_own"
    unknown = await client.post(
        "/api/v1/api-keys", json={"name": "x", "permissions": ["root"]}, headers={"Authorization": f"Bearer {limited}"}
    )
    assert unknown.status_code == 422 and unknown.json()["code"] == "invalid_request"  # not in the schema enum


async def test_role_change_ends_that_persons_sessions_and_the_last_owner_stays(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    operator = await factories.staff_login(session, tenant.id, role="operator")
    changed = await client.patch(
        f"/api/v1/staff/{operator.user.id}", json={"role": "analyst"}, cookies=owner.cookies, headers=owner.headers
    )
    assert changed.status_code == 200 and changed.json()["role"] == "analyst"
    assert await session.scalar(select(StaffSession).where(StaffSession.staff_id == operator.user.id)) is None
    demote_self = await client.patch(
        f"/api/v1/staff/{owner.user.id}", json={"role": "operator"}, cookies=owner.cookies, headers=owner.headers
    )
    assert demote_self.status_code == 409 and demote_self.json()["code"] == "last_owner"
    remove_self = await client.delete(f"/api/v1/staff/{owner.user.id}", cookies=owner.cookies, headers=owner.headers)
    assert remove_self.status_code == 409


async def test_staff_of_several_tenants_switch_between_them(client: httpx.AsyncClient, session: AsyncSession) -> None:
    first = await factories.tenant(session, name="甲店")
    second = await factories.tenant(session, name="乙店")
    login = await factories.staff_login(session, first.id, email="multi@example.com")
    from siyu.staff import service

    await service.add_staff(session, tenant_id=second.id, email="multi@example.com", role="analyst", password=None)
    await session.flush()
    page = await client.get("/console/", cookies=login.cookies)
    assert "甲店" in page.text and "乙店" in page.text  # the switcher lists both
    switched = await client.post(
        "/console/switch-tenant", data={"tenant_id": str(second.id), "csrf_token": login.csrf}, cookies=login.cookies
    )
    assert switched.status_code == 303
    me = await client.get("/api/v1/me", cookies=login.cookies)
    assert me.json()["tenant_id"] == second.id and me.json()["role"] == "analyst"
    outsider = await factories.tenant(session)
    refused = await client.post(
        "/console/switch-tenant", data={"tenant_id": str(outsider.id), "csrf_token": login.csrf}, cookies=login.cookies
    )
    assert refused.status_code == 403


async def test_a_removed_owners_key_dies_and_cannot_bring_her_back(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    leaving = await factories.staff_login(session, tenant.id)
    staying = await factories.staff_login(session, tenant.id)
    secret = await factories.api_key(session, leaving.principal)
    auth = {"Authorization": f"Bearer {secret}"}
    assert (await client.get("/api/v1/staff", headers=auth)).status_code == 200
    removed = await client.delete(f"/api/v1/staff/{leaving.user.id}", cookies=staying.cookies, headers=staying.headers)
    assert removed.status_code == 204
    comeback = await client.post("/api/v1/staff", json={"email": leaving.user.email, "role": "owner"}, headers=auth)
    assert comeback.status_code == 401 and comeback.json()["code"] == "not_authenticated"
    assert await session.scalar(select(StaffSession).where(StaffSession.staff_id == leaving.user.id)) is None
    listed = (await client.get("/api/v1/api-keys", cookies=staying.cookies)).json()
    assert listed[0]["revoked_at"] is not None and listed[0]["created_by"] == leaving.user.id


async def test_a_demoted_owners_keys_narrow_to_her_new_role_at_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    demoted = await factories.staff_login(session, tenant.id)
    other = await factories.staff_login(session, tenant.id)
    full = await factories.api_key(session, demoted.principal)
    # a key made with her key answers to her as well
    made = await client.post(
        "/api/v1/api-keys",
        json={"name": "子密钥", "permissions": ["staff.write", "channels.read"]},
        headers={"Authorization": f"Bearer {full}"},
    )
    assert made.status_code == 201 and made.json()["created_by"] == demoted.user.id
    child = made.json()["secret"]
    only_admin = await factories.api_key(session, demoted.principal, ["staff.write", "api_keys.manage"])
    changed = await client.patch(
        f"/api/v1/staff/{demoted.user.id}", json={"role": "analyst"}, cookies=other.cookies, headers=other.headers
    )
    assert changed.status_code == 200
    for secret in (full, child):
        auth = {"Authorization": f"Bearer {secret}"}
        escalate = await client.post("/api/v1/staff", json={"email": demoted.user.email, "role": "owner"}, headers=auth)
        assert escalate.status_code == 403
        assert (await client.get("/api/v1/channels", headers=auth)).status_code == 200
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {full}"})
    assert set(me.json()["permissions"]) <= {
        "tenant.read",
        "channels.read",
        "members.read",
        "orders.read",
        "mall.read",
        "audit.read",
        "jobs.read",
        "analytics.read",
    }
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {only_admin}"})).status_code == 401
    listed = {k["name"]: k for k in (await client.get("/api/v1/api-keys", cookies=other.cookies)).json()}
    assert listed["子密钥"]["permissions"] == ["channels.read"] and listed["子密钥"]["revoked_at"] is None
    assert all(k["created_by_name"] == f"{demoted.user.name} <{demoted.user.email}>" for k in listed.values())


async def test_a_deactivated_creators_key_stops_working(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    secret = await factories.api_key(session, owner.principal)
    owner.user.active = False
    await session.flush()
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})).status_code == 401


async def test_the_console_key_list_shows_creator_and_last_use(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    secret = await factories.api_key(session, owner.principal, ["tenant.read"])
    assert (await client.get("/api/v1/tenant", headers={"Authorization": f"Bearer {secret}"})).status_code == 200
    page = await client.get("/console/api-keys", cookies=owner.cookies)
    assert page.status_code == 200
    assert owner.user.email in page.text and "创建人" in page.text and "从未" not in page.text
