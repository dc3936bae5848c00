"""Every query of the ledger. Each one is scoped to a tenant; rows a service changes are re-read after the
member's balance row is locked, so the identity map never hands out a stale lot."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import polars as pl
from sqlalchemy import (
    ColumnExpressionArgument,
    Table,
    bindparam,
    case,
    exists,
    false,
    func,
    insert,
    literal_column,
    null,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import Executable

from siyu.kit import bulk
from siyu.kit.bulk import dialect
from siyu.kit.db import of_tenant
from siyu.kit.fast import Fast
from siyu.ledger.models import Allocation, Balance, Entry, Lot, LotStatus


@dataclass
class Account:
    """A member's balance row as this transaction holds it (locked)."""

    member_id: int
    available: int
    pending: int
    debt: int
    merged_into: int | None
    due: bool = False  # when locked: some of her posted lots had expired with points left


def add(session: AsyncSession, row: Entry | Lot | Allocation) -> None:
    session.add(row)


# Balances

# The statements of every claim and spend are built once, with bound parameters (see siyu.tenants.repository).
_NOW = bindparam("now", type_=Lot.__table__.c.expires_at.type)
_DUE_OF_BALANCE = (
    exists()
    .where(
        Lot.tenant_id == Balance.tenant_id,
        Lot.member_id == Balance.member_id,
        Lot.status == LotStatus.posted,
        Lot.expires_at <= _NOW,
        Lot.remaining > 0,
    )
    .correlate(Balance)
)
# Her balance locked, and in the same round trip whether any of her lots is due to expire (the usual answer, no,
# saves reading her lots on every claim and spend).
_LOCKED = Fast(
    select(Balance.available, Balance.pending, Balance.debt, Balance.merged_into, _DUE_OF_BALANCE.label("due"))
    .where(of_tenant(Balance, bindparam("tenant_id")), Balance.member_id == bindparam("member_id"))
    .with_for_update(of=Balance)
)
_CHANGE_STATEMENT = (  # (an UPDATE's parameters may not be named as its columns)
    update(Balance)
    .where(of_tenant(Balance, bindparam("of_tenant")), Balance.member_id == bindparam("of_member"))
    .values(
        available=Balance.available + bindparam("add_available"),
        pending=Balance.pending + bindparam("add_pending"),
        debt=Balance.debt + bindparam("add_debt"),
        updated_at=bindparam("now", type_=Balance.__table__.c.updated_at.type),
    )
    .execution_options(synchronize_session=False)
)
_CHANGE = Fast(_CHANGE_STATEMENT)
_CHANGE_KEEPING = Fast(_CHANGE_STATEMENT.where(Balance.available >= bindparam("keep_available")))


def _open_statement(insert_of: Any) -> Executable:
    """A new member's empty balance, unless a concurrent first operation created it: then nothing is returned."""
    return cast(
        Executable,
        insert_of(Balance)
        .values(
            tenant_id=bindparam("tenant_id"),
            member_id=bindparam("member_id"),
            available=0,
            pending=0,
            debt=0,
            updated_at=bindparam("now", type_=Balance.__table__.c.updated_at.type),
        )
        .on_conflict_do_nothing()
        .returning(Balance.member_id),
    )


_OPEN = {"postgresql": Fast(_open_statement(postgresql.insert)), "sqlite": Fast(_open_statement(sqlite.insert))}


def _lock_or_open_statement() -> Executable:
    """PostgreSQL, in one round trip: her balance locked, or (her first points) an empty one created, which is
    ours until the transaction ends; the last column says which. Nothing when a concurrent first operation is
    creating it (the insert waits for it; its row is not in this statement's snapshot): lock it afresh."""
    opened = _open_statement(postgresql.insert).cte("opened")  # type: ignore[attr-defined]
    locked = _LOCKED.statement.cte("locked")  # type: ignore[attr-defined]
    return cast(
        Executable,
        select(*locked.c, false().label("opened")).union_all(
            select(
                *(literal_column("0").label(name) for name in ("available", "pending", "debt")),
                null().label("merged_into"),
                false().label("due"),
                true().label("opened"),
            ).select_from(opened)
        ),
    )


_LOCK_OR_OPEN = Fast(_lock_or_open_statement())


