"""Every query of the ledger. Each one is scoped to a tenant; rows a service changes are re-read after the
member's balance row is locked, so the identity map never hands out a stale lot."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnExpressionArgument, Exists, bindparam, exists, func, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.bulk import insert_ignoring_duplicates
from siyu.kit.types import UTCDateTime
from siyu.ledger.models import Allocation, Balance, Entry, Lot, LotStatus
from siyu.tenants.models import Tenant


@dataclass
class Account:
    """A member's balance row as this transaction holds it (locked)."""

    member_id: int
    available: int
    pending: int
    debt: int
    merged_into: int | None


def add(session: AsyncSession, row: Entry | Lot | Allocation) -> None:
    session.add(row)


# Balances

# The statements of every claim and spend are built once, with bound parameters (see siyu.tenants.repository).
_LOCKED = (
    select(Balance.available, Balance.pending, Balance.debt, Balance.merged_into)
    .where(Balance.tenant_id == bindparam("tenant_id"), Balance.member_id == bindparam("member_id"))
    .with_for_update()
)
_CHANGE = (  # (an UPDATE's parameters may not be named as its columns)
    update(Balance)
    .where(Balance.tenant_id == bindparam("of_tenant"), Balance.member_id == bindparam("of_member"))
    .values(
        available=Balance.available + bindparam("add_available"),
        pending=Balance.pending + bindparam("add_pending"),
        debt=Balance.debt + bindparam("add_debt"),
        updated_at=bindparam("now", type_=Balance.__table__.c.updated_at.type),
    )
    .execution_options(synchronize_session=False)
)
_CHANGE_KEEPING = _CHANGE.where(Balance.available >= bindparam("keep_available"))


async def lock_account(session: AsyncSession, *, tenant_id: int, member_id: int) -> Account:
    """The member's balance row, created when missing, locked until the transaction ends (PostgreSQL;
    SQLite runs one writer at a time)."""
    keys = {"tenant_id": tenant_id, "member_id": member_id}
    row = (await session.execute(_LOCKED, keys)).one_or_none()
    if row is None:  # her first points: create the row (a concurrent first operation may create it too)
        await insert_ignoring_duplicates(
            session,
            Balance,
            [{"tenant_id": tenant_id, "member_id": member_id, "available": 0, "pending": 0, "debt": 0}],
        )
        row = (await session.execute(_LOCKED, keys)).one()
    return Account(member_id, row.available, row.pending, row.debt, row.merged_into)


async def change_balance(
    session: AsyncSession,
    *,
    tenant_id: int,
    account: Account,
    now: datetime,
    available: int = 0,
    pending: int = 0,
    debt: int = 0,
    keep_available: int | None = None,
) -> bool:
    """Add the deltas in one UPDATE. With `keep_available`, only when available >= keep_available
    (a spend never overdraws, whoever else is spending at the same moment). True when applied."""
    values = {
        "of_tenant": tenant_id,
        "of_member": account.member_id,
        "add_available": available,
        "add_pending": pending,
        "add_debt": debt,
        "now": now,
    }
    if keep_available is None:
        result = await session.execute(_CHANGE, values)
    else:
        result = await session.execute(_CHANGE_KEEPING, {**values, "keep_available": keep_available})
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    account.available += available
    account.pending += pending
    account.debt += debt
    return True


