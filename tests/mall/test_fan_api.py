"""The fan API of the mall and the lottery (a mini-program's calls): the shelf, redeeming once per request key,
every refusal as a stable code with a Chinese message, her redemptions and addresses; a lottery with her
chances, drawing and its refusals; another tenant's token or reward is refused; a flash reward the Redis gate
knows to be sold out is refused without a single database statement."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from siyu.fans import service as fans
from siyu.kit.time import utcnow
from siyu.loyalty import service as loyalty
from siyu.loyalty.schemas import TierIn
from siyu.mall import lottery
from siyu.mall.gate import FlashGate
from siyu.mall.models import PrizeKind, RewardKind
from siyu.mall.schemas import LotteryIn, PrizeIn
from tests.mall.conftest import Mall
from tests.support import factories

REDIS_URL = os.environ.get("SIYU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
NEW_ADDRESS = {"name": "林小鱼", "phone": "13800138000", "region": "浙江省 杭州市 西湖区", "detail": "文三路 90 号"}


async def _auth(app: FastAPI, mall: Mall, member_id: int, tenant_id: int | None = None) -> dict[str, str]:
    tokens = await fans.issue_tokens(
        mall.session,
        secret=app.state.settings.secret_key,
        tenant_id=tenant_id or mall.tenant_id,
        member_id=member_id,
    )
    return {"Authorization": f"Bearer {tokens.access_token}"}


def _refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body["message"]  # words in Chinese
    return body


async def test_a_fan_redeems_from_her_app_once_and_reads_her_redemptions(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall
) -> None:
    fan = await mall.fan(1000)
    auth = await _auth(app, mall, fan)
    base = f"/api/v1/fan/{mall.tenant.slug}/mall"
    goods = await mall.reward(kind=RewardKind.physical, title="定制帆布包", points_price=300, stock=5)
    coupon = await mall.reward(title="满 100 减 20 券", points_price=100, stock=10)
    await mall.reward(title="下架的券", enabled=False)

    shelf = await client.get(f"{base}/rewards", headers=auth)
    assert shelf.status_code == 200
    titles = {r["title"]: r for r in shelf.json()}
    assert set(titles) == {"定制帆布包", "满 100 减 20 券"}
    assert titles["定制帆布包"]["needs_address"] is True and titles["定制帆布包"]["is_open"] is True
    detail = await client.get(f"{base}/rewards/{coupon.id}", headers=auth)
    assert detail.json()["kind_label"] == "优惠券" and "sold" not in detail.json()

    done = await client.post(
        f"{base}/rewards/{goods.id}/redeem", json={"request_key": "k1", "address": NEW_ADDRESS}, headers=auth
    )
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "pending_shipment" and done.json()["status_label"] == "待发货"
    assert done.json()["address"]["detail"] == "文三路 90 号"
    again = await client.post(
        f"{base}/rewards/{goods.id}/redeem", json={"request_key": "k1", "address": NEW_ADDRESS}, headers=auth
    )
    assert again.json()["id"] == done.json()["id"]
    assert await mall.available(fan) == 700

    saved = (await client.get(f"{base}/addresses", headers=auth)).json()
    assert [a["detail"] for a in saved] == ["文三路 90 号"]
    with_saved = await client.post(
        f"{base}/rewards/{goods.id}/redeem", json={"request_key": "k2", "address_id": saved[0]["id"]}, headers=auth
    )
    assert with_saved.status_code == 200 and with_saved.json()["address"]["name"] == "林小鱼"
    mine = await client.get(f"{base}/redemptions", headers=auth)
    assert [r["title"] for r in mine.json()] == ["定制帆布包", "定制帆布包"]
    assert await mall.available(fan) == 400


async def test_every_refusal_has_its_code_and_takes_nothing(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall
) -> None:
    fan = await mall.fan(500)
    auth = await _auth(app, mall, fan)
    base = f"/api/v1/fan/{mall.tenant.slug}/mall/rewards"
    now = utcnow()

    poor = await mall.reward(title="大礼包", points_price=5000)
    body = _refused(await client.post(f"{base}/{poor.id}/redeem", json={}, headers=auth), 409, "insufficient_points")
    assert "还差 4500 积分" in body["message"]

    gold = await loyalty.create_tier(mall.session, actor=mall.owner, data=TierIn(name="金卡", threshold=1_000_000))
    tiered = await mall.reward(title="金卡专享", tier_ids=[gold.id])
    _refused(await client.post(f"{base}/{tiered.id}/redeem", json={}, headers=auth), 403, "not_eligible")

    daily = await mall.reward(title="每日券", limit_per_day=1)
    assert (await client.post(f"{base}/{daily.id}/redeem", json={"request_key": "a"}, headers=auth)).status_code == 200
    body = _refused(
        await client.post(f"{base}/{daily.id}/redeem", json={"request_key": "b"}, headers=auth),
        409,
        "over_member_limit",
    )
    assert "明天再来" in body["message"]
    _refused(
        await client.post(f"{base}/{poor.id}/redeem", json={"request_key": "a"}, headers=auth),
        409,
        "idempotency_key_reused",
    )

    gone = await mall.reward(title="抢光的券", stock=0)
    _refused(await client.post(f"{base}/{gone.id}/redeem", json={}, headers=auth), 409, "sold_out")

    later = await mall.reward(title="晚上开抢", redeem_from=now + timedelta(hours=2))
    body = _refused(await client.post(f"{base}/{later.id}/redeem", json={}, headers=auth), 409, "outside_window")
    assert "开抢" in body["message"]
    over = await mall.reward(title="已结束", redeem_until=now - timedelta(minutes=1))
    body = _refused(await client.post(f"{base}/{over.id}/redeem", json={}, headers=auth), 409, "outside_window")
    assert "已经结束" in body["message"]

    goods = await mall.reward(kind=RewardKind.physical, title="保温杯", stock=3)
    _refused(await client.post(f"{base}/{goods.id}/redeem", json={}, headers=auth), 422, "address_required")

    other = await factories.tenant(mall.session)
    owner = await factories.staff_login(mall.session, other.id)
    theirs = await Mall(session=mall.session, tenant=other, owner=owner.principal).reward(title="别家的券")
    _refused(await client.post(f"{base}/{theirs.id}/redeem", json={}, headers=auth), 404, "reward_not_found")
    # Her token names her own tenant: another tenant's path refuses it.
    other_base = f"/api/v1/fan/{other.slug}/mall/rewards"
    _refused(await client.post(f"{other_base}/{theirs.id}/redeem", json={}, headers=auth), 401, "fan_token_invalid")
    _refused(await client.post(f"{base}/{poor.id}/redeem", json={}), 401, "fan_token_invalid")

    assert await mall.available(fan) == 400  # only the one daily coupon was paid for


async def test_a_fan_draws_from_her_app_and_hears_why_she_cannot(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall
) -> None:
    fan = await mall.fan(25)
    auth = await _auth(app, mall, fan)
    now = utcnow()
    data = LotteryIn(
        title="直播间大转盘",
        points_cost=10,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=1),
        cap_total=2,
        prizes=[
            PrizeIn(kind=PrizeKind.points, title="5 积分", weight=1, points=5),
            PrizeIn(kind=PrizeKind.nothing, title="谢谢参与", weight=1),
        ],
    )
    wheel = await lottery.create_lottery(mall.session, actor=mall.owner, data=data)
    base = f"/api/v1/fan/{mall.tenant.slug}/lottery"

    listed = (await client.get(base, headers=auth)).json()
    assert [row["title"] for row in listed] == ["直播间大转盘"]
    one = (await client.get(f"{base}/{wheel.id}", headers=auth)).json()
    assert one["chances_total"] == 2 and one["chances_today"] is None and one["is_open"] is True
    assert [p["title"] for p in one["prizes"]] == ["5 积分"]

    first = await client.post(f"{base}/{wheel.id}/draw", json={"request_key": "d1"}, headers=auth)
    assert first.status_code == 200, first.text
    assert first.json()["kind"] in ("points", "nothing") and first.json()["points_cost"] == 10
    repeat = await client.post(f"{base}/{wheel.id}/draw", json={"request_key": "d1"}, headers=auth)
    assert repeat.json()["id"] == first.json()["id"]
    assert (await client.get(f"{base}/{wheel.id}", headers=auth)).json()["chances_total"] == 1
    won = first.json()["points_won"]

    poorer = await mall.fan(5)
    _refused(
        await client.post(f"{base}/{wheel.id}/draw", json={}, headers=await _auth(app, mall, poorer)),
        409,
        "insufficient_points",
    )
    second = await client.post(f"{base}/{wheel.id}/draw", json={"request_key": "d2"}, headers=auth)
    assert second.status_code == 200
    won += second.json()["points_won"]
    body = _refused(await client.post(f"{base}/{wheel.id}/draw", json={}, headers=auth), 409, "over_draw_limit")
    assert "次数已经用完" in body["message"]

    soon = await lottery.create_lottery(
        mall.session,
        actor=mall.owner,
        data=data.model_copy(update={"title": "明晚大转盘", "starts_at": now + timedelta(hours=5)}),
    )
    body = _refused(await client.post(f"{base}/{soon.id}/draw", json={}, headers=auth), 409, "outside_window")
    assert "还没开始" in body["message"]
    ended = await lottery.create_lottery(
        mall.session,
        actor=mall.owner,
        data=data.model_copy(
            update={"title": "上周大转盘", "starts_at": now - timedelta(days=8), "ends_at": now - timedelta(days=1)}
        ),
    )
    body = _refused(await client.post(f"{base}/{ended.id}/draw", json={}, headers=auth), 409, "outside_window")
    assert "已经结束" in body["message"]
    off = await lottery.create_lottery(
        mall.session, actor=mall.owner, data=data.model_copy(update={"title": "停用", "enabled": False})
    )
    _refused(await client.post(f"{base}/{off.id}/draw", json={}, headers=auth), 404, "lottery_not_found")
    assert await mall.available(fan) == 25 - 20 + won  # two draws paid for, the refused ones took nothing


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


async def test_a_sold_out_flash_reward_is_refused_at_the_gate_without_the_database(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall, gate: FlashGate, engine: AsyncEngine
) -> None:
    flash = await mall.reward(title="双11 限量券", stock=1, limit_per_member=1)
    first, second = await mall.fan(), await mall.fan()
    first_auth, second_auth = await _auth(app, mall, first), await _auth(app, mall, second)
    url = f"/api/v1/fan/{mall.tenant.slug}/mall/rewards/{flash.id}/redeem"
    won = await client.post(url, json={"request_key": "w"}, headers=first_auth)
    assert won.status_code == 200, won.text

    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        late = await client.post(url, json={"request_key": "l"}, headers=second_auth)
        _refused(late, 409, "sold_out")
        assert statements == []
        # The winner's own retry is not refused at the gate: the database answers with her redemption.
        again = await client.post(url, json={"request_key": "w"}, headers=first_auth)
        assert again.status_code == 200 and again.json()["id"] == won.json()["id"]
        assert statements  # (so the listener does see what reaches the database)
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert await mall.available(first) == 900 and await mall.available(second) == 1000
