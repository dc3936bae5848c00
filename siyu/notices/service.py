"""Notices to fans: filed once per piece of news (kind + member + subject), held through quiet hours, capped per
fan per day, and delivered on the channels the tenant chose for the kind, one delivery row per attempt.

A notice is filed in the transaction of the job that brought the news, with a job of its own to send it; the
send job records each attempt and, when a channel fails, files its own retry with backoff instead of raising,
so a failed delivery never rolls the notice (or the attempt's record) back.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import structlog
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.config import get_settings
from siyu.fans import service as fans
from siyu.jobs import service as jobs
from siyu.kit.errors import Conflict, InvalidInput, NotFound, Unavailable
from siyu.kit.ids import new_id
from siyu.kit.pagination import Page, PageRequest
from siyu.kit.security import new_token
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.members import service as members
from siyu.members.models import IdentityKind
from siyu.notices import channels, repository, rules
from siyu.notices.channels import Outcome, Result, SmsMessage
from siyu.notices.models import Delivery, DeliveryStatus, Notice, NoticeStatus, WebhookEndpoint
from siyu.notices.schemas import KINDS, NoticeSettings, WechatTemplate
from siyu.notices.signing import jssdk_signature, new_webhook_secret
from siyu.tenants import service as tenants

log = structlog.get_logger("siyu.notices")

SETTINGS_KEY = "notices"
HIDDEN = "***"
SEND_JOB = "notices.send"
# A send job retries its own failures (it files the next try with backoff); its attempts count the times its worker
# died running it, so they are many: a job given up on would leave its notice waiting for good.
SEND_JOB_ATTEMPTS = 20
MAX_ATTEMPTS = 8  # per channel (and webhook endpoint); then the delivery is parked for a person to redeliver
ROTATION = timedelta(hours=24)  # how long a rotated-out webhook secret keeps signing


class NoticeNotFound(NotFound):
    code = "notice_not_found"
    message = "找不到这条通知"


class DeliveryNotFound(NotFound):
    code = "notice_delivery_not_found"
    message = "找不到这条发送记录"


class EndpointNotFound(NotFound):
    code = "webhook_not_found"
    message = "找不到这个 Webhook 地址"


class BadWebhookUrl(InvalidInput):
    code = "webhook_url_refused"
    message = "这个 Webhook 地址不能用"


class UnknownHost(BadWebhookUrl):
    code = "webhook_host_unknown"
    message = "找不到这个域名，请检查地址"


class NotParked(InvalidInput):
    code = "delivery_not_parked"
    message = "只有已搁置的发送可以重发"


def backoff(attempt: int) -> timedelta:
    """30 s, 1 min, 2 min ... capped at 2 hours: a gateway down for an hour still gets the notice after."""
    return timedelta(seconds=min(7200, 15 * 2 ** max(1, attempt)))


# Settings


async def settings_of(session: AsyncSession, tenant_id: int) -> NoticeSettings:
    tenant = await tenants.get_tenant(session, tenant_id)
    try:
        return NoticeSettings.model_validate((tenant.settings or {}).get(SETTINGS_KEY) or {})
    except ValidationError:
        return NoticeSettings()


def _hidden(settings: dict[str, Any]) -> dict[str, Any]:
    sms = dict(settings.get("sms") or {})
    if sms.get("access_key_secret"):
        sms["access_key_secret"] = HIDDEN
    return {**settings, "sms": sms}


async def save_settings(session: AsyncSession, *, actor: Principal, settings: NoticeSettings) -> NoticeSettings:
    after = settings.model_dump(mode="json")
    before = await tenants.put_setting(session, tenant_id=actor.tenant_id, key=SETTINGS_KEY, value=after)
    if before != after:
        audit.record(
            session,
            actor=actor,
            action="notices.settings",
            target_type="tenant",
            target_id=actor.tenant_id,
            before=_hidden(before or {}),
            after=_hidden(after),
        )
    return settings


# Filing


def idempotency_key(kind: str, member_id: int, subject: str) -> str:
    return f"{kind}:{member_id}:{subject}"[:200]


def _plain(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if isinstance(v, str | int | float | bool) or v is None}


async def file(
    session: AsyncSession, tenant_id: int, member_id: int, payload: dict[str, Any], now: datetime | None = None
) -> bool:
    """The notifier registered in the jobs' registry: file one notice. True when it is (or already was) filed;
    False for a kind we do not tell fans about, or one she unsubscribed from."""
    kind = str(payload.get("kind") or "")
    if kind not in KINDS:
        return False
    subject = str(payload.get("subject") or "")
    filed = await file_many(
        session, tenant_id=tenant_id, kind=kind, subject=subject, member_ids=[member_id], payload=payload, now=now
    )
    return filed > 0


async def file_many(
    session: AsyncSession,
    *,
    tenant_id: int,
    kind: str,
    subject: str,
    member_ids: list[int],
    payload: dict[str, Any],
    now: datetime | None = None,
) -> int:
    """File one notice of the same news for many fans set-wise (a few statements for 20,000 fans); returns how
    many fans are to be told (already filed ones included, unsubscribed ones not)."""
    now = now or utcnow()
    settings = await settings_of(session, tenant_id)
    tenant = await tenants.get_tenant(session, tenant_id)
    start, end = settings.quiet
    send_at = rules.not_before(now, timezone=tenant.timezone, start=start, end=end, urgent=bool(payload.get("urgent")))
    out = await repository.opted_out_members(session, tenant_id=tenant_id, kind=kind, member_ids=member_ids)
    wanted = [m for m in dict.fromkeys(member_ids) if m not in out]
    facts = {**_plain(payload), "kind": kind, "subject": subject}
    rows = [
        {
            "tenant_id": tenant_id,
            "id": new_id(),
            "member_id": member_id,
            "kind": kind,
            "subject": subject[:120],
            "idempotency_key": idempotency_key(kind, member_id, subject),
            "payload": facts,
            "status": NoticeStatus.queued,
            "not_before": send_at,
            "created_at": now,
        }
        for member_id in wanted
    ]
    inserted = await repository.insert_notices(session, rows)
    await jobs.enqueue_many(
        session,
        SEND_JOB,
        [(tenant_id, {"notice_id": n.id}, f"{SEND_JOB}:{tenant_id}:{n.id}", send_at) for n in inserted],
        max_attempts=SEND_JOB_ATTEMPTS,
    )
    return len(wanted)


# Sending


@dataclass(frozen=True)
class Target:
    channel: str
    target: str


# A try recorded as under way this recently may still be running in another worker: it is left alone. Older than
# this, its worker died between the call and recording the answer (a job's lease outlives it, see siyu/jobs).
IN_FLIGHT = timedelta(minutes=2)

# One try on one channel. `resumed`: an earlier try of the same target was cut off after it was recorded as under
# way, so the provider may already have the message; the try asks the provider first where the provider can say.
Attempt = Callable[[bool], Awaitable[Result]]


@dataclass(frozen=True)
class Call:
    target: Target
    attempt: Attempt
    delivery_id: int
    resumed: bool
    consent: str | None = None  # the WeChat template whose consent the try spent


@dataclass(frozen=True)
class Plan:
    tenant_id: int
    notice_id: int
    calls: list[Call]


async def send(session: AsyncSession, *, tenant_id: int, notice_id: int, now: datetime | None = None) -> dict[str, Any]:
    """Try every channel of the notice that has not yet taken it (or refused it for good); idempotent.

    All in the caller's transaction; the worker runs the same three steps with a commit after `prepare` and one
    after `record` (siyu/notices/tasks.py), so each try is on record as under way before the provider is called."""
    plan = await prepare(session, tenant_id=tenant_id, notice_id=notice_id, now=now)
    if isinstance(plan, dict):
        return plan
    return await record(session, plan, await call(plan), now=now)


async def prepare(
    session: AsyncSession, *, tenant_id: int, notice_id: int, now: datetime | None = None
) -> Plan | dict[str, Any]:
    """Choose the channels to try and record each try as under way ("sending") before any call: once committed,
    a later run that finds the record still under way knows its worker died mid-call and that the provider may
    have the message. A dict when there is nothing to call (skipped, unsubscribed, held by the daily cap)."""
    now = now or utcnow()
    notice = await repository.get_notice(session, tenant_id=tenant_id, notice_id=notice_id, lock=True)
    if notice is None or notice.status in (NoticeStatus.sent, NoticeStatus.dropped):
        return {"skipped": notice.status if notice else "gone"}
    if notice.kind in await repository.opted_out(session, tenant_id=tenant_id, member_id=notice.member_id):
        notice.status = NoticeStatus.dropped
        return {"dropped": "unsubscribed"}
    settings = await settings_of(session, tenant_id)
    tenant = await tenants.get_tenant(session, tenant_id)
    capped_until = await _over_cap(session, notice=notice, settings=settings, timezone=tenant.timezone, now=now)
    if capped_until is not None:
        await _again(session, notice, capped_until, f"cap:{capped_until.date().isoformat()}")
        return {"held_until": capped_until.isoformat()}

    state = _state(await repository.deliveries_of(session, tenant_id=tenant_id, notice_id=notice.id))
    clock = utcnow()
    calls: list[Call] = []
    for target, attempt, template in await _targets(session, notice=notice, settings=settings, now=now):
        key = (target.channel, target.target)
        pending = state.pending.get(key)
        if key in state.finished or (pending is not None and clock - pending.created_at < IN_FLIGHT):
            continue
        if pending is not None:
            pending.status = DeliveryStatus.interrupted
            pending.error_code = "interrupted"
            pending.response = "发送中断（处理进程停止），已重新核对"
            state.attempts[key] += 1
            state.doubt.add(key)
        resumed = key in state.doubt
        delivery = Delivery(
            tenant_id=tenant_id,
            id=new_id(),
            notice_id=notice.id,
            channel=target.channel,
            target=target.target,
            attempt=state.attempts[key] + 1,
            status=DeliveryStatus.sending,
            error_code=None,
            response="正在发送",
            created_at=clock,
        )
        session.add(delivery)
        # A WeChat try spends one of her consents now; a resumed try reuses the one the cut-off try spent. An
        # official-account notice goes to the account that gave the consent.
        spent: str | None = ""
        if template and resumed and isinstance(attempt, WechatAttempt) and attempt.official:
            spent = await repository.last_spent_openid(
                session, tenant_id=tenant_id, member_id=notice.member_id, template_id=template
            )
        elif template and not resumed:
            spent = await repository.use_consent(
                session, tenant_id=tenant_id, member_id=notice.member_id, template_id=template, now=now
            )
        if spent is None:
            delivery.status, delivery.error_code = DeliveryStatus.dropped, "no_consent"
            delivery.response = "粉丝没有订阅这类消息"
            continue
        if isinstance(attempt, WechatAttempt):
            attempt = attempt.to(spent)
            if not attempt.openid:
                delivery.status, delivery.error_code = DeliveryStatus.dropped, "no_openid"
                delivery.response = "粉丝没有绑定这个公众号的微信"
                if template and not resumed:
                    await repository.give_back_consent(
                        session, tenant_id=tenant_id, member_id=notice.member_id, template_id=template
                    )
                continue
        calls.append(Call(target, attempt, delivery.id, resumed=resumed, consent=None if resumed else template))
    await session.flush()
    return Plan(tenant_id=tenant_id, notice_id=notice.id, calls=calls)


async def call(plan: Plan) -> list[Result]:
    """Make the planned calls (outside any transaction in the worker)."""
    return [await planned.attempt(planned.resumed) for planned in plan.calls]


async def record(
    session: AsyncSession, plan: Plan, results: list[Result], now: datetime | None = None
) -> dict[str, Any]:
    """Write down what each call answered, file a retry for the failed ones, settle the notice when it is done."""
    now = now or utcnow()
    notice = await repository.get_notice(session, tenant_id=plan.tenant_id, notice_id=plan.notice_id, lock=True)
    if notice is None:
        return {"skipped": "gone"}
    failing = 0
    for planned, result in zip(plan.calls, results, strict=True):
        delivery = await repository.get_delivery(session, tenant_id=plan.tenant_id, delivery_id=planned.delivery_id)
        if delivery is None or delivery.status != DeliveryStatus.sending:
            continue  # a later run found this try cut off and took it over
        delivery.status = {
            Outcome.sent: DeliveryStatus.sent,
            Outcome.drop: DeliveryStatus.dropped,
            Outcome.retry: DeliveryStatus.parked if delivery.attempt >= MAX_ATTEMPTS else DeliveryStatus.failed,
        }[result.outcome]
        delivery.error_code, delivery.response = result.code, result.summary[:500]
        if planned.consent and result.outcome == Outcome.retry:  # WeChat did not take it: her consent is unused
            await repository.give_back_consent(
                session, tenant_id=plan.tenant_id, member_id=notice.member_id, template_id=planned.consent
            )
        elif planned.consent and result.outcome == Outcome.drop and result.code == "43101":
            await repository.drop_consents(
                session, tenant_id=plan.tenant_id, member_id=notice.member_id, template_id=planned.consent, now=now
            )
        if delivery.status == DeliveryStatus.failed:
            failing = max(failing, delivery.attempt)
    await session.flush()
    if notice.status in (NoticeStatus.sent, NoticeStatus.dropped):
        return {"status": notice.status}
    if failing:
        await _again(session, notice, now + backoff(failing), f"retry:{failing}:{new_id()}")
        return {"retry_in": backoff(failing).total_seconds()}
    history = await repository.deliveries_of(session, tenant_id=plan.tenant_id, notice_id=notice.id)
    state = _state(history)
    if state.pending:  # another run's tries are under way: look again once they must have ended
        newest = max(d.id for d in state.pending.values())
        await _again(session, notice, now + IN_FLIGHT, f"in_flight:{newest}")
        return {"waiting": len(state.pending)}
    # Sent when some channel took it; dropped when none could (no consent, no phone, nothing configured).
    parked = any(d.status == DeliveryStatus.parked for d in history if (d.channel, d.target) in state.finished)
    reached = any(d.status == DeliveryStatus.sent for d in history)
    notice.status = NoticeStatus.parked if parked else NoticeStatus.sent if reached else NoticeStatus.dropped
    notice.sent_at = now if reached else None
    await session.flush()
    return {"status": notice.status}


@dataclass
class _State:
    finished: set[tuple[str, str]]  # targets done with: sent, dropped, parked
    attempts: Counter[tuple[str, str]]  # tries of the others since the last redelivery
    pending: dict[tuple[str, str], Delivery]  # the try under way (or cut off), per target
    # Targets with a try cut off mid-call whose fate is still unknown: every later try checks first, until one
    # is answered for good (sent or refused). A check that could not be made, or a busy answer, settles nothing.
    doubt: set[tuple[str, str]]


def _state(history: list[Delivery]) -> _State:
    state = _State(set(), Counter(), {}, set())
    for delivery in history:
        key = (delivery.channel, delivery.target)
        if delivery.status == DeliveryStatus.sending:
            state.pending[key] = delivery
            continue
        state.pending.pop(key, None)
        if delivery.status == DeliveryStatus.retried:
            state.finished.discard(key)
            state.attempts[key] = 0
        elif delivery.status in (DeliveryStatus.failed, DeliveryStatus.interrupted):
            state.attempts[key] += 1
            if delivery.status == DeliveryStatus.interrupted:
                state.doubt.add(key)
        else:
            state.finished.add(key)
            if delivery.status in (DeliveryStatus.sent, DeliveryStatus.dropped):
                state.doubt.discard(key)
    return state


async def _again(session: AsyncSession, notice: Notice, when: datetime, why: str) -> None:
    notice.status = NoticeStatus.queued
    notice.not_before = when
    await jobs.enqueue(
        session,
        SEND_JOB,
        {"notice_id": notice.id},
        tenant_id=notice.tenant_id,
        dedupe_key=f"{SEND_JOB}:{notice.tenant_id}:{notice.id}:{why}",
        run_after=when,
        max_attempts=SEND_JOB_ATTEMPTS,
    )


async def _over_cap(
    session: AsyncSession, *, notice: Notice, settings: NoticeSettings, timezone: str, now: datetime
) -> datetime | None:
    """When she has had her daily cap of notices today (tenant-local), the end of tomorrow's quiet hours."""
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    midnight = datetime.combine(local.date(), datetime.min.time(), tzinfo=zone)
    count = await repository.sent_since(
        session, tenant_id=notice.tenant_id, member_id=notice.member_id, since=midnight.astimezone(now.tzinfo)
    )
    if count < settings.daily_cap or notice.payload.get("urgent"):
        return None
    _start, end = settings.quiet
    return datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone).astimezone(now.tzinfo)


