"""The H5 redeem button through htmx: the result or the refusal comes back as a fragment that takes the form's
place, an address problem is said above the button; and the flash crowd after the last one hears "sold out" from
the Redis gate with no database statement, in a fragment (htmx) or a small page (no JavaScript)."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from siyu.mall.gate import FlashGate
from siyu.mall.models import RewardKind
from tests.mall.conftest import Mall
from tests.support.fans import h5_cookies

REDIS_URL = os.environ.get("SIYU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
HTMX = {"HX-Request": "true"}


async def _cookies(app: FastAPI, mall: Mall, member_id: int) -> dict[str, str]:
    return await h5_cookies(app, mall.session, mall.tenant, member_id)


def _fan_text(html: str) -> None:
    """What a fan reads: no codes, ids or English words outside the markup."""
    import re

    text = re.sub(r"<[^>]+>", " ", html)
    assert not re.search(r"[A-Za-z_]{4,}", text), text


async def test_the_redeem_button_swaps_in_the_result_or_the_refusal(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall
) -> None:
    fan = await mall.fan(400)
    cookies = await _cookies(app, mall, fan)
    slug = mall.tenant.slug
    goods = await mall.reward(kind=RewardKind.physical, title="定制帆布包", points_price=300, stock=5)
    form = await client.get(f"/h5/{slug}/mall/rewards/{goods.id}/redeem", cookies=cookies)
    assert 'hx-post="/h5/' in form.text and 'id="redeem-outcome"' in form.text
    url = f"/h5/{slug}/mall/rewards/{goods.id}/redeem"

    bad = {"key": "k1", "name": "林小鱼", "phone": "123", "region": "浙江省 杭州市 西湖区", "detail": "文三路 90 号"}
    problem = await client.post(url, data=bad, cookies=cookies, headers=HTMX)
    assert problem.status_code == 422 and "HX-Retarget" not in problem.headers
    assert problem.text.strip().startswith('<div class="alert') and "请填写 11 位手机号" in problem.text
    missing = await client.post(url, data={"key": "k1"}, cookies=cookies, headers=HTMX)
    assert missing.status_code == 422 and "请填写收货地址" in missing.text

    done = await client.post(url, data={**bad, "phone": "13800138000"}, cookies=cookies, headers=HTMX)
    assert done.status_code == 200
    assert done.headers["HX-Retarget"] == "#redeem-form" and done.headers["HX-Reswap"] == "outerHTML"
    assert "<html" not in done.text and 'data-status="pending_shipment"' in done.text
    assert "兑换成功" in done.text and "文三路 90 号" in done.text and "使用 300 积分" in done.text
    _fan_text(done.text)

    short = await client.post(url, data=bad | {"key": "k2", "phone": "13800138000"}, cookies=cookies, headers=HTMX)
    assert short.status_code == 409 and short.headers["HX-Retarget"] == "#redeem-form"
    assert 'data-code="insufficient_points"' in short.text and "还差 200 积分" in short.text
    assert "积分没有扣除" in short.text and "<html" not in short.text
    _fan_text(short.text)
    assert await mall.available(fan) == 100

    # Without JavaScript the same form still works as a plain post.
    plain = await client.post(url, data=bad | {"key": "k3", "phone": "13800138000"}, cookies=cookies)
    assert plain.status_code == 409 and "<html" in plain.text and "还差 200 积分" in plain.text


@pytest.fixture
async def gate(app: FastAPI) -> AsyncIterator[FlashGate]:
    gate = FlashGate(REDIS_URL, prefix=f"siyu-test:{secrets.token_hex(4)}")
    try:
        await gate.redis.ping()
    except Exception as error:
        await gate.close()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI=true: {error}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    app.state.gate = gate
    try:
        yield gate
    finally:
        app.state.gate = None
        keys = [key async for key in gate.redis.scan_iter(f"{gate.prefix}:*")]
        if keys:
            await gate.redis.delete(*keys)
        await gate.close()


async def test_the_flash_crowd_hears_sold_out_from_the_gate_without_the_database(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall, gate: FlashGate, engine: AsyncEngine
) -> None:
    flash = await mall.reward(title="双11 限量券", stock=1, limit_per_member=1)
    winner, late = await mall.fan(), await mall.fan()
    url = f"/h5/{mall.tenant.slug}/mall/rewards/{flash.id}/redeem"
    winner_cookies, late_cookies = await _cookies(app, mall, winner), await _cookies(app, mall, late)
    won = await client.post(url, data={"key": "w"}, cookies=winner_cookies, headers=HTMX)
    assert won.status_code == 200 and "兑换成功" in won.text

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        fragment = await client.post(url, data={"key": "l"}, cookies=late_cookies, headers=HTMX)
        page = await client.post(url, data={"key": "l"}, cookies=late_cookies)
        assert statements == []
        again = await client.post(url, data={"key": "w"}, cookies=winner_cookies, headers=HTMX)
        assert statements  # her own retry reaches the database, which answers with her redemption
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert fragment.status_code == 409 and fragment.headers["HX-Retarget"] == "#redeem-form"
    assert 'data-code="sold_out"' in fragment.text and "已经被抢光了" in fragment.text and "<html" not in fragment.text
    _fan_text(fragment.text)
    assert page.status_code == 409 and "<html" in page.text and "已经被抢光了" in page.text
    assert f'href="/h5/{mall.tenant.slug}/mall"' in page.text
    assert again.status_code == 200 and "兑换成功" in again.text
    assert await mall.available(winner) == 900 and await mall.available(late) == 1000
