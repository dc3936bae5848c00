"""The queries of the ledger's batch path (siyu.ledger.batch), set-wise: keys are staged in a temporary table
(COPY on PostgreSQL, one executemany on SQLite, by siyu.kit.bulk) and every statement works on the whole set,
probing the ledger's tables by index one staged row at a time, whatever the planner believes about a
temporary table that has no statistics.

Each query is scoped to a tenant."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit import bulk
from siyu.kit.types import UTCDateTime

# Staged rows, by table name and columns (logical types of siyu.kit.bulk).
MEMBERS = "ledger_batch_members"
MEMBER_COLUMNS = [("member_id", "int")]
LOTS = "ledger_batch_lots"
LOT_ID_COLUMNS = [("id", "int")]
DELTAS = "ledger_batch_deltas"
DELTA_COLUMNS = [("member_id", "int"), ("available", "int"), ("pending", "int")]

# Rows written straight into the ledger's tables (bulk.insert_new); tenant_id and created_at are constants.
ENTRY_COLUMNS = [
    ("id", "int"),
    ("member_id", "int"),
    ("kind", "text"),
    ("amount", "int"),
    ("pending_amount", "int"),
    ("source_ref", "text"),
    ("lot_id", "int"),
    ("explanation", "text"),
]
LOT_COLUMNS = [
    ("id", "int"),
    ("member_id", "int"),
    ("entry_id", "int"),
    ("source_ref", "text"),
    ("amount", "int"),
    ("remaining", "int"),
    ("status", "text"),
    ("post_after", "time"),
    ("expires_at", "time"),
]
ALLOCATION_COLUMNS = [("entry_id", "int"), ("lot_id", "int"), ("amount", "int")]

_POLARS_TYPES: dict[str, pl.DataType] = {"int": pl.Int64(), "text": pl.String(), "time": pl.Datetime("us", "UTC")}


def frame(columns: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> pl.DataFrame:
    """Rows (tuples in the order of `columns`) as a frame with the columns' types (times: aware, UTC)."""
    schema = {name: _POLARS_TYPES[logical] for name, logical in columns}
    return pl.DataFrame(list(rows), schema=schema, orient="row")


def _probe(session: AsyncSession, table: str, alias: str, condition: str, *, index: str | None = None) -> str:
    """An inner join from the staged table `s` to `table` by index, one probe per staged row. SQLite's planner
    may otherwise drive from the ledger table (through an index matching a constant filter) and scan the
    staged table, which has no index, for each of its rows: CROSS JOIN keeps the staged table outside. Without
    statistics (the app does not ANALYZE) it may also probe through the wrong index: `index` names the one."""
    if bulk.dialect(session) == "postgresql":
        return bulk.lookup_join(session, table, alias, condition)
    indexed = f" INDEXED BY {index}" if index else ""
    return f"CROSS JOIN {table} {alias}{indexed} ON {condition}"


def _statement(sql: str) -> Any:
    """A text statement whose :now is bound as a stored time (SQLite compares times as text)."""
    statement = text(sql)
    if ":now" in sql:
        statement = statement.bindparams(bindparam("now", type_=UTCDateTime()))
    return statement


# Staging


async def stage(session: AsyncSession, name: str, columns: Sequence[tuple[str, str]], rows: pl.DataFrame) -> str:
    """A fresh temporary table `name` holding `rows`; returns how to name it in SQL."""
    await drop(session, name)
    await bulk.create_temp_table(session, name, columns)
    await bulk.load(session, name, columns, rows)
    return bulk.temp_name(session, name)


async def drop(session: AsyncSession, name: str) -> None:
    """Drop a staged table now (PostgreSQL would keep it until commit: a second batch in the same transaction
    stages again)."""
    schema = "pg_temp" if bulk.dialect(session) == "postgresql" else "temp"
    await session.execute(text(f"DROP TABLE IF EXISTS {schema}.{name}"))


async def stage_ids(session: AsyncSession, name: str, column: str, ids: Sequence[int]) -> str:
    return await stage(session, name, [(column, "int")], frame([(column, "int")], [(i,) for i in ids]))


# Members and their balances


async def first_unknown_member(session: AsyncSession, *, tenant_id: int, members: str) -> int | None:
    """A staged member id that is not a member of this tenant (None: all are)."""
    join = bulk.lookup_join(session, "members", "m", "m.tenant_id = :t AND m.id = s.member_id", outer=True)
    statement = f"SELECT s.member_id FROM {members} s {join} WHERE m.id IS NULL ORDER BY s.member_id LIMIT 1"
    return (await session.execute(text(statement), {"t": tenant_id})).scalar()


async def lock_balances(session: AsyncSession, *, tenant_id: int, members: str, now: datetime) -> None:
    """Lock the staged members' balance rows in member-id order, creating the missing ones.

    One statement does both, row by row in member-id order: a missing row is inserted (and so held by this
    transaction), an existing one is locked by ON CONFLICT DO UPDATE, whose WHERE false locks without changing
    it (PostgreSQL). Locking the existing rows with SELECT ... FOR UPDATE after inserting the missing ones would
    hold a new row before an older, lower one: a service operation that locks the lower one first and then
    creates the new one would deadlock with us. SQLite runs one writer at a time and only inserts here."""
    statement = f"""
        INSERT INTO ledger_balances (tenant_id, member_id, available, pending, debt, updated_at)
        SELECT :t, s.member_id, 0, 0, 0, :now FROM {members} s WHERE true ORDER BY s.member_id
        ON CONFLICT (tenant_id, member_id) DO UPDATE SET updated_at = ledger_balances.updated_at WHERE false"""
    await session.execute(_statement(statement), {"t": tenant_id, "now": now})


