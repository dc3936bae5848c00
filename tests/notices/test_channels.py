"""Every WeChat error code's handling, both SMS providers against their fakes, and consents spent one per message."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.fans import service as fans
from siyu.fans.schemas import WechatConfig
from siyu.jobs.worker import Worker
from siyu.notices import channels, service
from siyu.notices.channels import AliyunSms, Outcome, SmsMessage, TencentSms, WechatSender
from siyu.notices.models import Delivery, Notice
from siyu.notices.schemas import NoticeSettings, SmsSettings, WechatTemplate
from tests.notices.conftest import Shop, payload
from tests.support.fake_sms import ALIYUN_KEY, ALIYUN_SECRET, TENCENT_APP, TENCENT_ID, TENCENT_KEY, FakeSms
from tests.support.fake_wechat import MINI_ID, MINI_SECRET, FakeWechat

DAYTIME = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)
DATA = {"thing1": "定制帆布包", "time2": "2026-03-02 10:00"}


def sender(base: str) -> WechatSender:
    return WechatSender(base, app_id=MINI_ID, secret=MINI_SECRET)


async def test_a_subscribe_message_goes_out_with_its_fields_cut_to_wechats_limits(
    wechat: tuple[FakeWechat, str],
) -> None:
    fake, base = wechat
    long = {"thing1": "一" * 30, "phrase2": "已经发货了呀", "character_string3": "S" * 40, "time4": "2026-03-02"}
    result = await sender(base).send(openid="o1", template_id="T1", data=long, page="pages/home")
    assert result.outcome == Outcome.sent
    data = fake.messages[-1]["data"]
    assert len(data["thing1"]["value"]) == 20 and data["thing1"]["value"].endswith("…")
    assert len(data["phrase2"]["value"]) == 5 and len(data["character_string3"]["value"]) == 32
    assert data["time4"]["value"] == "2026-03-02" and fake.messages[-1]["page"] == "pages/home"
    assert channels.fit("thing7", "短") == "短"


@pytest.mark.parametrize(
    "errcode, outcome",
    [
        (43101, Outcome.drop),  # she refused or has no subscription left: drop, no retry
        (40003, Outcome.drop),
        (40037, Outcome.drop),
        (47003, Outcome.drop),
        (41030, Outcome.drop),
        (-1, Outcome.retry),  # busy
        (45009, Outcome.retry),  # over the daily quota
        (45011, Outcome.retry),  # rate limit
        (99999, Outcome.retry),  # unknown: try again later rather than lose it
    ],
)
async def test_each_wechat_error_code_is_dropped_or_retried(
    wechat: tuple[FakeWechat, str], errcode: int, outcome: Outcome
) -> None:
    fake, base = wechat
    fake.answers.append(errcode)
    result = await sender(base).send(openid="o1", template_id="T1", data=DATA)
    assert result.outcome == outcome and result.code == str(errcode)
    assert fake.messages == []


@pytest.mark.parametrize("errcode", [40001, 42001, 40014])
async def test_a_stale_access_token_is_refreshed_once(wechat: tuple[FakeWechat, str], errcode: int) -> None:
    fake, base = wechat
    assert (await sender(base).send(openid="o1", template_id="T1", data=DATA)).outcome == Outcome.sent
    issued = fake.token_count
    fake.expire_tokens()  # the cached token now answers 40001
    assert (await sender(base).send(openid="o1", template_id="T1", data=DATA)).outcome == Outcome.sent
    assert fake.token_count == issued + 1
    fake.answers.extend([errcode, errcode])  # stale twice in a row: one refresh only, then later
    result = await sender(base).send(openid="o1", template_id="T1", data=DATA)
    assert result.outcome == Outcome.retry and fake.token_count == issued + 2


async def test_a_wechat_outage_is_retried_and_the_official_account_path_is_used(wechat: tuple[FakeWechat, str]) -> None:
    fake, base = wechat
    fake.down = True
    assert (await sender(base).send(openid="o1", template_id="T1", data=DATA)).outcome == Outcome.retry
    fake.down = False
    official = WechatSender(base, app_id=MINI_ID, secret=MINI_SECRET)
    assert (await official.send(openid="o1", template_id="T1", data=DATA, official=True)).outcome == Outcome.sent
    assert fake.messages[-1]["path"].endswith("/bizsend")


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
async def test_sms_providers_sign_requests_the_gateway_checks(sms: tuple[FakeSms, str], provider: str) -> None:
    fake, base = sms
    gateway = (
        AliyunSms(base, key_id=ALIYUN_KEY, secret=ALIYUN_SECRET)
        if provider == "aliyun"
        else TencentSms(base, secret_id=TENCENT_ID, secret_key=TENCENT_KEY, app_id=TENCENT_APP)
    )
    message = SmsMessage("13800138000", "小鱼直播间", "SMS_1", {"title": "帆布包"})
    result = await gateway.send(message)
    assert result.outcome == Outcome.sent and fake.bad_signatures == 0
    assert "13800138000" not in result.summary and "138****8000" in result.summary
    assert fake.sent[-1]["phone"].endswith("13800138000")
    for mode, outcome in (("down", Outcome.retry), ("throttle", Outcome.retry), ("refuse", Outcome.drop)):
        fake.mode = mode
        assert (await gateway.send(message)).outcome == outcome
    wrong = AliyunSms(base, key_id=ALIYUN_KEY, secret="x") if provider == "aliyun" else None
    if wrong is not None:
        fake.mode = "ok"
        assert (await wrong.send(message)).outcome == Outcome.drop and fake.bad_signatures == 1


async def test_the_log_provider_never_writes_the_number() -> None:
    with structlog.testing.capture_logs() as logs:
        result = await channels.LogSms().send(SmsMessage("13800138000", "签名", "", {}))
    assert result.outcome == Outcome.sent
    assert "13800138000" not in repr(logs) + result.summary


async def _wechat_shop(shop: Shop) -> int:
    await fans.save_wechat_config(
        shop.session, actor=shop.owner, config=WechatConfig(mini_app_id=MINI_ID, mini_app_secret=MINI_SECRET)
    )
    template = WechatTemplate(template_id="TPL-SHIP", fields={"thing1": "title", "thing2": "=请留意查收"})
    await service.save_settings(
        shop.session,
        actor=shop.owner,
        settings=NoticeSettings(channels={"shipped": ["wechat"]}, wechat={"shipped": template}),
    )
    fan = await shop.fan(openid="o-fan")
    return fan.id


async def _statuses(session: AsyncSession, tenant_id: int) -> list[tuple[str, str | None]]:
    rows = await session.scalars(select(Delivery).where(Delivery.tenant_id == tenant_id).order_by(Delivery.id))
    return [(d.status, d.error_code) for d in rows]


async def test_each_consent_allows_one_message_and_a_refusal_takes_the_rest_back(
    shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], wechat: tuple[FakeWechat, str]
) -> None:
    fake = wechat[0]
    fan = await _wechat_shop(shop)
    await service.file(shop.session, shop.tenant_id, fan, payload(subject="1"), now=DAYTIME)  # no consent yet
    await shop.session.flush()
    await Worker(sessionmaker).drain()
    assert await _statuses(shop.session, shop.tenant_id) == [("dropped", "no_consent")]

    accepted, remaining = await service.record_consents(
        shop.session, tenant_id=shop.tenant_id, member_id=fan, results={"TPL-SHIP": "accept", "OTHER": "reject"}
    )
    assert accepted == 1 and remaining == {"TPL-SHIP": 1}
    await service.record_consents(shop.session, tenant_id=shop.tenant_id, member_id=fan, results={"TPL-SHIP": "accept"})
    fake.answers.append(-1)  # busy: the consent is not used up
    await service.file(shop.session, shop.tenant_id, fan, payload(subject="2"), now=DAYTIME)
    await shop.session.flush()
    await Worker(sessionmaker).drain()
    assert (await _statuses(shop.session, shop.tenant_id))[-1] == ("failed", "-1")
    assert await service.repository.unused_consents(shop.session, tenant_id=shop.tenant_id, member_id=fan) == {
        "TPL-SHIP": 2
    }
    from tests.notices.test_outbox import time_passes

    await time_passes(shop.session)
    await Worker(sessionmaker).drain()
    assert (await _statuses(shop.session, shop.tenant_id))[-1] == ("sent", None)
    assert fake.messages[-1]["touser"] == "o-fan" and fake.messages[-1]["data"]["thing1"]["value"] == "定制帆布包"
    assert fake.messages[-1]["data"]["thing2"]["value"] == "请留意查收"

    fake.answers.append(43101)  # she turned the subscription off in WeChat: nothing more for her
    await service.file(shop.session, shop.tenant_id, fan, payload(subject="3"), now=DAYTIME)
    await shop.session.flush()
    await Worker(sessionmaker).drain()
    assert (await _statuses(shop.session, shop.tenant_id))[-1] == ("dropped", "43101")
    assert await service.repository.unused_consents(shop.session, tenant_id=shop.tenant_id, member_id=fan) == {}
    notices = (await shop.session.scalars(select(Notice.status).where(Notice.tenant_id == shop.tenant_id))).all()
    assert sorted(notices) == ["dropped", "dropped", "sent"]  # each is done with (none waits forever); one reached her


async def test_sms_notices_go_through_the_tenants_provider(
    shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], sms: tuple[FakeSms, str]
) -> None:
    settings = NoticeSettings(
        channels={"shipped": ["sms"]},
        sms=SmsSettings(
            provider="aliyun",
            access_key_id=ALIYUN_KEY,
            access_key_secret=ALIYUN_SECRET,
            sign_name="小鱼直播间",
            templates={"shipped": "SMS_SHIP"},
        ),
    )
    await service.save_settings(shop.session, actor=shop.owner, settings=settings)
    fan = await shop.fan(phone="13900139000")
    await service.file(shop.session, shop.tenant_id, fan.id, payload(), now=DAYTIME)
    await shop.session.flush()
    await Worker(sessionmaker).drain()
    assert sms[0].sent[-1]["template"] == "SMS_SHIP" and sms[0].sent[-1]["params"]["title"] == "定制帆布包"
    rows = await shop.session.scalars(select(Delivery).where(Delivery.tenant_id == shop.tenant_id))
    assert [(d.status, "13900139000" in (d.response or "")) for d in rows] == [("sent", False)]
