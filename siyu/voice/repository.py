"""Every query of fan voice, scoped to a tenant."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.db import of_tenant
from siyu.voice.models import Answer, Demand, EncoreVote, Survey, Wish, WishVote


def add(session: AsyncSession, row: Any) -> None:
    session.add(row)


# Demands


async def get_demand(session: AsyncSession, *, tenant_id: int, demand_id: int) -> Demand | None:
    return await session.get(Demand, (tenant_id, demand_id))


async def count_demands_of(session: AsyncSession, *, tenant_id: int, member_id: int, week: str) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(of_tenant(Demand, tenant_id), Demand.member_id == member_id, Demand.week == week)
        )
        or 0
    )


async def demands(
    session: AsyncSession,
    *,
    tenant_id: int,
    week: str | None = None,
    category: str | None = None,
    member_ids: Collection[int] | None = None,
    limit: int = 500,
) -> list[Demand]:
    statement = select(Demand).where(of_tenant(Demand, tenant_id))
    if week:
        statement = statement.where(Demand.week == week)
    if category:
        statement = statement.where(Demand.category == category)
    if member_ids is not None:
        statement = statement.where(Demand.member_id.in_(sorted(member_ids)))
    return list(await session.scalars(statement.order_by(Demand.created_at.desc(), Demand.id.desc()).limit(limit)))


async def demands_of(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int = 50) -> list[Demand]:
    return list(
        await session.scalars(
            select(Demand)
            .where(of_tenant(Demand, tenant_id), Demand.member_id == member_id)
            .order_by(Demand.created_at.desc())
            .limit(limit)
        )
    )


async def demand_weeks(session: AsyncSession, *, tenant_id: int, limit: int = 12) -> list[str]:
    rows = await session.scalars(
        select(Demand.week)
        .where(of_tenant(Demand, tenant_id))
        .group_by(Demand.week)
        .order_by(Demand.week.desc())
        .limit(limit)
    )
    return list(rows)


# Wishes


async def get_wish(session: AsyncSession, *, tenant_id: int, wish_id: int) -> Wish | None:
    return await session.get(Wish, (tenant_id, wish_id))


async def wishes(session: AsyncSession, *, tenant_id: int, limit: int = 500) -> list[Wish]:
    """Wishes by "+1"s, most first (newest first among equals)."""
    return list(
        await session.scalars(
            select(Wish)
            .where(of_tenant(Wish, tenant_id))
            .order_by(Wish.plus_count.desc(), Wish.created_at.desc(), Wish.id.desc())
            .limit(limit)
        )
    )


async def wishes_of(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int = 50) -> list[Wish]:
    return list(
        await session.scalars(
            select(Wish)
            .where(of_tenant(Wish, tenant_id), Wish.member_id == member_id)
            .order_by(Wish.created_at.desc())
            .limit(limit)
        )
    )


async def count_wishes_since(session: AsyncSession, *, tenant_id: int, member_id: int, since: datetime) -> int:
    return int(
        await session.scalar(
            select(func.count()).where(
                of_tenant(Wish, tenant_id), Wish.member_id == member_id, Wish.created_at >= since
            )
        )
        or 0
    )


async def add_plus(session: AsyncSession, *, tenant_id: int, wish_id: int) -> None:
    """One more "+1" on the wish, counted in the row (an increment: concurrent "+1"s each count once)."""
    await session.execute(
        update(Wish).where(of_tenant(Wish, tenant_id), Wish.id == wish_id).values(plus_count=Wish.plus_count + 1)
    )


async def plused(session: AsyncSession, *, tenant_id: int, member_id: int, wish_ids: list[int]) -> set[int]:
    if not wish_ids:
        return set()
    rows = await session.scalars(
        select(WishVote.wish_id).where(
            of_tenant(WishVote, tenant_id), WishVote.member_id == member_id, WishVote.wish_id.in_(sorted(set(wish_ids)))
        )
    )
    return set(rows)


async def voters_of_wishes(session: AsyncSession, *, tenant_id: int, wish_ids: list[int]) -> dict[int, set[int]]:
    """Who "+1"ed each wish (for the console's tier filter)."""
    if not wish_ids:
        return {}
    rows = await session.execute(
        select(WishVote.wish_id, WishVote.member_id).where(
            of_tenant(WishVote, tenant_id), WishVote.wish_id.in_(sorted(set(wish_ids)))
        )
    )
    found: dict[int, set[int]] = {}
    for wish_id, member_id in rows.tuples():
        found.setdefault(wish_id, set()).add(member_id)
    return found


# Encore votes


async def encore_counts(
    session: AsyncSession, *, tenant_id: int, product_ids: list[int] | None = None
) -> dict[int, int]:
    statement = select(EncoreVote.product_id, func.count()).where(of_tenant(EncoreVote, tenant_id))
    if product_ids is not None:
        if not product_ids:
            return {}
        statement = statement.where(EncoreVote.product_id.in_(sorted(set(product_ids))))
    rows = await session.execute(statement.group_by(EncoreVote.product_id))
    return {product_id: int(n) for product_id, n in rows.tuples()}


async def encore_voters(session: AsyncSession, *, tenant_id: int) -> list[tuple[int, int]]:
    """(product, member) of every encore vote (for the console's tier filter)."""
    rows = await session.execute(
        select(EncoreVote.product_id, EncoreVote.member_id).where(of_tenant(EncoreVote, tenant_id))
    )
    return [(p, m) for p, m in rows.tuples()]


async def encore_voted(session: AsyncSession, *, tenant_id: int, member_id: int) -> set[int]:
    rows = await session.scalars(
        select(EncoreVote.product_id).where(of_tenant(EncoreVote, tenant_id), EncoreVote.member_id == member_id)
    )
    return set(rows)


async def encore_shows(session: AsyncSession, *, tenant_id: int) -> dict[int, int]:
    """Show of each product voted for."""
    rows = await session.execute(
        select(EncoreVote.product_id, func.max(EncoreVote.show_id))
        .where(of_tenant(EncoreVote, tenant_id))
        .group_by(EncoreVote.product_id)
    )
    return {p: s for p, s in rows.tuples()}  # noqa: C416 (a Result has keys(): dict() would misread it)


# Surveys


async def get_survey(session: AsyncSession, *, tenant_id: int, survey_id: int) -> Survey | None:
    return await session.get(Survey, (tenant_id, survey_id))


async def surveys(session: AsyncSession, *, tenant_id: int, open_only: bool = False, limit: int = 100) -> list[Survey]:
    statement = select(Survey).where(of_tenant(Survey, tenant_id))
    if open_only:
        statement = statement.where(Survey.open.is_(True))
    return list(await session.scalars(statement.order_by(Survey.created_at.desc(), Survey.id.desc()).limit(limit)))


async def answer_counts(session: AsyncSession, *, tenant_id: int, survey_ids: list[int]) -> dict[int, int]:
    if not survey_ids:
        return {}
    rows = await session.execute(
        select(Answer.survey_id, func.count())
        .where(of_tenant(Answer, tenant_id), Answer.survey_id.in_(sorted(set(survey_ids))))
        .group_by(Answer.survey_id)
    )
    return {s: int(n) for s, n in rows.tuples()}


async def answered(session: AsyncSession, *, tenant_id: int, member_id: int) -> set[int]:
    rows = await session.scalars(
        select(Answer.survey_id).where(of_tenant(Answer, tenant_id), Answer.member_id == member_id)
    )
    return set(rows)


async def answers_of(
    session: AsyncSession,
    *,
    tenant_id: int,
    survey_id: int,
    member_ids: Collection[int] | None = None,
    limit: int = 5000,
) -> list[Answer]:
    statement = select(Answer).where(of_tenant(Answer, tenant_id), Answer.survey_id == survey_id)
    if member_ids is not None:
        statement = statement.where(Answer.member_id.in_(sorted(member_ids)))
    return list(await session.scalars(statement.order_by(Answer.created_at.desc(), Answer.id.desc()).limit(limit)))


# Replies a fan got


async def replied_wishes(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int = 50) -> list[Wish]:
    """Replied wishes she made or "+1"ed."""
    voted = select(WishVote.wish_id).where(of_tenant(WishVote, tenant_id), WishVote.member_id == member_id)
    return list(
        await session.scalars(
            select(Wish)
            .where(
                of_tenant(Wish, tenant_id),
                Wish.replied_at.is_not(None),
                (Wish.member_id == member_id) | Wish.id.in_(voted),
            )
            .order_by(Wish.replied_at.desc())
            .limit(limit)
        )
    )


async def replied_demands(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int = 50) -> list[Demand]:
    return list(
        await session.scalars(
            select(Demand)
            .where(of_tenant(Demand, tenant_id), Demand.member_id == member_id, Demand.replied_at.is_not(None))
            .order_by(Demand.replied_at.desc())
            .limit(limit)
        )
    )
