"""A worker killed between a provider's call and writing its answer down: the next run checks before sending again.

Each try is recorded as under way before the call (`service.prepare`); the tests stop after the call, as a killed
worker would, age the record past `IN_FLIGHT`, and send again.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update

from siyu.fans import service as fans
from siyu.fans.schemas import WechatConfig
from siyu.kit.time import utcnow
from siyu.notices import service
from siyu.notices.models import Delivery, Notice
from siyu.notices.schemas import NoticeSettings, SmsSettings, WechatTemplate
from tests.notices.conftest import Shop, payload
from tests.support.fake_sms import ALIYUN_KEY, ALIYUN_SECRET, FakeSms
from tests.support.fake_wechat import MINI_ID, MINI_SECRET, FakeWechat

DAYTIME = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


async def _aliyun_fan(shop: Shop) -> int:
    sms = SmsSettings(
        provider="aliyun",
        access_key_id=ALIYUN_KEY,
        access_key_secret=ALIYUN_SECRET,
        sign_name="小鱼直播间",
        templates={"shipped": "SMS_SHIP"},
    )
    await service.save_settings(
        shop.session, actor=shop.owner, settings=NoticeSettings(channels={"shipped": ["sms"]}, sms=sms)
    )
    fan = await shop.fan(phone="13900139000")
    await service.file(shop.session, shop.tenant_id, fan.id, payload(), now=DAYTIME)
    await shop.session.flush()
    return fan.id


async def _cut_off(shop: Shop, *, called: bool, age: timedelta = service.IN_FLIGHT) -> int:
    """Prepare the notice's try (and make the call when `called`), then stop as a killed worker does."""
    notice_id = (await shop.session.scalars(select(Notice.id).where(Notice.tenant_id == shop.tenant_id))).one()
    plan = await service.prepare(shop.session, tenant_id=shop.tenant_id, notice_id=notice_id, now=DAYTIME)
    assert isinstance(plan, service.Plan) and len(plan.calls) == 1
    if called:
        await service.call(plan)
    await shop.session.execute(
        update(Delivery)
        .where(Delivery.tenant_id == shop.tenant_id, Delivery.status == "sending")
        .values(created_at=utcnow() - age - timedelta(seconds=1))
    )
    return notice_id


async def _log(shop: Shop) -> list[tuple[str, str | None]]:
    rows = await shop.session.scalars(
        select(Delivery).where(Delivery.tenant_id == shop.tenant_id).order_by(Delivery.id)
    )
    return [(d.status, d.error_code) for d in rows]


async def test_an_sms_that_reached_aliyun_before_the_cut_is_found_by_its_out_id_and_not_sent_again(
    shop: Shop, sms: tuple[FakeSms, str]
) -> None:
    await _aliyun_fan(shop)
    notice_id = await _cut_off(shop, called=True)
    assert len(sms[0].sent) == 1 and sms[0].sent[0]["out_id"] == str(notice_id)
    assert await service.send(shop.session, tenant_id=shop.tenant_id, notice_id=notice_id) == {"status": "sent"}
    assert len(sms[0].sent) == 1
    assert await _log(shop) == [("interrupted", "interrupted"), ("sent", "confirmed")]


async def test_an_sms_cut_off_before_it_reached_aliyun_goes_out_once(shop: Shop, sms: tuple[FakeSms, str]) -> None:
    await _aliyun_fan(shop)
    notice_id = await _cut_off(shop, called=False)
    assert sms[0].sent == []
    assert await service.send(shop.session, tenant_id=shop.tenant_id, notice_id=notice_id) == {"status": "sent"}
    assert len(sms[0].sent) == 1
    assert await _log(shop) == [("interrupted", "interrupted"), ("sent", None)]


async def test_when_aliyun_cannot_say_the_try_waits_and_checks_again_rather_than_sending_blind(
    shop: Shop, sms: tuple[FakeSms, str]
) -> None:
    await _aliyun_fan(shop)
    notice_id = await _cut_off(shop, called=True)
    sms[0].mode = "down"
    assert "retry_in" in await service.send(shop.session, tenant_id=shop.tenant_id, notice_id=notice_id)
    sms[0].mode = "ok"
    assert await service.send(shop.session, tenant_id=shop.tenant_id, notice_id=notice_id) == {"status": "sent"}
    assert len(sms[0].sent) == 1
    assert await _log(shop) == [("interrupted", "interrupted"), ("failed", "unconfirmed"), ("sent", "confirmed")]


async def test_a_try_under_way_in_another_worker_is_left_alone(shop: Shop, sms: tuple[FakeSms, str]) -> None:
    await _aliyun_fan(shop)
    notice_id = await _cut_off(shop, called=False, age=timedelta(seconds=-2))  # just now
    result = await service.send(shop.session, tenant_id=shop.tenant_id, notice_id=notice_id)
    assert result == {"waiting": 1} and sms[0].sent == []
    assert await _log(shop) == [("sending", None)]


async def test_a_wechat_message_that_got_through_before_the_cut_is_not_sent_twice(
    shop: Shop, wechat: tuple[FakeWechat, str]
) -> None:
    fake = wechat[0]
    await fans.save_wechat_config(
        shop.session, actor=shop.owner, config=WechatConfig(mini_app_id=MINI_ID, mini_app_secret=MINI_SECRET)
    )
    template = WechatTemplate(template_id="TPL-SHIP", fields={"thing1": "title"})
    await service.save_settings(
        shop.session,
        actor=shop.owner,
        settings=NoticeSettings(channels={"shipped": ["wechat"]}, wechat={"shipped": template}),
    )
    fan = await shop.fan(openid="o-fan")
    await service.record_consents(
        shop.session, tenant_id=shop.tenant_id, member_id=fan.id, results={"TPL-SHIP": "accept"}
    )
    fake.consents = {("o-fan", "TPL-SHIP"): 1}  # WeChat knows of the same one consent
    await service.file(shop.session, shop.tenant_id, fan.id, payload(), now=DAYTIME)
    await shop.session.flush()
    notice_id = await _cut_off(shop, called=True)
    assert len(fake.messages) == 1
    assert await service.send(shop.session, tenant_id=shop.tenant_id, notice_id=notice_id) == {"status": "sent"}
    assert len(fake.messages) == 1  # WeChat refused a second message on the same consent (43101)
    assert await _log(shop) == [("interrupted", "interrupted"), ("sent", "43101")]
