"""Every order query. Writes from files are set-wise: a batch's new orders are written straight into `orders`
(COPY / one executemany); the others are staged in a temporary table, then classified, recorded in the history
and upserted with a handful of statements. Never a row at a time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement, Select, bindparam, func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit import bulk
from siyu.kit.db import of_tenant
from siyu.kit.fast import Fast
from siyu.kit.pagination import Page, PageRequest, Sort, paginate
from siyu.orders.models import (
    LINE_ORDER,
    STATUS_RANK,
    ChangeView,
    ColumnMapping,
    ImportRejection,
    Order,
    OrderChange,
    OrderImport,
    OrderStatus,
    OrderView,
    SubOrder,
)

STAGE_ORDERS = "stage_orders"
STAGE_ITEMS = "stage_items"
ORDER_STAGE_COLUMNS: list[tuple[str, str]] = [
    ("order_id", "text"),
    ("status", "text"),
    ("status_rank", "int"),
    ("paid_fen", "int"),
    ("refund_fen", "int"),
    ("item_count", "int"),
    ("title", "text"),
    ("buyer_nick", "text"),
    ("buyer_open_uid", "text"),
    ("receiver_phone", "text"),
    ("shop", "text"),
    ("author", "text"),
    ("live_room", "text"),
    ("placed_at", "time"),
    ("paid_at", "time"),
    ("completed_at", "time"),
]
ITEM_STAGE_COLUMNS: list[tuple[str, str]] = [
    ("order_id", "text"),
    ("sub_id", "text"),
    ("title", "text"),
    ("quantity", "int"),
    ("paid_fen", "int"),
    ("refund_fen", "int"),
    ("status", "text"),
    ("status_rank", "int"),
]
# Fields that a newer file may leave empty (privacy): an empty cell never erases what we know.
KEEP_WHEN_EMPTY = (
    "title",
    "buyer_nick",
    "buyer_open_uid",
    "receiver_phone",
    "shop",
    "author",
    "live_room",
    "placed_at",
    "paid_at",
    "completed_at",
)
ALWAYS = ("status", "status_rank", "paid_fen", "refund_fen", "item_count")
# A row may only move an order forward: never to a lower status, never to a smaller refund.
FORWARD = "s.status_rank >= o.status_rank AND s.refund_fen >= o.refund_fen"
DIFFERS = " OR ".join(
    [f"s.{c} IS DISTINCT FROM o.{c}" for c in ALWAYS]
    + [f"COALESCE(s.{c}, o.{c}) IS DISTINCT FROM o.{c}" for c in KEEP_WHEN_EMPTY]
)


def rank_sql(column: str) -> str:
    """The rank of a status column (STATUS_RANK), in SQL: for tables that do not store it (order_items)."""
    cases = " ".join(f"WHEN '{status}' THEN {rank}" for status, rank in STATUS_RANK.items())
    return f"(CASE {column} {cases} ELSE 0 END)"


def _line_order_sql(column: str) -> str:
    cases = " ".join(f"WHEN '{status}' THEN {order}" for status, order in LINE_ORDER.items())
    return f"(CASE {column} {cases} ELSE 0 END)"


def _status_of_line_order_sql(column: str) -> str:
    cases = " ".join(f"WHEN {order} THEN '{status}'" for status, order in LINE_ORDER.items())
    return f"(CASE {column} {cases} END)"


INSERT_ATTEMPTS = 3  # looks for a batch's new orders when concurrent imports keep inserting some of them first
PROBE_SAMPLE = 256  # keys of a batch looked up before inserting it outright


@dataclass
class BatchCounts:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0


async def apply_orders(
    session: AsyncSession,
    *,
    tenant_id: int,
    platform: str,
    import_id: int,
    now: datetime,
    orders: pl.DataFrame,
    stored: Sequence[str] = (),
    items: pl.DataFrame | None = None,
    order_level_amount: bool = False,
) -> BatchCounts:
    """Store one batch of folded orders, and their lines (`items`) when the file lists them. Returns what happened
    to its orders.

    The orders the caller knows are `stored` (an earlier batch of the same file had them) are upserted. When the
    others look all new (none of a sample of their keys is known), they are written straight into `orders` as
    a plain INSERT (COPY / one executemany, no staging). Otherwise, or when that INSERT fails on a known key (it
    fails as a whole, in a SAVEPOINT), the batch's orders we already have are looked up and locked (PostgreSQL,
    in key order) and the others are inserted the same way: if a concurrent import inserted one of them since
    we looked, we look again. The known orders then go through the staged upsert that only moves an order
    forward and records its history; with all of them locked, its counts and history are exact.

    With `items`, the lines are upserted (forward only, each on its own) before the known orders, whose status,
    refund, paid amount and item count are then decided from all their stored lines, not only the lines of this
    file (see `_settle`). A new order's lines are all in the batch, so its folded row already says the same."""
    if orders.height == 0:
        return BatchCounts()
    orders = orders.sort("order_id")
    constants: dict[str, int | str | datetime] = {
        "tenant_id": tenant_id,
        "platform": platform,
        "first_import_id": import_id,
        "last_import_id": import_id,
        "first_seen_at": now,
        "last_changed_at": now,
    }
    lines = None if items is None else Lines(items, order_level_amount)
    async with bulk.bulk_work(session):
        # Most batches of a large import are all new: when none of a sample of their keys is known, insert the
        # batch outright (no probe per key); the INSERT fails as a whole if one of them is known after all.
        is_stored = pl.col("order_id").is_in(list(stored))
        rest = orders.filter(~is_stored) if stored else orders
        sample = rest["order_id"].gather_every(max(1, rest.height // PROBE_SAMPLE)).to_list()
        fixed = {"tenant_id": tenant_id, "platform": platform}
        if not await bulk.existing_keys(
            session, "orders", fixed=fixed, key="order_id", values=sample, lock=False
        ) and await bulk.insert_new(session, "orders", ORDER_STAGE_COLUMNS, rest, constants):
            counts = await _upsert_orders(
                session,
                tenant_id=tenant_id,
                platform=platform,
                import_id=import_id,
                now=now,
                orders=orders.filter(is_stored) if stored else orders.clear(),
                lock=True,
                lines=lines,
            )
            return BatchCounts(
                inserted=rest.height + counts.inserted, updated=counts.updated, unchanged=counts.unchanged
            )
        inserted, known, relock = 0, orders, True
        for _attempt in range(INSERT_ATTEMPTS):
            existing = await bulk.existing_keys(
                session, "orders", fixed=fixed, key="order_id", values=orders["order_id"].to_list(), lock=True
            )
            is_known = pl.col("order_id").is_in(list(existing))
            fresh = orders.filter(~is_known) if existing else orders
            if await bulk.insert_new(session, "orders", ORDER_STAGE_COLUMNS, fresh, constants):
                inserted, known, relock = fresh.height, orders.filter(is_known) if existing else orders.clear(), False
                break
        # (After repeated collisions the whole batch takes the upsert, which locks what exists by then.)
        counts = await _upsert_orders(
            session,
            tenant_id=tenant_id,
            platform=platform,
            import_id=import_id,
            now=now,
            orders=known,
            lock=relock,
            lines=lines,
        )
    return BatchCounts(inserted=inserted + counts.inserted, updated=counts.updated, unchanged=counts.unchanged)


@dataclass(frozen=True)
class Lines:
    """The lines of a batch's orders, for a layout that lists them (one row per sub-order)."""

    items: pl.DataFrame
    order_level_amount: bool  # each line repeats the whole order's paid amount: the order's is their max


async def _upsert_orders(
    session: AsyncSession,
    *,
    tenant_id: int,
    platform: str,
    import_id: int,
    now: datetime,
    orders: pl.DataFrame,
    lock: bool,
    lines: Lines | None = None,
) -> BatchCounts:
    """Stage orders (most of them known) and upsert them forward-only, recording status/refund changes.

    With `lines`, the batch's lines are upserted too (all of them: new orders' as well), once every staged order
    exists, and the staged orders are settled from their stored lines before they are compared and written."""
    if orders.height == 0:
        if lines is not None:
            await _upsert_items(session, tenant_id=tenant_id, platform=platform, items=lines.items)
        return BatchCounts()
    await bulk.create_temp_table(session, STAGE_ORDERS, ORDER_STAGE_COLUMNS)
    await bulk.load(session, STAGE_ORDERS, ORDER_STAGE_COLUMNS, orders)
    stage = bulk.temp_name(session, STAGE_ORDERS)
    params = {"tenant": tenant_id, "platform": platform, "import_id": import_id, "now": now}
    join = "o.tenant_id = :tenant AND o.platform = :platform AND o.order_id = s.order_id"
    if lock:
        # Lock the orders this batch touches, in key order, so overlapping imports wait instead of racing.
        await bulk.existing_keys(
            session,
            "orders",
            fixed={"tenant_id": tenant_id, "platform": platform},
            key="order_id",
            values=orders["order_id"].to_list(),
            lock=True,
        )
    known = bulk.lookup_join(session, "orders", "o", join)
    classify = f"""SELECT count(*) FILTER (WHERE o.order_id IS NULL),
                          count(*) FILTER (WHERE o.order_id IS NOT NULL AND {FORWARD} AND ({DIFFERS}))
                   FROM {stage} s {bulk.lookup_join(session, "orders", "o", join, outer=True)}"""
    row = (await session.execute(text(classify), params)).one()
    inserted, updated = int(row[0] or 0), int(row[1] or 0)
    columns = [c for c, _ in ORDER_STAGE_COLUMNS]
    insert = f"""INSERT INTO orders (tenant_id, platform, {", ".join(columns)}, first_import_id, last_import_id,
                                     first_seen_at, last_changed_at)
                 SELECT :tenant, :platform, {", ".join("s." + c for c in columns)}, :import_id, :import_id, :now, :now
                 FROM {stage} s WHERE true
                 ON CONFLICT (tenant_id, platform, order_id) DO"""
    if lines is not None:
        if inserted:
            # Lines need their order: the few staged orders that do not exist yet (see apply_orders) first.
            await session.execute(text(insert + " NOTHING"), params)
        await _upsert_items(session, tenant_id=tenant_id, platform=platform, items=lines.items)
        await _settle(session, stage=stage, params=params, order_level_amount=lines.order_level_amount)
        row = (await session.execute(text(classify), params)).one()
        updated = int(row[1] or 0)
    # One change per order per import: an order listed again in a later batch of the same file changes again, and
    # its change then goes from what it was before the import to what it is now.
    await session.execute(
        text(f"""INSERT INTO order_changes (tenant_id, import_id, platform, order_id, from_status, to_status,
                                            from_refund_fen, to_refund_fen, created_at)
                 SELECT :tenant, :import_id, :platform, s.order_id, o.status, s.status, o.refund_fen, s.refund_fen,
                        :now
                 FROM {stage} s {known}
                 WHERE {FORWARD} AND (s.status <> o.status OR s.refund_fen <> o.refund_fen)
                 ON CONFLICT (tenant_id, import_id, platform, order_id) DO UPDATE SET
                    to_status = excluded.to_status, to_refund_fen = excluded.to_refund_fen"""),
        params,
    )
    updates = ", ".join(
        [f"{c} = excluded.{c}" for c in ALWAYS]
        + [f"{c} = COALESCE(excluded.{c}, orders.{c})" for c in KEEP_WHEN_EMPTY]
        + ["last_import_id = excluded.last_import_id", "last_changed_at = excluded.last_changed_at"]
    )
    forward = FORWARD.replace("s.", "excluded.").replace("o.", "orders.")
    differs = DIFFERS.replace("s.", "excluded.").replace("o.", "orders.")
    await session.execute(text(f"{insert} UPDATE SET {updates} WHERE {forward} AND ({differs})"), params)
    await bulk.drop_temp_table(session, STAGE_ORDERS)
    return BatchCounts(inserted=inserted, updated=updated, unchanged=orders.height - inserted - updated)


async def _upsert_items(session: AsyncSession, *, tenant_id: int, platform: str, items: pl.DataFrame) -> None:
    """Upsert the lines of the batch's orders (whose rows exist by now), each line forward only."""
    if items.height == 0:
        return
    await bulk.create_temp_table(session, STAGE_ITEMS, ITEM_STAGE_COLUMNS)
    await bulk.load(session, STAGE_ITEMS, ITEM_STAGE_COLUMNS, items)
    stage = bulk.temp_name(session, STAGE_ITEMS)
    params = {"tenant": tenant_id, "platform": platform}
    # A line moves forward only, like an order: never to a lower status, never to a smaller refund.
    await session.execute(
        text(f"""INSERT INTO order_items (tenant_id, platform, order_id, sub_id, title, quantity, paid_fen,
                                          refund_fen, status)
                 SELECT :tenant, :platform, s.order_id, s.sub_id, s.title, s.quantity, s.paid_fen, s.refund_fen,
                        s.status
                 FROM {stage} s WHERE true
                 ON CONFLICT (tenant_id, platform, order_id, sub_id) DO UPDATE SET
                    title = COALESCE(excluded.title, order_items.title), quantity = excluded.quantity,
                    paid_fen = excluded.paid_fen, refund_fen = excluded.refund_fen, status = excluded.status
                 WHERE excluded.refund_fen >= order_items.refund_fen
                   AND {rank_sql("excluded.status")} >= {rank_sql("order_items.status")}
                   AND (excluded.status, excluded.paid_fen, excluded.refund_fen, excluded.quantity)
                       IS DISTINCT FROM (order_items.status, order_items.paid_fen, order_items.refund_fen,
                                         order_items.quantity)"""),
        params,
    )
    await bulk.drop_temp_table(session, STAGE_ITEMS)


async def _settle(session: AsyncSession, *, stage: str, params: dict[str, Any], order_level_amount: bool) -> None:
    """Make each staged (known, locked) order what all its stored lines say, in one statement for the batch.

    From the lines (`fold_orders`' rules): the paid amount (their sum, or the order-level amount), the refund (their
    sum), the item count, the status (every line refunded: refunded; one being refunded: refunding; otherwise the
    lowest line's, see LINE_ORDER). Still forward only: a status lower in rank than the stored one keeps the
    stored one, a smaller refund the stored refund. The file's other fields (title, buyer, times, ...) are kept
    only when the file is not behind: its own folded status is not lower than the stored one; otherwise they are
    emptied, and an empty staged field leaves the stored value as it is."""
    paid = "max(i.paid_fen)" if order_level_amount else "sum(i.paid_fen)"
    order_of = "o.tenant_id = :tenant AND o.platform = :platform AND o.order_id = l.order_id"
    line_of = "i.tenant_id = :tenant AND i.platform = :platform AND i.order_id = l.order_id"
    totals = f"""SELECT l.order_id, o.status AS stored_status, o.status_rank AS stored_rank,
                        o.refund_fen AS stored_refund, {paid} AS paid, sum(i.refund_fen) AS refund,
                        sum(i.quantity) AS quantity, count(*) AS line_count,
                        sum(CASE WHEN i.status = 'refunded' THEN 1 ELSE 0 END) AS refunded,
                        sum(CASE WHEN i.status = 'refunding' THEN 1 ELSE 0 END) AS refunding,
                        min({_line_order_sql("i.status")}) AS lowest
                 FROM {stage} l {bulk.lookup_join(session, "orders", "o", order_of)}
                      {bulk.lookup_join(session, "order_items", "i", line_of)}
                 GROUP BY l.order_id, o.status, o.status_rank, o.refund_fen"""
    decided = f"""SELECT t.*, CASE WHEN t.refunded = t.line_count THEN 'refunded' WHEN t.refunding > 0 THEN 'refunding'
                                   ELSE {_status_of_line_order_sql("t.lowest")} END AS status
                  FROM ({totals}) t"""
    moves = "d.rank >= d.stored_rank"
    behind = "s.status_rank < d.stored_rank"
    kept = ", ".join(f"{c} = CASE WHEN {behind} THEN NULL ELSE s.{c} END" for c in KEEP_WHEN_EMPTY)
    await session.execute(
        text(f"""UPDATE {stage} AS s SET
                    status = CASE WHEN {moves} THEN d.status ELSE d.stored_status END,
                    status_rank = CASE WHEN {moves} THEN d.rank ELSE d.stored_rank END,
                    refund_fen = CASE WHEN d.refund >= d.stored_refund THEN d.refund ELSE d.stored_refund END,
                    paid_fen = d.paid, item_count = d.quantity, {kept}
                 FROM (SELECT x.*, {rank_sql("x.status")} AS rank FROM ({decided}) x) d
                 WHERE s.order_id = d.order_id"""),
        params,
    )


async def add_rejections(session: AsyncSession, *, tenant_id: int, import_id: int, rejected: pl.DataFrame) -> None:
    if rejected.height == 0:
        return
    rows = [
        {"tenant_id": tenant_id, "import_id": import_id, "row": row, "order_id": order_id, "reason": reason}
        for row, order_id, reason in rejected.select("row", "order_id", "reason").iter_rows()
    ]
    await bulk.insert_ignoring_duplicates(session, ImportRejection, rows)


# Imports -------------------------------------------------------------------------------------------


def add(session: AsyncSession, row: OrderImport | ColumnMapping) -> None:
    session.add(row)


async def get_import(session: AsyncSession, *, tenant_id: int, import_id: int) -> OrderImport | None:
    return await session.scalar(
        select(OrderImport).where(of_tenant(OrderImport, tenant_id), OrderImport.id == import_id)
    )


async def written_by_import(session: AsyncSession, *, tenant_id: int, import_id: int) -> tuple[int, int]:
    """Orders this import inserted, and those it last updated (any of its attempts). Scans the tenant's orders:
    run only after an import is retried."""
    row = (
        await session.execute(
            select(
                func.count().filter(Order.first_import_id == import_id),
                func.count().filter(Order.last_import_id == import_id, Order.first_import_id != import_id),
            ).where(of_tenant(Order, tenant_id))
        )
    ).one()
    return int(row[0] or 0), int(row[1] or 0)


async def unfinished_imports(session: AsyncSession, *, limit: int = 500) -> list[OrderImport]:
    """Imports of every tenant still queued or running under a job (for the recovery of abandoned ones)."""
    rows = await session.scalars(
        select(OrderImport)
        .where(OrderImport.status.in_(("queued", "running")), OrderImport.job_id.is_not(None))
        .order_by(OrderImport.created_at)
        .limit(limit)
    )
    return list(rows)


async def find_import_by_hash(session: AsyncSession, *, tenant_id: int, sha256: str) -> OrderImport | None:
    return await session.scalar(
        select(OrderImport)
        .where(of_tenant(OrderImport, tenant_id), OrderImport.sha256 == sha256, OrderImport.status == "done")
        .order_by(OrderImport.created_at)
        .limit(1)
    )


async def find_unfinished_by_hash(
    session: AsyncSession, *, tenant_id: int, sha256: str, requested_platform: str, created_by: str | None
) -> OrderImport | None:
    """The oldest import of this file still queued or running with no job behind it (started from the command line
    by a process that stopped), asked for the same platform by the same kind of requester."""
    return await session.scalar(
        select(OrderImport)
        .where(
            of_tenant(OrderImport, tenant_id),
            OrderImport.sha256 == sha256,
            OrderImport.status.in_(("queued", "running")),
            OrderImport.job_id.is_(None),
            OrderImport.requested_platform == requested_platform,
            OrderImport.created_by == created_by,
        )
        .order_by(OrderImport.created_at, OrderImport.id)
        .limit(1)
    )


async def list_imports(session: AsyncSession, *, tenant_id: int, page: PageRequest) -> Page[OrderImport]:
    statement = select(OrderImport).where(of_tenant(OrderImport, tenant_id))
    total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = await session.scalars(
        statement.order_by(OrderImport.created_at.desc(), OrderImport.id.desc()).offset(page.offset).limit(page.size)
    )
    return Page(items=list(rows), total=total, request=page)


async def rejections(session: AsyncSession, *, tenant_id: int, import_id: int) -> list[ImportRejection]:
    rows = await session.scalars(
        select(ImportRejection)
        .where(of_tenant(ImportRejection, tenant_id), ImportRejection.import_id == import_id)
        .order_by(ImportRejection.row)
    )
    return list(rows)


async def count_changes(session: AsyncSession, *, tenant_id: int, import_id: int) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(OrderChange)
            .where(of_tenant(OrderChange, tenant_id), OrderChange.import_id == import_id)
        )
        or 0
    )


