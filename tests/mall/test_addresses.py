"""Where goods go: a new address she fills in wins over a saved one (H5 and API), regions come from the vendored
division data, saved addresses are edited and deleted, and a redemption's address can change until it ships.
What is sure to fail is said before the address is asked for: points, tier (named), limits; the pages turn their
buttons off with the reason. A draw is 积分抽奖 in her history and a prize is 免费, not -0 积分."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import select

from siyu.fans import service as fans
from siyu.h5.fans import cookie_name
from siyu.kit.time import utcnow
from siyu.loyalty import service as loyalty
from siyu.loyalty.schemas import TierIn
from siyu.mall import fulfil, lottery, redeem, regions, service
from siyu.mall.models import Address, PrizeKind, Redemption, RewardKind, Status
from siyu.mall.schemas import AddressIn, LotteryIn, PrizeIn, ShipIn
from tests.mall.conftest import ADDRESS, Mall

NEW = {"name": "陈桃子", "phone": "13912345678", "region": "广东省 深圳市 南山区", "detail": "科技园南区 8 栋 1203"}


async def _signed_in(app: FastAPI, client: httpx.AsyncClient, mall: Mall) -> dict[str, str]:
    app.state.settings = app.state.settings.model_copy(update={"demo": True})
    signed = await client.post(f"/h5/{mall.tenant.slug}/demo-login")
    return {cookie_name(mall.tenant.slug): signed.cookies[cookie_name(mall.tenant.slug)]}


async def _auth(app: FastAPI, mall: Mall, member_id: int) -> dict[str, str]:
    tokens = await fans.issue_tokens(
        mall.session, secret=app.state.settings.secret_key, tenant_id=mall.tenant_id, member_id=member_id
    )
    return {"Authorization": f"Bearer {tokens.access_token}"}


def _refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


async def _fresh_addresses(mall: Mall, member_id: int) -> list[Address]:
    """Her address book as the requests (their own sessions) left it, not as this session remembers it."""
    rows = await mall.session.scalars(
        select(Address)
        .where(Address.tenant_id == mall.tenant_id, Address.member_id == member_id)
        .order_by(Address.is_default.desc(), Address.created_at.desc(), Address.id.desc())
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def _fresh_redemptions(mall: Mall, member_id: int) -> list[Redemption]:
    rows = await mall.session.scalars(
        select(Redemption)
        .where(Redemption.tenant_id == mall.tenant_id, Redemption.member_id == member_id)
        .order_by(Redemption.created_at.desc(), Redemption.id.desc())
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def _fresh_redemption(mall: Mall, redemption_id: int) -> Redemption:
    row = await mall.session.scalar(
        select(Redemption)
        .where(Redemption.tenant_id == mall.tenant_id, Redemption.id == redemption_id)
        .execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def _prize(mall: Mall, fan: int) -> int:
    goods = await mall.reward(kind=RewardKind.physical, title="保温杯", stock=5)
    cup = PrizeIn(kind=PrizeKind.reward, title="保温杯", weight=1_000_000, reward_id=goods.id)
    nothing = PrizeIn(kind=PrizeKind.nothing, title="谢谢参与", weight=1)
    now = utcnow()
    data = LotteryIn(
        title="大转盘",
        points_cost=10,
        starts_at=now - timedelta(days=1),
        ends_at=now + timedelta(days=1),
        prizes=[cup, nothing],
    )
    campaign = await lottery.create_lottery(mall.session, actor=mall.owner, data=data)
    won = await lottery.draw(
        mall.session,
        tenant_id=mall.tenant_id,
        timezone="Asia/Shanghai",
        member_id=fan,
        lottery_id=campaign.id,
        rng=random.Random(3),
    )
    assert won.redemption_id is not None
    return won.redemption_id


def test_regions_come_from_the_division_data() -> None:
    assert regions.split("浙江省 杭州市 西湖区") == ("浙江省", "杭州市", "西湖区")
    assert regions.is_known("上海市 上海市 徐汇区")  # a municipality is its own city
    assert regions.is_known("重庆市 重庆市 巫山县")  # its 市辖区 and 县 are one city
    assert not regions.is_known("浙江省 杭州市")
    assert not regions.is_known("浙江省 深圳市 南山区")  # the city is not in the province
    assert not regions.is_known("火星省 奥林匹斯市 山区")
    with pytest.raises(ValidationError, match="请选择省、市、区"):
        AddressIn.model_validate({**NEW, "region": "广东省 深圳"})


async def test_a_new_address_she_filled_in_wins_over_the_saved_one_she_left_ticked(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall
) -> None:
    fan = await mall.fan(900)
    saved_id = (await service.add_address(mall.session, tenant_id=mall.tenant_id, member_id=fan, data=ADDRESS)).id
    prize_id = await _prize(mall, fan)
    cookies = await _signed_in(app, client, mall)
    url = f"/h5/{mall.tenant.slug}/mall/redemptions/{prize_id}"
    # The form without JavaScript sends the ticked saved address and the typed fields together.
    done = await client.post(f"{url}/address", data={"address_id": str(saved_id), **NEW}, cookies=cookies)
    assert done.status_code == 303
    row = await _fresh_redemption(mall, prize_id)
    assert row.address is not None and row.address["detail"] == NEW["detail"]
    book = await _fresh_addresses(mall, fan)
    assert {a.name for a in book} == {"林小鱼", "陈桃子"}

    # On the redeem form as well; a half-typed address is refused, not replaced by the saved one.
    goods = await mall.reward(kind=RewardKind.physical, title="帆布包", points_price=100, stock=5)
    form = f"/h5/{mall.tenant.slug}/mall/rewards/{goods.id}/redeem"
    half = await client.post(form, data={"key": "a", "address_id": str(saved_id), "name": "周星星"}, cookies=cookies)
    assert half.status_code == 422 and "请填写 11 位手机号" in half.text
    bad_region = {**NEW, "region": "广东省 杭州市 西湖区"}
    wrong = await client.post(form, data={"key": "b", "address_id": str(saved_id), **bad_region}, cookies=cookies)
    assert wrong.status_code == 422 and "请选择省、市、区" in wrong.text
    ok = await client.post(form, data={"key": "c", "address_id": str(saved_id), **NEW}, cookies=cookies)
    assert ok.status_code == 303
    [mine] = [r for r in await _fresh_redemptions(mall, fan) if r.points]
    assert mine.address is not None and mine.address["name"] == "陈桃子"
    # Only the saved one ticked: it is used.
    again = await client.post(form, data={"key": "d", "address_id": str(saved_id)}, cookies=cookies)
    assert again.status_code == 303
    newest = (await _fresh_redemptions(mall, fan))[0]
    assert newest.address is not None and newest.address["name"] == "林小鱼"


async def test_she_changes_where_it_goes_until_it_ships(app: FastAPI, client: httpx.AsyncClient, mall: Mall) -> None:
    fan = await mall.fan(900)
    goods = await mall.reward(kind=RewardKind.physical, title="帆布包", points_price=100, stock=5)
    row = await redeem.redeem(
        mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=goods.id, address=ADDRESS
    )
    row_id = row.id
    cookies = await _signed_in(app, client, mall)
    url = f"/h5/{mall.tenant.slug}/mall/redemptions/{row_id}"
    page = await client.get(url, cookies=cookies)
    assert "修改收货地址（发货前都可以改）" in page.text
    moved = await client.post(f"{url}/address", data=NEW, cookies=cookies)
    assert moved.status_code == 303 and moved.headers["location"].endswith("?moved=1")
    shown = await client.get(moved.headers["location"], cookies=cookies)
    assert "收货地址已更新" in shown.text and "科技园南区 8 栋 1203" in shown.text
    assert row.status == Status.pending_shipment

    await fulfil.ship(
        mall.session, actor=mall.owner, redemption_id=row_id, data=ShipIn(carrier="顺丰速运", tracking_no="SF100001")
    )
    shipped = await client.get(url, cookies=cookies)
    assert 'id="prize-address"' not in shipped.text
    late = await client.post(f"{url}/address", data=ADDRESS.model_dump(), cookies=cookies)
    assert late.status_code == 409 and "已发货，不能再改收货地址了" in late.text
    kept = await _fresh_redemption(mall, row_id)
    assert kept.address is not None and kept.address["name"] == "陈桃子"

    coupon = await mall.reward(title="满 100 减 20 券")
    code = await redeem.redeem(mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=coupon.id)
    with pytest.raises(service.NoAddressNeeded):
        await service.set_address(
            mall.session, tenant_id=mall.tenant_id, member_id=fan, redemption_id=code.id, address=ADDRESS
        )


async def test_she_edits_and_deletes_saved_addresses(app: FastAPI, client: httpx.AsyncClient, mall: Mall) -> None:
    fan = await mall.fan(10)  # the demo sign-in is the richest fan
    first = (await service.add_address(mall.session, tenant_id=mall.tenant_id, member_id=fan, data=ADDRESS)).id
    second = (
        await service.add_address(mall.session, tenant_id=mall.tenant_id, member_id=fan, data=AddressIn(**NEW))
    ).id
    cookies = await _signed_in(app, client, mall)
    base = f"/h5/{mall.tenant.slug}/mall/addresses"
    book = await client.get(base, cookies=cookies)
    assert f'href="{base}/{second}/edit"' in book.text and "/static/js/address.js" in book.text
    form = await client.get(f"{base}/{second}/edit", cookies=cookies)
    assert form.status_code == 200 and "科技园南区 8 栋 1203" in form.text and "data-region-picker" in form.text
    bad = await client.post(f"{base}/{second}", data={**NEW, "region": "广东省 深圳市"}, cookies=cookies)
    assert bad.status_code == 422 and "请选择省、市、区" in bad.text and "科技园南区 8 栋 1203" in bad.text
    changed = {**NEW, "region": "上海市 上海市 徐汇区", "detail": "漕溪北路 398 号", "default": "1"}
    assert (await client.post(f"{base}/{second}", data=changed, cookies=cookies)).status_code == 303
    saved = await _fresh_addresses(mall, fan)
    assert [(a.id, a.region, a.is_default) for a in saved] == [
        (second, "上海市 上海市 徐汇区", True),
        (first, ADDRESS.region, False),
    ]
    assert (await client.post(f"{base}/{second}/delete", cookies=cookies)).status_code == 303
    [left] = await _fresh_addresses(mall, fan)
    assert left.id == first and left.is_default
    assert (await client.get(f"{base}/{second}/edit", cookies=cookies)).status_code == 404


async def test_the_fan_api_edits_addresses_and_moves_a_parcel(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall
) -> None:
    fan = await mall.fan(900)
    other = await mall.fan(900)
    auth = await _auth(app, mall, fan)
    base = f"/api/v1/fan/{mall.tenant.slug}/mall"
    added = await client.post(f"{base}/addresses", json=ADDRESS.model_dump(), headers=auth)
    assert added.status_code == 201, added.text
    second = await client.post(f"{base}/addresses", json={**NEW, "is_default": True}, headers=auth)
    assert second.json()["is_default"] is True
    _refused(
        await client.post(f"{base}/addresses", json={**NEW, "region": "广东省 深圳"}, headers=auth),
        422,
        "invalid_request",
    )
    edited = await client.put(
        f"{base}/addresses/{added.json()['id']}", json={**ADDRESS.model_dump(), "detail": "文三路 100 号"}, headers=auth
    )
    assert edited.status_code == 200 and edited.json()["detail"] == "文三路 100 号"
    assert (await client.delete(f"{base}/addresses/{second.json()['id']}", headers=auth)).status_code == 204
    [left] = (await client.get(f"{base}/addresses", headers=auth)).json()
    assert left["detail"] == "文三路 100 号" and left["is_default"] is True
    theirs = await service.add_address(mall.session, tenant_id=mall.tenant_id, member_id=other, data=ADDRESS)
    _refused(await client.delete(f"{base}/addresses/{theirs.id}", headers=auth), 404, "address_not_found")
    _refused(await client.put(f"{base}/addresses/{theirs.id}", json=NEW, headers=auth), 404, "address_not_found")

    prize_id = await _prize(mall, fan)
    one = (await client.get(f"{base}/redemptions/{prize_id}", headers=auth)).json()
    assert one["status"] == "awaiting_address" and one["can_change_address"] is True and one["points"] == 0
    given = await client.put(f"{base}/redemptions/{prize_id}/address", json={"address_id": left["id"]}, headers=auth)
    assert given.status_code == 200 and given.json()["status"] == "pending_shipment"
    moved = await client.put(
        f"{base}/redemptions/{prize_id}/address", json={"address_id": left["id"], "address": NEW}, headers=auth
    )
    assert moved.json()["address"]["name"] == "陈桃子"  # the new address wins
    await fulfil.ship(
        mall.session, actor=mall.owner, redemption_id=prize_id, data=ShipIn(carrier="顺丰速运", tracking_no="SF900009")
    )
    body = _refused(
        await client.put(f"{base}/redemptions/{prize_id}/address", json={"address": NEW}, headers=auth),
        409,
        "address_locked",
    )
    assert "已发货" in body["message"]
    _refused(
        await client.put(f"{base}/redemptions/{prize_id}/address", json={}, headers=await _auth(app, mall, other)),
        404,
        "redemption_not_found",
    )


async def test_what_she_lacks_is_said_before_the_address_and_names_the_tier(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall
) -> None:
    fan = await mall.fan(180)
    auth = await _auth(app, mall, fan)
    base = f"/api/v1/fan/{mall.tenant.slug}/mall/rewards"
    cup = await mall.reward(kind=RewardKind.physical, title="保温杯", points_price=300, stock=5)
    body = _refused(await client.post(f"{base}/{cup.id}/redeem", json={}, headers=auth), 409, "insufficient_points")
    assert "还差 120 积分" in body["message"]
    detail = (await client.get(f"{base}/{cup.id}", headers=auth)).json()
    assert detail["refusal_code"] == "insufficient_points" and "还差 120 积分" in detail["refusal"]

    silver = await loyalty.create_tier(mall.session, actor=mall.owner, data=TierIn(name="银卡", threshold=100))
    gold = await loyalty.create_tier(mall.session, actor=mall.owner, data=TierIn(name="金卡", threshold=1000))
    black = await loyalty.create_tier(mall.session, actor=mall.owner, data=TierIn(name="黑卡", threshold=5000))
    bag = await mall.reward(
        kind=RewardKind.physical, title="金卡礼盒", points_price=10, stock=5, tier_ids=[gold.id, black.id]
    )
    body = _refused(await client.post(f"{base}/{bag.id}/redeem", json={}, headers=auth), 403, "not_eligible")
    assert "需要金卡及以上会员" in body["message"]
    shelf = {r["title"]: r for r in (await client.get(base, headers=auth)).json()}
    assert shelf["金卡礼盒"]["tier_words"] == "金卡及以上会员" and shelf["保温杯"]["tier_words"] is None
    assert redeem.tier_words([silver.id, black.id], [silver, gold, black]) == "银卡、黑卡会员"
    assert redeem.tier_words([black.id], [silver, gold, black]) == "黑卡会员"
    black.name = "黑卡会员"  # a tier named with 会员 is not said twice
    assert redeem.tier_words([gold.id, black.id], [silver, gold, black]) == "金卡及以上会员"

    once = await mall.reward(kind=RewardKind.physical, title="一次", points_price=10, stock=5, limit_per_member=1)
    await redeem.redeem(mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=once.id, address=ADDRESS)
    _refused(await client.post(f"{base}/{once.id}/redeem", json={}, headers=auth), 409, "over_member_limit")

    # The H5 (170 points now): the reward's button is off with the reason; the form does not ask for an address first.
    cookies = await _signed_in(app, client, mall)
    slug = mall.tenant.slug
    page = await client.get(f"/h5/{slug}/mall/rewards/{cup.id}", cookies=cookies)
    assert 'id="redeem-link" disabled' in page.text and "还差 130 积分" in page.text
    page = await client.get(f"/h5/{slug}/mall/rewards/{bag.id}", cookies=cookies)
    assert (
        "需要金卡及以上会员" in page.text
        and "金卡及以上会员专享" in page.text
        and 'id="redeem-link" disabled' in page.text
    )
    form = await client.get(f"/h5/{slug}/mall/rewards/{cup.id}/redeem", cookies=cookies)
    assert 'id="redeem-submit" disabled' in form.text and 'data-code="insufficient_points"' in form.text
    assert 'name="detail"' not in form.text
    typed = await client.post(
        f"/h5/{slug}/mall/rewards/{cup.id}/redeem", data={"key": "x", "name": "林小鱼"}, cookies=cookies
    )
    assert (
        typed.status_code == 409 and 'data-code="insufficient_points"' in typed.text and "还差 130 积分" in typed.text
    )
    assert await mall.available(fan) == 170


async def test_the_lottery_turns_its_button_off_and_her_history_says_draw(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall
) -> None:
    fan = await mall.fan(25)
    now = utcnow()
    data = LotteryIn(
        title="直播间大转盘",
        points_cost=10,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(days=1),
        cap_per_day=1,
        prizes=[PrizeIn(kind=PrizeKind.nothing, title="谢谢参与", weight=1)] * 2,
    )
    wheel = await lottery.create_lottery(mall.session, actor=mall.owner, data=data)
    cookies = await _signed_in(app, client, mall)
    url = f"/h5/{mall.tenant.slug}/lottery/{wheel.id}"
    before = await client.get(url, cookies=cookies)
    assert 'id="draw-form"' in before.text and "draw-blocked" not in before.text
    drawn = await client.post(f"{url}/draw", data={"key": "t1"}, cookies=cookies)
    assert drawn.status_code == 200 and 'id="draw-result"' in drawn.text
    assert 'id="draw-submit" disabled' in drawn.text and "每人每天最多抽 1 次，明天再来吧" in drawn.text
    assert "再抽一次" not in drawn.text
    auth = await _auth(app, mall, fan)
    one = (await client.get(f"/api/v1/fan/{mall.tenant.slug}/lottery/{wheel.id}", headers=auth)).json()
    assert one["refusal_code"] == "over_draw_limit" and "明天再来" in one["refusal"]

    history = await client.get(f"/h5/{mall.tenant.slug}/points", cookies=cookies)
    assert "积分抽奖" in history.text and "积分兑换" not in history.text

    short = lottery.draw_refusal(wheel, lottery.Chances(None, None), 5, now, "Asia/Shanghai")
    assert short is not None and short.code == "insufficient_points" and "还差 5 积分" in short.message
    prize_id = await _prize(mall, fan)
    mine = await client.get(f"/h5/{mall.tenant.slug}/mall/redemptions", cookies=cookies)
    assert "抽奖奖品，免费" in mine.text and "-0 积分" not in mine.text
    one_prize = await client.get(f"/h5/{mall.tenant.slug}/mall/redemptions/{prize_id}", cookies=cookies)
    assert "使用 0 积分" not in one_prize.text and "抽奖奖品，免费" in one_prize.text


async def test_a_won_parcel_asks_for_her_address_and_a_won_coupon_does_not(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall, monkeypatch: pytest.MonkeyPatch
) -> None:
    await mall.fan(900)
    cup = await mall.reward(kind=RewardKind.physical, title="保温杯", stock=5)
    coupon = await mall.reward(title="满 99 减 20 券", stock=5)
    now = utcnow()
    wheels = []
    for reward in (cup, coupon):
        data = LotteryIn(
            title=f"{reward.title}转盘",
            points_cost=10,
            starts_at=now - timedelta(days=1),
            ends_at=now + timedelta(days=1),
            prizes=[
                PrizeIn(kind=PrizeKind.reward, title=reward.title, weight=1_000_000, reward_id=reward.id),
                PrizeIn(kind=PrizeKind.nothing, title="谢谢参与", weight=1),
            ],
        )
        wheels.append(await lottery.create_lottery(mall.session, actor=mall.owner, data=data))
    monkeypatch.setattr(lottery, "_wheel", random.Random(3))
    cookies = await _signed_in(app, client, mall)
    slug = mall.tenant.slug
    parcel = await client.post(f"/h5/{slug}/lottery/{wheels[0].id}/draw", data={"key": "p"}, cookies=cookies)
    assert 'id="prize-link"' in parcel.text and "填写收货地址，我们就为你寄出 ›" in parcel.text
    code = await client.post(f"/h5/{slug}/lottery/{wheels[1].id}/draw", data={"key": "c"}, cookies=cookies)
    assert 'id="prize-link"' in code.text and "查看奖品 ›" in code.text and "收货地址" not in code.text
