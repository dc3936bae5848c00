"""Every query of claims, scoped to a tenant."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from datetime import datetime
from typing import Any, cast

import polars as pl
from sqlalchemy import ColumnExpressionArgument, Exists, Table, and_, exists, func, insert, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims.models import Claim, Outcome, Via
from siyu.kit import bulk, metrics
from siyu.kit.db import adopt, of_tenant
from siyu.kit.fast import Fast
from siyu.kit.pagination import Page, PageRequest, Sort, paginate
from siyu.ledger import refs
from siyu.ledger.models import Lot
from siyu.members.models import Identity
from siyu.orders.models import Order


def add(session: AsyncSession, claim: Claim) -> None:
    session.add(claim)


_INSERT = Fast(insert(cast(Table, Claim.__table__)))
_COLUMNS = [
    (column.key, column.default.arg if column.default is not None and column.default.is_scalar else None)
    for column in Claim.__table__.c
]


async def save_new(session: AsyncSession, claim: Claim) -> None:
    """Write a new claim as it stands: a plain INSERT (every attempt of a live show's rush writes one), no unit
    of work to flush. The row is then the session's like any it has read."""
    values = {}
    for key, default in _COLUMNS:
        value = getattr(claim, key)
        values[key] = default if value is None and default is not None else value
    await _INSERT.execute(session, values)
    metrics.count_claim(str(values["outcome"]))  # every attempt writes one row here, with its outcome
    adopt(session, claim, values)


async def pending_claim(
    session: AsyncSession, *, tenant_id: int, member_id: int, platform: str, order_id: str
) -> Claim | None:
    return await session.scalar(
        select(Claim).where(
            of_tenant(Claim, tenant_id),
            Claim.member_id == member_id,
            Claim.platform == platform,
            Claim.order_id == order_id,
            Claim.outcome == Outcome.pending,
        )
    )


async def waiting_count(
    session: AsyncSession, *, tenant_id: int, member_id: int, device_hash: str | None, now: datetime
) -> int:
    """Her claims still waiting for their order (and those made from her phone by anyone)."""
    who = (
        Claim.member_id == member_id
        if device_hash is None
        else or_(Claim.member_id == member_id, Claim.device_hash == device_hash)
    )
    count = await session.scalar(
        select(func.count()).where(
            of_tenant(Claim, tenant_id), Claim.outcome == Outcome.pending, Claim.expires_at > now, who
        )
    )
    return int(count or 0)


async def recent_devices(session: AsyncSession, *, tenant_id: int, member_id: int, since: datetime) -> list[str]:
    """The phones (hashed device ids) she claimed from since then."""
    rows = await session.scalars(
        select(Claim.device_hash)
        .where(
            of_tenant(Claim, tenant_id),
            Claim.member_id == member_id,
            Claim.created_at >= since,
            Claim.device_hash.is_not(None),
        )
        .distinct()
        .limit(20)
    )
    return [row for row in rows if row]


async def of_member(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int) -> list[Claim]:
    rows = await session.scalars(
        select(Claim)
        .where(of_tenant(Claim, tenant_id), Claim.member_id == member_id)
        .order_by(Claim.created_at.desc(), Claim.id.desc())
        .limit(limit)
    )
    return list(rows)


async def settled_since(
    session: AsyncSession, *, tenant_id: int, member_id: int, since: datetime, limit: int
) -> list[Claim]:
    """Her claims that waited (for the order, or for ops) and were settled since then, newest first; a pending
    claim folded into a later one of the same order is not news."""
    rows = await session.scalars(
        select(Claim)
        .where(
            of_tenant(Claim, tenant_id),
            Claim.member_id == member_id,
            Claim.resolved_at >= since,
            Claim.outcome != Outcome.claimed_by_you,
        )
        .order_by(Claim.resolved_at.desc(), Claim.id.desc())
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
    statement = select(Claim).where(of_tenant(Claim, tenant_id))
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
        .where(of_tenant(Claim, tenant_id), Claim.created_at >= since)
        .group_by(Claim.outcome)
    )
    return {outcome: int(n) for outcome, n in rows}


async def expire_pending(
    session: AsyncSession, *, tenant_id: int, now: datetime, message: str
) -> list[tuple[int, int, str]]:
    """Expire pending claims whose wait is over; returns (claim id, member id, order id) of each."""
    result = await session.execute(
        update(Claim)
        .where(of_tenant(Claim, tenant_id), Claim.outcome == Outcome.pending, Claim.expires_at <= now)
        .values(outcome=Outcome.expired, resolved_at=now, message=message)
        .returning(Claim.id, Claim.member_id, Claim.order_id)
        .execution_options(synchronize_session=False)
    )
    return [(int(a), int(b), str(c)) for a, b, c in result.all()]


async def pending_with_orders(session: AsyncSession, *, tenant_id: int, limit: int) -> list[Claim]:
    """Pending claims whose order has arrived, oldest first."""
    arrived = and_(
        Order.tenant_id == Claim.tenant_id, Order.platform == Claim.platform, Order.order_id == Claim.order_id
    )
    rows = await session.scalars(
        select(Claim)
        .join(Order, arrived)
        .where(of_tenant(Claim, tenant_id), Claim.outcome == Outcome.pending)
        .order_by(Claim.created_at, Claim.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def get_many(session: AsyncSession, *, tenant_id: int, claim_ids: list[int]) -> list[Claim]:
    if not claim_ids:
        return []
    rows = await session.scalars(
        select(Claim).where(of_tenant(Claim, tenant_id), Claim.id.in_(claim_ids)).order_by(Claim.created_at)
    )
    return list(rows)


async def in_review_by_other(
    session: AsyncSession, *, tenant_id: int, platform: str, order_id: str, member_id: int
) -> bool:
    found = await session.scalar(
        select(Claim.id)
        .where(
            of_tenant(Claim, tenant_id),
            Claim.platform == platform,
            Claim.order_id == order_id,
            Claim.outcome == Outcome.review,
            Claim.member_id != member_id,
        )
        .limit(1)
    )
    return found is not None


async def credited_since(session: AsyncSession, *, tenant_id: int, member_id: int, since: datetime) -> int:
    count = await session.scalar(
        select(func.count())
        .select_from(Claim)
        .where(
            of_tenant(Claim, tenant_id),
            Claim.member_id == member_id,
            Claim.created_at >= since,
            Claim.outcome == Outcome.credited,
            Claim.via == Via.claim,
        )
    )
    return int(count or 0)


async def other_members_since(
    session: AsyncSession, *, tenant_id: int, column: str, value: str, member_id: int, since: datetime
) -> int:
    """How many other members claimed from this IP or device (by its keyed hash) since then."""
    field = {"ip_hash": Claim.ip_hash, "device_hash": Claim.device_hash}[column]
    count = await session.scalar(
        select(func.count(func.distinct(Claim.member_id))).where(
            of_tenant(Claim, tenant_id), field == value, Claim.created_at >= since, Claim.member_id != member_id
        )
    )
    return int(count or 0)


async def credited_orders_with_account(
    session: AsyncSession, *, tenant_id: int, member_id: int, field: str, value: str
) -> int:
    """Orders carrying this buyer account that she has already claimed with success."""
    column = {"buyer_nick": Order.buyer_nick, "buyer_open_uid": Order.buyer_open_uid}[field]
    count = await session.scalar(
        select(func.count())
        .select_from(Claim)
        .join(
            Order,
            and_(
                Order.tenant_id == Claim.tenant_id, Order.platform == Claim.platform, Order.order_id == Claim.order_id
            ),
        )
        .where(
            of_tenant(Claim, tenant_id),
            Claim.member_id == member_id,
            Claim.outcome == Outcome.credited,
            column == value,
        )
    )
    return int(count or 0)


EARNING_STATUSES = ("paid", "shipped", "completed")


async def bound_orders(
    session: AsyncSession,
    *,
    tenant_id: int,
    accounts: dict[str, tuple[tuple[str, str], ...]],
    member_id: int | None,
    import_id: int | None,
    since: datetime,
    limit: int,
) -> list[tuple[int, str, str]]:
    """(member, platform, order id) of earning orders carrying an account bound to a member, paid since
    `since`, with no credit yet and no claim of hers in review or rejected. One query per (platform, field)."""
    found: list[tuple[int, str, str]] = []
    for platform, fields in accounts.items():
        for field, kind in fields:
            column = {"buyer_nick": Order.buyer_nick, "buyer_open_uid": Order.buyer_open_uid}[field]
            held = select(Claim.id).where(
                Claim.tenant_id == Order.tenant_id,
                Claim.platform == Order.platform,
                Claim.order_id == Order.order_id,
                Claim.member_id == Identity.member_id,
                Claim.outcome.in_((Outcome.review, Outcome.rejected)),
            )
            statement = (
                select(Identity.member_id, Order.platform, Order.order_id)
                .join(
                    Identity,
                    and_(Identity.tenant_id == Order.tenant_id, Identity.kind == kind, Identity.value == column),
                )
                .where(
                    of_tenant(Order, tenant_id),
                    Order.platform == platform,
                    Order.status.in_(EARNING_STATUSES),
                    func.coalesce(Order.paid_at, Order.placed_at) >= since,
                    ~exists(
                        select(Lot.id).where(
                            Lot.tenant_id == Order.tenant_id,
                            Lot.source_ref
                            == refs.order_ref_sql(Order.__table__.c.platform, Order.__table__.c.order_id),
                        )
                    ),
                    ~exists(held),
                )
                .order_by(Order.paid_at)
                .limit(limit)
            )
            if member_id is not None:
                statement = statement.where(Identity.member_id == member_id)
            if import_id is not None:
                statement = statement.where(Order.last_import_id == import_id)
            found.extend((int(m), str(p), str(o)) for m, p, o in await session.execute(statement))
    return found[:limit]


async def move_member(session: AsyncSession, *, tenant_id: int, from_member_id: int, into_member_id: int) -> int:
    result = await session.execute(
        update(Claim)
        .where(of_tenant(Claim, tenant_id), Claim.member_id == from_member_id)
        .values(member_id=into_member_id)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def review_queue(session: AsyncSession, *, tenant_id: int, limit: int) -> list[tuple[Claim, Order | None]]:
    """Claims waiting for ops, oldest first, with their order."""
    rows = await session.execute(
        select(Claim, Order)
        .outerjoin(
            Order,
            and_(
                Order.tenant_id == Claim.tenant_id, Order.platform == Claim.platform, Order.order_id == Claim.order_id
            ),
        )
        .where(of_tenant(Claim, tenant_id), Claim.outcome == Outcome.review)
        .order_by(Claim.created_at, Claim.id)
        .limit(limit)
    )
    return [(claim, order) for claim, order in rows.tuples()]


CLAIM_SORTS: dict[str, Any] = {"created_at": Claim.created_at, "points": Claim.points}


async def find(
    session: AsyncSession,
    *,
    tenant_id: int,
    order_id: str | None,
    member_ids: Collection[int],
    outcome: str | None,
    page: PageRequest,
    sort: Sort,
) -> Page[Claim]:
    """Claims of an order number OR of one of these members (either may be missing), newest first by default."""
    statement = select(Claim).where(of_tenant(Claim, tenant_id))
    matches = []
    if order_id:
        matches.append(Claim.order_id == order_id)
    if member_ids:
        matches.append(Claim.member_id.in_(list(member_ids)))
    if matches:
        statement = statement.where(or_(*matches))
    if outcome:
        statement = statement.where(Claim.outcome == outcome)
    return await paginate(session, statement, page, sort.order_by(CLAIM_SORTS, Claim.id))


async def review_page(session: AsyncSession, *, tenant_id: int, page: PageRequest, sort: Sort) -> Page[Claim]:
    statement = select(Claim).where(of_tenant(Claim, tenant_id), Claim.outcome == Outcome.review)
    return await paginate(session, statement, page, sort.order_by(CLAIM_SORTS, Claim.id))


async def orders_of(
    session: AsyncSession, *, tenant_id: int, keys: Collection[tuple[str, str]]
) -> dict[tuple[str, str], Order]:
    if not keys:
        return {}
    rows = await session.scalars(
        select(Order).where(
            of_tenant(Order, tenant_id), tuple_(Order.platform, Order.order_id).in_([tuple(key) for key in keys])
        )
    )
    return {(row.platform, row.order_id): row for row in rows}


async def credited_claims_of_orders(
    session: AsyncSession, *, tenant_id: int, keys: Collection[tuple[str, str]]
) -> dict[tuple[str, str], Claim]:
    """The claim that earned each of these orders its points (at most one per order)."""
    if not keys:
        return {}
    rows = await session.scalars(
        select(Claim).where(
            of_tenant(Claim, tenant_id),
            Claim.outcome == Outcome.credited,
            tuple_(Claim.platform, Claim.order_id).in_([tuple(key) for key in keys]),
        )
    )
    return {(row.platform, row.order_id or ""): row for row in rows}


def order_claimed(
    tenant_id: ColumnExpressionArgument[int],
    platform: ColumnExpressionArgument[str],
    order_id: ColumnExpressionArgument[str],
) -> Exists:
    """In SQL: whether a member has claimed the order named by these columns (and earned its points)."""
    return exists(
        select(Claim.id).where(
            of_tenant(Claim, tenant_id),
            Claim.platform == platform,
            Claim.order_id == order_id,
            Claim.outcome == Outcome.credited,
        )
    )


async def last_claims(session: AsyncSession, *, tenant_id: int, member_ids: Collection[int]) -> dict[int, datetime]:
    if not member_ids:
        return {}
    rows = await session.execute(
        select(Claim.member_id, func.max(Claim.created_at))
        .where(of_tenant(Claim, tenant_id), Claim.member_id.in_(list(member_ids)))
        .group_by(Claim.member_id)
    )
    return {key: value for key, value in rows.tuples()}  # noqa: C416 (a Result has keys(): dict() would misread it)


async def count_in_review(session: AsyncSession, *, tenant_id: int) -> int:
    return (
        await session.scalar(
            select(func.count()).select_from(Claim).where(of_tenant(Claim, tenant_id), Claim.outcome == Outcome.review)
        )
        or 0
    )


# Figures for analytics: claimed orders joined to the orders they name (the one crossing claims already makes)


async def claimed_totals(
    session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """Per platform: the orders paid in [start, end) (any status but unpaid) that a member has claimed or that
    were credited to her bound account, and their paid fen."""
    rows = await session.execute(
        select(Order.platform, func.count(), func.coalesce(func.sum(Order.paid_fen), 0))
        .where(
            of_tenant(Order, tenant_id),
            Order.paid_at >= start,
            Order.paid_at < end,
            Order.status != "unpaid",
            order_claimed(Order.tenant_id, Order.platform, Order.order_id),
        )
        .group_by(Order.platform)
    )
    return {platform: (int(n), int(fen)) for platform, n, fen in rows.tuples()}


CREDITED_ORDER_COLUMNS = (
    "member_id",
    "platform",
    "order_id",
    "status",
    "paid_fen",
    "refund_fen",
    "paid_at",
    "buyer_nick",
    "buyer_open_uid",
    "claimed_at",
)


async def orders_with_members(
    session: AsyncSession,
    *,
    tenant_id: int,
    changed_after_import: int | None = None,
    claimed_since: datetime | None = None,
) -> AsyncIterator[pl.DataFrame]:
    """Every order of the tenant with the member it is credited to (claimed or bound; null: nobody), as frames of
    `CREDITED_ORDER_COLUMNS`.

    With `changed_after_import` / `claimed_since`: only the orders an import after that one wrote, and those
    claimed at or after that time (an order may come twice; the reader keeps one)."""
    columns = (
        Claim.member_id,
        Order.platform,
        Order.order_id,
        Order.status,
        Order.paid_fen,
        Order.refund_fen,
        Order.paid_at,
        Order.buyer_nick,
        Order.buyer_open_uid,
        Claim.created_at.label("claimed_at"),
    )
    credited = and_(
        Claim.tenant_id == Order.tenant_id,
        Claim.platform == Order.platform,
        Claim.order_id == Order.order_id,
        Claim.outcome == Outcome.credited,
    )
    every = select(*columns).select_from(Order).outerjoin(Claim, credited).where(of_tenant(Order, tenant_id))
    statements = [every]
    if changed_after_import is not None or claimed_since is not None:
        statements = []
        if changed_after_import is not None:
            statements.append(every.where(Order.last_import_id > changed_after_import))
        if claimed_since is not None:
            statements.append(
                select(*columns)
                .select_from(Claim)
                .join(Order, credited)
                .where(of_tenant(Claim, tenant_id), Claim.created_at >= claimed_since)
            )
    for statement in statements:
        async for frame in bulk.frames_of(session, statement):
            yield frame


# A member's recent buying, for thresholds of higher domains (fan groups): the orders credited to her


def _credited_to(
    columns: Any, tenant_id: ColumnExpressionArgument[int], member_id: ColumnExpressionArgument[int], since: datetime
) -> Any:
    """In SQL: `columns` over the orders paid since `since` (not closed or refunded) credited to the member named by
    these columns, correlated to the statement it is used in."""
    return (
        select(columns)
        .select_from(Claim)
        .join(
            Order,
            and_(
                Order.tenant_id == Claim.tenant_id,
                Order.platform == Claim.platform,
                Order.order_id == Claim.order_id,
            ),
        )
        .where(
            of_tenant(Claim, tenant_id),
            Claim.member_id == member_id,
            Claim.outcome == Outcome.credited,
            Order.paid_at >= since,
            Order.status.not_in(["unpaid", "closed", "refunded"]),
        )
        .scalar_subquery()
    )


def orders_since(
    tenant_id: ColumnExpressionArgument[int], member_id: ColumnExpressionArgument[int], since: datetime
) -> Any:
    """In SQL: how many orders paid since `since` (not closed or refunded) are credited to the member named by
    these columns."""
    return _credited_to(func.count(), tenant_id, member_id, since)


def paid_fen_since(
    tenant_id: ColumnExpressionArgument[int], member_id: ColumnExpressionArgument[int], since: datetime
) -> Any:
    """In SQL: what those orders paid, less their refunds (fen)."""
    return _credited_to(func.coalesce(func.sum(Order.paid_fen - Order.refund_fen), 0), tenant_id, member_id, since)


async def buying_since(
    session: AsyncSession, *, tenant_id: int, member_ids: Collection[int], since: datetime
) -> dict[int, tuple[int, int]]:
    """Per member: (orders credited to her paid since `since`, their paid fen less refunds); missing: none."""
    if not member_ids:
        return {}
    rows = await session.execute(
        select(Claim.member_id, func.count(), func.coalesce(func.sum(Order.paid_fen - Order.refund_fen), 0))
        .select_from(Claim)
        .join(
            Order,
            and_(
                Order.tenant_id == Claim.tenant_id,
                Order.platform == Claim.platform,
                Order.order_id == Claim.order_id,
            ),
        )
        .where(
            of_tenant(Claim, tenant_id),
            Claim.member_id.in_(sorted(set(member_ids))),
            Claim.outcome == Outcome.credited,
            Order.paid_at >= since,
            Order.status.not_in(["unpaid", "closed", "refunded"]),
        )
        .group_by(Claim.member_id)
    )
    return {member: (int(n), int(fen)) for member, n, fen in rows.tuples()}


# Who claimed what, for saved segments: conditions over a member's columns


def claimed_on_platforms(
    platforms: Collection[str], tenant_id: ColumnExpressionArgument[int], member_id: ColumnExpressionArgument[int]
) -> Exists:
    """In SQL: whether the member named by these columns earned points for an order of one of these platforms."""
    return exists(
        select(Claim.id).where(
            of_tenant(Claim, tenant_id),
            Claim.member_id == member_id,
            Claim.outcome == Outcome.credited,
            Claim.platform.in_(sorted(platforms)),
        )
    )


def claimed_within(
    tenant_id: ColumnExpressionArgument[int],
    member_id: ColumnExpressionArgument[int],
    start: datetime | None,
    end: datetime | None,
) -> Exists:
    """In SQL: whether the member named by these columns made a claim that earned points in [start, end)."""
    statement = select(Claim.id).where(
        of_tenant(Claim, tenant_id), Claim.member_id == member_id, Claim.outcome == Outcome.credited
    )
    if start is not None:
        statement = statement.where(Claim.created_at >= start)
    if end is not None:
        statement = statement.where(Claim.created_at < end)
    return exists(statement)