# Orders ---------------------------------------------------------------------------------------------


# A claim reads its order locked, as it is now: built once, with bound parameters (see siyu.tenants.repository).
_LOCKED_ORDER = (
    select(Order)
    .where(
        of_tenant(Order, bindparam("tenant_id")),
        Order.platform == bindparam("platform"),
        Order.order_id == bindparam("order_id"),
    )
    .with_for_update()
    .execution_options(populate_existing=True)
)


_VIEW_COLUMNS = [getattr(Order, f.name) for f in fields(OrderView)]
_LOCKED_VIEW = Fast(
    select(*_VIEW_COLUMNS)
    .where(
        of_tenant(Order, bindparam("tenant_id")),
        Order.platform == bindparam("platform"),
        Order.order_id == bindparam("order_id"),
    )
    .with_for_update()
)


async def read_order(session: AsyncSession, *, tenant_id: int, platform: str, order_id: str) -> OrderView | None:
    """The order as plain values, locked until the transaction ends (a claim's read)."""
    keys = {"tenant_id": tenant_id, "platform": platform, "order_id": order_id}
    row = await _LOCKED_VIEW.one_or_none(session, keys)
    return None if row is None else OrderView(*row)


async def changes_of_import(session: AsyncSession, *, tenant_id: int, import_id: int) -> list[ChangeView]:
    """Every change one import made, with the order as it is now, by platform and order number."""
    rows = await session.execute(
        select(
            OrderChange.platform,
            OrderChange.order_id,
            OrderChange.from_status,
            OrderChange.to_status,
            OrderChange.from_refund_fen,
            OrderChange.to_refund_fen,
            Order.paid_fen,
            Order.completed_at,
        )
        .join(
            Order,
            (Order.tenant_id == OrderChange.tenant_id)
            & (Order.platform == OrderChange.platform)
            & (Order.order_id == OrderChange.order_id),
        )
        .where(of_tenant(OrderChange, tenant_id), OrderChange.import_id == import_id)
        .order_by(OrderChange.platform, OrderChange.order_id)
    )
    return [ChangeView(*row) for row in rows]