async def lock_account(session: AsyncSession, *, tenant_id: int, member_id: int, now: datetime) -> Account:
    """The member's balance row, created when missing, locked until the transaction ends (PostgreSQL;
    SQLite runs one writer at a time), and whether she has lots due to expire at `now`."""
    keys = {"tenant_id": tenant_id, "member_id": member_id, "now": now}
    if dialect(session) == "postgresql":
        row = await _LOCK_OR_OPEN.one_or_none(session, keys)
        if row is not None and row[5]:  # her first points: the row is new, and ours
            return Account(member_id, 0, 0, 0, None, False)
    else:
        row = await _LOCKED.one_or_none(session, keys)
        if row is None and await _OPEN["sqlite"].scalar(session, keys) is not None:  # her first points
            return Account(member_id, 0, 0, 0, None, False)
    if row is None:
        row = await _LOCKED.one_or_none(session, keys)  # a concurrent first operation created it: wait for it
        assert row is not None
    available, pending, debt, merged_into, due = row[:5]
    return Account(member_id, available, pending, debt, merged_into, bool(due))


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
        changed = await _CHANGE.execute(session, values)
    else:
        changed = await _CHANGE_KEEPING.execute(session, {**values, "keep_available": keep_available})
    if changed != 1:
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
        .where(of_tenant(Balance, tenant_id), Balance.member_id == account.member_id)
        .values(available=0, pending=0, debt=0, merged_into=into_member_id, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    account.available = account.pending = account.debt = 0
    account.merged_into = into_member_id


async def get_balance(session: AsyncSession, *, tenant_id: int, member_id: int) -> Balance | None:
    return await session.scalar(
        select(Balance)
        .where(of_tenant(Balance, tenant_id), Balance.member_id == member_id)
        .execution_options(populate_existing=True)
    )


# Entries

# A credit writes an entry and a lot: plain INSERTs built once (no unit of work to flush on the hot paths).
_INSERT_ENTRY = Fast(insert(cast(Table, Entry.__table__)))
_INSERT_LOT = Fast(insert(cast(Table, Lot.__table__)))


async def insert_entry(session: AsyncSession, values: dict[str, Any]) -> None:
    await _INSERT_ENTRY.execute(session, values)


def _credit_statement() -> Executable:
    """A credit in one round trip (PostgreSQL): unless its source is credited already, the entry, the lot and the
    balance change, as data-modifying CTEs of one statement that answers who held the source before."""
    entries, lots, balances = (cast(Table, model.__table__) for model in (Entry, Lot, Balance))

    def param(name: str, column: Any) -> Any:
        return bindparam(name, type_=column.type)

    owner = (
        select(lots.c.member_id)
        .where(
            of_tenant(lots.c, param("tenant_id", lots.c.tenant_id)),
            lots.c.source_ref == param("source_ref", lots.c.source_ref),
        )
        .cte("owner")
    )
    fresh = ~exists(select(owner.c.member_id))

    def insert_row(table: Table, names: dict[str, str], name: str) -> Any:
        columns = list(names)
        values = select(*(param(names[column], table.c[column]) for column in columns)).where(fresh)
        return insert(table).from_select(columns, values).cte(name)

    entry = insert_row(entries, {c: _ENTRY_PARAMS.get(c, c) for c in _ENTRY_COLUMNS}, "new_entry")
    lot = insert_row(lots, {c: _LOT_PARAMS.get(c, c) for c in _LOT_COLUMNS}, "new_lot")
    balance = (
        update(balances)
        .where(
            of_tenant(balances.c, param("tenant_id", balances.c.tenant_id)),
            balances.c.member_id == param("member_id", balances.c.member_id),
            fresh,
        )
        .values(
            available=balances.c.available + param("add_available", balances.c.available),
            pending=balances.c.pending + param("add_pending", balances.c.pending),
            updated_at=param("now", balances.c.updated_at),
        )
        .cte("balance")
    )
    return select(select(owner.c.member_id).scalar_subquery().label("owner")).add_cte(entry, lot, balance)


_ENTRY_COLUMNS = (
    *("tenant_id", "id", "member_id", "kind", "amount", "pending_amount", "source_ref", "lot_id"),
    *("explanation", "created_by", "created_at"),
)
_ENTRY_PARAMS = {"id": "entry_id", "amount": "entry_amount", "pending_amount": "entry_pending", "created_at": "now"}
_LOT_COLUMNS = (
    *("tenant_id", "id", "member_id", "entry_id", "source_ref", "amount", "remaining", "status"),
    *("post_after", "expires_at", "created_at"),
)
_LOT_PARAMS = {"id": "lot_id", "amount": "lot_amount", "remaining": "lot_amount", "status": "lot_status"}
_LOT_PARAMS["created_at"] = "now"
_CREDIT = Fast(_credit_statement())


async def write_credit(
    session: AsyncSession,
    *,
    tenant_id: int,
    account: Account,
    entry: dict[str, Any],
    lot: dict[str, Any],
    now: datetime,
) -> int | None:
    """Write a credit (its entry's and lot's columns) and add it to the member's locked balance (available or
    pending, as the lot is posted or not), unless its source is credited already: then nothing is written and the
    member holding it is returned. PostgreSQL does it in one statement, SQLite in four."""
    available, pending = entry["amount"], entry["pending_amount"]
    if dialect(session) == "postgresql":
        params = {**{_ENTRY_PARAMS.get(c, c): entry[c] for c in _ENTRY_COLUMNS}}
        params.update({_LOT_PARAMS.get(c, c): lot[c] for c in _LOT_COLUMNS})
        params.update(add_available=available, add_pending=pending, now=now)
        owner = await _CREDIT.scalar(session, params)
        if owner is not None:
            return int(owner)
        account.available += available
        account.pending += pending
        return None
    owner = await credit_owner(session, tenant_id=tenant_id, source_ref=entry["source_ref"])
    if owner is not None:
        return owner
    await insert_entry(session, entry)
    await insert_lot(session, lot)
    await change_balance(session, tenant_id=tenant_id, account=account, now=now, available=available, pending=pending)
    return None


async def insert_lot(session: AsyncSession, values: dict[str, Any]) -> None:
    await _INSERT_LOT.execute(session, values)


async def find_entry(session: AsyncSession, *, tenant_id: int, kind: str, source_ref: str) -> Entry | None:
    return await session.scalar(
        select(Entry).where(of_tenant(Entry, tenant_id), Entry.kind == kind, Entry.source_ref == source_ref)
    )


async def recent_entries(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int) -> list[Entry]:
    rows = await session.scalars(
        select(Entry)
        .where(of_tenant(Entry, tenant_id), Entry.member_id == member_id)
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
            ).where(of_tenant(Entry, tenant_id), Entry.lot_id == lot_id)
        )
    ).one()
    return -int(row[0]), -int(row[1])


