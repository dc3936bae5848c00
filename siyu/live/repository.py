"""Every query of the live calendar, scoped to a tenant."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnExpressionArgument, Exists, and_, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.db import of_tenant
from siyu.live.models import Product, Reservation, Show


def add(session: AsyncSession, row: Any) -> None:
    session.add(row)


async def delete(session: AsyncSession, row: Any) -> None:
    await session.delete(row)


# Shows


async def get_show(session: AsyncSession, *, tenant_id: int, show_id: int, lock: bool = False) -> Show | None:
    if lock:
        return await session.scalar(
            select(Show)
            .where(of_tenant(Show, tenant_id), Show.id == show_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    return await session.get(Show, (tenant_id, show_id))


async def shows_between(
    session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime, limit: int = 500
) -> list[Show]:
    """Shows starting in [start, end), earliest first."""
    return list(
        await session.scalars(
            select(Show)
            .where(of_tenant(Show, tenant_id), Show.starts_at >= start, Show.starts_at < end)
            .order_by(Show.starts_at, Show.id)
            .limit(limit)
        )
    )


async def shows_ending_after(session: AsyncSession, *, tenant_id: int, after: datetime, limit: int = 100) -> list[Show]:
    """Shows not over yet (cancelled ones included), earliest first."""
    return list(
        await session.scalars(
            select(Show)
            .where(of_tenant(Show, tenant_id), Show.ends_at > after)
            .order_by(Show.starts_at, Show.id)
            .limit(limit)
        )
    )


async def shows_by_id(session: AsyncSession, *, tenant_id: int, show_ids: list[int]) -> dict[int, Show]:
    if not show_ids:
        return {}
    rows = await session.scalars(select(Show).where(of_tenant(Show, tenant_id), Show.id.in_(sorted(set(show_ids)))))
    return {s.id: s for s in rows}


# Products


async def get_product(session: AsyncSession, *, tenant_id: int, product_id: int) -> Product | None:
    return await session.get(Product, (tenant_id, product_id))


async def products_of(session: AsyncSession, *, tenant_id: int, show_ids: list[int]) -> list[Product]:
    if not show_ids:
        return []
    return list(
        await session.scalars(
            select(Product)
            .where(of_tenant(Product, tenant_id), Product.show_id.in_(sorted(set(show_ids))))
            .order_by(Product.show_id, Product.sort_order.desc(), Product.id)
        )
    )


# Reservations


async def get_reservation(session: AsyncSession, *, tenant_id: int, show_id: int, member_id: int) -> Reservation | None:
    return await session.scalar(
        select(Reservation).where(
            of_tenant(Reservation, tenant_id), Reservation.show_id == show_id, Reservation.member_id == member_id
        )
    )


async def reserve_again(session: AsyncSession, *, tenant_id: int, reservation_id: int, now: datetime) -> None:
    await session.execute(
        update(Reservation)
        .where(of_tenant(Reservation, tenant_id), Reservation.id == reservation_id)
        .values(cancelled_at=None, reserved_at=now)
    )


async def cancel_reservation(session: AsyncSession, *, tenant_id: int, reservation_id: int, now: datetime) -> None:
    await session.execute(
        update(Reservation)
        .where(of_tenant(Reservation, tenant_id), Reservation.id == reservation_id, Reservation.cancelled_at.is_(None))
        .values(cancelled_at=now)
    )


async def reserved_shows(session: AsyncSession, *, tenant_id: int, member_id: int, show_ids: list[int]) -> set[int]:
    if not show_ids:
        return set()
    rows = await session.scalars(
        select(Reservation.show_id).where(
            of_tenant(Reservation, tenant_id),
            Reservation.member_id == member_id,
            Reservation.cancelled_at.is_(None),
            Reservation.show_id.in_(sorted(set(show_ids))),
        )
    )
    return set(rows)


async def reservations_of_member(
    session: AsyncSession, *, tenant_id: int, member_id: int, limit: int = 50
) -> list[Reservation]:
    return list(
        await session.scalars(
            select(Reservation)
            .where(
                of_tenant(Reservation, tenant_id),
                Reservation.member_id == member_id,
                Reservation.cancelled_at.is_(None),
            )
            .order_by(Reservation.reserved_at.desc())
            .limit(limit)
        )
    )


async def holds_reservation(session: AsyncSession, *, tenant_id: int, member_id: int, since: datetime | None) -> bool:
    statement = select(Reservation.id).where(
        of_tenant(Reservation, tenant_id), Reservation.member_id == member_id, Reservation.cancelled_at.is_(None)
    )
    if since is not None:
        statement = statement.where(Reservation.reserved_at >= since)
    return (await session.scalar(statement.limit(1))) is not None


async def reservation_counts(session: AsyncSession, *, tenant_id: int, show_ids: list[int]) -> dict[int, int]:
    if not show_ids:
        return {}
    rows = await session.execute(
        select(Reservation.show_id, func.count())
        .where(
            of_tenant(Reservation, tenant_id),
            Reservation.show_id.in_(sorted(set(show_ids))),
            Reservation.cancelled_at.is_(None),
        )
        .group_by(Reservation.show_id)
    )
    return {show_id: int(n) for show_id, n in rows.tuples()}


async def reservation_times(
    session: AsyncSession, *, tenant_id: int, show_id: int
) -> list[tuple[datetime, datetime | None]]:
    """(reserved at, cancelled at) of every reservation of a show: the count over time is drawn from them."""
    rows = await session.execute(
        select(Reservation.reserved_at, Reservation.cancelled_at).where(
            of_tenant(Reservation, tenant_id), Reservation.show_id == show_id
        )
    )
    return [(a, b) for a, b in rows.tuples()]


async def reserved_members(session: AsyncSession, *, tenant_id: int, show_id: int) -> set[int]:
    rows = await session.scalars(
        select(Reservation.member_id).where(
            of_tenant(Reservation, tenant_id), Reservation.show_id == show_id, Reservation.cancelled_at.is_(None)
        )
    )
    return set(rows)


async def reserved_batch(
    session: AsyncSession, *, tenant_id: int, show_id: int, after_member: int, size: int
) -> list[int]:
    """The next `size` members holding a reservation of the show, by member id after `after_member`."""
    rows = await session.scalars(
        select(Reservation.member_id)
        .where(
            of_tenant(Reservation, tenant_id),
            Reservation.show_id == show_id,
            Reservation.cancelled_at.is_(None),
            Reservation.member_id > after_member,
        )
        .order_by(Reservation.member_id)
        .limit(size)
    )
    return list(rows)


async def reservers_between(
    session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime
) -> list[tuple[int, datetime]]:
    """(member, the show's start) of every reservation held for a show starting in [start, end) that was not
    cancelled."""
    rows = await session.execute(
        select(Reservation.member_id, Show.starts_at)
        .join(Show, and_(Show.tenant_id == Reservation.tenant_id, Show.id == Reservation.show_id))
        .where(
            of_tenant(Reservation, tenant_id),
            Reservation.cancelled_at.is_(None),
            Show.cancelled_at.is_(None),
            Show.starts_at >= start,
            Show.starts_at < end,
        )
    )
    return [(int(m), at) for m, at in rows.tuples()]


def reserved(
    tenant_id: ColumnExpressionArgument[int],
    member_id: ColumnExpressionArgument[int],
    *,
    show_id: int | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
) -> Exists:
    """In SQL: whether the member named by these columns holds a reservation (not cancelled) of this show, or of
    any show starting in [start, end)."""
    statement = (
        select(Reservation.id)
        .join(Show, and_(Show.tenant_id == Reservation.tenant_id, Show.id == Reservation.show_id))
        .where(
            of_tenant(Reservation, tenant_id), Reservation.member_id == member_id, Reservation.cancelled_at.is_(None)
        )
    )
    if show_id is not None:
        statement = statement.where(Reservation.show_id == show_id)
    if start is not None:
        statement = statement.where(Show.starts_at >= start)
    if end is not None:
        statement = statement.where(Show.starts_at < end)
    return exists(statement)
