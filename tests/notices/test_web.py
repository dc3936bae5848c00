"""The console's notices page, the fan's notice settings on the H5 and the mini-program's consent API."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from siyu.audit.models import AuditEntry
from siyu.fans import service as fans
from siyu.h5.fans import cookie_name
from siyu.ledger import service as ledger
from siyu.notices import service
from siyu.notices.models import Delivery, WebhookEndpoint
from tests.notices.conftest import Receiver, Shop, payload
from tests.support import factories


async def _console(shop: Shop) -> tuple[dict[str, str], str]:
    login = await factories.staff_login(shop.session, shop.tenant_id)
    return login.cookies, login.csrf


async def test_ops_set_channels_add_a_webhook_test_it_and_redeliver_a_parked_delivery(
    shop: Shop, client: httpx.AsyncClient, receiver: tuple[Receiver, str]
) -> None:
    cookies, csrf = await _console(shop)
    page = await client.get("/console/notices", cookies=cookies)
    assert page.status_code == 200 and "粉丝通知" in page.text and "积分即将过期" in page.text
    saved = await client.post(
        "/console/notices/settings",
        cookies=cookies,
        data={
            "csrf_token": csrf,
            "shipped:webhook": "on",
            "quiet_start": "23:00",
            "quiet_end": "07:30",
            "daily_cap": "3",
        },
    )
    assert saved.status_code == 303
    shop.session.expire_all()  # the request wrote through a session of its own
    settings = await service.settings_of(shop.session, shop.tenant_id)
    assert settings.channels_for("shipped") == ["webhook"] and settings.channels_for("prize_won") == []
    assert (settings.quiet_start, settings.daily_cap) == ("23:00", 3)
    bad = await client.post(
        "/console/notices/settings", cookies=cookies, data={"csrf_token": csrf, "quiet_start": "25:00"}
    )
    assert bad.status_code == 422 and "免打扰开始：请写成 时:分" in bad.text

    refused = await client.post(
        "/console/notices/webhooks", cookies=cookies, data={"csrf_token": csrf, "url": "https://10.0.0.1/hook"}
    )
    assert refused.status_code == 422 and "内网" in refused.text
    added = await client.post(
        "/console/notices/webhooks", cookies=cookies, data={"csrf_token": csrf, "url": receiver[1]}
    )
    assert added.status_code == 303
    endpoint = await shop.session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == shop.tenant_id))
    assert endpoint is not None
    tested = await client.post(
        f"/console/notices/webhooks/{endpoint.id}/test", cookies=cookies, data={"csrf_token": csrf}
    )
    assert "测试通知已送达" in tested.text and receiver[0].got[-1][0]["webhook-signature"].startswith("v1,")
    old = endpoint.secret
    rotated = await client.post(
        f"/console/notices/webhooks/{endpoint.id}/rotate", cookies=cookies, data={"csrf_token": csrf}
    )
    assert "已换上新密钥" in rotated.text
    await shop.session.refresh(endpoint)
    assert endpoint.previous_secret == old and endpoint.secret != old

    fan = await shop.fan()
    await service.file(shop.session, shop.tenant_id, fan.id, payload())
    parked = Delivery(
        tenant_id=shop.tenant_id,
        id=1,
        notice_id=(await service.recent(shop.session, tenant_id=shop.tenant_id, member_id=fan.id))[0].id,
        channel="webhook",
        target=str(endpoint.id),
        attempt=8,
        status="parked",
        response="对方返回 500",
    )
    shop.session.add(parked)
    await shop.session.flush()
    log = await client.get("/console/notices?status=parked", cookies=cookies)
    assert "已搁置" in log.text and "对方返回 500" in log.text and "重发" in log.text
    again = await client.post("/console/notices/deliveries/1/redeliver", cookies=cookies, data={"csrf_token": csrf})
    assert "已安排重发" in again.text
    twice = await client.post("/console/notices/deliveries/1/redeliver", cookies=cookies, data={"csrf_token": csrf})
    assert twice.status_code == 422 and "只有已搁置的发送可以重发" in twice.text
    actions = set(
        (await shop.session.scalars(select(AuditEntry.action).where(AuditEntry.tenant_id == shop.tenant_id))).all()
    )
    assert {
        "notices.settings",
        "notices.webhook_add",
        "notices.webhook_test",
        "notices.webhook_rotate",
        "notices.redeliver",
    } <= actions


async def test_sms_secrets_are_shown_as_stars_and_kept_when_not_retyped(shop: Shop, client: httpx.AsyncClient) -> None:
    cookies, csrf = await _console(shop)
    form = {
        "csrf_token": csrf,
        "provider": "aliyun",
        "access_key_id": "LTAI",
        "access_key_secret": "s3cret",
        "sign_name": "小鱼",
    }
    assert (await client.post("/console/notices/sms", cookies=cookies, data=form)).status_code == 303
    page = await client.get("/console/notices", cookies=cookies)
    assert "s3cret" not in page.text and 'value="***"' in page.text
    await client.post("/console/notices/sms", cookies=cookies, data={**form, "access_key_secret": "***"})
    shop.session.expire_all()
    assert (await service.settings_of(shop.session, shop.tenant_id)).sms.access_key_secret == "s3cret"


async def test_a_fan_turns_a_kind_of_notice_off_and_sees_her_notices(
    app: FastAPI, client: httpx.AsyncClient, shop: Shop
) -> None:
    fan = await shop.fan()
    fan_id = fan.id
    await ledger.earn(shop.session, tenant_id=shop.tenant_id, member_id=fan.id, amount=5, source_ref="adjust:notices")
    await service.file(shop.session, shop.tenant_id, fan.id, payload())
    await shop.session.flush()
    app.state.settings = app.state.settings.model_copy(update={"demo": True})
    slug = shop.slug
    signed = await client.post(f"/h5/{slug}/demo-login")
    cookies = {cookie_name(slug): signed.cookies[cookie_name(slug)]}
    page = await client.get(f"/h5/{slug}/notices", cookies=cookies)
    assert page.status_code == 200 and "奖品已发货" in page.text and "定制帆布包" in page.text
    on = {kind: "on" for kind in service.KINDS if kind != "shipped"}
    saved = await client.post(f"/h5/{slug}/notices", cookies=cookies, data=on)
    assert "已保存" in saved.text
    shop.session.expire_all()
    assert await service.unsubscribed(shop.session, tenant_id=shop.tenant_id, member_id=fan_id) == {"shipped"}
    home = await client.get(f"/h5/{slug}/", cookies=cookies)
    assert f"/h5/{slug}/notices" in home.text


async def test_the_mini_program_reports_consents(app: FastAPI, client: httpx.AsyncClient, shop: Shop) -> None:
    fan = await shop.fan()
    pair = await fans.issue_tokens(
        shop.session, secret=app.state.settings.secret_key, tenant_id=shop.tenant_id, member_id=fan.id
    )
    url = f"/api/v1/fan/{shop.slug}/notices/consents"
    auth = {"Authorization": f"Bearer {pair.access_token}"}
    answer = await client.post(url, headers=auth, json={"results": {"TPL-A": "accept", "TPL-B": "reject"}})
    assert answer.status_code == 200 and answer.json() == {"accepted": 1, "remaining": {"TPL-A": 1}}
    answer = await client.post(url, headers=auth, json={"results": {"TPL-A": "accept"}})
    assert answer.json()["remaining"] == {"TPL-A": 2}
    assert (await client.post(url, json={"results": {}})).status_code == 401
