"""积分商城 on the H5: the shelf, redeeming goods with a new address, a double submit, refusals in words, another
fan's or tenant's redemption is nobody's business, images served from the tenant's own folder."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import select

import siyu.mall.tasks  # noqa: F401 - registers the shipped notice
from siyu.h5.fans import cookie_name
from siyu.jobs.models import Job
from siyu.jobs.notify import NOTIFIERS
from siyu.jobs.registry import HANDLERS
from siyu.kit.time import utcnow
from siyu.mall import fulfil, lottery, redeem, service
from siyu.mall.models import PrizeKind, RewardKind
from siyu.mall.schemas import LotteryIn, PrizeIn, ShipIn
from tests.mall.conftest import ADDRESS, Mall
from tests.support import factories

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


async def _signed_in(app: FastAPI, client: httpx.AsyncClient, mall: Mall) -> dict[str, str]:
    app.state.settings = app.state.settings.model_copy(update={"demo": True})
    signed = await client.post(f"/h5/{mall.tenant.slug}/demo-login")
    return {cookie_name(mall.tenant.slug): signed.cookies[cookie_name(mall.tenant.slug)]}


async def test_a_fan_redeems_goods_with_a_new_address_once(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall, tmp_path: Path
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"data_dir": tmp_path})
    fan = await mall.fan(800)
    goods = await mall.reward(kind=RewardKind.physical, title="定制帆布包", points_price=300, stock=5, category="周边")
    await service.set_image(mall.session, actor=mall.owner, reward_id=goods.id, data=PNG, data_dir=tmp_path)
    flash = await mall.reward(title="闪兑券", redeem_from=utcnow() + timedelta(hours=1))
    slug = mall.tenant.slug
    cookies = await _signed_in(app, client, mall)

    home = await client.get(f"/h5/{slug}/", cookies=cookies)
    assert f'href="/h5/{slug}/mall"' in home.text
    shelf = await client.get(f"/h5/{slug}/mall", cookies=cookies)
    assert shelf.status_code == 200 and "定制帆布包" in shelf.text and 'id="mall-points">800<' in shelf.text
    assert f'data-reward="{flash.id}"' in shelf.text and "data-opens-at" in shelf.text
    image = await client.get(f"/h5/{slug}/mall/images/{goods.image}")
    assert image.status_code == 200 and image.content == PNG and image.headers["content-type"] == "image/png"
    assert (await client.get(f"/h5/{slug}/mall/images/{'0' * 64}.png")).status_code == 404

    form = await client.get(f"/h5/{slug}/mall/rewards/{goods.id}/redeem", cookies=cookies)
    assert form.status_code == 200 and 'name="key"' in form.text
    bad = {"key": "k1", "name": "林小鱼", "phone": "123", "region": "浙江省 杭州市 西湖区", "detail": "文三路 90 号"}
    refused = await client.post(f"/h5/{slug}/mall/rewards/{goods.id}/redeem", data=bad, cookies=cookies)
    assert refused.status_code == 422 and "请填写 11 位手机号" in refused.text and "文三路 90 号" in refused.text
    good = {**bad, "phone": "13800138000"}
    done = await client.post(f"/h5/{slug}/mall/rewards/{goods.id}/redeem", data=good, cookies=cookies)
    assert done.status_code == 303
    twice = await client.post(f"/h5/{slug}/mall/rewards/{goods.id}/redeem", data=good, cookies=cookies)
    assert twice.headers["location"] == done.headers["location"]
    assert await mall.available(fan) == 500
    page = await client.get(done.headers["location"], cookies=cookies)
    assert "兑换成功" in page.text and 'data-status="pending_shipment"' in page.text and "文三路 90 号" in page.text
    mine = await client.get(f"/h5/{slug}/mall/redemptions", cookies=cookies)
    assert mine.text.count('data-status="') == 1

    closed = await client.post(f"/h5/{slug}/mall/rewards/{flash.id}/redeem", data={"key": "k2"}, cookies=cookies)
    assert closed.status_code == 409 and 'data-code="outside_window"' in closed.text and "开抢" in closed.text
    poor = await mall.reward(title="大礼包", points_price=5000)
    short = await client.post(f"/h5/{slug}/mall/rewards/{poor.id}/redeem", data={"key": "k3"}, cookies=cookies)
    assert short.status_code == 409 and "还差 4500 积分" in short.text and "积分没有扣除" in short.text


async def test_redemptions_and_addresses_are_only_the_fans_own(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall
) -> None:
    await mall.fan(1000)  # the demo fan (the richest)
    other = await mall.fan(10)
    goods = await mall.reward(kind=RewardKind.physical, points_price=5)
    hers = await redeem.redeem(
        mall.session, tenant_id=mall.tenant_id, member_id=other, reward_id=goods.id, address=ADDRESS
    )
    address = (await service.addresses(mall.session, tenant_id=mall.tenant_id, member_id=other))[0]
    cookies = await _signed_in(app, client, mall)
    slug = mall.tenant.slug
    assert (await client.get(f"/h5/{slug}/mall/redemptions/{hers.id}", cookies=cookies)).status_code == 404
    assert (await client.post(f"/h5/{slug}/mall/addresses/{address.id}/delete", cookies=cookies)).status_code == 404
    elsewhere = await factories.tenant(mall.session)
    theirs = await client.get(f"/h5/{elsewhere.slug}/mall/rewards/{goods.id}")
    assert theirs.status_code == 404

    saved = await client.post(f"/h5/{slug}/mall/addresses", data=ADDRESS.model_dump(), cookies=cookies)
    assert saved.status_code == 303
    book = await client.get(f"/h5/{slug}/mall/addresses", cookies=cookies)
    assert "文三路 90 号" in book.text and "默认" in book.text


async def test_a_shipped_reward_is_announced_once_and_on_her_home_page(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall
) -> None:
    fan = await mall.fan(800)
    goods = await mall.reward(kind=RewardKind.physical, title="定制帆布包", points_price=300, stock=5)
    row = await redeem.redeem(
        mall.session, tenant_id=mall.tenant_id, member_id=fan, reward_id=goods.id, address=ADDRESS
    )
    for tracking in ("SF100", "SF101"):  # the second is a correction: no second notice
        await fulfil.ship(
            mall.session, actor=mall.owner, redemption_id=row.id, data=ShipIn(carrier="顺丰速运", tracking_no=tracking)
        )
    [job] = (
        await mall.session.scalars(select(Job).where(Job.kind == "mall.shipped", Job.tenant_id == mall.tenant_id))
    ).all()
    assert job.payload["member_id"] == fan and job.payload["tracking_no"] == "SF100"
    heard: list[dict[str, object]] = []

    async def phone(_session: object, _tenant: int, member: int, payload: dict[str, object]) -> bool:
        heard.append({"member": member, **payload})
        return True

    NOTIFIERS["test-phone"] = phone
    try:
        assert "test-phone" in (await HANDLERS["mall.shipped"](mall.session, job))["reached"]
    finally:
        del NOTIFIERS["test-phone"]
    assert heard[0]["member"] == fan and heard[0]["kind"] == "shipped"

    cookies = await _signed_in(app, client, mall)  # the demo fan: the richest, she
    home = await client.get(f"/h5/{mall.tenant.slug}/", cookies=cookies)
    assert (
        f'data-shipped="{row.id}"' in home.text and "你兑换的 定制帆布包 已发货" in home.text and "SF101" in home.text
    )


async def test_a_lottery_winner_gives_her_address_for_the_goods(
    app: FastAPI, client: httpx.AsyncClient, mall: Mall
) -> None:
    goods = await mall.reward(kind=RewardKind.physical, title="保温杯", stock=2)
    cup = PrizeIn(kind=PrizeKind.reward, title="保温杯", weight=1_000_000, reward_id=goods.id)
    nothing = PrizeIn(kind=PrizeKind.nothing, title="谢谢参与", weight=1)
    data = LotteryIn(
        title="大转盘",
        points_cost=10,
        starts_at=utcnow() - timedelta(days=1),
        ends_at=utcnow() + timedelta(days=1),
        prizes=[cup, nothing],
    )
    campaign = await lottery.create_lottery(mall.session, actor=mall.owner, data=data)
    fan = await mall.fan(900)
    won = await lottery.draw(
        mall.session,
        tenant_id=mall.tenant_id,
        timezone="Asia/Shanghai",
        member_id=fan,
        lottery_id=campaign.id,
        rng=random.Random(3),
    )
    cookies = await _signed_in(app, client, mall)
    page_url = f"/h5/{mall.tenant.slug}/mall/redemptions/{won.redemption_id}"
    page = await client.get(page_url, cookies=cookies)
    assert 'id="prize-address"' in page.text and "待填地址" in page.text
    bad = {"name": "林小鱼", "phone": "123", "region": "浙江省 杭州市 西湖区", "detail": "文三路 90 号"}
    refused = await client.post(f"{page_url}/address", data=bad, cookies=cookies)
    assert refused.status_code == 422 and "请填写 11 位手机号" in refused.text and "文三路 90 号" in refused.text
    done = await client.post(f"{page_url}/address", data={**bad, "phone": "13800138000"}, cookies=cookies)
    assert done.status_code == 303
    after = await client.get(page_url, cookies=cookies)
    assert 'data-status="pending_shipment"' in after.text and "文三路 90 号" in after.text
    assert "修改收货地址（发货前都可以改）" in after.text  # until it ships (tests/mall/test_addresses.py)
