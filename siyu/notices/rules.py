"""Pure decisions about when a notice may go out: quiet hours in the tenant's timezone and the daily cap."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

DEFAULT_QUIET_START = time(22, 0)
DEFAULT_QUIET_END = time(8, 0)


def in_quiet_hours(local: time, start: time, end: time) -> bool:
    """Whether a local wall-clock time falls in [start, end); the window may wrap past midnight."""
    if start == end:
        return False
    if start < end:
        return start <= local < end
    return local >= start or local < end


def not_before(
    now: datetime,
    *,
    timezone: str,
    start: time = DEFAULT_QUIET_START,
    end: time = DEFAULT_QUIET_END,
    urgent: bool = False,
) -> datetime:
    """When a notice filed at `now` (UTC, aware) may be sent: now, or the end of the quiet hours it falls in.

    Urgent notices (one-time codes, a fan's show starting now) are never held."""
    if urgent:
        return now
    zone = ZoneInfo(timezone)
    local = now.astimezone(zone)
    if not in_quiet_hours(local.time(), start, end):
        return now
    release = datetime.combine(local.date(), end, tzinfo=zone)
    if release <= local:
        release = datetime.combine(local.date() + timedelta(days=1), end, tzinfo=zone)
    return release.astimezone(now.tzinfo)


def local_day(now: datetime, timezone: str) -> str:
    """The tenant-local date a notice counts against for the per-fan daily cap."""
    return now.astimezone(ZoneInfo(timezone)).date().isoformat()