async def _targets(
    session: AsyncSession, *, notice: Notice, settings: NoticeSettings, now: datetime
) -> list[tuple[Target, Attempt, str | None]]:
    """Each channel (each webhook endpoint) that can reach her: its try, and the WeChat template whose consent a
    try spends (None for the others)."""
    chosen = settings.channels_for(notice.kind)
    found: list[tuple[Target, Attempt, str | None]] = []
    identities = await members.identities_of(session, tenant_id=notice.tenant_id, member_id=notice.member_id)
    if "webhook" in chosen:
        body = webhook_body(notice)
        for endpoint in await repository.endpoints(session, tenant_id=notice.tenant_id, enabled_only=True):
            found.append((Target("webhook", str(endpoint.id)), _webhook_attempt(endpoint, notice, body, now), None))
    if "sms" in chosen:
        phone = next((i.value for i in identities if i.kind == IdentityKind.phone), None)
        sender = _sms_sender(settings)
        template = settings.sms.templates.get(notice.kind, "")
        if phone and sender is not None and (template or settings.sms.provider == "log"):
            # The notice's id goes along (Aliyun's OutId, Tencent's SessionContext): the message can be found by it.
            message = SmsMessage(phone, settings.sms.sign_name, template, _facts(notice), out_id=str(notice.id))
            found.append((Target("sms", ""), _sms_attempt(sender, message), None))
    if "wechat" in chosen:
        template_config = settings.wechat.get(notice.kind)
        openid = next((i.value for i in identities if i.kind == IdentityKind.wechat_openid), "")
        # An official-account notice may go to the account a consent names even without that account on record.
        if template_config and template_config.template_id and (openid or template_config.official):
            attempt = await _wechat_attempt(session, notice=notice, openid=openid, config=template_config)
            if attempt is not None:
                found.append((Target("wechat", ""), attempt, template_config.template_id))
    return found