# Lots


_LOT_OF_SOURCE = (
    select(Lot)
    .where(of_tenant(Lot, bindparam("tenant_id")), Lot.source_ref == bindparam("source_ref"))
    .execution_options(populate_existing=True)
)


_OWNER_OF_SOURCE = Fast(
    select(Lot.member_id).where(of_tenant(Lot, bindparam("tenant_id")), Lot.source_ref == bindparam("source_ref"))
)


async def credit_owner(session: AsyncSession, *, tenant_id: int, source_ref: str) -> int | None:
    """Who holds the credit of a source, if it was credited."""
    owner = await _OWNER_OF_SOURCE.scalar(session, {"tenant_id": tenant_id, "source_ref": source_ref})
    return None if owner is None else int(owner)


async def credit_owners(session: AsyncSession, *, tenant_id: int, source_refs: Sequence[str]) -> dict[str, int]:
    """{source: member holding its credit} for the sources credited among these."""
    owners: dict[str, int] = {}
    for start in range(0, len(source_refs), 500):
        rows = await session.execute(
            select(Lot.source_ref, Lot.member_id).where(
                of_tenant(Lot, tenant_id), Lot.source_ref.in_(source_refs[start : start + 500])
            )
        )
        owners.update({ref: int(member_id) for ref, member_id in rows})
    return owners


async def find_lot(session: AsyncSession, *, tenant_id: int, source_ref: str) -> Lot | None:
    return await session.scalar(_LOT_OF_SOURCE, {"tenant_id": tenant_id, "source_ref": source_ref})


async def get_lots(session: AsyncSession, *, tenant_id: int, lot_ids: Sequence[int]) -> dict[int, Lot]:
    if not lot_ids:
        return {}
    rows = await session.scalars(
        select(Lot).where(of_tenant(Lot, tenant_id), Lot.id.in_(lot_ids)).execution_options(populate_existing=True)
    )
    return {lot.id: lot for lot in rows}


