"""Exit 0 when the test PostgreSQL server answers (SIYU_TEST_PG_ADMIN_URL, default CI's)."""

import asyncio
import os
import sys

import asyncpg

URL = os.environ.get("SIYU_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")


async def main() -> int:
    try:
        connection = await asyncpg.connect(URL, timeout=3)
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return 1
    await connection.close()
    return 0


sys.exit(asyncio.run(main()))