def _facts(notice: Notice) -> dict[str, str]:
    facts = {k: str(v) for k, v in notice.payload.items() if v is not None and k not in ("member_id", "urgent")}
    return {**facts, "label": KINDS.get(notice.kind, "")}


def webhook_body(notice: Notice) -> str:
    data = {**notice.payload, "notice_id": str(notice.id), "member_id": str(notice.member_id)}
    return json.dumps(
        {"type": f"notice.{notice.kind}", "timestamp": notice.created_at.isoformat(), "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
        sort_keys=True,
    )


def _secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    keys = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_until and endpoint.previous_until > now:
        keys.append(endpoint.previous_secret)
    return keys


def _webhook_attempt(endpoint: WebhookEndpoint, notice: Notice, body: str, now: datetime) -> Attempt:
    url, keys = endpoint.url, _secrets(endpoint, now)

    async def by_webhook(resumed: bool) -> Result:
        # A resumed try sends again with the same webhook-id: receivers keep one message per id (the spec's
        # idempotency key), so a message that did arrive before is not taken twice.
        try:  # checked again at each send: a name may point somewhere else by now
            await check_url(url)
        except UnknownHost as error:
            return Result(Outcome.retry, "dns", error.message)
        except BadWebhookUrl as error:
            return Result(Outcome.drop, "address", error.message)
        return await channels.post_webhook(url, secrets_in_use=keys, msg_id=f"msg_{notice.id}", body=body)

    return by_webhook


def _sms_attempt(sender: channels.LogSms | channels.AliyunSms | channels.TencentSms, message: SmsMessage) -> Attempt:
    async def by_sms(resumed: bool) -> Result:
        if resumed and isinstance(sender, channels.AliyunSms):
            # Aliyun lists the day's messages to a number with their OutId: ask before sending again.
            found = await sender.was_sent(message, days=_china_days(utcnow()))
            if found is None:
                return Result(Outcome.retry, "unconfirmed", "查不到上次发送的结果，稍后再试")
            if found:
                return Result(Outcome.sent, "confirmed", f"上次发送已送达 {channels.mask_phone(message.phone)}")
        # Tencent Cloud has no look-up of a message as sent (its status reports come late), the log sends nothing:
        # a try cut off mid-call goes again.
        return await sender.send(message)

    return by_sms


def _china_days(now: datetime) -> list[date]:
    """The provider-side dates (Beijing time) a message sent in the last day may be filed under."""
    local = now.astimezone(ZoneInfo("Asia/Shanghai"))
    earlier = (local - timedelta(days=1)).date()
    return sorted({earlier, local.date()})


def _sms_sender(settings: NoticeSettings) -> channels.LogSms | channels.AliyunSms | channels.TencentSms | None:
    sms, config = settings.sms, get_settings()
    if sms.provider == "log" or not (sms.access_key_id and sms.access_key_secret):
        return channels.LogSms()
    if sms.provider == "aliyun":
        return channels.AliyunSms(config.aliyun_sms_base, key_id=sms.access_key_id, secret=sms.access_key_secret)
    return channels.TencentSms(
        config.tencent_sms_base, secret_id=sms.access_key_id, secret_key=sms.access_key_secret, app_id=sms.sdk_app_id
    )


@dataclass(frozen=True)
class WechatAttempt:
    """One WeChat try: a mini-program subscribe message, or (official) an official-account subscribe notice."""

    sender: channels.WechatSender
    openid: str
    template_id: str
    data: dict[str, str]
    page: str
    official: bool

    def to(self, openid: str) -> WechatAttempt:
        """The same try to the account her consent came from, when the consent names one."""
        return replace(self, openid=openid) if openid and openid != self.openid else self

    async def __call__(self, resumed: bool) -> Result:
        # Her consent was spent when the try was recorded (`prepare`). WeChat has no look-up of a message as sent,
        # but it allows one message per consent: a resumed try sends again on the same consent, and 43101 then
        # means the cut-off try had reached her.
        result = await self.sender.send(
            openid=self.openid, template_id=self.template_id, data=self.data, page=self.page, official=self.official
        )
        if resumed and result.code == "43101":
            return Result(Outcome.sent, "43101", "上次发送已送达（这次订阅已用过）")
        return result


async def _wechat_attempt(
    session: AsyncSession, *, notice: Notice, openid: str, config: WechatTemplate
) -> WechatAttempt | None:
    wechat = await fans.wechat_config(session, notice.tenant_id)
    app_id, secret = (
        (wechat.app_id, wechat.app_secret) if config.official else (wechat.mini_app_id, wechat.mini_app_secret)
    )
    if not (app_id and secret):
        return None
    facts = _facts(notice)
    data = {
        field: facts.get(fact, fact.removeprefix("=") if fact.startswith("=") else "")
        for field, fact in config.fields.items()
    }
    sender = channels.WechatSender(get_settings().wechat_api_base, app_id=app_id, secret=secret)
    return WechatAttempt(sender, openid, config.template_id, data, config.page, config.official)


# Webhook endpoints


def _local_allowed() -> bool:
    config = get_settings()
    return config.demo or config.env == "test"


def _refused_address(host: str, *, allow_local: bool) -> str | None:
    """Why a host must not be called (a private, loopback or link-local address), or None."""
    host = host.strip("[]").lower()
    if not host:
        return "地址里没有域名"
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        if host == "localhost" or host.endswith(".localhost"):
            addresses = [ipaddress.ip_address("127.0.0.1")]
        else:
            return None
    for address in addresses:
        if address.is_loopback and allow_local:
            continue
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved:
            return "地址指向内网或本机，不能用作 Webhook"
        if address.is_multicast or address.is_unspecified:
            return "地址不能用作 Webhook"
    return None


async def _resolve(host: str, port: int) -> list[str]:
    """The addresses a host name points at (none to look up for a literal address)."""
    try:
        ipaddress.ip_address(host.strip("[]"))
        return []
    except ValueError:
        pass
    try:
        found = await asyncio.get_running_loop().getaddrinfo(host, port)
    except (OSError, UnicodeError):
        raise UnknownHost() from None
    return [str(sockaddr[0]) for *_rest, sockaddr in found]


async def check_url(url: str, *, allow_local: bool | None = None) -> str:
    """A webhook URL fit to be called, or BadWebhookUrl saying why not in words."""
    allow_local = _local_allowed() if allow_local is None else allow_local
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BadWebhookUrl("请填写完整的网址，以 https:// 开头")
    if parts.scheme != "https" and not allow_local:
        raise BadWebhookUrl("Webhook 地址必须以 https:// 开头")
    if parts.username or parts.password:
        raise BadWebhookUrl("Webhook 地址里不能带用户名和密码")
    refused = _refused_address(parts.hostname, allow_local=allow_local)
    if refused:
        raise BadWebhookUrl(refused)
    for address in await _resolve(parts.hostname, parts.port or 443):
        refused = _refused_address(address, allow_local=allow_local)
        if refused:
            raise BadWebhookUrl(refused)
    return url


async def add_endpoint(session: AsyncSession, *, actor: Principal, url: str) -> WebhookEndpoint:
    url = await check_url(url)
    endpoint = WebhookEndpoint(
        tenant_id=actor.tenant_id, id=new_id(), url=url, secret=new_webhook_secret(), enabled=True, created_at=utcnow()
    )
    session.add(endpoint)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="notices.webhook_add",
        target_type="webhook",
        target_id=endpoint.id,
        after={"url": url},
    )
    return endpoint


