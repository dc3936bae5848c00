"""Daily check-in (签到): check in, make up a missed day (补签), a fan's month, the reminder, the rules, statistics.

A check-in, in the caller's one transaction (nothing here commits):
1. The rules come from the tenant's configuration as this process keeps it (no query of their own).
2. Her points are locked (siyu.ledger.service.lock_member): a check-in and a make-up of the day before cannot
   interleave, and a double tap waits for the first and then finds the day taken.
3. One read of yesterday and today; today's row is written with its streak and points; the points are credited
   under `checkin:<member>:<day>` (siyu.ledger.refs), so neither the row's key nor the ledger lets a day pay twice.
A second check-in of the same day answers with the first (created = false) and writes nothing.

A make-up fills a missed day within the window for its points cost: the day earns nothing itself, it joins the
streak, and the streaks of the run after it are counted again. Every refusal is decided before anything is
written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.engagement.checkin import repository, rules
from siyu.engagement.checkin.schemas import (
    CalendarDay,
    CheckinOut,
    CheckinRules,
    RulesOut,
    StatsOut,
    StatusOut,
)
from siyu.jobs import service as jobs
from siyu.kit.cache import tenant_configs
from siyu.kit.errors import Conflict, InvalidInput
from siyu.kit.time import to_local, utcnow
from siyu.kit.web import Principal
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.loyalty import rules as loyalty_rules
from siyu.loyalty import service as loyalty
from siyu.loyalty.schemas import PointsPolicy
from siyu.mall import lottery
from siyu.mall import service as mall
from siyu.tenants import service as tenants
from siyu.tenants.service import TenantConfig

RULES_KEY = "checkin"
REMINDER_JOB = "notice.checkin_reminder"
MAX_BROWSE_MONTHS = 12


class CheckinOff(Conflict):
    code = "checkin_off"
    message = "签到活动还没有开启"


class AlreadyCheckedIn(Conflict):
    code = "already_checked_in"
    message = "今天已经签到过了"


class MakeupOff(Conflict):
    code = "makeup_off"
    message = "暂时不能补签"


class MakeupNotNeeded(Conflict):
    code = "makeup_already_checked_in"
    message = "这一天已经签到过了，不用补签"


class MakeupNotPast(InvalidInput):
    code = "makeup_not_past"
    message = "只能补签今天以前漏签的日子"


class MakeupTooOld(InvalidInput):
    code = "makeup_too_old"
    message = "这一天太久了，不能补签"


class MakeupBeforeJoining(InvalidInput):
    code = "makeup_before_joining"
    message = "成为会员之前的日子不能补签"


class MakeupCapReached(Conflict):
    code = "makeup_cap_reached"
    message = "本月的补签次数已经用完了"


class MakeupPoints(ledger.InsufficientPoints):
    code = "makeup_insufficient_points"
    message = "积分不够补签"


class MonthOutOfRange(InvalidInput):
    code = "month_out_of_range"
    message = "只能查看最近一年的签到日历"


# The rules, kept per configuration version


@dataclass(frozen=True)
class Setup:
    """What a check-in reads of the tenant: the rules, and the points policy (when points expire)."""

    rules: CheckinRules
    policy: PointsPolicy


def read_rules(stored: Any) -> CheckinRules:
    try:
        return CheckinRules.model_validate(stored or {})
    except (ValidationError, InvalidInput):  # written by an older version
        return CheckinRules()


def setup_of(config: TenantConfig) -> Setup:
    cached: Setup | None = tenant_configs.get(RULES_KEY, config.id, config.version)
    if cached is not None:
        return cached
    try:
        policy = PointsPolicy.model_validate(config.section(loyalty.POLICY_KEY) or {})
    except ValidationError:  # as the loyalty programme reads it: defaults for what no longer reads
        policy = PointsPolicy()
    return tenant_configs.put(
        RULES_KEY, config.id, config.version, Setup(read_rules(config.section(RULES_KEY)), policy)
    )


async def rules_of(session: AsyncSession, tenant_id: int) -> CheckinRules:
    return setup_of(await tenants.config_of(session, tenant_id)).rules


def rules_out(value: CheckinRules) -> RulesOut:
    shown = rules.preview(value)
    return RulesOut(rules=value, preview=shown, preview_total=sum(day.points for day in shown))


def _audit_view(value: CheckinRules) -> dict[str, Any]:
    return {
        "checkin_enabled": value.enabled,
        "base_points": value.base_points,
        "day_rewards": "；".join(
            f"第 {r.day} 天 {r.points} 积分" + (f" + {rules.gift_words(r)}" if rules.gift_words(r) else "")
            for r in value.rewards
        )
        or "无",
        "cycle_days": value.cycle_days,
        "makeup_enabled": value.makeup_enabled,
        "makeup_cost": value.makeup_cost,
        "makeup_days_back": value.makeup_days_back,
        "makeup_monthly_cap": value.makeup_monthly_cap,
        "reminder_hour": value.reminder_hour,
    }


async def name_gifts(session: AsyncSession, *, tenant_id: int, value: CheckinRules) -> CheckinRules:
    """Each day-N gift must be one of the tenant's mall rewards or lotteries (refused as not found otherwise); its
    title is kept with the rules for the fans' pages."""
    for reward in value.rewards:
        reward.reward_title = reward.lottery_title = None
        if reward.reward_id is not None:
            gift = await mall.get_reward(session, tenant_id=tenant_id, reward_id=reward.reward_id)
            reward.reward_title = gift.title
        if reward.lottery_id is not None:
            chance = await lottery.get_lottery(session, tenant_id=tenant_id, lottery_id=reward.lottery_id)
            reward.lottery_title = chance.title
    return value


