"""What every benchmark shares: progress lines, and a throw-away database of its own on the URL's server."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path


def say(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def backend_name(url: str) -> str:
    from sqlalchemy.engine import make_url

    return "postgresql" if make_url(url).get_backend_name() == "postgresql" else "sqlite"


def asyncpg_dsn(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


async def pg_admin(url: str, statement: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextmanager
def bench_database(url: str, workdir: Path, tag: str, prepare: Callable[[str], None] | None = None) -> Iterator[str]:
    """A new database migrated by the real migrations (then `prepare`d); dropped (PostgreSQL: through the URL's
    own database) or deleted (SQLite: a file in `workdir`) afterwards."""
    from sqlalchemy.engine import make_url

    from siyu.db import upgrade

    if backend_name(url) == "postgresql":
        name = f"siyu_bench_{secrets.token_hex(4)}"
        asyncio.run(pg_admin(url, f'CREATE DATABASE "{name}"'))
        bench_url = make_url(url).set(database=name).render_as_string(hide_password=False)
        say(f"created database {name}")
        try:
            upgrade(bench_url)
            if prepare is not None:
                prepare(bench_url)
            yield bench_url
        finally:
            asyncio.run(pg_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            say(f"dropped database {name}")
    else:
        path = workdir / f"siyu-bench-{tag}-{secrets.token_hex(3)}.db"
        bench_url = f"sqlite+aiosqlite:///{path}"
        try:
            upgrade(bench_url)
            if prepare is not None:
                prepare(bench_url)
            yield bench_url
        finally:
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