async def _endpoint(session: AsyncSession, *, tenant_id: int, endpoint_id: int) -> WebhookEndpoint:
    endpoint = await repository.get_endpoint(session, tenant_id=tenant_id, endpoint_id=endpoint_id)
    if endpoint is None:
        raise EndpointNotFound()
    return endpoint


async def rotate_secret(
    session: AsyncSession, *, actor: Principal, endpoint_id: int, now: datetime | None = None
) -> WebhookEndpoint:
    """A new secret; the old one keeps signing beside it for ROTATION, so receivers can switch without a gap."""
    now = now or utcnow()
    endpoint = await _endpoint(session, tenant_id=actor.tenant_id, endpoint_id=endpoint_id)
    endpoint.previous_secret, endpoint.previous_until = endpoint.secret, now + ROTATION
    endpoint.secret = new_webhook_secret()
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="notices.webhook_rotate",
        target_type="webhook",
        target_id=endpoint.id,
        after={"previous_until": endpoint.previous_until.isoformat()},
    )
    return endpoint


async def remove_endpoint(session: AsyncSession, *, actor: Principal, endpoint_id: int) -> None:
    endpoint = await _endpoint(session, tenant_id=actor.tenant_id, endpoint_id=endpoint_id)
    audit.record(
        session,
        actor=actor,
        action="notices.webhook_remove",
        target_type="webhook",
        target_id=endpoint.id,
        before={"url": endpoint.url},
    )
    await session.delete(endpoint)
    await session.flush()


