"""Checking in and making up days against the database: one a tenant-local day whatever the clock says at
midnight (two timezones), streaks and points by the rules, make-ups and every refusal (which stores nothing), and
stored streaks agreeing with a simple model over generated sequences of days (Hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from siyu.engagement.checkin import rules, service
from siyu.engagement.checkin.schemas import DayReward
from siyu.jobs.models import Job
from siyu.kit.errors import AppError
from siyu.ledger import refs
from siyu.ledger.audit import check_invariants
from siyu.ledger.models import Balance, Entry
from siyu.tenants import service as tenants
from tests.engagement.conftest import Desk, days

D = date(2030, 3, 10)


@pytest.mark.parametrize("timezone", ["Asia/Shanghai", "America/Los_Angeles"])
async def test_a_second_before_and_after_local_midnight_are_two_days(desk: Desk, timezone: str) -> None:
    desk.tenant.timezone = timezone
    await tenants.config_changed(desk.session, desk.tenant.id)
    fan = await desk.fan()
    late = desk.local(D, 23, 59, 59, 900_000)
    early = desk.local(D + timedelta(days=1), 0, 0, 0, 100_000)
    assert (early - late).total_seconds() == pytest.approx(0.2)
    first = await desk.check_in(fan, late)
    again = await desk.check_in(fan, late + timedelta(milliseconds=50))
    second = await desk.check_in(fan, early)
    assert (first.day, first.streak, first.created) == (D, 1, True)
    assert (again.day, again.created) == (D, False)
    assert (second.day, second.streak, second.created) == (D + timedelta(days=1), 2, True)
    assert sorted(await desk.rows(fan)) == [D, D + timedelta(days=1)]
    assert await desk.available(fan) == 4


async def test_points_follow_the_streak_and_reset_after_a_missed_day(desk: Desk) -> None:
    await desk.rules(base_points=3, cycle_days=0, rewards=[DayReward(day=3, points=30)])
    fan = await desk.fan()
    got = [(await desk.check_in(fan, desk.local(day))).points for day in days(D, 4)]
    assert got == [3, 3, 30, 3]  # no cycle: the day-3 reward once
    after_gap = await desk.check_in(fan, desk.local(D + timedelta(days=5)))
    assert (after_gap.streak, after_gap.points) == (1, 3)
    assert await desk.available(fan) == 42
    entries = (await desk.session.scalars(select(Entry.source_ref).where(Entry.tenant_id == desk.tenant.id))).all()
    assert refs.checkin_ref(fan, D + timedelta(days=2)) in entries
    assert await check_invariants(desk.session, desk.tenant.id) == []


async def test_a_make_up_joins_the_streak_and_recounts_the_days_after_it(desk: Desk) -> None:
    await desk.rules(makeup_cost=5, makeup_days_back=7, makeup_monthly_cap=2)
    fan = await desk.fan(points=100)
    for day in (D, D + timedelta(days=1), D + timedelta(days=3), D + timedelta(days=4)):
        await desk.check_in(fan, desk.local(day))
    today = desk.local(D + timedelta(days=4), 18)
    made = await desk.make_up(fan, D + timedelta(days=2), today)
    assert (made.streak, made.points, made.made_up, made.cost) == (3, 0, True, 5)
    rows = await desk.rows(fan)
    assert [rows[day].streak for day in days(D, 5)] == [1, 2, 3, 4, 5]
    assert rows[D + timedelta(days=2)].made_up_on == D + timedelta(days=4)
    assert await desk.available(fan) == 100 + 4 * 2 - 5
    status = await service.status(desk.session, tenant=await desk.config(), member_id=fan, joined=D, now=today)
    assert status.streak == 5 and status.checked_in_today and status.makeups_left == 1
    assert status.tomorrow_points == 2  # day 6
    states = {d.day: d.state for d in status.days}
    assert states[D + timedelta(days=2)] == "made_up" and states[D - timedelta(days=1)] == "before"
    assert states[D + timedelta(days=5)] == "future"


async def _nothing_stored(desk: Desk, fan: int, before_rows: int, before_points: int) -> None:
    assert len(await desk.rows(fan)) == before_rows
    assert await desk.available(fan) == before_points


async def test_every_make_up_refusal_has_its_code_and_stores_nothing(desk: Desk) -> None:
    await desk.rules(makeup_cost=10, makeup_days_back=3, makeup_monthly_cap=1)
    fan = await desk.fan(points=15)
    poor = await desk.fan(points=3)
    now = desk.local(D, 10)
    await desk.check_in(fan, desk.local(D - timedelta(days=1)))
    rows, points = len(await desk.rows(fan)), await desk.available(fan)
    cases = [
        (fan, D - timedelta(days=1), "makeup_already_checked_in", 409),
        (fan, D, "makeup_not_past", 422),
        (fan, D + timedelta(days=1), "makeup_not_past", 422),
        (fan, D - timedelta(days=4), "makeup_too_old", 422),
        (poor, D - timedelta(days=2), "makeup_insufficient_points", 409),
    ]
    for who, day, code, status in cases:
        with pytest.raises(AppError) as refused:
            await desk.make_up(who, day, now)
        assert (refused.value.code, refused.value.status) == (code, status)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in refused.value.message)
    await _nothing_stored(desk, fan, rows, points)
    await _nothing_stored(desk, poor, 0, 3)
    never = await desk.fan()  # no points ever: not even a balance row is written by the refusal
    with pytest.raises(service.MakeupPoints):
        await desk.make_up(never, D - timedelta(days=1), now)
    assert await desk.session.get(Balance, (desk.tenant.id, never)) is None
    await desk.make_up(fan, D - timedelta(days=2), now)  # the one this month
    with pytest.raises(service.MakeupCapReached):
        await desk.make_up(fan, D - timedelta(days=3), now)
    await _nothing_stored(desk, fan, rows + 1, points - 10)
    await desk.rules(makeup_enabled=False)
    with pytest.raises(service.MakeupOff):
        await desk.make_up(fan, D - timedelta(days=3), now)
    await desk.rules(enabled=False)
    with pytest.raises(service.CheckinOff):
        await desk.check_in(fan, now)
    await _nothing_stored(desk, fan, rows + 1, points - 10)
    assert await check_invariants(desk.session, desk.tenant.id) == []


async def test_reminders_are_queued_once_a_day_for_who_asked_and_has_not_checked_in(desk: Desk) -> None:
    await desk.rules(reminder_hour=20)
    asked, done, quiet = await desk.fan(), await desk.fan(), await desk.fan()
    for fan in (asked, done):
        await service.set_reminder(desk.session, tenant_id=desk.tenant.id, member_id=fan, enabled=True)
    await desk.check_in(done, desk.local(D, 9))
    assert await service.queue_reminders(desk.session, tenant_id=desk.tenant.id, now=desk.local(D, 19)) == 0
    assert await service.queue_reminders(desk.session, tenant_id=desk.tenant.id, now=desk.local(D, 20)) == 1
    assert await service.queue_reminders(desk.session, tenant_id=desk.tenant.id, now=desk.local(D, 21)) == 0
    jobs = (
        await desk.session.scalars(select(Job).where(Job.tenant_id == desk.tenant.id, Job.kind == service.REMINDER_JOB))
    ).all()
    assert [job.payload["member_id"] for job in jobs] == [asked]
    for fan in (asked, done):
        await service.set_reminder(desk.session, tenant_id=desk.tenant.id, member_id=fan, enabled=False)
    assert (
        await service.queue_reminders(desk.session, tenant_id=desk.tenant.id, now=desk.local(D + timedelta(1), 21)) == 0
    )
    assert quiet  # never asked: never queued


async def test_statistics_count_days_make_ups_points_and_live_streaks(desk: Desk) -> None:
    a, b = await desk.fan(points=50), await desk.fan()
    for day in days(D, 3):
        await desk.check_in(a, desk.local(day))
    await desk.check_in(b, desk.local(D + timedelta(days=1)))
    stats = await service.stats(
        desk.session, tenant_id=desk.tenant.id, days=7, now=desk.local(D + timedelta(days=2), 22)
    )
    assert stats.days[-1] == D + timedelta(days=2)
    assert stats.checkins[-3:] == [1, 2, 1] and stats.points[-3:] == [2, 4, 2] and stats.today == 1
    assert dict(zip(stats.streak_buckets, stats.streak_members, strict=True))["1 天"] == 1  # b: alive until tonight
    assert dict(zip(stats.streak_buckets, stats.streak_members, strict=True))["3-6 天"] == 1


STEP = st.sampled_from(["skip", "check", "twice", "make_up_1", "make_up_2", "make_up_3"])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, min_size=1, max_size=30))
async def test_stored_streaks_agree_with_the_model_over_generated_days(desk: Desk, steps: list[str]) -> None:
    await desk.rules(makeup_cost=1, makeup_days_back=3, makeup_monthly_cap=31)
    fan = await desk.fan(points=1000)
    checked: set[date] = set()
    for n, step in enumerate(steps):
        today = D + timedelta(days=n)
        at = desk.local(today, 12)
        if step in ("check", "twice"):
            for _ in range(1 if step == "check" else 2):
                await desk.check_in(fan, at)
            checked.add(today)
        elif step.startswith("make_up"):
            day = today - timedelta(days=int(step[-1]))
            try:
                await desk.make_up(fan, day, at)
                assert day not in checked
                checked.add(day)
            except service.MakeupNotNeeded:
                assert day in checked
    stored = {day: row.streak for day, row in (await desk.rows(fan)).items()}
    assert stored == rules.streaks(checked)
    count = await desk.session.scalar(
        select(func.count()).select_from(Entry).where(Entry.tenant_id == desk.tenant.id, Entry.member_id == fan)
    )
    assert count is not None and count >= 1