async def mark_merged(
    session: AsyncSession, *, tenant_id: int, account: Account, into_member_id: int, now: datetime
) -> None:
    await session.execute(
        update(Balance)
        .where(Balance.tenant_id == tenant_id, Balance.member_id == account.member_id)
        .values(available=0, pending=0, debt=0, merged_into=into_member_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    account.available = account.pending = account.debt = 0
    account.merged_into = into_member_id


async def get_balance(session: AsyncSession, *, tenant_id: int, member_id: int) -> Balance | None:
    return await session.scalar(
        select(Balance)
        .where(Balance.tenant_id == tenant_id, Balance.member_id == member_id)
        .execution_options(populate_existing=True)
    )


# Entries


async def find_entry(session: AsyncSession, *, tenant_id: int, kind: str, source_ref: str) -> Entry | None:
    return await session.scalar(
        select(Entry).where(Entry.tenant_id == tenant_id, Entry.kind == kind, Entry.source_ref == source_ref)
    )


async def recent_entries(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int) -> list[Entry]:
    rows = await session.scalars(
        select(Entry)
        .where(Entry.tenant_id == tenant_id, Entry.member_id == member_id)
        .order_by(Entry.created_at.desc(), Entry.id.desc())
        .limit(limit)
    )
    return list(rows)


async def lot_totals(session: AsyncSession, *, tenant_id: int, lot_id: int) -> tuple[int, int]:
    """(points of the lot that expired, points already clawed back for it, debt included)."""
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(Entry.amount).filter(Entry.kind == "expire"), 0),
                func.coalesce(func.sum(Entry.amount + Entry.pending_amount).filter(Entry.kind == "clawback"), 0),
            ).where(Entry.tenant_id == tenant_id, Entry.lot_id == lot_id)
        )
    ).one()
    return -int(row[0]), -int(row[1])


# Lots


_LOT_OF_SOURCE = (
    select(Lot)
    .where(Lot.tenant_id == bindparam("tenant_id"), Lot.source_ref == bindparam("source_ref"))
    .execution_options(populate_existing=True)
)


async def find_lot(session: AsyncSession, *, tenant_id: int, source_ref: str) -> Lot | None:
    return await session.scalar(_LOT_OF_SOURCE, {"tenant_id": tenant_id, "source_ref": source_ref})


async def get_lots(session: AsyncSession, *, tenant_id: int, lot_ids: Sequence[int]) -> dict[int, Lot]:
    if not lot_ids:
        return {}
    rows = await session.scalars(
        select(Lot).where(Lot.tenant_id == tenant_id, Lot.id.in_(lot_ids)).execution_options(populate_existing=True)
    )
    return {lot.id: lot for lot in rows}


