"""Official-account subscribe notices for fans on the H5: a consent per tap (a tap reported twice counts once), one
notice per consent, sent by `bizsend` to the WeChat account that gave the consent, WeChat's answers handled by their
codes; the H5's wx.config signature and consent endpoint, the fan API's equivalent, and the demo's fake gateways."""

from __future__ import annotations

import os

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from siyu.config import get_settings
from siyu.demo import gateways
from siyu.demo import notices as demo_notices
from siyu.fans import service as fans
from siyu.fans.schemas import WechatConfig
from siyu.h5.fans import cookie_name, official_cookie_name
from siyu.kit.security import sign
from siyu.ledger import service as ledger
from siyu.members import service as members
from siyu.notices import channels, repository, service
from siyu.notices.models import Consent, Delivery
from siyu.notices.schemas import NoticeSettings, WechatTemplate
from siyu.notices.signing import jssdk_signature
from tests.notices.conftest import Shop, payload
from tests.support.fake_wechat import APP_ID, APP_SECRET, FakeWechat

TEMPLATE = "OA-SHIPPED-1"


async def _official(shop: Shop) -> None:
    await fans.save_wechat_config(
        shop.session, actor=shop.owner, config=WechatConfig(app_id=APP_ID, app_secret=APP_SECRET)
    )
    settings = NoticeSettings(
        channels={"shipped": ["wechat"]},
        wechat={"shipped": WechatTemplate(template_id=TEMPLATE, fields={"thing1": "title"}, official=True)},
        quiet_start="00:00",
        quiet_end="00:00",
    )
    await service.save_settings(shop.session, actor=shop.owner, settings=settings)


async def _send(shop: Shop, member_id: int, subject: str) -> list[Delivery]:
    assert await service.file(shop.session, shop.tenant_id, member_id, payload(subject=subject))
    notice = (await repository.recent_notices(shop.session, tenant_id=shop.tenant_id, member_id=member_id, limit=1))[0]
    await service.send(shop.session, tenant_id=shop.tenant_id, notice_id=notice.id)
    return await repository.deliveries_of(shop.session, tenant_id=shop.tenant_id, notice_id=notice.id)


async def test_a_tap_reported_twice_is_one_consent(shop: Shop) -> None:
    fan = await shop.fan(openid="oa-1")
    tap = {"tenant_id": shop.tenant_id, "member_id": fan.id, "results": {TEMPLATE: "accept"}, "tap": "tap-0001"}
    assert await service.record_consents(shop.session, **tap, openid="oa-1") == (1, {TEMPLATE: 1})
    assert await service.record_consents(shop.session, **tap, openid="oa-1") == (0, {TEMPLATE: 1})
    again = {**tap, "tap": "tap-0002"}
    assert await service.record_consents(shop.session, **again) == (1, {TEMPLATE: 2})
    with pytest.raises(service.NotYourAccount):
        await service.record_consents(shop.session, **{**tap, "tap": "tap-0003"}, openid="someone-else")


async def test_one_consent_sends_one_notice_to_the_account_that_gave_it(
    shop: Shop, wechat: tuple[FakeWechat, str]
) -> None:
    fake = wechat[0]
    await _official(shop)
    fan = await shop.fan(openid="mini-openid")  # her mini-program account comes first
    await shop.fan()  # someone else
    await members.bind_identity(
        shop.session, tenant_id=shop.tenant_id, member=fan, kind="wechat_openid", value="oa-openid"
    )
    await service.record_consents(
        shop.session,
        tenant_id=shop.tenant_id,
        member_id=fan.id,
        results={TEMPLATE: "accept"},
        tap="tap-one-1",
        openid="oa-openid",
    )
    first = await _send(shop, fan.id, "r1")
    assert [(d.status, d.response) for d in first] == [("sent", "公众号已接收")]
    assert fake.messages[-1]["path"].endswith("/bizsend")
    assert (fake.messages[-1]["touser"], fake.messages[-1]["template_id"]) == ("oa-openid", TEMPLATE)
    second = await _send(shop, fan.id, "r2")
    assert [(d.status, d.error_code) for d in second] == [("dropped", "no_consent")]
    assert len(fake.messages) == 1


