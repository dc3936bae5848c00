"""Set-wise loading for hot paths: a temporary table filled by COPY (PostgreSQL) or one executemany
(SQLite), so the rest of the work is a few INSERT ... SELECT statements, never a row at a time; rows that
are certainly new go straight into their table the same way (`insert_new`), and keys are looked up with
one index probe each (`existing_keys`, `lookup_join`) whatever the planner thinks of a freshly filled table.

Everything that differs between the two databases lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import io
import json
import sqlite3
import tempfile
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import polars as pl
from sqlalchemy import BigInteger, Select, cast, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.types import UTCDateTime

# Logical column types of a temporary table.
SQL_TYPES = {
    "postgresql": {"text": "TEXT", "int": "BIGINT", "time": "TIMESTAMPTZ"},
    "sqlite": {"text": "TEXT", "int": "INTEGER", "time": "TEXT"},
}
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%6f"  # how SQLAlchemy stores DateTime on SQLite: comparable as text
PG_TIME = "%Y-%m-%dT%H:%M:%S%.6f%:z"
COPY_PIECE_ROWS = 5_000
# Page cache for a bulk transaction on SQLite (KiB): index pages of a large table stay in memory while a batch
# lands. The connection's own setting is restored when the transaction's work is done.
SQLITE_BULK_CACHE_KIB = 64 * 1024
# What a plain INSERT/COPY raises when a key is already there (or an overlapping writer got there first).
KEY_TAKEN = (asyncpg.exceptions.UniqueViolationError, asyncpg.exceptions.DeadlockDetectedError, sqlite3.IntegrityError)
SQLITE_KEY_TAKEN = {1555, 2067}  # SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE (other constraints raise)


def dialect(session: AsyncSession) -> str:
    bind = session.get_bind()
    return bind.dialect.name


async def create_temp_table(session: AsyncSession, name: str, columns: Sequence[tuple[str, str]]) -> None:
    """A temporary table for this transaction (dropped at commit on PostgreSQL, replaced on SQLite)."""
    kind = dialect(session)
    types = SQL_TYPES[kind]
    body = ", ".join(f"{column} {types[logical]}" for column, logical in columns)
    if kind == "postgresql":
        await session.execute(text(f"CREATE TEMP TABLE {name} ({body}) ON COMMIT DROP"))
    else:
        await session.execute(text(f"DROP TABLE IF EXISTS temp.{name}"))
        await session.execute(text(f"CREATE TEMP TABLE {name} ({body})"))


async def drop_temp_table(session: AsyncSession, name: str) -> None:
    if dialect(session) == "sqlite":
        await session.execute(text(f"DROP TABLE IF EXISTS temp.{name}"))


async def _driver_connection(session: AsyncSession) -> Any:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    return raw.driver_connection


async def load(session: AsyncSession, name: str, columns: Sequence[tuple[str, str]], frame: pl.DataFrame) -> None:
    """Append `frame` (columns in the same order as `columns`) to the temporary table `name`."""
    if frame.height == 0:
        return
    names = [column for column, _ in columns]
    frame = frame.select(names)
    driver = await _driver_connection(session)
    if dialect(session) == "postgresql":
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=False, null_value="", datetime_format=PG_TIME)
        buffer.seek(0)
        await driver.copy_to_table(name, source=buffer, columns=names, format="csv", null="")
        return
    times = [column for column, logical in columns if logical == "time"]
    if times:
        frame = frame.with_columns(pl.col(c).dt.convert_time_zone("UTC").dt.strftime(SQLITE_TIME) for c in times)
    placeholders = ", ".join("?" for _ in names)
    await _executemany_pipelined(driver, f"INSERT INTO temp.{name} ({', '.join(names)}) VALUES ({placeholders})", frame)


async def existing_keys(
    session: AsyncSession, table: str, *, fixed: Mapping[str, Any], key: str, values: Sequence[str], lock: bool
) -> set[str]:
    """Which of `values` are keys of rows of `table` that match `fixed` (column = value), by index lookups.

    With `lock`, PostgreSQL locks those rows FOR UPDATE in key order (SQLite has one writer and needs none)."""
    if not values:
        return set()
    where = " AND ".join(f"{column} = :fixed_{column}" for column in fixed)
    params: dict[str, Any] = {f"fixed_{column}": value for column, value in fixed.items()}
    if dialect(session) == "postgresql":
        # One index probe per key, in the keys' order (so rows are locked in that order), whatever the planner
        # believes about the table: a freshly loaded table has no statistics, and `key = ANY(array)` is then
        # planned as a filter over all the tenant's rows.
        statement = (
            f"SELECT t.{key} FROM unnest(CAST(:keys AS TEXT[])) AS k(value) CROSS JOIN LATERAL "
            f"(SELECT {key} FROM {table} WHERE {where} AND {key} = k.value{' FOR UPDATE' if lock else ' OFFSET 0'}) t"
        )
        params["keys"] = sorted(values)
    else:
        statement = f"SELECT {key} FROM {table} WHERE {where} AND {key} IN (SELECT value FROM json_each(:keys))"
        params["keys"] = json.dumps(list(values))
    result = await session.execute(text(statement), params)
    return {row[0] for row in result}


async def _csv_pieces(frame: pl.DataFrame) -> AsyncIterator[bytes]:
    """`frame` as CSV for COPY, a piece at a time, each written in a worker thread: the server parses and inserts
    one piece while the next is being written."""

    def write(piece: pl.DataFrame) -> bytes:
        buffer = io.BytesIO()
        piece.write_csv(buffer, include_header=False, null_value="", datetime_format=PG_TIME)
        return buffer.getvalue()

    for start in range(0, frame.height, COPY_PIECE_ROWS):
        yield await asyncio.to_thread(write, frame.slice(start, COPY_PIECE_ROWS))


def _sqlite_literal(value: int | str | datetime) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str | datetime):
        raise TypeError(f"not a constant for SQL: {value!r}")
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, datetime):
        value = value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLITE_TIME
    return "'" + str(value).replace("'", "''") + "'"


PIPELINE_ROWS = 20_000


async def _executemany_pipelined(driver: Any, statement: str, frame: pl.DataFrame) -> None:
    """One executemany per piece of `frame`, the next piece's Python rows made in a thread meanwhile: SQLite lets
    go of the GIL while it writes, so making the rows no longer adds to the time the writes take."""
    pieces = [frame.slice(start, PIPELINE_ROWS) for start in range(0, frame.height, PIPELINE_ROWS)]
    upcoming = asyncio.ensure_future(asyncio.to_thread(pieces[0].rows))
    try:
        for index in range(len(pieces)):
            rows = await upcoming
            if index + 1 < len(pieces):
                upcoming = asyncio.ensure_future(asyncio.to_thread(pieces[index + 1].rows))
            await driver.executemany(statement, rows)
    finally:
        if not upcoming.done():  # a failed write: let the thread finish before the frame goes
            with contextlib.suppress(Exception):
                await upcoming


async def insert_new(
    session: AsyncSession,
    table: str,
    columns: Sequence[tuple[str, str]],
    frame: pl.DataFrame,
    constants: Mapping[str, int | str | datetime],
) -> bool:
    """Plain INSERT of rows whose keys are new (COPY on PostgreSQL, one executemany on SQLite), in a SAVEPOINT.

    Every row gets `constants` too; columns that are empty in the whole frame are left to their default (NULL).
    Returns False, having written nothing, when a key turned out to exist (a concurrent writer inserted it since
    the caller looked): the caller then takes its upsert path."""
    if frame.height == 0:
        return True
    names = [column for column, _ in columns if frame[column].null_count() < frame.height]
    frame = frame.select(names)
    try:
        async with session.begin_nested():
            driver = await _driver_connection(session)
            if dialect(session) == "postgresql":
                frame = frame.with_columns(pl.lit(value).alias(column) for column, value in constants.items())
                await driver.copy_to_table(
                    table, source=_csv_pieces(frame), columns=frame.columns, format="csv", null=""
                )
            else:
                times = [column for column, logical in columns if logical == "time" and column in names]
                if times:
                    frame = frame.with_columns(
                        pl.col(c).dt.convert_time_zone("UTC").dt.strftime(SQLITE_TIME) for c in times
                    )
                # Constants go into the statement as literals: one value fewer to bind per row and column.
                values = ["?"] * len(names) + [_sqlite_literal(value) for value in constants.values()]
                statement = f"INSERT INTO {table} ({', '.join([*names, *constants])}) VALUES ({', '.join(values)})"
                await _executemany_pipelined(driver, statement, frame)
    except KEY_TAKEN as error:
        if isinstance(error, sqlite3.IntegrityError) and error.sqlite_errorcode not in SQLITE_KEY_TAKEN:
            raise
        return False
    return True


@asynccontextmanager
async def bulk_work(session: AsyncSession) -> AsyncIterator[None]:
    """Settings for a bulk transaction, undone afterwards: a large page cache on SQLite; nothing on PostgreSQL."""
    if dialect(session) != "sqlite":
        yield
        return
    previous = int((await session.execute(text("PRAGMA cache_size"))).scalar_one())
    await session.execute(text(f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}"))
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # (a failed transaction's own error is the one to report)
            await session.execute(text(f"PRAGMA cache_size = {previous}"))


def lookup_join(session: AsyncSession, table: str, alias: str, condition: str, *, outer: bool = False) -> str:
    """A join to `table` AS `alias` on `condition` (its whole key), done as one index probe per outer row.

    PostgreSQL gets a LATERAL subquery with an optimisation fence, so a table without statistics yet (a large
    first import) is not planned as a scan of all the tenant's rows per row. SQLite gets a CROSS JOIN, which its
    planner never reorders: left to itself, it may loop over every row of the tenant in `table` (an index range
    on tenant and platform) and scan the outer rows for each."""
    if dialect(session) == "postgresql":
        kind = "LEFT JOIN" if outer else "JOIN"
        return f"{kind} LATERAL (SELECT * FROM {table} {alias} WHERE {condition} OFFSET 0) {alias} ON true"
    return f"{'LEFT JOIN' if outer else 'CROSS JOIN'} {table} {alias} ON {condition}"


def temp_name(session: AsyncSession, name: str) -> str:
    return f"temp.{name}" if dialect(session) == "sqlite" else name


async def insert_ignoring_duplicates(session: AsyncSession, model: Any, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING for a list of rows."""
    if not rows:
        return
    if dialect(session) == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        await session.execute(pg_insert(model).on_conflict_do_nothing(), rows)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        await session.execute(sqlite_insert(model).on_conflict_do_nothing(), rows)


