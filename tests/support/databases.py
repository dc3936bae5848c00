"""Create, migrate and drop throw-away databases for the suite (SQLite files or PostgreSQL databases)."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from siyu.db import upgrade

PG_ADMIN_URL = os.environ.get("SIYU_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")


def backend() -> str:
    return os.environ.get("SIYU_TEST_DATABASE", "sqlite")


async def _pg_admin(statement: str) -> None:
    connection = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


def _pg_url(name: str) -> str:
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


@contextmanager
def fresh_database(directory: Path, tag: str, *, migrate: bool = True) -> Iterator[str]:
    """A new empty database built by the real migrations; dropped afterwards."""
    if backend() == "postgres":
        name = f"siyu_test_{tag}_{os.getpid()}_{secrets.token_hex(3)}"
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        url = _pg_url(name)
        try:
            if migrate:
                upgrade(url)
            yield url
        finally:
            asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        path = directory / f"{tag}-{secrets.token_hex(3)}.db"
        url = f"sqlite+aiosqlite:///{path}"
        if migrate:
            upgrade(url)
        yield url
