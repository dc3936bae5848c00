"""Every query of the check-in, each scoped to one tenant. The statements of a fan's check-in (the hot path after
a live show's "签到领积分") are built once and run through siyu.kit.fast."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from siyu.engagement.checkin.models import Checkin, Reminder
from siyu.kit.bulk import insert_ignoring_duplicates
from siyu.kit.db import of_tenant
from siyu.kit.fast import Fast

_OF_MEMBER = (of_tenant(Checkin, bindparam("tenant_id")), Checkin.member_id == bindparam("member_id"))
_SINCE = Fast(
    select(Checkin.day, Checkin.streak, Checkin.points).where(
        *_OF_MEMBER, Checkin.day >= bindparam("since", type_=Checkin.__table__.c.day.type)
    )
)
_INSERT = Fast(insert(cast(Table, Checkin.__table__)))


async def days_since(
    session: AsyncSession, *, tenant_id: int, member_id: int, since: date
) -> dict[date, tuple[int, int]]:
    """{day: (streak, points)} of her check-ins from `since` on."""
    rows = await _SINCE.rows(session, {"tenant_id": tenant_id, "member_id": member_id, "since": since})
    return {row[0]: (row[1], row[2]) for row in rows}


async def insert_checkin(session: AsyncSession, values: dict[str, Any]) -> None:
    """One day's row (a second row of the same day breaks the primary key: IntegrityError)."""
    await _INSERT.execute(session, values)


async def between(session: AsyncSession, *, tenant_id: int, member_id: int, first: date, last: date) -> list[Checkin]:
    result = await session.scalars(
        select(Checkin)
        .where(
            of_tenant(Checkin, tenant_id),
            Checkin.member_id == member_id,
            Checkin.day >= first,
            Checkin.day <= last,
        )
        .order_by(Checkin.day)
    )
    return list(result)


async def run_after(session: AsyncSession, *, tenant_id: int, member_id: int, day: date, limit: int) -> list[Checkin]:
    """Her check-ins after `day`, oldest first (a make-up re-counts the streaks of the run it joins)."""
    result = await session.scalars(
        select(Checkin)
        .where(of_tenant(Checkin, tenant_id), Checkin.member_id == member_id, Checkin.day > day)
        .order_by(Checkin.day)
        .limit(limit)
    )
    return list(result)


async def set_streak(session: AsyncSession, *, tenant_id: int, member_id: int, day: date, streak: int) -> None:
    await session.execute(
        update(Checkin)
        .where(of_tenant(Checkin, tenant_id), Checkin.member_id == member_id, Checkin.day == day)
        .values(streak=streak)
        .execution_options(synchronize_session=False)
    )


async def makeups_made(session: AsyncSession, *, tenant_id: int, member_id: int, first: date, last: date) -> int:
    """Make-ups she made on the local days first..last (the monthly cap)."""
    count = await session.scalar(
        select(func.count()).where(
            of_tenant(Checkin, tenant_id),
            Checkin.member_id == member_id,
            Checkin.made_up_on >= first,
            Checkin.made_up_on <= last,
        )
    )
    return int(count or 0)


# Reminders


async def reminder_on(session: AsyncSession, *, tenant_id: int, member_id: int) -> bool:
    found = await session.scalar(
        select(Reminder.member_id).where(of_tenant(Reminder, tenant_id), Reminder.member_id == member_id)
    )
    return found is not None


async def add_reminder(session: AsyncSession, *, tenant_id: int, member_id: int, now: datetime) -> None:
    await insert_ignoring_duplicates(
        session, Reminder, [{"tenant_id": tenant_id, "member_id": member_id, "created_at": now}]
    )


async def remove_reminder(session: AsyncSession, *, tenant_id: int, member_id: int) -> None:
    await session.execute(delete(Reminder).where(of_tenant(Reminder, tenant_id), Reminder.member_id == member_id))


async def to_remind(session: AsyncSession, *, tenant_id: int, day: date, limit: int) -> list[int]:
    """Members who asked to be reminded and have not checked in on `day`."""
    done = exists().where(
        Checkin.tenant_id == Reminder.tenant_id, Checkin.member_id == Reminder.member_id, Checkin.day == day
    )
    result = await session.scalars(
        select(Reminder.member_id)
        .where(of_tenant(Reminder, tenant_id), ~done)
        .order_by(Reminder.member_id)
        .limit(limit)
    )
    return list(result)


async def reminders_count(session: AsyncSession, *, tenant_id: int) -> int:
    return int(await session.scalar(select(func.count()).where(of_tenant(Reminder, tenant_id))) or 0)


# Statistics


async def by_day(session: AsyncSession, *, tenant_id: int, first: date, last: date) -> list[tuple[date, int, int, int]]:
    """(day, check-ins, of them made up, points) of each day with any."""
    result = await session.execute(
        select(
            Checkin.day,
            func.count(),
            func.count(Checkin.made_up_on),
            func.coalesce(func.sum(Checkin.points), 0),
        )
        .where(of_tenant(Checkin, tenant_id), Checkin.day >= first, Checkin.day <= last)
        .group_by(Checkin.day)
    )
    return [(row[0], int(row[1]), int(row[2]), int(row[3])) for row in result]


async def live_streaks(session: AsyncSession, *, tenant_id: int, today: date, yesterday: date) -> dict[int, int]:
    """{streak: members} of the streaks still alive: today's, and yesterday's of those not yet in today."""
    today_rows = select(Checkin.member_id).where(of_tenant(Checkin, tenant_id), Checkin.day == today)
    counts: dict[int, int] = {}
    for day, skip_today in ((today, False), (yesterday, True)):
        statement = select(Checkin.streak, func.count()).where(of_tenant(Checkin, tenant_id), Checkin.day == day)
        if skip_today:
            statement = statement.where(Checkin.member_id.not_in(today_rows))
        for streak, members in await session.execute(statement.group_by(Checkin.streak)):
            counts[int(streak)] = counts.get(int(streak), 0) + int(members)
    return counts


async def move_member(session: AsyncSession, *, tenant_id: int, from_member_id: int, into_member_id: int) -> int:
    """A merged member's check-ins become the member's she joined, but for days that member checked in herself
    (one check-in a day per person); her reminder choice goes along when that member has none."""
    held = aliased(Checkin)
    taken = (
        select(held.day)
        .where(of_tenant(held, tenant_id), held.member_id == into_member_id, held.day == Checkin.day)
        .exists()
    )
    moved = await session.execute(
        update(Checkin)
        .where(of_tenant(Checkin, tenant_id), Checkin.member_id == from_member_id, ~taken)
        .values(member_id=into_member_id)
        .execution_options(synchronize_session=False)
    )
    has_choice = (
        select(Reminder.member_id).where(of_tenant(Reminder, tenant_id), Reminder.member_id == into_member_id).exists()
    )
    if not await session.scalar(select(has_choice)):
        await session.execute(
            update(Reminder)
            .where(of_tenant(Reminder, tenant_id), Reminder.member_id == from_member_id)
            .values(member_id=into_member_id)
            .execution_options(synchronize_session=False)
        )
    return int(getattr(moved, "rowcount", 0))