async def test_endpoint(session: AsyncSession, *, actor: Principal, endpoint_id: int) -> Result:
    """Send a signed test notice to one endpoint now, and say what it answered."""
    endpoint = await _endpoint(session, tenant_id=actor.tenant_id, endpoint_id=endpoint_id)
    now = utcnow()
    refused = _refused_address(urlsplit(endpoint.url).hostname or "", allow_local=_local_allowed())
    if refused:
        return Result(Outcome.drop, "address", refused)
    body = json.dumps(
        {"type": "notice.test", "timestamp": now.isoformat(), "data": {"message": "这是一条测试通知"}},
        ensure_ascii=False,
        separators=(",", ":"),
    )
    result = await channels.post_webhook(
        endpoint.url, secrets_in_use=_secrets(endpoint, now), msg_id=f"msg_test_{new_id()}", body=body
    )
    audit.record(
        session,
        actor=actor,
        action="notices.webhook_test",
        target_type="webhook",
        target_id=endpoint.id,
        after={"outcome": result.outcome, "code": result.code},
    )
    return result


async def endpoints(session: AsyncSession, *, tenant_id: int) -> list[WebhookEndpoint]:
    return await repository.endpoints(session, tenant_id=tenant_id)


# The delivery log


async def deliveries(
    session: AsyncSession, *, tenant_id: int, page: PageRequest, status: str | None = None, channel: str | None = None
) -> Page[tuple[Delivery, Notice]]:
    return await repository.list_deliveries(session, tenant_id=tenant_id, page=page, status=status, channel=channel)


