"""The channels a notice goes out by: WeChat subscribe messages, SMS (Aliyun, Tencent Cloud, or the log), webhooks.

Each sender answers with a `Result`: sent, retry later (busy, throttled, unreachable) or drop (refused for good:
no consent, a bad number). Errors are matched on their codes, never on message text. Phone numbers appear in
logs and summaries only masked.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
import weakref
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from siyu.notices.signing import aliyun_signature, tc3_authorization, webhook_headers

log = structlog.get_logger("siyu.notices")

TIMEOUT = httpx.Timeout(5.0)
# One client per event loop, kept: building one costs tens of milliseconds (its TLS context), more than a send.
_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, httpx.AsyncClient] = weakref.WeakKeyDictionary()


def _client(transport: httpx.AsyncBaseTransport | None) -> contextlib.AbstractAsyncContextManager[httpx.AsyncClient]:
    """The loop's shared client (redirects not followed), or a client of its own around a given transport."""
    if transport is not None:
        return httpx.AsyncClient(timeout=TIMEOUT, transport=transport)
    loop = asyncio.get_running_loop()
    client = _clients.get(loop)
    if client is None or client.is_closed:
        client = _clients[loop] = httpx.AsyncClient(timeout=TIMEOUT, follow_redirects=False)
    return contextlib.nullcontext(client)


class Outcome(StrEnum):
    sent = "sent"
    retry = "retry"
    drop = "drop"


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    code: str | None = None
    summary: str = ""


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    return digits[:3] + "****" + digits[-4:] if len(digits) >= 7 else "****"


# WeChat subscribe messages

# Value limits of subscribe-message fields, by the key's type prefix (thing1, time2, ...): characters.
FIELD_LIMITS = {
    "thing": 20,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "character_string": 32,
    "phrase": 5,
    "name": 10,
    "car_number": 8,
    "phone_number": 17,
}

WECHAT_DROP = {43101, 40003, 40037, 47003, 41030}  # refused or not subscribed; a bad openid, template or field
WECHAT_RETRY = {-1, 45009, 45011, 45047}  # busy, over the daily quota or the rate limit: later
WECHAT_TOKEN = {40001, 40014, 42001}  # the access token is stale: fetch a new one, once
# The official account's subscribe notices (bizsend) answer with the mini-program's codes; what each means, in words.
DROPPED = {
    43101: "粉丝未订阅或已拒收",
    40003: "粉丝的微信账号有误",
    40037: "模板编号有误",
    47003: "模板字段有误",
    41030: "跳转页面有误",
}
OFFICIAL_DROPPED = {
    **DROPPED,
    43101: "粉丝未订阅或已拒收公众号通知",
    40003: "粉丝的微信账号不属于这个公众号",
    41030: "跳转网页有误",
}


def field_type(key: str) -> str:
    return key.rstrip("0123456789")


def fit(key: str, value: str) -> str:
    """A value cut to what WeChat accepts for its field type (longer values are refused with 47003)."""
    limit = FIELD_LIMITS.get(field_type(key))
    if limit is None or len(value) <= limit:
        return value
    return value[: limit - 1] + "…" if limit > 3 else value[:limit]


_tokens: dict[tuple[str, str], tuple[str, float]] = {}  # (api base, app id) -> (token, good until, monotonic)
_tickets: dict[tuple[str, str], tuple[str, float]] = {}  # the same for JS-SDK tickets


