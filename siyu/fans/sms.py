"""Sending one-time codes by SMS through a pluggable provider. The logging provider is for demos and tests:
it writes the code to the log (the phone only as a fingerprint) and remembers the last one it sent."""

from __future__ import annotations

from typing import Protocol

import structlog

from siyu.kit.errors import AppError
from siyu.members.service import phone_fingerprint

log = structlog.get_logger("siyu.fans.sms")


class SmsFailed(AppError):
    status = 502
    code = "sms_failed"
    message = "短信发送失败，请稍后再试"


class SmsProvider(Protocol):
    async def send_code(self, *, phone: str, code: str, sign_name: str) -> None: ...


class LoggingSms:
    def __init__(self) -> None:
        self.sent: dict[str, str] = {}  # phone -> last code, for the demo page and tests

    async def send_code(self, *, phone: str, code: str, sign_name: str) -> None:
        self.sent[phone] = code
        log.info("sms.code", phone=phone_fingerprint(phone), code=code, sign_name=sign_name)


PROVIDERS: dict[str, type] = {"log": LoggingSms}


def provider_for(name: str) -> SmsProvider:
    try:
        factory = PROVIDERS[name]
    except KeyError:
        raise ValueError(f"unknown SMS provider {name!r}; known: {', '.join(sorted(PROVIDERS))}") from None
    provider: SmsProvider = factory()
    return provider