async def redeliver(
    session: AsyncSession, *, actor: Principal, delivery_id: int, now: datetime | None = None
) -> Notice:
    """Try a parked delivery again from the start (a fresh count of attempts), soon."""
    now = now or utcnow()
    delivery = await repository.get_delivery(session, tenant_id=actor.tenant_id, delivery_id=delivery_id)
    if delivery is None:
        raise DeliveryNotFound()
    notice = await repository.get_notice(session, tenant_id=actor.tenant_id, notice_id=delivery.notice_id, lock=True)
    if notice is None:
        raise NoticeNotFound()
    await session.refresh(delivery)  # read again under the notice's lock: two clicks redeliver once
    if delivery.status != DeliveryStatus.parked:
        raise NotParked()
    delivery.status = DeliveryStatus.retried  # its attempts count afresh from here
    delivery.response = f"{delivery.response or ''}（{actor.label} 要求重发）"[:500]
    await _again(session, notice, now, f"redeliver:{delivery.id}")
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="notices.redeliver",
        target_type="notice",
        target_id=notice.id,
        after={"delivery_id": str(delivery.id), "channel": delivery.channel},
    )
    return notice


# Fans: consents, unsubscribes, recent notices


async def record_consents(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    results: dict[str, str],
    tap: str | None = None,
    openid: str | None = None,
    now: datetime | None = None,
) -> tuple[int, dict[str, int]]:
    """Each "accept" allows one message of that template; a "reject" or "ban" takes the unused ones back.

    `tap`: the one tap these answers came from: reported again (a retry, a double submit), it records nothing new.
    `openid`: the WeChat account that gave them (one of hers), which their messages go to."""
    now = now or utcnow()
    openid = (openid or "").strip()
    if openid:
        identities = await members.identities_of(session, tenant_id=tenant_id, member_id=member_id)
        if not any(i.kind == IdentityKind.wechat_openid and i.value == openid for i in identities):
            raise NotYourAccount()
    rows: list[dict[str, Any]] = []
    for template_id, answer in results.items():
        template_id = template_id.strip()[:64]
        if not template_id:
            continue
        if answer == "accept":
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "id": new_id(),
                    "member_id": member_id,
                    "template_id": template_id,
                    "tap": tap or None,
                    "openid": openid,
                    "used_at": None,
                    "created_at": now,
                }
            )
        elif answer in ("reject", "ban"):
            await repository.drop_consents(
                session, tenant_id=tenant_id, member_id=member_id, template_id=template_id, now=now
            )
    accepted = await repository.add_consents(session, rows)
    await session.flush()
    return accepted, await repository.unused_consents(session, tenant_id=tenant_id, member_id=member_id)