async def drawable_lots(session: AsyncSession, *, tenant_id: int, member_id: int, now: datetime) -> list[Lot]:
    """Posted lots with points left and not expired, in drawing order: soonest-expiring first,
    then oldest; never-expiring last."""
    rows = await session.scalars(
        select(Lot)
        .where(
            Lot.tenant_id == tenant_id,
            Lot.member_id == member_id,
            Lot.status == LotStatus.posted,
            Lot.remaining > 0,
            (Lot.expires_at.is_(None)) | (Lot.expires_at > now),
        )
        .order_by(Lot.expires_at.is_(None), Lot.expires_at, Lot.created_at, Lot.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


_DUE = select(Lot).where(
    Lot.tenant_id == bindparam("tenant_id"),
    Lot.status == LotStatus.posted,
    Lot.expires_at <= bindparam("now", type_=Lot.__table__.c.expires_at.type),
    Lot.remaining > 0,
)
_DUE_OF_MEMBER = (  # on every claim and spend (her balance is opened): built once
    _DUE.where(Lot.member_id == bindparam("member_id"))
    .order_by(Lot.member_id, Lot.id)
    .execution_options(populate_existing=True)
)


async def due_lots(
    session: AsyncSession, *, tenant_id: int, now: datetime, member_id: int | None = None, limit: int | None = None
) -> list[Lot]:
    """Posted lots past their expiry that still hold points, by member then id."""
    keys = {"tenant_id": tenant_id, "now": now}
    if member_id is not None and limit is None:
        return list(await session.scalars(_DUE_OF_MEMBER, {**keys, "member_id": member_id}))
    statement = _DUE
    if member_id is not None:
        statement = statement.where(Lot.member_id == bindparam("member_id"))
        keys["member_id"] = member_id
    statement = statement.order_by(Lot.member_id, Lot.id).execution_options(populate_existing=True)
    if limit is not None:
        statement = statement.limit(limit)
    return list(await session.scalars(statement, keys))


async def set_post_after(session: AsyncSession, *, tenant_id: int, lot_id: int, post_after: datetime) -> None:
    await session.execute(
        update(Lot)
        .where(Lot.tenant_id == tenant_id, Lot.id == lot_id, Lot.status == LotStatus.pending)
        .values(post_after=post_after)
        .execution_options(synchronize_session=False)
    )


async def lots_of(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int) -> list[Lot]:
    """The member's lots, newest first."""
    rows = await session.scalars(
        select(Lot)
        .where(Lot.tenant_id == tenant_id, Lot.member_id == member_id)
        .order_by(Lot.created_at.desc(), Lot.id.desc())
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def has_credit_like(session: AsyncSession, *, tenant_id: int, member_id: int, prefix: str) -> bool:
    found = await session.scalar(
        select(Lot.id)
        .where(
            Lot.tenant_id == tenant_id, Lot.member_id == member_id, Lot.source_ref.startswith(prefix, autoescape=True)
        )
        .limit(1)
    )
    return found is not None


async def move_lots(session: AsyncSession, *, tenant_id: int, from_member_id: int, into_member_id: int) -> None:
    await session.execute(
        update(Lot)
        .where(Lot.tenant_id == tenant_id, Lot.member_id == from_member_id)
        .values(member_id=into_member_id)
        .execution_options(synchronize_session="fetch")
    )


# Allocations


async def allocations_of(session: AsyncSession, *, tenant_id: int, entry_id: int) -> list[Allocation]:
    rows = await session.scalars(
        select(Allocation)
        .where(Allocation.tenant_id == tenant_id, Allocation.entry_id == entry_id)
        .order_by(Allocation.lot_id)
    )
    return list(rows)


# Orders, read without importing the orders domain (which sits beside the ledger, not below it)


@dataclass(frozen=True)
class OrderChangeRow:
    platform: str
    order_id: str
    from_status: str
    to_status: str
    from_refund_fen: int
    to_refund_fen: int
    paid_fen: int
    completed_at: datetime | None = None

    @property
    def source_ref(self) -> str:
        return order_ref(self.platform, self.order_id)


def order_ref(platform: str, order_id: str) -> str:
    return f"order:{platform}:{order_id}"


def order_credited(
    tenant_id: ColumnExpressionArgument[int],
    platform: ColumnExpressionArgument[str],
    order_id: ColumnExpressionArgument[str],
) -> Exists:
    """In SQL: whether the order named by these columns has been credited (order_ref, spelt in SQL)."""
    ref = literal("order:") + platform + literal(":") + order_id
    return exists(select(Lot.id).where(Lot.tenant_id == tenant_id, Lot.source_ref == ref))


_CREDITED_CHANGES = text(
    """
    SELECT c.platform, c.order_id, c.from_status, c.to_status, c.from_refund_fen, c.to_refund_fen, o.paid_fen,
           o.completed_at
    FROM order_changes c
    JOIN orders o ON o.tenant_id = c.tenant_id AND o.platform = c.platform AND o.order_id = c.order_id
    JOIN ledger_lots l ON l.tenant_id = c.tenant_id AND l.source_ref = 'order:' || c.platform || ':' || c.order_id
    WHERE c.tenant_id = :tenant_id AND c.import_id = :import_id
    ORDER BY c.platform, c.order_id
    """
)


async def credited_order_changes(session: AsyncSession, *, tenant_id: int, import_id: int) -> list[OrderChangeRow]:
    """The changes of one import to orders that earned points (an earn_pending or earn lot)."""
    statement = _CREDITED_CHANGES.columns(completed_at=UTCDateTime())
    rows = await session.execute(statement, {"tenant_id": tenant_id, "import_id": import_id})
    return [OrderChangeRow(*row) for row in rows]


async def tenant_ids(session: AsyncSession) -> list[int]:
    return list(await session.scalars(select(Tenant.id).order_by(Tenant.id)))


async def richest_member(session: AsyncSession, *, tenant_id: int) -> int | None:
    return await session.scalar(
        select(Balance.member_id)
        .where(Balance.tenant_id == tenant_id, Balance.merged_into.is_(None))
        .order_by((Balance.available + Balance.pending).desc(), Balance.member_id)
        .limit(1)
    )