@pytest.mark.parametrize(
    ("errcode", "status", "left", "words"),
    [
        (43101, "dropped", 0, "粉丝未订阅或已拒收公众号通知"),  # refused: her other consents are gone too
        (40003, "dropped", 1, "粉丝的微信账号不属于这个公众号"),
        (47003, "dropped", 1, "模板字段有误"),
        (-1, "failed", 2, "微信繁忙或达到频率限制"),  # busy: tried later, her consent given back
        (45009, "failed", 2, "微信繁忙或达到频率限制"),
    ],
)
async def test_what_the_official_account_answers(
    shop: Shop, wechat: tuple[FakeWechat, str], errcode: int, status: str, left: int, words: str
) -> None:
    await _official(shop)
    fan = await shop.fan(openid="oa-2")
    for tap in ("tap-err-1", "tap-err-2"):
        await service.record_consents(
            shop.session, tenant_id=shop.tenant_id, member_id=fan.id, results={TEMPLATE: "accept"}, tap=tap
        )
    wechat[0].answers.append(errcode)
    [delivery] = await _send(shop, fan.id, f"e{errcode}")
    assert (delivery.status, delivery.error_code, delivery.response) == (status, str(errcode), words)
    assert (await repository.unused_consents(shop.session, tenant_id=shop.tenant_id, member_id=fan.id)).get(
        TEMPLATE, 0
    ) == left


async def test_a_stale_token_is_fetched_again_once(shop: Shop, wechat: tuple[FakeWechat, str]) -> None:
    await _official(shop)
    fan = await shop.fan(openid="oa-3")
    await service.record_consents(
        shop.session, tenant_id=shop.tenant_id, member_id=fan.id, results={TEMPLATE: "accept"}, tap="tap-token-1"
    )
    await _send(shop, fan.id, "warm")  # spends it, caches a token
    wechat[0].expire_tokens()
    await service.record_consents(
        shop.session, tenant_id=shop.tenant_id, member_id=fan.id, results={TEMPLATE: "accept"}, tap="tap-token-2"
    )
    [delivery] = await _send(shop, fan.id, "after-expiry")
    assert delivery.status == "sent"


async def test_the_h5_signs_wx_config_and_records_a_tap_once(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop, wechat: tuple[FakeWechat, str]
) -> None:
    await _official(shop)
    fan = await shop.fan(openid="oa-h5")
    fan_id = fan.id
    await ledger.earn(shop.session, tenant_id=shop.tenant_id, member_id=fan.id, amount=5, source_ref="adjust:oa")
    await shop.session.flush()
    app.state.settings = app.state.settings.model_copy(update={"demo": True})
    slug = shop.slug
    signed = await client.post(f"/h5/{slug}/demo-login")
    secret = app.state.settings.secret_key
    cookies = {
        cookie_name(slug): signed.cookies[cookie_name(slug)],
        official_cookie_name(slug): f"{fan.id}.oa-h5.{sign(secret, f'{fan.id}.oa-h5')}",
    }
    page = await client.get(f"/h5/{slug}/notices", cookies=cookies)
    assert "公众号提醒" in page.text and f'template="{TEMPLATE}"' in page.text and "还没有订阅" in page.text

    url = f"http://testserver/h5/{slug}/notices?from=menu"
    config = (await client.get(f"/h5/{slug}/notices/wx-config", params={"url": url}, cookies=cookies)).json()
    assert config["app_id"] == APP_ID
    assert any(
        jssdk_signature(t, nonce=config["nonce_str"], timestamp=config["timestamp"], url=url) == config["signature"]
        for t in wechat[0].tickets
    )
    tap = {"results": {TEMPLATE: "accept"}, "tap": "3f2a9c0d1e2b4a5f"}
    first = await client.post(f"/h5/{slug}/notices/consents", json=tap, cookies=cookies)
    again = await client.post(f"/h5/{slug}/notices/consents", json=tap, cookies=cookies)
    assert first.json()["accepted"] == 1 and again.json()["accepted"] == 0
    assert again.json()["remaining"] == {TEMPLATE: 1} and "订阅成功" in again.json()["message"]
    refused = await client.post(f"/h5/{slug}/notices/consents", json={"results": "x"}, cookies=cookies)
    assert refused.status_code == 400 and "订阅结果不对" in refused.json()["message"]
    client.cookies.clear()  # signed out
    assert (await client.post(f"/h5/{slug}/notices/consents", json=tap)).status_code == 401
    shop.session.expire_all()
    [consent_openid] = [c.openid for c in await _consents(shop, fan_id)]
    assert consent_openid == "oa-h5"