async def drawable_lots(session: AsyncSession, *, tenant_id: int, member_id: int, now: datetime) -> list[Lot]:
    """Posted lots with points left and not expired, in drawing order: soonest-expiring first,
    then oldest; never-expiring last."""
    rows = await session.scalars(
        select(Lot)
        .where(
            of_tenant(Lot, tenant_id),
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
    of_tenant(Lot, bindparam("tenant_id")),
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
        .where(of_tenant(Lot, tenant_id), Lot.id == lot_id, Lot.status == LotStatus.pending)
        .values(post_after=post_after)
        .execution_options(synchronize_session=False)
    )


async def lots_of(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int) -> list[Lot]:
    """The member's lots, newest first."""
    rows = await session.scalars(
        select(Lot)
        .where(of_tenant(Lot, tenant_id), Lot.member_id == member_id)
        .order_by(Lot.created_at.desc(), Lot.id.desc())
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def has_credit_like(session: AsyncSession, *, tenant_id: int, member_id: int, prefix: str) -> bool:
    found = await session.scalar(
        select(Lot.id)
        .where(
            of_tenant(Lot, tenant_id), Lot.member_id == member_id, Lot.source_ref.startswith(prefix, autoescape=True)
        )
        .limit(1)
    )
    return found is not None


async def move_lots(session: AsyncSession, *, tenant_id: int, from_member_id: int, into_member_id: int) -> None:
    await session.execute(
        update(Lot)
        .where(of_tenant(Lot, tenant_id), Lot.member_id == from_member_id)
        .values(member_id=into_member_id)
        .execution_options(synchronize_session="fetch")
    )


# Allocations


async def allocations_of(session: AsyncSession, *, tenant_id: int, entry_id: int) -> list[Allocation]:
    rows = await session.scalars(
        select(Allocation)
        .where(of_tenant(Allocation, tenant_id), Allocation.entry_id == entry_id)
        .order_by(Allocation.lot_id)
    )
    return list(rows)


async def richest_member(session: AsyncSession, *, tenant_id: int) -> int | None:
    return await session.scalar(
        select(Balance.member_id)
        .where(of_tenant(Balance, tenant_id), Balance.merged_into.is_(None))
        .order_by((Balance.available + Balance.pending).desc(), Balance.member_id)
        .limit(1)
    )


# Many members at once (the console's member list)


async def balances_of(session: AsyncSession, *, tenant_id: int, member_ids: Collection[int]) -> list[Balance]:
    if not member_ids:
        return []
    rows = await session.scalars(
        select(Balance).where(of_tenant(Balance, tenant_id), Balance.member_id.in_(list(member_ids)))
    )
    return list(rows)


def available_of(tenant_id: ColumnExpressionArgument[int], member_id: ColumnExpressionArgument[int]) -> Any:
    """In SQL: the available points of the member named by these columns (0 without a balance), to sort or
    filter a list of members by."""
    return func.coalesce(
        select(Balance.available)
        .where(of_tenant(Balance, tenant_id), Balance.member_id == member_id)
        .scalar_subquery(),
        0,
    )


def holds_more_than(
    points: int, tenant_id: ColumnExpressionArgument[int], member_id: ColumnExpressionArgument[int]
) -> Any:
    """In SQL: the member named by these columns has more than `points` available (as EXISTS, which the database
    answers for many members with one pass over the balances; `available_of` compared asks once per member)."""
    return exists(
        select(Balance.member_id).where(
            of_tenant(Balance, tenant_id), Balance.member_id == member_id, Balance.available > points
        )
    )


# Figures for analytics


async def entry_totals(
    session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """Per entry kind: the change to available and to pending points of the entries made in [start, end)."""
    rows = await session.execute(
        select(Entry.kind, func.coalesce(func.sum(Entry.amount), 0), func.coalesce(func.sum(Entry.pending_amount), 0))
        .where(of_tenant(Entry, tenant_id), Entry.created_at >= start, Entry.created_at < end)
        .group_by(Entry.kind)
    )
    return {kind: (int(amount), int(pending)) for kind, amount, pending in rows.tuples()}


async def positive_adjustments(session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime) -> int:
    return int(
        await session.scalar(
            select(func.coalesce(func.sum(Entry.amount), 0)).where(
                of_tenant(Entry, tenant_id),
                Entry.kind == "adjust",
                Entry.amount > 0,
                Entry.created_at >= start,
                Entry.created_at < end,
            )
        )
        or 0
    )


async def outstanding(session: AsyncSession, *, tenant_id: int) -> tuple[int, int, int]:
    """Points members hold now: available (members in debt count 0), pending, and what members owe."""
    row = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((Balance.available > 0, Balance.available), else_=0)), 0),
                func.coalesce(func.sum(Balance.pending), 0),
                func.coalesce(func.sum(case((Balance.available < 0, -Balance.available), else_=0)), 0),
            ).where(of_tenant(Balance, tenant_id), Balance.merged_into.is_(None))
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


async def balances_since(
    session: AsyncSession, *, tenant_id: int, since: datetime | None
) -> AsyncIterator[pl.DataFrame]:
    """Frames of (member_id, available) of the balances written at or after `since` (None: all of them)."""
    statement = select(Balance.member_id, Balance.available).where(of_tenant(Balance, tenant_id))
    if since is not None:
        statement = statement.where(Balance.updated_at >= since)
    async for frame in bulk.frames_of(session, statement):
        yield frame


async def entries_after(session: AsyncSession, *, tenant_id: int, after_id: int | None) -> AsyncIterator[pl.DataFrame]:
    """The tenant's entries (id, kind, amount, pending_amount, created_at) with an id above `after_id` (None: all),
    as frames. Entries never change, and their ids grow with time: what a reader saw stays true."""
    statement = select(Entry.id, Entry.kind, Entry.amount, Entry.pending_amount, Entry.created_at).where(
        of_tenant(Entry, tenant_id)
    )
    if after_id is not None:
        statement = statement.where(Entry.id > after_id)
    async for frame in bulk.frames_of(session, statement):
        yield frame