class NotYourAccount(InvalidInput):
    code = "consent_account_unknown"
    message = "这个微信账号没有绑定在你的会员上"


class OfficialUnavailable(Unavailable):
    code = "official_account_unavailable"
    message = "公众号订阅暂时不可用，请稍后再试"


class NoOfficialAccount(Conflict):
    code = "official_account_missing"
    message = "店铺还没有设置公众号，暂时不能订阅公众号提醒"


@dataclass(frozen=True)
class OfficialTemplate:
    kind: str
    label: str
    template_id: str
    remaining: int  # messages her unused consents still allow


async def official_templates(
    session: AsyncSession, *, tenant_id: int, member_id: int | None, kinds: list[str] | None = None
) -> list[OfficialTemplate]:
    """The kinds the tenant sends as official-account subscribe notices (those of `kinds`), with what she has left."""
    settings = await settings_of(session, tenant_id)
    wechat = await fans.wechat_config(session, tenant_id)
    if not wechat.official_account:
        return []
    remaining = await repository.unused_consents(session, tenant_id=tenant_id, member_id=member_id) if member_id else {}
    return [
        OfficialTemplate(kind, KINDS[kind], config.template_id, remaining.get(config.template_id, 0))
        for kind, config in settings.wechat.items()
        if config.official and config.template_id and kind in KINDS and (kinds is None or kind in kinds)
    ]


