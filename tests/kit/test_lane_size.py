"""How many connections the hot routes' lane may keep (siyu.kit.lane.lane_for): no connection is made here."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from siyu.db import create_engine
from siyu.kit.lane import lane_for


@pytest.fixture
async def postgres() -> AsyncIterator[AsyncEngine]:
    engine = create_engine("postgresql+asyncpg://nobody@127.0.0.1:1/none")  # never connected to
    yield engine
    await engine.dispose()


@pytest.mark.parametrize(
    ("pool_size", "max_overflow", "limit"),
    [(10, 5, 10), (32, 1, 32), (10, 0, 9), (2, 0, 1), (1, 0, None), (1, 3, 1)],
)
async def test_a_pool_without_overflow_keeps_a_connection_out_of_the_lane(
    postgres: AsyncEngine, pool_size: int, max_overflow: int, limit: int | None
) -> None:
    lane = lane_for(postgres, pool_size=pool_size, max_overflow=max_overflow)
    assert (lane.limit if lane is not None else None) == limit


async def test_sqlite_has_no_lane() -> None:
    engine = create_engine("sqlite+aiosqlite:///:memory:")
    try:
        assert lane_for(engine, pool_size=10, max_overflow=5) is None
    finally:
        await engine.dispose()
