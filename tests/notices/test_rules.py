"""Quiet hours at their boundaries, in the tenant's timezone."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from siyu.notices.rules import in_quiet_hours, local_day, not_before

SHANGHAI = ZoneInfo("Asia/Shanghai")


def at(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


def test_quiet_hours_boundaries_in_shanghai() -> None:
    assert not_before(at(SHANGHAI, 2026, 3, 1, 21, 59, 59), timezone="Asia/Shanghai") == at(
        SHANGHAI, 2026, 3, 1, 21, 59, 59
    )
    assert not_before(at(SHANGHAI, 2026, 3, 1, 22, 0), timezone="Asia/Shanghai") == at(SHANGHAI, 2026, 3, 2, 8, 0)
    assert not_before(at(SHANGHAI, 2026, 3, 1, 23, 59, 59), timezone="Asia/Shanghai") == at(SHANGHAI, 2026, 3, 2, 8, 0)
    assert not_before(at(SHANGHAI, 2026, 3, 2, 0, 0), timezone="Asia/Shanghai") == at(SHANGHAI, 2026, 3, 2, 8, 0)
    assert not_before(at(SHANGHAI, 2026, 3, 2, 7, 59, 59), timezone="Asia/Shanghai") == at(SHANGHAI, 2026, 3, 2, 8, 0)
    assert not_before(at(SHANGHAI, 2026, 3, 2, 8, 0), timezone="Asia/Shanghai") == at(SHANGHAI, 2026, 3, 2, 8, 0)


def test_the_tenants_own_timezone_decides_not_the_servers() -> None:
    # 14:30 UTC is 22:30 in Shanghai (quiet) and 09:30 in New York (not quiet).
    now = datetime(2026, 3, 1, 14, 30, tzinfo=UTC)
    assert not_before(now, timezone="Asia/Shanghai") == at(SHANGHAI, 2026, 3, 2, 8, 0)
    assert not_before(now, timezone="America/New_York") == now
    # New York's 08:00 after a daylight-saving change (8 March 2026) is 12:00 UTC, not 13:00.
    ny = ZoneInfo("America/New_York")
    assert not_before(at(ny, 2026, 3, 8, 1, 0), timezone="America/New_York") == datetime(2026, 3, 8, 12, 0, tzinfo=UTC)
    assert (
        local_day(now, "Asia/Shanghai") == "2026-03-01"
        and local_day(now + timedelta(hours=2), "Asia/Shanghai") == "2026-03-02"
    )


def test_urgent_notices_and_a_daytime_window() -> None:
    night = at(SHANGHAI, 2026, 3, 1, 23, 0)
    assert not_before(night, timezone="Asia/Shanghai", urgent=True) == night
    # A window that does not wrap midnight: 12:00-14:00.
    noon = at(SHANGHAI, 2026, 3, 1, 12, 0)
    assert not_before(noon, timezone="Asia/Shanghai", start=time(12), end=time(14)) == at(SHANGHAI, 2026, 3, 1, 14, 0)
    assert not_before(noon, timezone="Asia/Shanghai", start=time(8), end=time(8)) == noon  # no quiet hours


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)), st.times(), st.times())
def test_a_held_notice_goes_out_at_the_first_moment_outside_quiet_hours(
    moment: datetime, start: time, end: time
) -> None:
    start, end = start.replace(microsecond=0, second=0), end.replace(microsecond=0, second=0)
    now = moment.replace(tzinfo=UTC)
    release = not_before(now, timezone="Asia/Shanghai", start=start, end=end)
    assert release >= now and release - now <= timedelta(days=1)
    assert not in_quiet_hours(release.astimezone(SHANGHAI).time(), start, end)
    if release > now:
        assert in_quiet_hours(now.astimezone(SHANGHAI).time(), start, end)