@dataclass(frozen=True)
class OfficialConfig:
    """What an H5 page needs for wx.config, so that WeChat shows its subscribe buttons (wx-open-subscribe)."""

    app_id: str
    timestamp: int
    nonce: str
    signature: str


async def official_config(session: AsyncSession, *, tenant_id: int, url: str) -> OfficialConfig:
    """wx.config's fields for the page at `url` (its own address, without #fragment), signed with the official
    account's JS-SDK ticket."""
    wechat = await fans.wechat_config(session, tenant_id)
    if not wechat.official_account:
        raise NoOfficialAccount()
    sender = channels.WechatSender(get_settings().wechat_api_base, app_id=wechat.app_id, secret=wechat.app_secret)
    ticket = await sender.jsapi_ticket()
    if ticket is None:
        raise OfficialUnavailable()
    nonce, timestamp = new_token(12), int(utcnow().timestamp())
    signature = jssdk_signature(ticket, nonce=nonce, timestamp=timestamp, url=url)
    return OfficialConfig(app_id=wechat.app_id, timestamp=timestamp, nonce=nonce, signature=signature)


async def unsubscribed(session: AsyncSession, *, tenant_id: int, member_id: int) -> set[str]:
    return await repository.opted_out(session, tenant_id=tenant_id, member_id=member_id)


async def set_subscribed(session: AsyncSession, *, tenant_id: int, member_id: int, kind: str, on: bool) -> None:
    """Her choice counts at once: a notice of that kind waiting to go out is dropped when its turn comes."""
    if kind not in KINDS:
        raise InvalidInput("没有这类通知")
    await repository.set_opt_out(session, tenant_id=tenant_id, member_id=member_id, kind=kind, out=not on)


async def recent(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int = 20) -> list[Notice]:
    return await repository.recent_notices(session, tenant_id=tenant_id, member_id=member_id, limit=limit)
