"""Set-wise loading for hot paths: a temporary table filled by COPY (PostgreSQL) or one executemany
(SQLite), so the rest of the work is a few INSERT ... SELECT statements, never a row at a time.

Everything that differs between the two databases lives here.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import polars as pl
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

# Logical column types of a temporary table.
SQL_TYPES = {
    "postgresql": {"text": "TEXT", "int": "BIGINT", "time": "TIMESTAMPTZ"},
    "sqlite": {"text": "TEXT", "int": "INTEGER", "time": "TEXT"},
}
SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%6f"  # how SQLAlchemy stores DateTime on SQLite: comparable as text


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
        frame.write_csv(buffer, include_header=False, null_value="", datetime_format="%Y-%m-%dT%H:%M:%S%.6f%:z")
        buffer.seek(0)
        await driver.copy_to_table(name, source=buffer, columns=names, format="csv", null="")
        return
    times = [column for column, logical in columns if logical == "time"]
    if times:
        frame = frame.with_columns(pl.col(c).dt.convert_time_zone("UTC").dt.strftime(SQLITE_TIME) for c in times)
    placeholders = ", ".join("?" for _ in names)
    await driver.executemany(f"INSERT INTO temp.{name} ({', '.join(names)}) VALUES ({placeholders})", frame.iter_rows())


def lock_rows_clause(session: AsyncSession, alias: str) -> str:
    """Row locks for a SELECT (PostgreSQL); SQLite has one writer at a time and needs none."""
    return f" FOR UPDATE OF {alias}" if dialect(session) == "postgresql" else ""


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
