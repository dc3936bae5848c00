"""积分抽奖 pages: ops set a campaign up in the console (refusals in words, what they typed kept); a fan draws on
the H5, sees the result and her chances, is told in words when she cannot; another tenant's campaign is not there;
the staff API."""

from __future__ import annotations

import random
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI

from siyu.h5.fans import cookie_name
from siyu.kit.time import to_local, utcnow
from siyu.mall import lottery
from siyu.mall.models import PrizeKind
from siyu.mall.schemas import LotteryIn, PrizeIn
from tests.mall.conftest import Mall
from tests.support import factories


async def _signed_in(app: FastAPI, client: httpx.AsyncClient, mall: Mall) -> dict[str, str]:
    app.state.settings = app.state.settings.model_copy(update={"demo": True})
    signed = await client.post(f"/h5/{mall.tenant.slug}/demo-login")
    return {cookie_name(mall.tenant.slug): signed.cookies[cookie_name(mall.tenant.slug)]}


def _local(hours: int) -> str:
    return to_local(utcnow() + timedelta(hours=hours), "Asia/Shanghai").strftime("%Y-%m-%dT%H:%M")


async def test_ops_set_a_campaign_up_and_a_fan_draws(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall, monkeypatch: pytest.MonkeyPatch
) -> None:
    login = await factories.staff_login(mall.session, mall.tenant_id)
    kw = {"cookies": login.cookies}
    page = await client.get("/console/mall/lottery/new", **kw)
    assert page.status_code == 200 and "新建抽奖活动" in page.text
    form: dict[str, str | list[str]] = {
        "csrf_token": login.csrf,
        "title": "周末大转盘",
        "points_cost": "10",
        "cap_per_day": "2",
        "starts_at": _local(-1),
        "ends_at": _local(48),
        "enabled": "1",
        "prize_id": ["", "", ""],
        "prize_kind": ["points", "points", "nothing"],
        "prize_title": ["88 积分", "", "谢谢参与"],
        "prize_weight": ["1", "", "0"],
        "prize_stock": ["5", "", ""],
        "prize_points": ["88", "", ""],
        "prize_reward_id": ["", "", ""],
    }
    refused = await client.post("/console/mall/lottery", data=form, **kw)
    assert refused.status_code == 422 and "未中奖" in refused.text and "周末大转盘" in refused.text
    created = await client.post("/console/mall/lottery", data={**form, "prize_weight": ["1", "", "3"]}, **kw)
    assert created.status_code == 303, created.text
    lottery_id = int(created.headers["location"].split("/")[-1].split("?")[0])
    prizes = await lottery.prizes_of(mall.session, tenant_id=mall.tenant_id, lottery_id=lottery_id)
    assert [(p.kind, p.title, p.weight, p.stock) for p in prizes] == [
        ("points", "88 积分", 1, 5),
        ("nothing", "谢谢参与", 3, None),
    ]
    listed = await client.get("/console/mall/lottery", **kw)
    assert "周末大转盘" in listed.text and "进行中" in listed.text

    fan = await mall.fan(25)
    slug = mall.tenant.slug
    cookies = await _signed_in(app, client, mall)
    home = await client.get(f"/h5/{slug}/", cookies=cookies)
    assert f'href="/h5/{slug}/lottery"' in home.text
    campaigns = await client.get(f"/h5/{slug}/lottery", cookies=cookies)
    assert f'data-lottery="{lottery_id}"' in campaigns.text
    shown = await client.get(f"/h5/{slug}/lottery/{lottery_id}", cookies=cookies)
    assert "88 积分" in shown.text and "今天还能抽 2 次" in shown.text and 'id="lottery-points">25<' in shown.text

    monkeypatch.setattr(lottery, "_wheel", random.Random(4))
    drawn = await client.post(f"/h5/{slug}/lottery/{lottery_id}/draw", data={"key": "tap-1"}, cookies=cookies)
    assert drawn.status_code == 200 and 'id="draw-result"' in drawn.text and "今天还能抽 1 次" in drawn.text
    again = await client.post(f"/h5/{slug}/lottery/{lottery_id}/draw", data={"key": "tap-1"}, cookies=cookies)
    assert "今天还能抽 1 次" in again.text  # a double submit is one draw
    second = await client.post(f"/h5/{slug}/lottery/{lottery_id}/draw", data={"key": "tap-2"}, cookies=cookies)
    assert "今天还能抽 0 次" in second.text
    capped = await client.post(f"/h5/{slug}/lottery/{lottery_id}/draw", data={"key": "tap-3"}, cookies=cookies)
    assert (
        capped.status_code == 409 and "每人每天最多抽 2 次，明天再来吧" in capped.text and "积分没有扣除" in capped.text
    )
    draws = await lottery.draws_of(mall.session, tenant_id=mall.tenant_id, lottery_id=lottery_id, member_id=fan)
    assert len(draws) == 2
    assert await mall.available(fan) == 25 - 20 + sum(d.points_won for d in draws)
    console = await client.get(f"/console/mall/lottery/{lottery_id}", **kw)
    assert console.status_code == 200 and f'data-draw="{draws[0].id}"' in console.text


