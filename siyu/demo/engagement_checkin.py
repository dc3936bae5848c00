"""The demo tenant's daily check-in: its rules and a month of history made through the check-in service itself
(streaks, day-7 rewards, a make-up), so the calendar, the statistics and the fans' points all agree. The demo fan
(the member with the most points) has a streak running to yesterday and a missed day she can still make up; today
is left for whoever tries the H5."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.checkin import rules, service
from siyu.engagement.checkin.schemas import CheckinRules, DayReward
from siyu.kit.pagination import PageRequest
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.mall import lottery
from siyu.mall import service as mall
from siyu.mall.models import RewardKind
from siyu.members import service as members
from siyu.tenants import service as tenants

HISTORY_DAYS = 30
MEMBERS_WITH_HISTORY = 120
DEMO_RULES = CheckinRules(
    base_points=2,
    rewards=[DayReward(day=3, points=5), DayReward(day=7, points=20)],
    cycle_days=7,
    makeup_cost=10,
    makeup_days_back=7,
    makeup_monthly_cap=3,
    reminder_hour=20,
)


def _at(day: date, timezone: str, rng: random.Random) -> datetime:
    """Some time of that local day, the way fans check in (mornings and after the evening show)."""
    hour = rng.choice((8, 9, 12, 20, 21, 22))
    local = datetime.combine(day, time(hour, rng.randint(0, 59)), tzinfo=ZoneInfo(timezone))
    return local.astimezone(UTC)


async def load(session: AsyncSession, *, slug: str, seed: int = 16) -> int:
    """Set the rules and write the history; returns the check-ins written."""
    tenant = await tenants.get_by_slug(session, slug)
    system = Principal(tenant_id=tenant.id, kind="system", actor_id=None, label="演示数据")
    await service.save_rules(session, actor=system, value=DEMO_RULES)
    config = await tenants.config_of(session, tenant.id)
    now = utcnow()
    today = rules.local_day(now, config.timezone)
    rng = random.Random(seed)
    demo_fan = await ledger.richest_member(session, tenant_id=tenant.id)
    everyone = (
        await members.search(session, tenant_id=tenant.id, query=None, page=PageRequest(size=MEMBERS_WITH_HISTORY))
    ).items
    plans: dict[int, set[date]] = {}
    for member in everyone:
        joined = rules.local_day(member.created_at, config.timezone)
        keen = rng.choice((0.2, 0.5, 0.8, 0.95))
        plans[member.id] = {
            today - timedelta(days=n)
            for n in range(1, HISTORY_DAYS + 1)
            if today - timedelta(days=n) > joined and rng.random() < keen
        }
    fan_joined = None
    if demo_fan is not None:
        # Nearly every day, a gap four days ago (to make up on the H5) and one ten days ago (made up already).
        member = await members.get_member(session, tenant_id=tenant.id, member_id=demo_fan)
        member.created_at = min(member.created_at, now - timedelta(days=HISTORY_DAYS + 5))  # a fan of long standing
        fan_joined = rules.local_day(member.created_at, config.timezone)
        plans[demo_fan] = {today - timedelta(days=n) for n in range(1, HISTORY_DAYS + 1) if n not in (4, 10, 18, 19)}
    written = 0
    for offset in range(HISTORY_DAYS, 0, -1):  # day by day, as it happened
        day = today - timedelta(days=offset)
        for member_id, planned in plans.items():
            if day in planned:
                await service.check_in(session, tenant=config, member_id=member_id, now=_at(day, config.timezone, rng))
                written += 1
    if demo_fan is not None:
        made_on = today - timedelta(days=5)
        await service.make_up(
            session,
            tenant=config,
            member_id=demo_fan,
            joined=fan_joined,
            day=today - timedelta(days=10),
            now=_at(made_on, config.timezone, rng),
        )
        await service.set_reminder(session, tenant_id=tenant.id, member_id=demo_fan, enabled=True, now=now)
    await _add_day_seven_gifts(session, system, tenant.id)
    return written


async def _add_day_seven_gifts(session: AsyncSession, system: Principal, tenant_id: int) -> None:
    """From today on, the seventh day in a row also gives a shop coupon and a draw of the live room's wheel (the
    month of history above was before they were offered)."""
    coupon = next(
        (r for r in await mall.list_rewards(session, tenant_id=tenant_id) if r.kind == RewardKind.coupon), None
    )
    wheel = next(iter(await lottery.open_lotteries(session, tenant_id=tenant_id)), None)
    day_seven = DayReward(
        day=7,
        points=20,
        reward_id=coupon.id if coupon is not None else None,
        lottery_id=wheel.id if wheel is not None else None,
    )
    gifts = DEMO_RULES.model_copy(update={"rewards": [DayReward(day=3, points=5), day_seven]})
    await service.save_rules(session, actor=system, value=gifts)
