"""Notices through the outbox: filed once, signed webhooks, retries through an outage, parking and redelivery,
quiet hours, the daily cap and unsubscribes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from standardwebhooks.webhooks import Webhook

from siyu.jobs import notify
from siyu.jobs.models import Job, JobStatus
from siyu.jobs.worker import Worker
from siyu.kit.pagination import PageRequest
from siyu.kit.time import utcnow
from siyu.notices import service
from siyu.notices.models import Delivery, Notice, NoticeStatus, WebhookEndpoint
from siyu.notices.schemas import NoticeSettings
from siyu.tasks import load_handlers
from tests.notices.conftest import Receiver, Shop, payload

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAYTIME = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI).astimezone(UTC)


async def time_passes(session: AsyncSession) -> None:
    """Every waiting send is due now (as if its backoff or quiet hours were over)."""
    await session.execute(
        update(Job).where(Job.kind == service.SEND_JOB, Job.status == JobStatus.queued).values(run_after=utcnow())
    )
    await session.flush()


async def deliveries(session: AsyncSession, notice_id: int) -> list[Delivery]:
    rows = await session.scalars(
        select(Delivery)
        .where(Delivery.notice_id == notice_id)
        .order_by(Delivery.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def only_notice(shop: Shop) -> Notice:
    row = await shop.session.scalar(
        select(Notice).where(Notice.tenant_id == shop.tenant_id).execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def webhook_only(shop: Shop, url: str) -> str:
    await service.save_settings(
        shop.session,
        actor=shop.owner,
        settings=NoticeSettings(channels={"shipped": ["webhook"]}, quiet_start="00:00", quiet_end="00:00"),
    )
    endpoint = await service.add_endpoint(shop.session, actor=shop.owner, url=url)
    return endpoint.secret


async def test_a_notice_is_filed_once_and_reaches_the_webhook_signed(
    shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], receiver: tuple[Receiver, str]
) -> None:
    load_handlers()
    secret = await webhook_only(shop, receiver[1])
    fan = await shop.fan()
    for _ in range(2):  # the same news twice (a job re-run): one notice
        assert await notify.notify(shop.session, tenant_id=shop.tenant_id, member_id=fan.id, payload=payload()) == [
            "notices"
        ]
    assert (
        await shop.session.scalar(select(func.count()).select_from(Notice).where(Notice.tenant_id == shop.tenant_id))
        == 1
    )
    await shop.session.flush()
    await Worker(sessionmaker).drain()
    assert len(receiver[0].got) == 1
    headers, body = receiver[0].got[0]
    event = Webhook(secret).verify(body, headers)
    assert event["type"] == "notice.shipped" and event["data"]["title"] == "定制帆布包"
    notice = await only_notice(shop)
    assert notice.status == NoticeStatus.sent
    assert [d.status for d in await deliveries(shop.session, notice.id)] == ["sent"]


async def test_a_gateway_down_for_an_hour_delays_the_notice_and_loses_none(
    shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], receiver: tuple[Receiver, str]
) -> None:
    secret = await webhook_only(shop, receiver[1])
    fan = await shop.fan()
    await service.file(shop.session, shop.tenant_id, fan.id, payload(), now=DAYTIME)
    receiver[0].status = 500
    for _ in range(4):
        await time_passes(shop.session)
        await Worker(sessionmaker).drain()
    notice = await only_notice(shop)
    assert notice.status == NoticeStatus.queued and notice.not_before > utcnow()  # waits for its next try
    receiver[0].status = 200
    await time_passes(shop.session)
    await Worker(sessionmaker).drain()
    notice = await only_notice(shop)
    assert notice.status == NoticeStatus.sent
    rows = await deliveries(shop.session, notice.id)
    assert [d.status for d in rows] == ["failed"] * 4 + ["sent"] and [d.attempt for d in rows] == [1, 2, 3, 4, 5]
    assert rows[0].error_code == "http500"
    ids = {headers["webhook-id"] for headers, _body in receiver[0].got}
    assert len(receiver[0].got) == 5 and len(ids) == 1  # the same message id each time: receivers can dedupe
    Webhook(secret).verify(receiver[0].got[-1][1], receiver[0].got[-1][0])
    assert service.backoff(1) < service.backoff(4) <= timedelta(hours=2)


async def test_a_delivery_that_keeps_failing_is_parked_and_redelivered_from_the_console(
    shop: Shop,
    sessionmaker: async_sessionmaker[AsyncSession],
    receiver: tuple[Receiver, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(service, "MAX_ATTEMPTS", 2)
    await webhook_only(shop, receiver[1])
    fan = await shop.fan()
    await service.file(shop.session, shop.tenant_id, fan.id, payload(), now=DAYTIME)
    receiver[0].status = 503
    for _ in range(3):
        await time_passes(shop.session)
        await Worker(sessionmaker).drain()
    notice = await only_notice(shop)
    rows = await deliveries(shop.session, notice.id)
    assert notice.status == NoticeStatus.parked and [d.status for d in rows] == ["failed", "parked"]
    with pytest.raises(service.NotParked):
        await service.redeliver(shop.session, actor=shop.owner, delivery_id=rows[0].id)
    receiver[0].status = 200
    await service.redeliver(shop.session, actor=shop.owner, delivery_id=rows[1].id)
    await shop.session.flush()
    await Worker(sessionmaker).drain()
    notice = await only_notice(shop)
    assert notice.status == NoticeStatus.sent
    assert [d.status for d in await deliveries(shop.session, notice.id)] == ["failed", "retried", "sent"]
    page = await service.deliveries(shop.session, tenant_id=shop.tenant_id, page=PageRequest(), status="retried")
    assert page.total == 1


async def test_an_unsubscribe_counts_at_once_even_for_a_notice_already_waiting(
    shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], receiver: tuple[Receiver, str]
) -> None:
    await webhook_only(shop, receiver[1])
    fan = await shop.fan()
    assert await service.file(shop.session, shop.tenant_id, fan.id, payload(subject="a"), now=DAYTIME)
    await service.set_subscribed(shop.session, tenant_id=shop.tenant_id, member_id=fan.id, kind="shipped", on=False)
    assert not await service.file(shop.session, shop.tenant_id, fan.id, payload(subject="b"), now=DAYTIME)
    await shop.session.flush()
    await Worker(sessionmaker).drain()
    assert receiver[0].got == []
    assert (await only_notice(shop)).status == NoticeStatus.dropped


async def test_quiet_hours_hold_a_notice_until_morning_in_the_tenants_timezone(shop: Shop) -> None:
    fan = await shop.fan()
    late = datetime(2026, 3, 2, 22, 30, tzinfo=SHANGHAI).astimezone(UTC)
    await service.file(shop.session, shop.tenant_id, fan.id, payload(), now=late)
    notice = await only_notice(shop)
    morning = datetime(2026, 3, 3, 8, 0, tzinfo=SHANGHAI)
    assert notice.not_before == morning
    job = await shop.session.scalar(select(Job).where(Job.kind == service.SEND_JOB, Job.tenant_id == shop.tenant_id))
    assert job is not None and job.run_after == morning


async def test_the_daily_cap_holds_the_rest_until_tomorrow(
    shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], receiver: tuple[Receiver, str]
) -> None:
    await webhook_only(shop, receiver[1])
    await service.save_settings(
        shop.session, actor=shop.owner, settings=NoticeSettings(channels={"shipped": ["webhook"]}, daily_cap=1)
    )
    fan = await shop.fan()
    for subject in ("a", "b"):
        await service.file(shop.session, shop.tenant_id, fan.id, payload(subject=subject), now=DAYTIME)
    await shop.session.flush()
    await Worker(sessionmaker).drain()
    statuses = sorted(
        (await shop.session.scalars(select(Notice.status).where(Notice.tenant_id == shop.tenant_id))).all()
    )
    assert statuses == ["queued", "sent"] and len(receiver[0].got) == 1
    held = await shop.session.scalar(
        select(Notice).where(Notice.tenant_id == shop.tenant_id, Notice.status == "queued")
    )
    assert held is not None and held.not_before.astimezone(SHANGHAI).hour == 8 and held.not_before > utcnow()


@pytest.mark.parametrize(
    "url, reason",
    [
        ("http://hooks.example.com/x", "https://"),
        ("https://10.0.0.8/hook", "内网"),
        ("https://192.168.1.20/hook", "内网"),
        ("https://169.254.169.254/latest", "内网"),
        ("https://[::1]/hook", "内网"),
        ("https://user:pw@hooks.example.com/", "用户名"),
        ("ftp://hooks.example.com/", "https://"),
        ("https://no-such-host.invalid/", "找不到"),
    ],
)
async def test_a_webhook_url_that_is_not_https_or_points_inside_is_refused_in_words(url: str, reason: str) -> None:
    with pytest.raises(service.BadWebhookUrl) as refused:
        await service.check_url(url, allow_local=False)
    assert reason in refused.value.message


async def test_the_demo_may_use_a_local_http_receiver(receiver: tuple[Receiver, str]) -> None:
    assert await service.check_url(receiver[1], allow_local=True) == receiver[1]
    with pytest.raises(service.BadWebhookUrl):
        await service.check_url("http://10.1.2.3/hook", allow_local=True)


async def test_news_for_many_fans_is_filed_set_wise_once_per_fan(shop: Shop) -> None:
    fans = [await shop.fan() for _ in range(3)]
    member_ids = [f.id for f in fans] * 2  # duplicates are the same notice
    await service.set_subscribed(shop.session, tenant_id=shop.tenant_id, member_id=fans[2].id, kind="shipped", on=False)
    told = await service.file_many(
        shop.session,
        tenant_id=shop.tenant_id,
        kind="shipped",
        subject="x",
        member_ids=member_ids,
        payload={},
        now=DAYTIME,
    )
    assert told == 2
    jobs = await shop.session.scalar(
        select(func.count()).select_from(Job).where(Job.kind == service.SEND_JOB, Job.tenant_id == shop.tenant_id)
    )
    assert jobs == 2


async def test_an_endpoint_that_now_points_inside_is_not_called(
    shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    await webhook_only(shop, "https://93.184.216.34/siyu")  # a public address when it was added
    monkeypatch.setattr(service, "_local_allowed", lambda: False)
    endpoint = await shop.session.scalar(select(WebhookEndpoint).where(WebhookEndpoint.tenant_id == shop.tenant_id))
    assert endpoint is not None
    endpoint.url = "https://10.0.0.5/hook"  # as if its name had been pointed at an inside address since
    fan = await shop.fan()
    await service.file(shop.session, shop.tenant_id, fan.id, payload(), now=DAYTIME)
    await shop.session.flush()
    await Worker(sessionmaker).drain()
    notice = await only_notice(shop)
    rows = await deliveries(shop.session, notice.id)
    assert [(d.status, d.error_code) for d in rows] == [("dropped", "address")] and "内网" in (rows[0].response or "")
