"""Report periods: whole tenant-local days, and the period of the same length just before."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_DAYS = 30
MAX_DAYS = 366


@dataclass(frozen=True)
class Period:
    first: date  # the first day in it
    last: date  # the last day in it (inclusive)

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Period:
        """The period of the same number of days that ends the day before this one starts."""
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def bounds(self, timezone: str) -> tuple[datetime, datetime]:
        """[start, end) in UTC: from the first day's local midnight to the midnight after the last day."""
        zone = ZoneInfo(timezone)
        start = datetime.combine(self.first, time(), zone)
        end = datetime.combine(self.last + timedelta(days=1), time(), zone)
        return start.astimezone(ZoneInfo("UTC")), end.astimezone(ZoneInfo("UTC"))

    def day_list(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range(self.days)]


def _parse(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        return None


def period_of(first: str | None, last: str | None, *, today: date, default_days: int = DEFAULT_DAYS) -> Period:
    """The period a person asked for; whatever cannot be read falls back to the last `default_days` days up to
    today. Reversed ends are swapped; a period longer than `MAX_DAYS` keeps its last day."""
    start, end = _parse(first), _parse(last)
    if end is None:
        end = today if start is None else min(start + timedelta(days=default_days - 1), max(today, start))
    if start is None:
        start = end - timedelta(days=default_days - 1)
    if start > end:
        start, end = end, start
    if (end - start).days + 1 > MAX_DAYS:
        start = end - timedelta(days=MAX_DAYS - 1)
    return Period(start, end)


DEFAULT_MONTHS = 12
MAX_MONTHS = 36
MONTH_PATTERN = r"^\d{4}-\d{2}$"


def _month(value: str | None) -> tuple[int, int] | None:
    if not value:
        return None
    try:
        year, number = (int(p) for p in value.strip().split("-"))
    except ValueError:
        return None
    if not (2000 <= year <= 2100 and 1 <= number <= 12):
        return None
    return year, number


def _shift(month: tuple[int, int], by: int) -> tuple[int, int]:
    index = month[0] * 12 + month[1] - 1 + by
    return index // 12, index % 12 + 1


def months_of(first: str | None, last: str | None, *, today: date, default_months: int = DEFAULT_MONTHS) -> list[str]:
    """The months ("2026-03") a person asked for, oldest first; what cannot be read falls back to the last
    `default_months` months up to this one. Reversed ends are swapped; more than `MAX_MONTHS` keeps the last."""
    start, end = _month(first), _month(last)
    if end is None:
        end = (today.year, today.month) if start is None else _shift(start, default_months - 1)
    if start is None:
        start = _shift(end, -(default_months - 1))
    if start > end:
        start, end = end, start
    count = (end[0] * 12 + end[1]) - (start[0] * 12 + start[1]) + 1
    if count > MAX_MONTHS:
        start, count = _shift(end, -(MAX_MONTHS - 1)), MAX_MONTHS
    return [f"{y:04d}-{m:02d}" for y, m in (_shift(start, n) for n in range(count))]