class WechatSender:
    def __init__(self, api_base: str, *, app_id: str, secret: str, transport: httpx.AsyncBaseTransport | None = None):
        self.api_base, self.app_id, self.secret, self.transport = api_base.rstrip("/"), app_id, secret, transport

    async def _token(self, client: httpx.AsyncClient, *, fresh: bool) -> str | None:
        key = (self.api_base, self.app_id)
        cached = _tokens.get(key)
        if cached and not fresh and cached[1] > time.monotonic():
            return cached[0]
        response = await client.get(
            self.api_base + "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.app_id, "secret": self.secret},
        )
        body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not token:
            return None
        _tokens[key] = (str(token), time.monotonic() + max(60, int(body.get("expires_in") or 7200) - 300))
        return str(token)

    async def jsapi_ticket(self) -> str | None:
        """The official account's JS-SDK ticket (for wx.config on H5 pages), cached like the access token; None when
        WeChat does not hand one out now."""
        key = (self.api_base, self.app_id)
        cached = _tickets.get(key)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        try:
            async with _client(self.transport) as client:
                for fresh in (False, True):
                    token = await self._token(client, fresh=fresh)
                    if token is None:
                        return None
                    response = await client.get(
                        self.api_base + "/cgi-bin/ticket/getticket", params={"access_token": token, "type": "jsapi"}
                    )
                    body = response.json() if response.status_code < 500 else {"errcode": -1}
                    errcode = int(body.get("errcode") or 0) if isinstance(body, dict) else -1
                    if errcode not in WECHAT_TOKEN:
                        break
        except (httpx.HTTPError, ValueError) as error:
            log.warning("notices.wechat_unreachable", error=type(error).__name__)
            return None
        ticket = body.get("ticket") if errcode == 0 else None
        if not ticket:
            log.info("notices.wechat_ticket", errcode=errcode)
            return None
        _tickets[key] = (str(ticket), time.monotonic() + max(60, int(body.get("expires_in") or 7200) - 300))
        return str(ticket)

    async def send(
        self, *, openid: str, template_id: str, data: dict[str, str], page: str = "", official: bool = False
    ) -> Result:
        """A mini-program subscribe message, or (official) an official-account subscribe notice."""
        path = "/cgi-bin/message/subscribe/bizsend" if official else "/cgi-bin/message/subscribe/send"
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": fit(key, value)} for key, value in data.items()},
        }
        if page:
            body["page"] = page
        try:
            async with _client(self.transport) as client:
                refreshed = False
                token = await self._token(client, fresh=False)
                while True:
                    if token is None:
                        return Result(Outcome.retry, "token", "拿不到微信的接口凭证")
                    response = await client.post(f"{self.api_base}{path}", params={"access_token": token}, json=body)
                    answer = response.json() if response.status_code < 500 else {"errcode": -1}
                    errcode = int(answer.get("errcode") or 0) if isinstance(answer, dict) else -1
                    if errcode in WECHAT_TOKEN and not refreshed:
                        refreshed = True
                        token = await self._token(client, fresh=True)
                        continue
                    break
        except (httpx.HTTPError, ValueError) as error:
            log.warning("notices.wechat_unreachable", error=type(error).__name__)
            return Result(Outcome.retry, "unreachable", "微信接口连不上")
        log.info("notices.wechat", errcode=errcode, template_id=template_id, official=official)
        if errcode == 0:
            return Result(Outcome.sent, None, "公众号已接收" if official else "微信已接收")
        if errcode in WECHAT_DROP:
            return Result(Outcome.drop, str(errcode), (OFFICIAL_DROPPED if official else DROPPED)[errcode])
        if errcode in WECHAT_RETRY:
            return Result(Outcome.retry, str(errcode), "微信繁忙或达到频率限制")
        if errcode in WECHAT_TOKEN:
            return Result(Outcome.retry, str(errcode), "微信接口凭证失效")
        return Result(Outcome.retry, str(errcode), "微信返回错误")


# SMS


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    sign_name: str
    template: str
    params: dict[str, str]
    out_id: str = ""  # ours, kept by the provider with the message (Aliyun OutId, Tencent SessionContext)


class LogSms:
    """The default: the notice is written to the log (the number masked), nothing is sent."""

    async def send(self, message: SmsMessage) -> Result:
        log.info("notices.sms_logged", phone=mask_phone(message.phone), template=message.template)
        return Result(Outcome.sent, None, f"已记录到日志（{mask_phone(message.phone)}）")