async def save_rules(session: AsyncSession, *, actor: Principal, value: CheckinRules) -> CheckinRules:
    """Store the tenant's rules (every process sees them at its next request) and record the change."""
    before = await rules_of(session, actor.tenant_id)
    await name_gifts(session, tenant_id=actor.tenant_id, value=value)
    await tenants.put_setting(session, tenant_id=actor.tenant_id, key=RULES_KEY, value=value.model_dump(mode="json"))
    audit.record_change(
        session,
        actor=actor,
        action="checkin.rules",
        target_type="tenant",
        target_id=actor.tenant_id,
        before=_audit_view(before),
        after=_audit_view(value),
    )
    return value


# A fan checks in


def _explanation(streak: int, points: int, bonus: bool) -> str:
    return f"每日签到 连续第 {streak} 天{'奖励' if bonus else ''} +{points}"


async def check_in(
    session: AsyncSession, *, tenant: TenantConfig, member_id: int, now: datetime | None = None
) -> CheckinOut:
    """Check her in for today (tenant-local): the day's points by her streak. Again the same day: the first one,
    created = false, nothing written."""
    now = now or utcnow()
    setup = setup_of(tenant)
    if not setup.rules.enabled:
        raise CheckinOff()
    today = rules.local_day(now, tenant.timezone)
    await ledger.lock_member(session, tenant_id=tenant.id, member_id=member_id, now=now)
    near = await repository.days_since(
        session, tenant_id=tenant.id, member_id=member_id, since=today - timedelta(days=1)
    )
    if today in near:
        streak, points = near[today]
        return CheckinOut(day=today, streak=streak, points=points, created=False)
    yesterday = near.get(today - timedelta(days=1))
    streak = rules.streak_after(None if yesterday is None else yesterday[0])
    points, bonus = rules.day_points(setup.rules, streak)
    values = {
        "tenant_id": tenant.id,
        "member_id": member_id,
        "day": today,
        "streak": streak,
        "points": points,
        "made_up_on": None,
        "cost": 0,
        "created_at": now,
    }
    try:
        await repository.insert_checkin(session, values)
    except IntegrityError as error:  # only when her lock was bypassed (she was merged meanwhile)
        raise AlreadyCheckedIn() from error
    if points > 0:
        await ledger.earn(
            session,
            tenant_id=tenant.id,
            member_id=member_id,
            amount=points,
            source_ref=refs.checkin_ref(member_id, today),
            explanation=_explanation(streak, points, bonus),
            expires_at=loyalty_rules.expires_at(setup.policy, now, tenant.timezone),
            now=now,
        )
    gift = rules.day_gift(setup.rules, streak)
    given, chance = None, None
    key = mall.gift_key("checkin", today.isoformat()) if gift is not None else ""
    if gift is not None and gift.reward_id is not None:  # out of stock: the day's points stand alone
        given = await mall.give(
            session, tenant_id=tenant.id, member_id=member_id, reward_id=gift.reward_id, key=key, day=today, now=now
        )
    if (
        gift is not None
        and gift.lottery_id is not None
        and await lottery.give_free_draw(  # the lottery is over: nothing
            session, tenant_id=tenant.id, member_id=member_id, lottery_id=gift.lottery_id, key=key, now=now
        )
    ):
        chance = gift.lottery_id
    return CheckinOut(
        day=today,
        streak=streak,
        points=points,
        created=True,
        gift=given.title if given is not None else None,
        free_draw_lottery_id=chance,
    )


