"""Pure decisions of the check-in (no database): the local day, streaks, the points of a day, make-up limits.

The streak of a day D is the streak of D-1 plus one when D-1 is checked in, else 1: a missed day starts over.
With a cycle of N days the streak's day-N reward comes back every N days (day 7, 14, 21 ... of a 7-day cycle);
without one it is given once, on the N-th day in a row, and every later day gives the base points.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from siyu.engagement.checkin.schemas import CheckinRules, DayReward, PreviewDay
from siyu.kit.time import to_local

PREVIEW_DAYS = 30


def local_day(now: datetime, timezone: str) -> date:
    """The tenant-local day of an instant (the tenant's timezone decides midnight)."""
    return to_local(now, timezone).date()


def position(rules: CheckinRules, streak: int) -> int:
    """Which day of the reward table a streak's day is (the cycle wraps around)."""
    if rules.cycle_days:
        return (streak - 1) % rules.cycle_days + 1
    return streak


def day_reward(rules: CheckinRules, streak: int) -> DayReward | None:
    """The day-N reward of the `streak`-th day in a row, if that day has one."""
    at = position(rules, streak)
    return next((reward for reward in rules.rewards if reward.day == at), None)


def day_points(rules: CheckinRules, streak: int) -> tuple[int, bool]:
    """The points of the `streak`-th day in a row, and whether it is a day-N reward."""
    reward = day_reward(rules, streak)
    return (reward.points, True) if reward is not None else (rules.base_points, False)


def day_gift(rules: CheckinRules, streak: int) -> DayReward | None:
    """The day-N reward of that day when it gives a mall reward or a free lottery draw too."""
    reward = day_reward(rules, streak)
    return reward if reward is not None and (reward.reward_id or reward.lottery_id) else None


def gift_words(reward: DayReward | None) -> str | None:
    """What a day's gift is, in words: "补水面膜", "一次幸运大转盘抽奖", or both."""
    if reward is None:
        return None
    parts = [reward.reward_title, f"一次“{reward.lottery_title}”免费抽奖" if reward.lottery_title else None]
    return "和".join(p for p in parts if p) or None


def points_of(rules: CheckinRules, streak: int) -> int:
    return day_points(rules, streak)[0]


def preview(rules: CheckinRules, days: int = PREVIEW_DAYS) -> list[PreviewDay]:
    """What a fan who checks in `days` days in a row gets each day."""
    shown = []
    for streak in range(1, days + 1):
        points, bonus = day_points(rules, streak)
        gift = day_gift(rules, streak)
        shown.append(PreviewDay(streak=streak, points=points, bonus=bonus, gift=gift_words(gift)))
    return shown


def streak_after(previous: int | None) -> int:
    """The streak of a day whose day before had streak `previous` (None: the day before was missed)."""
    return 1 if previous is None else previous + 1


def streaks(days: Iterable[date]) -> dict[date, int]:
    """The streak of each checked-in day of a set (the simple model the stored streaks must agree with)."""
    result: dict[date, int] = {}
    for day in sorted(set(days)):
        result[day] = streak_after(result.get(day - timedelta(days=1)))
    return result


def current_streak(rows: dict[date, int], today: date) -> int:
    """Her streak now: today's when she has checked in, else yesterday's (still alive until tonight), else 0."""
    if today in rows:
        return rows[today]
    return rows.get(today - timedelta(days=1), 0)


def makeup_window(rules: CheckinRules, today: date) -> tuple[date, date]:
    """The first and last day a make-up may fill (yesterday back to `makeup_days_back` days ago)."""
    return today - timedelta(days=rules.makeup_days_back), today - timedelta(days=1)


def month_bounds(month: date) -> tuple[date, date]:
    """The first and last day of the month of `month`."""
    first = month.replace(day=1)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)
