"""Time: UTC in storage, tenant-local (default Asia/Shanghai) in business rules and on screen."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

DEFAULT_TIMEZONE = "Asia/Shanghai"


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_local(value: datetime, timezone: str = DEFAULT_TIMEZONE) -> datetime:
    return value.astimezone(ZoneInfo(timezone))


def format_local(value: datetime | None, timezone: str = DEFAULT_TIMEZONE, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return to_local(value, timezone).strftime(fmt)


def is_valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (KeyError, ValueError):
        return False
    return True