async def _consents(shop: Shop, member_id: int) -> list[Consent]:
    return list(
        await shop.session.scalars(
            select(Consent).where(Consent.tenant_id == shop.tenant_id, Consent.member_id == member_id)
        )
    )


async def test_the_fan_api_gives_wx_config_and_the_templates(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop
) -> None:
    await _official(shop)
    fan = await shop.fan(openid="oa-api")
    pair = await fans.issue_tokens(
        shop.session, secret=app.state.settings.secret_key, tenant_id=shop.tenant_id, member_id=fan.id
    )
    auth = {"Authorization": f"Bearer {pair.access_token}"}
    body = {"results": {TEMPLATE: "accept"}, "tap": "api-tap-0001", "openid": "oa-api"}
    url = f"/api/v1/fan/{shop.slug}/notices/consents"
    assert (await client.post(url, headers=auth, json=body)).json() == {"accepted": 1, "remaining": {TEMPLATE: 1}}
    assert (await client.post(url, headers=auth, json=body)).json() == {"accepted": 0, "remaining": {TEMPLATE: 1}}
    stranger = await client.post(url, headers=auth, json={**body, "tap": "api-tap-0002", "openid": "not-hers"})
    assert stranger.status_code == 422 and stranger.json()["code"] == "consent_account_unknown"
    answer = await client.post(
        f"/api/v1/fan/{shop.slug}/notices/official", headers=auth, json={"url": "https://h5.example.com/page"}
    )
    assert answer.status_code == 200
    found = answer.json()
    assert found["app_id"] == APP_ID and len(found["signature"]) == 40
    assert found["templates"] == [{"kind": "shipped", "label": "奖品已发货", "template_id": TEMPLATE, "remaining": 1}]


def test_the_demo_wants_the_fakes_only_without_real_gateways() -> None:
    demo = get_settings().model_copy(update={"demo": True})
    assert gateways.wanted(demo, {}) and not gateways.wanted(demo, {"SIYU_FAKE_GATEWAYS": "off"})
    assert not gateways.wanted(demo, {"SIYU_ALIYUN_SMS_BASE": "https://dysmsapi.aliyuncs.com"})
    assert not gateways.wanted(get_settings().model_copy(update={"demo": False}), {})
    assert not gateways.real_credentials({"app_id": APP_ID}, {"sms": {"access_key_id": gateways.SMS_KEY[0]}})
    assert gateways.real_credentials({"app_id": "wx1234567890"}, {})
    assert gateways.real_credentials({}, {"sms": {"access_key_id": "LTAI5tRealKey"}})


async def test_the_demo_runs_the_fakes_and_a_demo_notice_goes_over_http(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = get_settings()
    for name in gateways.TAKEN_OVER:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(settings, "demo", True)
    fan = await shop.fan(phone="13800138000", openid="oDemo-1")
    channels._tokens.clear()
    with gateways.started(settings) as running:
        assert settings.wechat_api_base == running.wechat_base == os.environ["SIYU_WECHAT_API_BASE"]
        async with httpx.AsyncClient() as web:
            assert (await web.get(running.wechat_base + "/_fake/mode")).json()["mode"] == "ok"
            throttled = await web.post(running.sms_base + "/_fake/mode", params={"mode": "throttle"})
            assert throttled.json()["mode"] == "throttle"
            assert "wx-open-subscribe" in (await web.get(running.wechat_base + "/open/js/jweixin-1.6.0.js")).text
        await demo_notices.load(shop.session, slug=shop.slug, seed=1)
        await service.record_consents(
            shop.session,
            tenant_id=shop.tenant_id,
            member_id=fan.id,
            results={"mp-shipped-01": "accept"},
            tap="demo-t-1",
        )
        deliveries = await _send(shop, fan.id, "demo-1")
        assert {(d.channel, d.status) for d in deliveries} == {("wechat", "sent"), ("sms", "failed")}
        assert running.wechat.messages[-1]["touser"] == "oDemo-1"
        assert [d.error_code for d in deliveries if d.channel == "sms"] == ["isv.BUSINESS_LIMIT_CONTROL"]
    assert "SIYU_WECHAT_API_BASE" not in os.environ and settings.wechat_api_base != running.wechat_base