async def _check_makeup(
    session: AsyncSession, tenant_id: int, member_id: int, day: date, today: date, value: CheckinRules
) -> dict[date, tuple[int, int]]:
    """Her check-ins from the day before `day` on, unless `day` has one already or this month's make-ups are used."""
    near = await repository.days_since(session, tenant_id=tenant_id, member_id=member_id, since=day - timedelta(days=1))
    if day in near:
        raise MakeupNotNeeded()
    month_first, month_last = rules.month_bounds(today)
    made = await repository.makeups_made(
        session, tenant_id=tenant_id, member_id=member_id, first=month_first, last=month_last
    )
    if made >= value.makeup_monthly_cap:
        raise MakeupCapReached()
    return near


async def make_up(
    session: AsyncSession,
    *,
    tenant: TenantConfig,
    member_id: int,
    joined: date | None,
    day: date,
    now: datetime | None = None,
) -> CheckinOut:
    """Fill a missed day for the make-up cost (补签). Refused, with nothing written: the day is checked in already,
    is today or later, is before the window or before she joined, this month's make-ups are used up, or she has
    too few points."""
    now = now or utcnow()
    value = setup_of(tenant).rules
    if not value.enabled:
        raise CheckinOff()
    if not value.makeup_enabled:
        raise MakeupOff()
    today = rules.local_day(now, tenant.timezone)
    if day >= today:
        raise MakeupNotPast()
    first, _last = rules.makeup_window(value, today)
    if day < first:
        raise MakeupTooOld(f"只能补签最近 {value.makeup_days_back} 天内漏签的日子")
    if joined is not None and day < joined:
        raise MakeupBeforeJoining()
    # Asked before her points are locked (locking may write her balance row) and again after (the lock decides).
    near = await _check_makeup(session, tenant.id, member_id, day, today, value)
    if (await ledger.balance(session, tenant_id=tenant.id, member_id=member_id)).available < value.makeup_cost:
        raise MakeupPoints(f"积分不够补签，补签一天需要 {value.makeup_cost} 积分")
    await ledger.lock_member(session, tenant_id=tenant.id, member_id=member_id, now=now)
    near = await _check_makeup(session, tenant.id, member_id, day, today, value)
    try:
        await ledger.spend(
            session,
            tenant_id=tenant.id,
            member_id=member_id,
            amount=value.makeup_cost,
            source_ref=refs.checkin_makeup_ref(member_id, day),
            explanation=f"补签 {day.month} 月 {day.day} 日",
            now=now,
        )
    except ledger.InsufficientPoints as error:
        raise MakeupPoints(f"积分不够补签，补签一天需要 {value.makeup_cost} 积分") from error
    before = near.get(day - timedelta(days=1))
    streak = rules.streak_after(None if before is None else before[0])
    await repository.insert_checkin(
        session,
        {
            "tenant_id": tenant.id,
            "member_id": member_id,
            "day": day,
            "streak": streak,
            "points": 0,
            "made_up_on": today,
            "cost": value.makeup_cost,
            "created_at": now,
        },
    )
    # The days after it that were in a row now continue this streak.
    counted, expected = streak, day + timedelta(days=1)
    for row in await repository.run_after(
        session, tenant_id=tenant.id, member_id=member_id, day=day, limit=(today - day).days + 1
    ):
        if row.day != expected:
            break
        counted += 1
        if row.streak != counted:
            await repository.set_streak(session, tenant_id=tenant.id, member_id=member_id, day=row.day, streak=counted)
        expected += timedelta(days=1)
    return CheckinOut(day=day, streak=streak, points=0, created=True, made_up=True, cost=value.makeup_cost)


