"""The fan's H5 session: signed, per tenant, and never valid for another tenant or with a forged signature."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.h5.fans import cookie_name
from siyu.ledger import service as ledger
from tests.support import factories


@pytest.fixture
def demo_app(app: FastAPI) -> FastAPI:
    app.state.settings = app.state.settings.model_copy(update={"demo": True})
    return app


async def test_a_demo_fan_signs_in_sees_her_points_and_only_in_her_tenant(
    demo_app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    home, other = await factories.tenant(session), await factories.tenant(session)
    fan = await factories.member(session, home.id)
    await ledger.earn(session, tenant_id=home.id, member_id=fan.id, amount=88, source_ref="order:douyin:1")

    anonymous = await client.get(f"/h5/{home.slug}/points")
    assert anonymous.status_code == 303 and anonymous.headers["location"].startswith(f"/h5/{home.slug}/login")
    signed = await client.post(f"/h5/{home.slug}/demo-login", data={"next": "https://evil.example/"})
    assert signed.status_code == 303 and signed.headers["location"] == f"/h5/{home.slug}/"  # no open redirect
    cookie = signed.cookies.get(cookie_name(home.slug))
    assert cookie and cookie.startswith(f"{home.id}.{fan.id}.")

    page = await client.get(f"/h5/{home.slug}/points", cookies={cookie_name(home.slug): cookie})
    assert page.status_code == 200 and 'id="available">88<' in page.text

    # The same cookie under the other tenant's name, or with a changed member, is nobody.
    elsewhere = await client.get(f"/h5/{other.slug}/points", cookies={cookie_name(other.slug): cookie})
    assert elsewhere.status_code == 303
    tenant_id, member_id, issued, signature = cookie.split(".")
    forged = f"{tenant_id}.{int(member_id) + 1}.{issued}.{signature}"
    assert (await client.get(f"/h5/{home.slug}/points", cookies={cookie_name(home.slug): forged})).status_code == 303


async def test_without_demo_there_is_no_demo_sign_in(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    await factories.member(session, tenant.id)
    refused = await client.post(f"/h5/{tenant.slug}/demo-login")
    assert refused.status_code == 303 and cookie_name(tenant.slug) not in refused.cookies
    login = await client.get(f"/h5/{tenant.slug}/login")
    assert login.status_code == 200 and "以演示会员身份体验" not in login.text
