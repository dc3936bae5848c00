"""The fan's H5 session: signed, per tenant, and never valid for another tenant or with a forged signature."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims import service as claims
from siyu.claims.schemas import ClaimPolicy
from siyu.h5.fans import cookie_name
from siyu.kit.time import utcnow
from siyu.ledger import service as ledger
from siyu.tenants import service as tenants
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
    tenant_id, member_id, session_id, issued, signature = cookie.split(".")
    forged = f"{tenant_id}.{int(member_id) + 1}.{session_id}.{issued}.{signature}"
    assert (await client.get(f"/h5/{home.slug}/points", cookies={cookie_name(home.slug): forged})).status_code == 303


async def test_without_demo_there_is_no_demo_sign_in(client: httpx.AsyncClient, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    await factories.member(session, tenant.id)
    refused = await client.post(f"/h5/{tenant.slug}/demo-login")
    assert refused.status_code == 303 and cookie_name(tenant.slug) not in refused.cookies
    login = await client.get(f"/h5/{tenant.slug}/login")
    assert login.status_code == 200 and "以演示会员身份体验" not in login.text


async def test_a_fan_claims_on_the_h5_and_sees_her_claims(
    demo_app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    await ledger.earn(session, tenant_id=tenant.id, member_id=fan.id, amount=1, source_ref="adjust:seed")
    order = await factories.order(session, tenant.id, platform="douyin", order_id="6938472013455026992")
    policy = ClaimPolicy(per_minute=2).model_dump(mode="json")
    await tenants.put_setting(session, tenant_id=tenant.id, key="claims", value=policy)
    signed = await client.post(f"/h5/{tenant.slug}/demo-login")
    cookies = {cookie_name(tenant.slug): signed.cookies[cookie_name(tenant.slug)]}

    form = await client.get(f"/h5/{tenant.slug}/claim", cookies=cookies)
    assert form.status_code == 200 and 'name="order"' in form.text
    result = await client.post(
        f"/h5/{tenant.slug}/claim",
        data={"platform": "douyin", "order": f"订单编号：{order.order_id} 复制"},
        cookies=cookies,
    )
    assert result.status_code == 200 and 'data-outcome="credited"' in result.text and "+12" in result.text
    again = await client.post(
        f"/h5/{tenant.slug}/claim", data={"platform": "douyin", "order": order.order_id}, cookies=cookies
    )
    assert 'data-outcome="claimed_by_you"' in again.text
    too_fast = await client.post(
        f"/h5/{tenant.slug}/claim", data={"platform": "douyin", "order": "6938472013455020000"}, cookies=cookies
    )
    assert too_fast.status_code == 429 and "提交太频繁" in too_fast.text
    assert "6938472013455020000</textarea>" in too_fast.text and 'value="douyin" checked' in too_fast.text
    no_platform = await client.post(f"/h5/{tenant.slug}/claim", data={"order": order.order_id}, cookies=cookies)
    assert no_platform.status_code == 422 and "请选择下单的平台" in no_platform.text
    mine = await client.get(f"/h5/{tenant.slug}/claims", cookies=cookies)
    assert mine.text.count('data-outcome="') == 2
    client.cookies.clear()
    anonymous = await client.post(f"/h5/{tenant.slug}/claim", data={"platform": "douyin", "order": "1"})
    assert anonymous.status_code == 303


async def test_her_home_tells_her_what_came_of_her_waiting_claims(
    demo_app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    for number in ("6938472013455026001", "6938472013455026002"):
        waiting = await claims.claim(session, tenant_id=tenant.id, member_id=fan.id, platform="douyin", text=number)
        assert waiting.outcome == "pending"
    signed = await client.post(f"/h5/{tenant.slug}/demo-login")
    cookies = {cookie_name(tenant.slug): signed.cookies[cookie_name(tenant.slug)]}
    assert 'id="claims-settled"' not in (await client.get(f"/h5/{tenant.slug}/", cookies=cookies)).text

    await factories.order(session, tenant.id, platform="douyin", order_id="6938472013455026001", paid_fen=5600)
    assert await claims.resolve_pending(session, tenant_id=tenant.id) == (1, 0)
    assert await claims.resolve_pending(session, tenant_id=tenant.id, now=utcnow() + timedelta(days=30)) == (0, 1)
    home = (await client.get(f"/h5/{tenant.slug}/", cookies=cookies)).text
    assert 'id="claims-settled"' in home and "你等待的领取有结果了" in home
    assert "抖音订单 …026001：已获得 5 积分" in home and "抖音订单 …026002：未等到订单" in home
