"""Statements of the hot paths (a claim, a redemption, a draw) run on the session's own driver connection.

Going through `session.execute` costs about three times the driver's own work for a one-row statement (ORM
execution options, the compiled-cache lookup, a result object): on a claim of nine statements that is most of
its CPU. A `Fast` statement is a Core statement compiled once per dialect; it runs inside the session's current
transaction, on the same connection, with the same bind and result conversions SQLAlchemy would apply, and a
broken unique key still raises SQLAlchemy's IntegrityError, so callers treat both paths alike.

When the connection has no transaction open yet (SQLAlchemy's asyncpg adapter opens it with the first statement),
the adapter is asked to open it first.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import Executable

from siyu.kit import statements


@dataclass(frozen=True)
class _Compiled:
    sql: str
    names: tuple[str, ...]  # bound parameters in the order the driver takes them
    fixed: dict[str, Any]  # values written into the statement (e.g. a status compared with)
    binds: tuple[Callable[[Any], Any] | None, ...]
    results: tuple[Callable[[Any], Any] | None, ...]
    returns_rows: bool


CONNECTION = "siyu.fast.connection"


class Fast:
    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._compiled: dict[str, _Compiled] = {}

    def _compile(self, dialect: Dialect) -> _Compiled:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            c: Any = self.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
            names = tuple(c.positiontup or ())
            processors = c._bind_processors
            results = tuple(column[3]._cached_result_processor(dialect, None) for column in (c._result_columns or ()))
            compiled = _Compiled(
                sql=c.string,
                names=names,
                fixed={name: bind.value for name, bind in c.binds.items() if bind.value is not None},
                binds=tuple(processors.get(name) for name in names),
                results=results,
                returns_rows=bool(c._result_columns),
            )
            self._compiled[dialect.name] = compiled
        return compiled

    async def rows(self, session: AsyncSession, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """The rows a SELECT (or a statement with RETURNING) gives."""
        rows, _count = await self._run(session, params)
        return rows

    async def one_or_none(self, session: AsyncSession, params: dict[str, Any]) -> tuple[Any, ...] | None:
        rows, _count = await self._run(session, params)
        return rows[0] if rows else None

    async def scalar(self, session: AsyncSession, params: dict[str, Any]) -> Any:
        row = await self.one_or_none(session, params)
        return None if row is None else row[0]

    async def execute(self, session: AsyncSession, params: dict[str, Any]) -> int:
        """Run an INSERT / UPDATE / DELETE; returns the rows it changed."""
        _rows, count = await self._run(session, params)
        return count

    async def _run(self, session: AsyncSession, params: dict[str, Any]) -> Rows:
        found = _driver_of(session)
        if found is None:
            connection = await session.connection()
            driver = await _driver(connection)
            if driver is None:  # no transaction on the driver connection yet: SQLAlchemy opens it
                result: Any = await connection.execute(self.statement, params)
                rows = [tuple(row) for row in result] if result.returns_rows else []
                return rows, int(result.rowcount or 0) if not result.returns_rows else len(rows)
            found = _remember(session, driver, connection.dialect)
        driver, dialect = found
        compiled = self._compile(dialect)
        if statements.enabled():
            statements.counted()
        args = [
            value if bind is None else bind(value)
            for bind, value in zip(
                compiled.binds, (params[n] if n in params else compiled.fixed[n] for n in compiled.names), strict=True
            )
        ]
        try:
            if isinstance(driver, asyncpg.Connection):
                return await _asyncpg(driver, compiled, args)
            return await _sqlite(driver, compiled, args)
        except (asyncpg.IntegrityConstraintViolationError, sqlite3.IntegrityError) as error:
            raise exc.IntegrityError(compiled.sql, args, error) from error


def _driver_of(session: AsyncSession) -> tuple[Any, Dialect] | None:
    """The driver connection this session's current transaction runs on, once a Fast statement has found it (asking
    the session for its connection each time costs a greenlet switch)."""
    kept = session.info.get(CONNECTION)
    transaction = _current(session)
    if kept is None or transaction is None or kept[0] is not transaction:
        return None  # first in this transaction or savepoint: the session joins it to its connection (SAVEPOINT)
    return kept[1], kept[2]


def _current(session: AsyncSession) -> Any:
    sync = session.sync_session
    return sync.get_nested_transaction() or sync.get_transaction()


def _remember(session: AsyncSession, driver: Any, dialect: Dialect) -> tuple[Any, Dialect]:
    session.info[CONNECTION] = (_current(session), driver, dialect)
    return driver, dialect


def run_on(session: AsyncSession, driver: Any, dialect: Dialect) -> None:
    """The session's transaction, already joined to its connection, runs on this driver connection (siyu.kit.lane)."""
    _remember(session, driver, dialect)


async def _driver(connection: AsyncConnection) -> Any:
    """The session's driver connection (asyncpg / aiosqlite) with a transaction open on it, else None.

    SQLAlchemy's asyncpg adapter sends BEGIN with the first statement it runs; when it has not yet, the adapter is
    asked to begin right here (the same call it makes itself, so its commit and rollback stay in charge), which
    spares the first statement a trip through SQLAlchemy's execution."""
    sync = connection.sync_connection
    if sync is not None and not sync.closed and not sync.invalidated:
        raw = sync.connection  # checked out and valid: an attribute away
    else:
        raw = await connection.get_raw_connection()  # SQLAlchemy revalidates it (I/O)
    driver = raw.driver_connection
    if isinstance(driver, asyncpg.Connection):
        if not driver.is_in_transaction():
            adapter = raw.dbapi_connection
            begin = getattr(adapter, "_start_transaction", None)
            if begin is None or getattr(adapter, "_transaction", False) is not None:
                return None  # an adapter that works otherwise: the first statement goes through SQLAlchemy
            await begin()
        return driver
    return driver if getattr(driver, "in_transaction", False) else None


def _converted(compiled: _Compiled, rows: Sequence[Any]) -> list[tuple[Any, ...]]:
    if not any(compiled.results):
        return [tuple(row) for row in rows]
    return [
        tuple(
            value if convert is None else convert(value) for convert, value in zip(compiled.results, row, strict=True)
        )
        for row in rows
    ]


Rows = tuple[list[tuple[Any, ...]], int]  # (rows, rows changed or returned)


async def _asyncpg(driver: asyncpg.Connection, compiled: _Compiled, args: list[Any]) -> Rows:
    if compiled.returns_rows:
        rows = await driver.fetch(compiled.sql, *args)
        return _converted(compiled, rows), len(rows)
    status = await driver.execute(compiled.sql, *args)  # e.g. "UPDATE 1", "INSERT 0 1"
    return [], int(status.rsplit(" ", 1)[-1]) if status and status[-1].isdigit() else 0


async def _sqlite(driver: Any, compiled: _Compiled, args: list[Any]) -> Rows:
    cursor = await driver.execute(compiled.sql, args)
    try:
        if compiled.returns_rows:
            rows = await cursor.fetchall()
            return _converted(compiled, rows), len(rows)
        return [], int(cursor.rowcount)
    finally:
        await cursor.close()