class AliyunSms:
    def __init__(self, base: str, *, key_id: str, secret: str, transport: httpx.AsyncBaseTransport | None = None):
        self.base, self.key_id, self.secret, self.transport = base.rstrip("/"), key_id, secret, transport

    def signed_params(self, message: SmsMessage, *, now: datetime, nonce: str) -> dict[str, str]:
        params = {
            "AccessKeyId": self.key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "PhoneNumbers": message.phone,
            "RegionId": "cn-hangzhou",
            "SignName": message.sign_name,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce,
            "SignatureVersion": "1.0",
            "TemplateCode": message.template,
            "TemplateParam": json.dumps(message.params, ensure_ascii=False, separators=(",", ":")),
            "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }
        if message.out_id:
            params["OutId"] = message.out_id
        return {**params, "Signature": aliyun_signature(self.secret, "POST", params)}

    def _common(self, action: str, *, now: datetime, nonce: str) -> dict[str, str]:
        return {
            "AccessKeyId": self.key_id,
            "Action": action,
            "Format": "JSON",
            "RegionId": "cn-hangzhou",
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": nonce,
            "SignatureVersion": "1.0",
            "Timestamp": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": "2017-05-25",
        }

    async def was_sent(self, message: SmsMessage, *, days: list[date]) -> bool | None:
        """Whether Aliyun took a message with this OutId for this number on one of `days` (QuerySendDetails,
        Beijing dates); None when it cannot say right now."""
        try:
            async with _client(self.transport) as client:
                for day in days:
                    page, seen = 1, 0
                    while True:
                        params = {
                            **self._common("QuerySendDetails", now=datetime.now(UTC), nonce=uuid.uuid4().hex),
                            "PhoneNumber": message.phone,
                            "SendDate": day.strftime("%Y%m%d"),
                            "PageSize": "50",
                            "CurrentPage": str(page),
                        }
                        params["Signature"] = aliyun_signature(self.secret, "POST", params)
                        response = await client.post(self.base + "/", data=params)
                        answer = response.json() if response.status_code < 500 else {}
                        if answer.get("Code") != "OK":
                            log.info("notices.sms_query", provider="aliyun", code=str(answer.get("Code") or ""))
                            return None
                        found = (answer.get("SmsSendDetailDTOs") or {}).get("SmsSendDetailDTO") or []
                        if any(str(d.get("OutId") or "") == message.out_id for d in found):
                            return True
                        seen += len(found)
                        if not found or seen >= int(answer.get("TotalCount") or 0):
                            break
                        page += 1
        except (httpx.HTTPError, ValueError, AttributeError):
            return None
        return False

    async def send(self, message: SmsMessage) -> Result:
        params = self.signed_params(message, now=datetime.now(UTC), nonce=uuid.uuid4().hex)
        try:
            async with _client(self.transport) as client:
                # POST with a form body: the number stays out of the URL (and out of any access log)
                response = await client.post(self.base + "/", data=params)
            if response.status_code >= 500:
                return Result(Outcome.retry, f"http{response.status_code}", "短信服务暂时不可用")
            code = str(response.json().get("Code") or "")
        except (httpx.HTTPError, ValueError, AttributeError):
            return Result(Outcome.retry, "unreachable", "短信服务连不上")
        log.info("notices.sms", provider="aliyun", phone=mask_phone(message.phone), code=code)
        if code == "OK":
            return Result(Outcome.sent, None, f"已发送到 {mask_phone(message.phone)}")
        if code == "isv.BUSINESS_LIMIT_CONTROL" or code.startswith("isp."):
            return Result(Outcome.retry, code[:40], "短信发送受限，稍后再试")
        return Result(Outcome.drop, code[:40], "短信被拒绝")


class TencentSms:
    def __init__(
        self,
        base: str,
        *,
        secret_id: str,
        secret_key: str,
        app_id: str,
        transport: httpx.AsyncBaseTransport | None = None,
    ):
        self.base, self.secret_id, self.secret_key = base.rstrip("/"), secret_id, secret_key
        self.app_id, self.transport = app_id, transport

    async def send(self, message: SmsMessage) -> Result:
        payload = json.dumps(
            {
                "PhoneNumberSet": [message.phone if message.phone.startswith("+") else "+86" + message.phone],
                "SmsSdkAppId": self.app_id,
                "SignName": message.sign_name,
                "TemplateId": message.template,
                "TemplateParamSet": list(message.params.values()),
                **({"SessionContext": message.out_id} if message.out_id else {}),
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        host = urlsplit(self.base).netloc
        timestamp = int(time.time())
        headers = {
            "Authorization": tc3_authorization(
                secret_id=self.secret_id,
                secret_key=self.secret_key,
                service="sms",
                host=host,
                timestamp=timestamp,
                payload=payload,
            ),
            "Content-Type": "application/json; charset=utf-8",
            "Host": host,
            "X-TC-Action": "SendSms",
            "X-TC-Version": "2021-01-11",
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": "ap-guangzhou",
        }
        try:
            async with _client(self.transport) as client:
                response = await client.post(self.base + "/", content=payload.encode(), headers=headers)
            if response.status_code >= 500:
                return Result(Outcome.retry, f"http{response.status_code}", "短信服务暂时不可用")
            answer = response.json().get("Response") or {}
        except (httpx.HTTPError, ValueError, AttributeError):
            return Result(Outcome.retry, "unreachable", "短信服务连不上")
        error = answer.get("Error")
        statuses = answer.get("SendStatusSet") or [{}]
        code = str((error or {}).get("Code") or statuses[0].get("Code") or "")
        log.info("notices.sms", provider="tencent", phone=mask_phone(message.phone), code=code)
        if code == "Ok":
            return Result(Outcome.sent, None, f"已发送到 {mask_phone(message.phone)}")
        if code.startswith(("LimitExceeded", "RequestLimitExceeded", "InternalError")):
            return Result(Outcome.retry, code[:40], "短信发送受限，稍后再试")
        return Result(Outcome.drop, code[:40], "短信被拒绝")


# Webhooks


async def post_webhook(
    url: str,
    *,
    secrets_in_use: list[str],
    msg_id: str,
    body: str,
    timestamp: int | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Result:
    headers = webhook_headers(secrets_in_use, msg_id=msg_id, timestamp=timestamp or int(time.time()), body=body)
    try:
        async with _client(transport) as client:
            response = await client.post(url, content=body.encode(), headers=headers)
    except httpx.HTTPError as error:
        log.info("notices.webhook_unreachable", error=type(error).__name__)
        return Result(Outcome.retry, "unreachable", "连不上对方的地址")
    if 200 <= response.status_code < 300:
        return Result(Outcome.sent, None, f"对方已接收（{response.status_code}）")
    return Result(Outcome.retry, f"http{response.status_code}", f"对方返回 {response.status_code}")
