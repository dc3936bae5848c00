"""Every query of points tasks, scoped to a tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from siyu.engagement.missions.models import Completion, Review, ReviewStatus, Task
from siyu.kit.db import of_tenant
from siyu.kit.pagination import Page, PageRequest, paginate


def add(session: AsyncSession, row: Any) -> None:
    session.add(row)


async def delete(session: AsyncSession, row: Any) -> None:
    await session.delete(row)


# Tasks


async def get_task(session: AsyncSession, *, tenant_id: int, task_id: int) -> Task | None:
    return await session.get(Task, (tenant_id, task_id))


async def tasks(session: AsyncSession, *, tenant_id: int, enabled_only: bool = False) -> list[Task]:
    statement = select(Task).where(of_tenant(Task, tenant_id))
    if enabled_only:
        statement = statement.where(Task.enabled.is_(True))
    return list(await session.scalars(statement.order_by(Task.sort_order.desc(), Task.created_at, Task.id)))


async def has_completions(session: AsyncSession, *, tenant_id: int, task_id: int) -> bool:
    found = await session.scalar(
        select(Completion.id).where(of_tenant(Completion, tenant_id), Completion.task_id == task_id).limit(1)
    )
    if found is not None:
        return True
    return (
        await session.scalar(select(Review.id).where(of_tenant(Review, tenant_id), Review.task_id == task_id).limit(1))
        is not None
    )


# Completions


async def done_counts(
    session: AsyncSession, *, tenant_id: int, member_id: int, keys: list[tuple[int, str]]
) -> dict[tuple[int, str], int]:
    """{(task, period key): completions} of the member in the periods asked about."""
    if not keys:
        return {}
    task_ids = sorted({task_id for task_id, _ in keys})
    period_keys = sorted({key for _, key in keys})
    rows = await session.execute(
        select(Completion.task_id, Completion.period_key, func.count())
        .where(
            of_tenant(Completion, tenant_id),
            Completion.member_id == member_id,
            Completion.task_id.in_(task_ids),
            Completion.period_key.in_(period_keys),
        )
        .group_by(Completion.task_id, Completion.period_key)
    )
    return {(task_id, key): count for task_id, key, count in rows.tuples()}


async def completions_by_day(
    session: AsyncSession, *, tenant_id: int, since: datetime
) -> list[tuple[int, datetime, int]]:
    """(task, completed at, points) of every completion since `since`: the statistics page groups them by local
    day (a day is the tenant's, which SQL on both databases cannot say alike)."""
    rows = await session.execute(
        select(Completion.task_id, Completion.created_at, Completion.points).where(
            of_tenant(Completion, tenant_id), Completion.created_at >= since
        )
    )
    return [(task_id, at, points) for task_id, at, points in rows.tuples()]


async def totals_by_task(session: AsyncSession, *, tenant_id: int) -> dict[int, tuple[int, int, int]]:
    """{task: (completions, members, points)} of all time."""
    rows = await session.execute(
        select(
            Completion.task_id,
            func.count(),
            func.count(func.distinct(Completion.member_id)),
            func.coalesce(func.sum(Completion.points), 0),
        )
        .where(of_tenant(Completion, tenant_id))
        .group_by(Completion.task_id)
    )
    return {task_id: (count, members, int(points)) for task_id, count, members, points in rows.tuples()}


async def approved_by_task(session: AsyncSession, *, tenant_id: int) -> dict[int, tuple[int, int, int]]:
    """{review task: (approved screenshots, members, points)} of all time."""
    rows = await session.execute(
        select(
            Review.task_id,
            func.count(),
            func.count(func.distinct(Review.member_id)),
            func.coalesce(func.sum(Review.points), 0),
        )
        .where(of_tenant(Review, tenant_id), Review.status == ReviewStatus.approved)
        .group_by(Review.task_id)
    )
    return {task_id: (count, members, int(points)) for task_id, count, members, points in rows.tuples()}


async def approvals_since(session: AsyncSession, *, tenant_id: int, since: datetime) -> list[datetime]:
    """When each screenshot approved since `since` was approved."""
    rows = await session.scalars(
        select(Review.decided_at).where(
            of_tenant(Review, tenant_id), Review.status == ReviewStatus.approved, Review.decided_at >= since
        )
    )
    return [at for at in rows if at is not None]


async def answers_of(session: AsyncSession, *, tenant_id: int, task_id: int, limit: int) -> list[Completion]:
    rows = await session.scalars(
        select(Completion)
        .where(of_tenant(Completion, tenant_id), Completion.task_id == task_id)
        .order_by(Completion.created_at.desc(), Completion.id.desc())
        .limit(limit)
    )
    return list(rows)


# Reviews


async def get_review(session: AsyncSession, *, tenant_id: int, review_id: int, lock: bool = False) -> Review | None:
    statement = select(Review).where(of_tenant(Review, tenant_id), Review.id == review_id)
    if lock:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return await session.scalar(statement)


async def live_reviews_of_order(session: AsyncSession, *, tenant_id: int, platform: str, order_id: str) -> list[Review]:
    """The order's screenshots that are waiting or were approved (a rejected one may be sent again)."""
    rows = await session.scalars(
        select(Review).where(
            of_tenant(Review, tenant_id),
            Review.platform == platform,
            Review.order_id == order_id,
            Review.status != ReviewStatus.rejected,
        )
    )
    return list(rows)


async def reviews_of(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int) -> list[Review]:
    rows = await session.scalars(
        select(Review)
        .where(of_tenant(Review, tenant_id), Review.member_id == member_id)
        .order_by(Review.created_at.desc(), Review.id.desc())
        .limit(limit)
    )
    return list(rows)


async def review_page(session: AsyncSession, *, tenant_id: int, status: str | None, page: PageRequest) -> Page[Review]:
    statement = select(Review).where(of_tenant(Review, tenant_id))
    if status:
        statement = statement.where(Review.status == status)
    order = (
        [Review.created_at.asc(), Review.id.asc()]
        if status == ReviewStatus.pending
        else [
            Review.created_at.desc(),
            Review.id.desc(),
        ]
    )
    return await paginate(session, statement, page, order)


async def count_reviews(session: AsyncSession, *, tenant_id: int, status: str) -> int:
    return (
        await session.scalar(
            select(func.count()).select_from(Review).where(of_tenant(Review, tenant_id), Review.status == status)
        )
        or 0
    )


async def sent_in(session: AsyncSession, *, tenant_id: int, task_id: int, member_id: int, period_key: str) -> int:
    """How many screenshots of this task the member sent in the period (rejected ones do not count)."""
    return (
        await session.scalar(
            select(func.count())
            .select_from(Review)
            .where(
                of_tenant(Review, tenant_id),
                Review.task_id == task_id,
                Review.member_id == member_id,
                Review.period_key == period_key,
                Review.status != ReviewStatus.rejected,
            )
        )
        or 0
    )


async def move_member(session: AsyncSession, *, tenant_id: int, from_member_id: int, into_member_id: int) -> int:
    """A merged member's completions and screenshots become the member's she joined; a completion of a slot
    that member already holds stays behind (it was paid to her already, and the slot is taken)."""
    held = aliased(Completion)
    taken = (
        select(held.id)
        .where(
            of_tenant(held, tenant_id),
            held.member_id == into_member_id,
            held.task_id == Completion.task_id,
            held.period_key == Completion.period_key,
            held.n == Completion.n,
        )
        .exists()
    )
    completions = await session.execute(
        update(Completion)
        .where(of_tenant(Completion, tenant_id), Completion.member_id == from_member_id, ~taken)
        .values(member_id=into_member_id)
        .execution_options(synchronize_session=False)
    )
    reviews = await session.execute(
        update(Review)
        .where(of_tenant(Review, tenant_id), Review.member_id == from_member_id)
        .values(member_id=into_member_id)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(completions, "rowcount", 0)) + int(getattr(reviews, "rowcount", 0))