@dataclass(frozen=True)
class Special:
    """A staged member the set-wise path leaves to the service: in debt, or merged into another member."""

    member_id: int
    debt: int
    merged_into: int | None


async def special_accounts(session: AsyncSession, *, tenant_id: int, members: str) -> dict[int, Special]:
    """The staged members (balance rows locked) with debt or merged away."""
    join = _probe(session, "ledger_balances", "b", "b.tenant_id = :t AND b.member_id = s.member_id")
    statement = f"""SELECT b.member_id, b.debt, b.merged_into FROM {members} s {join}
                    WHERE b.debt > 0 OR b.merged_into IS NOT NULL"""
    rows = await session.execute(text(statement), {"t": tenant_id})
    return {row.member_id: Special(row.member_id, row.debt, row.merged_into) for row in rows}


async def update_balances(session: AsyncSession, *, tenant_id: int, deltas: pl.DataFrame, now: datetime) -> None:
    """Add the deltas (member_id, available, pending; one row per member) to the members' (locked) balances."""
    if deltas.height == 0:
        return
    staged = await stage(session, DELTAS, DELTA_COLUMNS, deltas)
    changed = await _update_rows(
        session,
        table="ledger_balances",
        key="member_id",
        stage=staged,
        assignments="available = t.available + s.available, pending = t.pending + s.pending, updated_at = :now",
        params={"t": tenant_id, "now": now},
    )
    await drop(session, DELTAS)
    if changed != deltas.height:
        raise RuntimeError(f"balances of {deltas.height} members to change, {changed} found")


# Lots


async def due_lots(session: AsyncSession, *, tenant_id: int, members: str, now: datetime) -> list[Any]:
    """The staged members' posted lots past their expiry that still hold points (id, member_id, remaining),
    by member then id."""
    join = _probe(
        session,
        "ledger_lots",
        "l",
        "l.tenant_id = :t AND l.member_id = s.member_id AND l.status = 'posted' AND l.expires_at <= :now"
        " AND l.remaining > 0",
        # (not the tenant's expired lots by (tenant_id, status, expires_at), once per member)
        index="ix_ledger_lots_tenant_id_member_id_status",
    )
    statement = f"SELECT l.id, l.member_id, l.remaining FROM {members} s {join} ORDER BY l.member_id, l.id"
    return list(await session.execute(_statement(statement), {"t": tenant_id, "now": now}))


async def pending_due(session: AsyncSession, *, tenant_id: int, now: datetime, limit: int) -> list[Any]:
    """Held lots whose hold has ended (id, member_id), the longest due first."""
    statement = """SELECT id, member_id FROM ledger_lots
                   WHERE tenant_id = :t AND status = 'pending' AND post_after <= :now
                   ORDER BY post_after, id LIMIT :limit"""
    return list(await session.execute(_statement(statement), {"t": tenant_id, "now": now, "limit": limit}))


async def pending_lots(session: AsyncSession, *, tenant_id: int, lots: str, now: datetime) -> list[Any]:
    """The staged lots that are (still) held, read again now that their owners are locked, in the staged order:
    id, member_id, source_ref, remaining, and whether the lot has expired by `now`."""
    join = _probe(session, "ledger_lots", "l", "l.tenant_id = :t AND l.id = s.id")
    statement = f"""SELECT l.id, l.member_id, l.source_ref, l.remaining,
                           CASE WHEN l.expires_at <= :now THEN 1 ELSE 0 END AS expired
                    FROM {lots} s {join} WHERE l.status = 'pending' ORDER BY s.position"""
    return list(await session.execute(_statement(statement), {"t": tenant_id, "now": now}))


async def stage_lot_order(session: AsyncSession, lot_ids: Sequence[int]) -> str:
    """Stage lot ids with their position (pending_lots returns them in this order)."""
    columns = [("id", "int"), ("position", "int")]
    return await stage(session, LOTS, columns, frame(columns, [(lot_id, n) for n, lot_id in enumerate(lot_ids)]))


async def update_lots(session: AsyncSession, *, tenant_id: int, lot_ids: Sequence[int], assignments: str) -> int:
    """Apply `assignments` (the lot is `t`) to the given lots; returns how many were changed."""
    if not lot_ids:
        return 0
    staged = await stage_ids(session, LOTS, "id", lot_ids)
    changed = await _update_rows(
        session, table="ledger_lots", key="id", stage=staged, assignments=assignments, params={"t": tenant_id}
    )
    await drop(session, LOTS)
    return changed


async def _update_rows(
    session: AsyncSession, *, table: str, key: str, stage: str, assignments: str, params: dict[str, Any]
) -> int:
    """UPDATE the rows of `table` (alias t) of tenant :t whose `key` is staged (alias s; one row per key).

    PostgreSQL finds each row with one index probe (a LATERAL subquery behind an optimisation fence) and updates
    it by its ctid: a join planned from the staged table's missing statistics could scan the whole table."""
    if bulk.dialect(session) == "postgresql":
        statement = f"""UPDATE {table} t SET {assignments}
            FROM (SELECT r.row_id, s.* FROM {stage} s
                  CROSS JOIN LATERAL (SELECT ctid AS row_id FROM {table} t
                                      WHERE t.tenant_id = :t AND t.{key} = s.{key} OFFSET 0) r) s
            WHERE t.ctid = s.row_id"""
    else:
        statement = f"UPDATE {table} AS t SET {assignments} FROM {stage} s WHERE t.tenant_id = :t AND t.{key} = s.{key}"
    result = await session.execute(_statement(statement), params)
    return int(result.rowcount)  # type: ignore[attr-defined]
