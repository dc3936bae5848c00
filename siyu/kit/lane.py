"""PostgreSQL connections a server process keeps for its hot routes (a claim, a redemption, a check-in).

A hot route's transaction through an ORM session passes SQLAlchemy's pool and transaction bookkeeping five times
(begin, connection, the driver's BEGIN, commit, close), each a hop through its greenlet: together about a quarter
of a check-in's CPU. A lane connection is checked out of the pool once and kept: its session is bound to it, its
adapter left in autocommit (so SQLAlchemy sends no BEGIN or COMMIT of its own), and each request's transaction is
begun and ended on the driver itself, around the same session. Statements of the ORM and of kit.fast run inside it
alike; a savepoint (begin_nested) is SQL inside it too.

At most `limit` connections (the pool's steady size, see `lane_for`): when all are busy, a request takes the usual
path. Those left idle for `IDLE_S` go back to the pool (`release_idle`, run every few seconds by the app), so other
requests are not kept waiting by a burst that has passed; `close` returns them all when the process stops. A
connection whose transaction could not be ended cleanly is closed, never reused. A connection goes back to the pool
only with its adapter's own setting restored.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from siyu.kit import fast

IDLE_S = 5.0


@dataclass
class _Held:
    connection: AsyncConnection
    adapter: Any  # SQLAlchemy's asyncpg adapter
    driver: Any  # the asyncpg connection
    session: AsyncSession
    idle_since: float = field(default_factory=time.monotonic)


class Lane:
    def __init__(self, engine: AsyncEngine, limit: int) -> None:
        self.engine = engine
        self.limit = limit
        self._idle: list[_Held] = []
        self._open = 0

    @property
    def open(self) -> int:
        return self._open

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession | None]:
        """A session in a transaction on a lane connection, committed when the block ends and rolled back when it
        raises; None when every lane connection is busy (take the usual path). The block must not commit or roll
        back the session itself."""
        held = await self._take()
        if held is None:
            yield None
            return
        session = held.session
        transaction = held.driver.transaction()
        try:
            await transaction.start()
        except BaseException:
            await self._discard(held)
            raise
        # The session's transaction, joined to the connection at once (no statement is sent: SQLAlchemy's BEGIN on
        # an autocommit adapter is none): what is kept per transaction has one key, and a savepoint knows where to go.
        session.sync_session.connection()
        fast.run_on(session, held.driver, self.engine.dialect)
        try:
            yield session
            sync = session.sync_session
            if sync.new or sync.dirty or sync.deleted:
                await session.flush()
            await transaction.commit()
        except BaseException:
            await self._end_failed(held, transaction)
            raise
        self._forget(held)
        self._give_back(held)

    async def _take(self) -> _Held | None:
        while self._idle:
            held = self._idle.pop()
            if not held.driver.is_closed():
                return held
            await self._discard(held)  # the database closed it while it was idle (a restart): never used again
        if self._open >= self.limit:
            return None
        self._open += 1
        try:
            connection = await self.engine.connect()
            raw = await connection.get_raw_connection()
        except BaseException:
            self._open -= 1
            raise
        adapter: Any = raw.dbapi_connection
        adapter.autocommit = True  # SQLAlchemy neither begins nor commits on it: the lane does, on the driver
        session = AsyncSession(bind=connection, expire_on_commit=False)
        return _Held(connection, adapter, raw.driver_connection, session)

    def _forget(self, held: _Held) -> None:
        """The session holds nothing of the request any more (no transaction, no rows, no info)."""
        held.session.sync_session.close()  # no savepoint is left open by a block: no statement is sent
        held.session.info.clear()

    def _give_back(self, held: _Held) -> None:
        held.idle_since = time.monotonic()
        self._idle.append(held)

    async def _end_failed(self, held: _Held, transaction: Any) -> None:
        try:
            if held.session.sync_session.get_nested_transaction() is not None:
                await held.session.close()  # its savepoint rolled back, inside the transaction still open
            self._forget(held)
            await transaction.rollback()
        except BaseException:
            await self._discard(held)
            raise
        if held.driver.is_closed() or held.driver.is_in_transaction():
            await self._discard(held)
        else:
            self._give_back(held)

    async def _discard(self, held: _Held) -> None:
        """Close a connection in an unknown state: it never serves again, and the pool drops it."""
        self._open -= 1
        held.driver.terminate()
        with suppress(Exception):
            await held.connection.invalidate()
        with suppress(Exception):
            await held.connection.close()

    async def _return(self, held: _Held) -> None:
        self._open -= 1
        held.adapter.autocommit = False  # the adapter's own setting, before anyone else gets it
        await held.connection.close()

    async def release_idle(self, older_than: float = IDLE_S) -> int:
        """Give back to the pool the connections idle for `older_than` seconds; how many."""
        now = time.monotonic()
        stale = [held for held in self._idle if now - held.idle_since >= older_than]
        self._idle = [held for held in self._idle if now - held.idle_since < older_than]
        for held in stale:
            await self._return(held)
        return len(stale)

    async def close(self) -> None:
        """Every idle connection back to the pool (the process is stopping)."""
        idle, self._idle = self._idle, []
        for held in idle:
            await self._return(held)


def lane_for(engine: AsyncEngine, *, pool_size: int, max_overflow: int) -> Lane | None:
    """A lane on PostgreSQL (SQLite has one writer at a time and no such bookkeeping to spare) of up to the pool's
    steady size. A pool without overflow keeps one connection out of the lane, so that the other requests always
    have one; a pool of one connection has no lane."""
    limit = pool_size if max_overflow > 0 else pool_size - 1
    return Lane(engine, limit) if engine.dialect.name == "postgresql" and limit > 0 else None