async def test_another_tenants_campaign_is_not_there(app: FastAPI, client: httpx.AsyncClient, mall: Mall) -> None:
    other = await factories.tenant(mall.session)
    owner = await factories.staff_login(mall.session, other.id)
    now = utcnow()
    theirs = await lottery.create_lottery(
        mall.session,
        actor=owner.principal,
        data=LotteryIn(
            title="别家的转盘",
            points_cost=1,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
            prizes=[PrizeIn(kind=PrizeKind.nothing, title="谢谢参与", weight=1)] * 2,
        ),
    )
    await mall.fan(100)
    cookies = await _signed_in(app, client, mall)
    slug = mall.tenant.slug
    assert (await client.get(f"/h5/{slug}/lottery/{theirs.id}", cookies=cookies)).status_code == 404
    drawn = await client.post(f"/h5/{slug}/lottery/{theirs.id}/draw", data={"key": "x"}, cookies=cookies)
    assert drawn.status_code == 404
    assert "别家的转盘" not in (await client.get(f"/h5/{slug}/lottery", cookies=cookies)).text


async def test_the_staff_api(client: httpx.AsyncClient, mall: Mall) -> None:
    login = await factories.staff_login(mall.session, mall.tenant_id)
    kw = {"cookies": login.cookies, "headers": login.headers}
    body = {
        "title": "开播转盘",
        "points_cost": 5,
        "starts_at": (utcnow() - timedelta(hours=1)).isoformat(),
        "ends_at": (utcnow() + timedelta(days=1)).isoformat(),
        "cap_total": 3,
        "prizes": [
            {"kind": "points", "title": "20 积分", "weight": 1, "points": 20, "stock": 10},
            {"kind": "nothing", "title": "谢谢参与", "weight": 4},
        ],
    }
    no_blank = {**body, "prizes": [body["prizes"][0], body["prizes"][0]]}  # type: ignore[index]
    refused = await client.post("/api/v1/mall/lotteries", json=no_blank, **kw)
    assert refused.status_code == 422
    created = await client.post("/api/v1/mall/lotteries", json=body, **kw)
    assert created.status_code == 201, created.text
    out = created.json()
    assert [p["title"] for p in out["prizes"]] == ["20 积分", "谢谢参与"] and out["cap_total"] == 3
    keep = [{**p, "id": out["prizes"][n]["id"]} for n, p in enumerate(body["prizes"])]  # type: ignore[arg-type]
    keep[0]["weight"] = 0
    changed = await client.put(f"/api/v1/mall/lotteries/{out['id']}", json={**body, "prizes": keep}, **kw)
    assert changed.status_code == 200 and changed.json()["prizes"][0]["weight"] == 0
    assert [p["id"] for p in changed.json()["prizes"]] == [p["id"] for p in out["prizes"]]
    assert (await client.get(f"/api/v1/mall/lotteries/{out['id']}/draws", **kw)).json() == []
    assert len((await client.get("/api/v1/mall/lotteries", **kw)).json()) == 1
    assert (await client.delete(f"/api/v1/mall/lotteries/{out['id']}", **kw)).status_code == 204
    assert (await client.get(f"/api/v1/mall/lotteries/{out['id']}", **kw)).status_code == 404