async def get_order(
    session: AsyncSession, *, tenant_id: int, platform: str, order_id: str, lock: bool = False
) -> Order | None:
    if lock:
        keys = {"tenant_id": tenant_id, "platform": platform, "order_id": order_id}
        return await session.scalar(_LOCKED_ORDER, keys)
    return await session.get(Order, (tenant_id, platform, order_id))


async def items_of(session: AsyncSession, *, tenant_id: int, platform: str, order_id: str) -> list[SubOrder]:
    rows = await session.scalars(
        select(SubOrder)
        .where(of_tenant(SubOrder, tenant_id), SubOrder.platform == platform, SubOrder.order_id == order_id)
        .order_by(SubOrder.sub_id)
    )
    return list(rows)


async def changes_of(session: AsyncSession, *, tenant_id: int, platform: str, order_id: str) -> list[OrderChange]:
    rows = await session.scalars(
        select(OrderChange)
        .where(
            of_tenant(OrderChange, tenant_id),
            OrderChange.platform == platform,
            OrderChange.order_id == order_id,
        )
        .order_by(OrderChange.created_at, OrderChange.import_id)
    )
    return list(rows)


def _search(
    tenant_id: int,
    *,
    query: str | None,
    platform: str | None,
    status: str | None,
    paid_from: datetime | None,
    paid_to: datetime | None,
) -> Select[Any]:
    statement = select(Order).where(of_tenant(Order, tenant_id))
    if platform:
        statement = statement.where(Order.platform == platform)
    if status:
        statement = statement.where(Order.status == status)
    if paid_from:
        statement = statement.where(Order.paid_at >= paid_from)
    if paid_to:
        statement = statement.where(Order.paid_at < paid_to)
    if query:
        statement = statement.where(
            or_(
                Order.order_id == query,
                Order.order_id.startswith(query, autoescape=True),
                Order.buyer_nick == query,
                Order.buyer_open_uid == query,
                Order.receiver_phone.endswith(query[-4:], autoescape=True)
                if query.isdigit() and len(query) >= 4
                else Order.buyer_nick.contains(query, autoescape=True),
            )
        )
    return statement


