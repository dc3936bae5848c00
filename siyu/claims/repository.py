"""Every query of claims, scoped to a tenant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims.models import Claim, Outcome
from siyu.kit.pagination import Page, PageRequest
from siyu.orders.models import Order


def add(session: AsyncSession, claim: Claim) -> None:
    session.add(claim)


async def pending_claim(
    session: AsyncSession, *, tenant_id: int, member_id: int, platform: str, order_id: str
) -> Claim | None:
    return await session.scalar(
        select(Claim).where(
            Claim.tenant_id == tenant_id,
            Claim.member_id == member_id,
            Claim.platform == platform,
            Claim.order_id == order_id,
            Claim.outcome == Outcome.pending,
        )
    )


async def of_member(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int) -> list[Claim]:
    rows = await session.scalars(
        select(Claim)
        .where(Claim.tenant_id == tenant_id, Claim.member_id == member_id)
        .order_by(Claim.created_at.desc(), Claim.id.desc())
        .limit(limit)
    )
    return list(rows)


async def search(
    session: AsyncSession,
    *,
    tenant_id: int,
    order_id: str | None,
    member_id: int | None,
    outcome: str | None,
    page: PageRequest,
) -> Page[Claim]:
    statement = select(Claim).where(Claim.tenant_id == tenant_id)
    if order_id:
        statement = statement.where(Claim.order_id == order_id)
    if member_id is not None:
        statement = statement.where(Claim.member_id == member_id)
    if outcome:
        statement = statement.where(Claim.outcome == outcome)
    total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = await session.scalars(
        statement.order_by(Claim.created_at.desc(), Claim.id.desc()).offset(page.offset).limit(page.size)
    )
    return Page(items=list(rows), total=total, request=page)


async def outcomes_since(session: AsyncSession, *, tenant_id: int, since: datetime) -> dict[str, int]:
    rows = await session.execute(
        select(Claim.outcome, func.count())
        .where(Claim.tenant_id == tenant_id, Claim.created_at >= since)
        .group_by(Claim.outcome)
    )
    return {outcome: int(n) for outcome, n in rows}


async def expire_pending(session: AsyncSession, *, tenant_id: int, now: datetime, message: str) -> int:
    result = await session.execute(
        update(Claim)
        .where(Claim.tenant_id == tenant_id, Claim.outcome == Outcome.pending, Claim.expires_at <= now)
        .values(outcome=Outcome.expired, resolved_at=now, message=message)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def pending_with_orders(session: AsyncSession, *, tenant_id: int, limit: int) -> list[Claim]:
    """Pending claims whose order has arrived, oldest first."""
    arrived = and_(
        Order.tenant_id == Claim.tenant_id, Order.platform == Claim.platform, Order.order_id == Claim.order_id
    )
    rows = await session.scalars(
        select(Claim)
        .join(Order, arrived)
        .where(Claim.tenant_id == tenant_id, Claim.outcome == Outcome.pending)
        .order_by(Claim.created_at, Claim.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(rows)
