"""Engine and session factory for SQLite (WAL, foreign keys, busy timeout) and PostgreSQL; migrations."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from siyu.kit import statements

if TYPE_CHECKING:
    from siyu.config import Settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


# Every SQLite connection's settings. The page cache (64 MiB, taken only as it fills) keeps a large table's
# indexes in memory: 1M rows go into a table keyed by text about 1.6x faster than with the default 2 MiB.
SQLITE_PRAGMAS = (
    "journal_mode=WAL",
    "foreign_keys=ON",
    "busy_timeout=10000",
    "synchronous=NORMAL",
    "cache_size=-65536",
)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, open transactions, so SAVEPOINTs work (see _sqlite_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


READ_ONLY = {"siyu_read_only": True}


def _sqlite_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front: a transaction that reads and then writes waits its
    # turn (busy timeout) instead of failing on a lock upgrade. Connections marked READ_ONLY (health
    # checks) begin deferred and never wait for writers (WAL).
    if connection.get_execution_options().get("siyu_read_only"):
        connection.exec_driver_sql("BEGIN")
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def create_engine(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int | None = None,
    pool_timeout: float = 30,
    statement_timeout_ms: int = 0,
    lock_timeout_ms: int = 0,
    pre_ping: bool = False,
) -> AsyncEngine:
    """An engine with a bounded pool: a caller waits at most `pool_timeout` seconds for a connection.

    `max_overflow` defaults to `pool_size`. On PostgreSQL, every connection gets the statement and lock
    timeouts (0: none). Connections are not pinged before each use (a round trip on every request): one the
    database dropped fails once, SQLAlchemy then discards every connection of the pool, and the next request
    opens a fresh one, so the pool heals by itself after a database restart. `pre_ping` checks every connection
    before use instead (for long-lived tools that must not see that one failure).
    """
    pool: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": pool_size if max_overflow is None else max_overflow,
        "pool_timeout": pool_timeout,
        "pool_pre_ping": pre_ping,
    }
    if is_sqlite(url):
        in_memory = make_url(url).database in (None, "", ":memory:")
        engine = create_async_engine(url, connect_args={"timeout": 30}, **({} if in_memory else pool))
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "begin", _sqlite_begin)
        statements.install(engine.sync_engine)
        return engine
    server_settings = {
        name: str(value)
        for name, value in (("statement_timeout", statement_timeout_ms), ("lock_timeout", lock_timeout_ms))
        if value
    }
    # No JIT: compiling a large query's plan costs ~100 ms before it runs, more than it saves on the scans this
    # application asks of PostgreSQL (reports over many rows read the columnar snapshot).
    server_settings["jit"] = "off"
    engine = create_async_engine(url, connect_args={"server_settings": server_settings}, **pool)
    statements.install(engine.sync_engine)
    return engine


def engine_for(settings: Settings, *, jobs: bool = False) -> AsyncEngine:
    """The configured engine of a server process, or (jobs=True) of a worker or command."""
    return create_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=30 if jobs else settings.db_pool_timeout,  # a job may wait its turn; a request may not
        statement_timeout_ms=settings.db_job_statement_timeout_ms if jobs else settings.db_statement_timeout_ms,
        lock_timeout_ms=settings.db_lock_timeout_ms,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Run the migrations (synchronously; call from a thread when an event loop is running)."""
    from alembic import command

    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    from alembic import command

    command.downgrade(alembic_config(url), revision)
