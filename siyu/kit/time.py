"""Time: UTC in storage, tenant-local (default Asia/Shanghai) in business rules and on screen."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

DEFAULT_TIMEZONE = "Asia/Shanghai"


def utcnow() -> datetime:
    return datetime.now(UTC)


def to_local(value: datetime, timezone: str = DEFAULT_TIMEZONE) -> datetime:
    return value.astimezone(ZoneInfo(timezone))


def format_local(value: datetime | None, timezone: str = DEFAULT_TIMEZONE, fmt: str = "%Y-%m-%d %H:%M") -> str:
    if value is None:
        return ""
    return to_local(value, timezone).strftime(fmt)


def last_valid_day(expires_at: datetime, timezone: str = DEFAULT_TIMEZONE) -> date:
    """The last local day on which something that expires at `expires_at` can still be used. Expiry is stored as
    the first instant it is gone (month and year ends: the next local midnight), so points of 2027 expire at
    2028-01-01 00:00 Asia/Shanghai and their last day is 2027-12-31."""
    return (to_local(expires_at, timezone) - timedelta(microseconds=1)).date()


def format_last_day(value: datetime | None, timezone: str = DEFAULT_TIMEZONE, fmt: str = "%Y年%m月%d日") -> str:
    return "" if value is None else last_valid_day(value, timezone).strftime(fmt)


def is_valid_timezone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (KeyError, ValueError):
        return False
    return True


def aware(value: datetime, timezone: str = DEFAULT_TIMEZONE) -> datetime:
    """`value` as an aware datetime: one given without a zone (2026-11-11T20:00) is read as the tenant's local
    time, as ops mean it; one with a zone is kept."""
    return value.replace(tzinfo=ZoneInfo(timezone)) if value.tzinfo is None else value


def aware_or_none(value: datetime | None, timezone: str = DEFAULT_TIMEZONE) -> datetime | None:
    return None if value is None else aware(value, timezone)


def localise_fields(model: M, timezone: str) -> M:
    """A copy of `model` whose datetime fields (top level) given without a zone are read in `timezone`."""
    update = {
        name: aware(value, timezone) for name, value in model if isinstance(value, datetime) and value.tzinfo is None
    }
    return model.model_copy(update=update) if update else model