# What she sees


def _month_of(text: str | None, today: date) -> date:
    """The first day of the month `text` (YYYY-MM) names, within the last year; this month when not given."""
    if not text:
        return today.replace(day=1)
    try:
        year, month = (int(part) for part in text.split("-", 1))
        first = date(year, month, 1)
    except ValueError as error:
        raise InvalidInput("月份格式应为 YYYY-MM", code="invalid_month") from error
    months_back = (today.year - first.year) * 12 + today.month - first.month
    if not 0 <= months_back <= MAX_BROWSE_MONTHS:
        raise MonthOutOfRange()
    return first


async def status(
    session: AsyncSession,
    *,
    tenant: TenantConfig,
    member_id: int,
    joined: date | None,
    month: str | None = None,
    now: datetime | None = None,
) -> StatusOut:
    """Her check-in today, streak, what today and tomorrow give, and a month's calendar (this month by default)."""
    now = now or utcnow()
    value = setup_of(tenant).rules
    today = rules.local_day(now, tenant.timezone)
    first, last = rules.month_bounds(_month_of(month, today))
    rows = {
        row.day: row
        for row in await repository.between(session, tenant_id=tenant.id, member_id=member_id, first=first, last=last)
    }
    near = await repository.days_since(
        session, tenant_id=tenant.id, member_id=member_id, since=today - timedelta(days=1)
    )
    streaks = {day: streak for day, (streak, _points) in near.items()}
    done_today = today in near
    streak = rules.current_streak(streaks, today)
    today_points = near[today][1] if done_today else rules.points_of(value, streak + 1)
    tomorrow_points = rules.points_of(value, (streak if done_today else streak + 1) + 1)
    today_gift = None if done_today else rules.day_gift(value, streak + 1)
    tomorrow_gift = rules.day_gift(value, (streak if done_today else streak + 1) + 1)
    month_first, month_last = rules.month_bounds(today)
    made = await repository.makeups_made(
        session, tenant_id=tenant.id, member_id=member_id, first=month_first, last=month_last
    )
    left = max(0, value.makeup_monthly_cap - made) if value.makeup_enabled else 0
    window_first, window_last = rules.makeup_window(value, today)
    days = []
    day = first
    while day <= last:
        row = rows.get(day)
        if row is not None:
            days.append(
                CalendarDay(day=day, state="made_up" if row.made_up else "done", points=row.points, streak=row.streak)
            )
        elif day == today:
            days.append(CalendarDay(day=day, state="today", points=today_points))
        elif day > today:
            days.append(CalendarDay(day=day, state="future"))
        elif joined is not None and day < joined:
            days.append(CalendarDay(day=day, state="before"))
        else:
            can = value.enabled and left > 0 and window_first <= day <= window_last
            days.append(CalendarDay(day=day, state="missed", can_make_up=can))
        day += timedelta(days=1)
    return StatusOut(
        today=today,
        checked_in_today=done_today,
        streak=streak,
        today_points=today_points,
        tomorrow_points=tomorrow_points,
        today_gift=rules.gift_words(today_gift),
        tomorrow_gift=rules.gift_words(tomorrow_gift),
        enabled=value.enabled,
        makeup_enabled=value.makeup_enabled,
        makeup_cost=value.makeup_cost,
        makeup_days_back=value.makeup_days_back,
        makeups_left=left,
        reminder=await repository.reminder_on(session, tenant_id=tenant.id, member_id=member_id),
        reminder_hour=value.reminder_hour,
        month=first.strftime("%Y-%m"),
        days=days,
    )


