"""订单换积分 on the H5 over HTTP: the platform question's two answers, and the paused form."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.h5.fans import cookie_name
from tests.support import factories


@pytest.fixture
def demo_app(app: FastAPI) -> FastAPI:
    app.state.settings = app.state.settings.model_copy(update={"demo": True})
    return app


async def test_she_switches_the_platform_or_keeps_it_and_the_form_shows_a_pause(
    demo_app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    order = await factories.order(session, tenant.id, platform="taobao")  # a 16-digit Taobao number
    signed = await client.post(f"/h5/{tenant.slug}/demo-login")
    cookies = {cookie_name(tenant.slug): signed.cookies[cookie_name(tenant.slug)]}
    path = f"/h5/{tenant.slug}/claim"

    asked = await client.post(path, data={"platform": "douyin", "order": order.order_id}, cookies=cookies)
    assert asked.status_code == 409 and 'id="platform-question"' in asked.text
    assert 'name="switch_to" value="taobao"' in asked.text and "没选错，就是抖音" in asked.text
    assert f">{order.order_id}</textarea>" in asked.text

    switched = await client.post(
        path, data={"platform": "douyin", "order": order.order_id, "switch_to": "taobao"}, cookies=cookies
    )
    assert switched.status_code == 200 and 'data-outcome="credited"' in switched.text

    kept = await client.post(
        path, data={"platform": "douyin", "order": "1930679858999647", "confirm_platform": "1"}, cookies=cookies
    )
    assert 'data-outcome="pending"' in kept.text and "h5-result-icon wait" in kept.text
    assert "h5-result-icon ok" not in kept.text

    for n in range(5):  # five numbers of no platform's shape
        await client.post(path, data={"platform": "taobao", "order": f"19306798{n:05d}"}, cookies=cookies)
    form = await client.get(path, cookies=cookies)
    assert 'id="claim-locked"' in form.text and "后可以再领取" in form.text and "disabled" in form.text
    locked = await client.post(path, data={"platform": "taobao", "order": order.order_id}, cookies=cookies)
    assert 'data-outcome="locked"' in locked.text and "再领一单" not in locked.text
    history = await client.get(f"/h5/{tenant.slug}/claims", cookies=cookies)
    assert "暂停期间的提交，没有处理" in history.text and "未识别订单号" not in history.text