@asynccontextmanager
async def bulk_reads(session: AsyncSession, *, work_mem: str) -> AsyncIterator[None]:
    """Statements that read a whole tenant: on PostgreSQL `work_mem` for their sorts and hashes (the default 4MB
    would spill them to disk or push the planner onto random index reads), for this transaction's statements inside
    the block; the previous setting afterwards. (JIT is off on every connection: siyu.db.)"""
    if dialect(session) != "postgresql":
        yield
        return
    previous = await session.scalar(text("SELECT current_setting('work_mem')"))
    setting = text("SELECT set_config('work_mem', :work_mem, true)")
    await session.execute(setting, {"work_mem": work_mem})
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # (a failed transaction's own error is the one to report)
            await session.execute(setting, {"work_mem": previous})


async def frames_of(
    session: AsyncSession, statement: Select[*tuple[Any, ...]], *, chunk: int = 200_000
) -> AsyncIterator[pl.DataFrame]:
    """The rows of `statement` as frames named by its columns, times as naive UTC (microseconds).

    PostgreSQL: one COPY (...) TO STDOUT into a temporary CSV file that Polars reads (times sent as epoch
    microseconds, so no text format of a time is parsed); SQLite: the rows streamed `chunk` at a time."""
    columns = list(statement.selected_columns)
    names = [str(column.key) for column in columns]
    times = {str(column.key) for column in columns if isinstance(column.type, UTCDateTime)}
    if dialect(session) != "postgresql":
        result = await session.stream(statement.execution_options(yield_per=chunk))
        async for part in result.partitions(chunk):
            frame = pl.DataFrame([tuple(row) for row in part], schema=names, orient="row", infer_schema_length=None)
            yield frame.with_columns(
                pl.col(name).cast(pl.Datetime("us", "UTC")).dt.replace_time_zone(None) for name in times
            )
        return
    inner = statement.subquery()
    outer = select(
        *(
            cast(func.floor(func.extract("epoch", inner.c[name]) * 1_000_000), BigInteger).label(name)
            if name in times
            else inner.c[name]
            for name in names
        )
    )
    compiled = outer.compile(dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True})
    params = [compiled.params[name] for name in compiled.positiontup or ()]
    params = [value.value if isinstance(value, enum.Enum) else value for value in params]
    driver = await _driver_connection(session)
    with tempfile.TemporaryDirectory(prefix="siyu-copy-") as workdir:
        target = Path(workdir) / "rows.csv"
        await driver.copy_from_query(str(compiled), *params, output=str(target), format="csv")
        if target.stat().st_size == 0:
            return
        frame = pl.read_csv(target, has_header=False, new_columns=names, infer_schema_length=10_000)
    yield frame.with_columns(pl.from_epoch(pl.col(name).cast(pl.Int64), time_unit="us").alias(name) for name in times)
