"""The check-in's pure rules: the points of each day of a streak, cycles, and streaks over any set of days
(Hypothesis) against the plainest model there is: count the days in a row, walking back."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyu.engagement.checkin import rules
from siyu.engagement.checkin.schemas import CheckinRules, DayReward
from siyu.kit.errors import InvalidInput

START = date(2030, 1, 1)


def walk_back(checked: set[date], day: date) -> int:
    streak = 0
    while day in checked:
        streak += 1
        day -= timedelta(days=1)
    return streak


@given(st.sets(st.integers(min_value=0, max_value=80), max_size=60))
def test_a_streak_is_the_days_in_a_row_ending_that_day(offsets: set[int]) -> None:
    checked = {START + timedelta(days=n) for n in offsets}
    found = rules.streaks(checked)
    assert set(found) == checked
    for day in checked:
        assert found[day] == walk_back(checked, day)
    for today in (START + timedelta(days=n) for n in (40, 81)):  # 81: after every day
        alive_from = today if today in checked else today - timedelta(days=1)
        assert rules.current_streak(found, today) == walk_back(checked, alive_from)


@given(
    base=st.integers(min_value=0, max_value=50),
    cycle=st.integers(min_value=0, max_value=14),
    reward_day=st.integers(min_value=1, max_value=14),
    reward=st.integers(min_value=0, max_value=500),
    streak=st.integers(min_value=1, max_value=400),
)
def test_the_day_n_reward_replaces_the_base_points_once_or_every_cycle(
    base: int, cycle: int, reward_day: int, reward: int, streak: int
) -> None:
    if cycle and reward_day > cycle:
        reward_day = cycle
    value = CheckinRules(base_points=base, cycle_days=cycle, rewards=[DayReward(day=reward_day, points=reward)])
    points, bonus = rules.day_points(value, streak)
    on_reward_day = streak % cycle == reward_day % cycle if cycle else streak == reward_day
    assert bonus == on_reward_day
    assert points == (reward if on_reward_day else base)


def test_the_default_rules_give_2_a_day_and_20_on_every_7th() -> None:
    shown = rules.preview(CheckinRules())
    assert [d.points for d in shown[:8]] == [2, 2, 2, 2, 2, 2, 20, 2]
    assert [d.streak for d in shown if d.bonus] == [7, 14, 21, 28]
    assert sum(d.points for d in shown) == 26 * 2 + 4 * 20


def test_rules_that_contradict_themselves_are_refused_in_words() -> None:
    with pytest.raises(InvalidInput) as twice:
        CheckinRules(rewards=[DayReward(day=3, points=5), DayReward(day=3, points=6)])
    assert twice.value.code == "duplicate_reward_day"
    with pytest.raises(InvalidInput) as beyond:
        CheckinRules(cycle_days=7, rewards=[DayReward(day=10, points=5)])
    assert beyond.value.code == "reward_beyond_cycle"


def test_month_bounds_and_the_make_up_window() -> None:
    assert rules.month_bounds(date(2030, 2, 14)) == (date(2030, 2, 1), date(2030, 2, 28))
    assert rules.month_bounds(date(2032, 12, 31)) == (date(2032, 12, 1), date(2032, 12, 31))
    assert rules.makeup_window(CheckinRules(makeup_days_back=3), date(2030, 3, 1)) == (
        date(2030, 2, 26),
        date(2030, 2, 28),
    )