ORDER_SORTS: dict[str, Any] = {
    "paid_at": Order.paid_at,
    "paid_fen": Order.paid_fen,
    "refund_fen": Order.refund_fen,
    "status": Order.status,
    "platform": Order.platform,
}


async def search_orders(
    session: AsyncSession,
    *,
    tenant_id: int,
    page: PageRequest,
    query: str | None = None,
    platform: str | None = None,
    status: str | None = None,
    paid_from: datetime | None = None,
    paid_to: datetime | None = None,
    sort: Sort | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> Page[Order]:
    statement = _search(tenant_id, query=query, platform=platform, status=status, paid_from=paid_from, paid_to=paid_to)
    if where:
        statement = statement.where(*where)
    order_by = (sort or Sort("paid_at", descending=True)).order_by(ORDER_SORTS, Order.order_id)
    return await paginate(session, statement, page, order_by)


async def stream_orders(session: AsyncSession, *, tenant_id: int, chunk: int = 5000) -> AsyncIterator[list[Order]]:
    """All orders of a tenant in key order, a chunk at a time (keyset pagination)."""
    last: tuple[str, str] = ("", "")
    while True:
        rows = list(
            await session.scalars(
                select(Order)
                .where(of_tenant(Order, tenant_id))
                .where((Order.platform > last[0]) | ((Order.platform == last[0]) & (Order.order_id > last[1])))
                .order_by(Order.platform, Order.order_id)
                .limit(chunk)
            )
        )
        if not rows:
            return
        yield rows
        last = (rows[-1].platform, rows[-1].order_id)


async def get_mapping(session: AsyncSession, *, tenant_id: int, header_key: str) -> ColumnMapping | None:
    return await session.get(ColumnMapping, (tenant_id, header_key))


async def list_mappings(session: AsyncSession, *, tenant_id: int) -> list[ColumnMapping]:
    rows = await session.scalars(
        select(ColumnMapping).where(of_tenant(ColumnMapping, tenant_id)).order_by(ColumnMapping.name)
    )
    return list(rows)


async def count_imports(session: AsyncSession, *, tenant_id: int, statuses: Sequence[str], since: datetime) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(OrderImport)
            .where(
                of_tenant(OrderImport, tenant_id),
                OrderImport.status.in_(list(statuses)),
                OrderImport.created_at >= since,
            )
        )
        or 0
    )


