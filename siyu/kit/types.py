"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Stores aware datetimes as UTC; always returns aware UTC datetimes (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; siyu stores UTC-aware datetimes only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# A text field with at least one character that is not blank to all three regex engines that see our patterns
# (pydantic's, Python's str.strip in the services, and JSON Schema's ECMA regexes in API clients and testers).
NOT_BLANK = r"[^\s\x1c-\x1f\u0085]"


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def plain_text(value: object, max_length: int) -> str:
    """Text from outside (another service's JSON) that any column can hold: lone surrogates (which no UTF-8 text
    can carry) become U+FFFD, NUL and other control characters go, and it is cut to `max_length`."""
    text = str(value or "").encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return _CONTROL.sub("", text).strip()[:max_length]