async def set_reminder(
    session: AsyncSession, *, tenant_id: int, member_id: int, enabled: bool, now: datetime | None = None
) -> bool:
    if enabled:
        await repository.add_reminder(session, tenant_id=tenant_id, member_id=member_id, now=now or utcnow())
    else:
        await repository.remove_reminder(session, tenant_id=tenant_id, member_id=member_id)
    return enabled


# Reminders: queued as notices (sending comes with the notice channels)


async def queue_reminders(
    session: AsyncSession, *, tenant_id: int, now: datetime | None = None, limit: int = 5000
) -> int:
    """From the tenant's reminder hour on, one notice job per opted-in member who has not checked in today (at
    most one a member a day, whoever runs this and however often). Returns the jobs added."""
    now = now or utcnow()
    config = await tenants.config_of(session, tenant_id)
    value = setup_of(config).rules
    local = to_local(now, config.timezone)
    if not value.enabled or local.hour < value.reminder_hour:
        return 0
    today = local.date()
    added = 0
    for member_id in await repository.to_remind(session, tenant_id=tenant_id, day=today, limit=limit):
        job = await jobs.enqueue(
            session,
            REMINDER_JOB,
            {"member_id": member_id, "day": today.isoformat()},
            tenant_id=tenant_id,
            dedupe_key=f"checkin-reminder:{tenant_id}:{member_id}:{today.isoformat()}",
            max_attempts=1,
        )
        added += job is not None
    return added


# Statistics


STREAK_BUCKETS = ((1, 1, "1 天"), (2, 2, "2 天"), (3, 6, "3-6 天"), (7, 13, "7-13 天"), (14, 29, "14-29 天"))


async def stats(session: AsyncSession, *, tenant_id: int, days: int = 30, now: datetime | None = None) -> StatsOut:
    """Check-ins, make-ups and points of each of the last `days` local days, and how long the live streaks are."""
    timezone = (await tenants.config_of(session, tenant_id)).timezone
    today = rules.local_day(now or utcnow(), timezone)
    first = today - timedelta(days=days - 1)
    found = {row[0]: row[1:] for row in await repository.by_day(session, tenant_id=tenant_id, first=first, last=today)}
    shown = [first + timedelta(days=i) for i in range(days)]
    streaks = await repository.live_streaks(
        session, tenant_id=tenant_id, today=today, yesterday=today - timedelta(days=1)
    )
    buckets = [label for _low, _high, label in STREAK_BUCKETS] + ["30 天以上"]
    members = [sum(n for s, n in streaks.items() if low <= s <= high) for low, high, _label in STREAK_BUCKETS]
    members.append(sum(n for s, n in streaks.items() if s >= 30))
    return StatsOut(
        days=shown,
        checkins=[found.get(day, (0, 0, 0))[0] for day in shown],
        makeups=[found.get(day, (0, 0, 0))[1] for day in shown],
        points=[found.get(day, (0, 0, 0))[2] for day in shown],
        streak_buckets=buckets,
        streak_members=members,
        today=found.get(today, (0, 0, 0))[0],
        reminders_on=await repository.reminders_count(session, tenant_id=tenant_id),
    )


async def follow_merge(session: AsyncSession, tenant_id: int, from_member_id: int, into_member_id: int) -> int:
    """Two members became one: her check-ins count for the member she joined (a day both checked in stays one)."""
    return await repository.move_member(
        session, tenant_id=tenant_id, from_member_id=from_member_id, into_member_id=into_member_id
    )