# Figures for analytics (set-wise; the analytics domain never names this domain's tables)


async def paid_totals(
    session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """Per platform: the orders paid in [start, end) (any status but unpaid) and their paid fen."""
    rows = await session.execute(
        select(Order.platform, func.count(), func.coalesce(func.sum(Order.paid_fen), 0))
        .where(
            of_tenant(Order, tenant_id),
            Order.paid_at >= start,
            Order.paid_at < end,
            Order.status != OrderStatus.unpaid,
        )
        .group_by(Order.platform)
    )
    return {platform: (int(n), int(fen)) for platform, n, fen in rows.tuples()}


async def import_watermark(session: AsyncSession, *, tenant_id: int) -> int:
    """An import id below which every import of the tenant has finished writing its orders (0: none yet).

    Import ids grow with time; an import still running keeps the mark below itself, so orders it writes later
    are still seen as changed by whoever read up to the mark."""
    running = await session.scalar(
        select(func.min(OrderImport.id)).where(
            of_tenant(OrderImport, tenant_id), OrderImport.status.in_(("queued", "running"))
        )
    )
    if running is not None:
        return int(running) - 1
    latest = await session.scalar(select(func.max(OrderImport.id)).where(of_tenant(OrderImport, tenant_id)))
    return int(latest or 0)


async def orders_in_window(
    session: AsyncSession,
    *,
    tenant_id: int,
    platforms: Sequence[str],
    start: datetime,
    end: datetime,
    live_rooms: Sequence[str] = (),
    limit: int = 200_000,
) -> list[OrderView]:
    """Orders of these platforms placed (else paid) in [start, end), and orders carrying one of these live room
    ids whenever they were placed: the candidates a live show's attribution decides on (siyu.live)."""
    placed = (Order.placed_at >= start) & (Order.placed_at < end)
    paid = Order.placed_at.is_(None) & (Order.paid_at >= start) & (Order.paid_at < end)
    conditions: list[ColumnElement[bool]] = [Order.platform.in_(sorted(set(platforms))) & (placed | paid)]
    if live_rooms:
        conditions.append(Order.live_room.in_(sorted(set(live_rooms))))
    rows = await session.execute(
        select(*_VIEW_COLUMNS).where(of_tenant(Order, tenant_id), or_(*conditions)).limit(limit)
    )
    return [OrderView(*row) for row in rows]
