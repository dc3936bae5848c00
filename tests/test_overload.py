"""Overload sheds instead of hanging: no free connection within a second or two is a 503 with Retry-After,
and the server serves again by itself as soon as the database does."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from siyu.app import create_app
from siyu.config import Settings
from siyu.db import READ_ONLY, create_sessionmaker, engine_for
from siyu.kit.ratelimit import RateLimiter
from tests.support.databases import backend

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
UNKNOWN_KEY = {"Authorization": "Bearer sk_000000000000.nothing"}  # looked up in the database: 401 when it answers


def _settings(database_url: str, **overrides: object) -> Settings:
    return Settings(database_url=database_url, env="test", embedded_worker=False, _env_file=None, **overrides)  # type: ignore[call-arg]


async def _client(settings: Settings, engine: AsyncEngine) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.limiter = RateLimiter()
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def tiny_pool(database_url: str) -> AsyncIterator[tuple[AsyncEngine, httpx.AsyncClient]]:
    settings = _settings(database_url, db_pool_size=1, db_max_overflow=0, db_pool_timeout=0.5)
    engine = engine_for(settings)
    try:
        async for client in _client(settings, engine):
            yield engine, client
    finally:
        await engine.dispose()


async def test_an_exhausted_pool_answers_503_with_retry_after_quickly_then_recovers(
    tiny_pool: tuple[AsyncEngine, httpx.AsyncClient],
) -> None:
    engine, client = tiny_pool
    assert (await client.get("/api/v1/me", headers=UNKNOWN_KEY)).status_code == 401
    async with engine.connect() as held:  # the only connection, taken by someone else
        await held.execution_options(**READ_ONLY)
        await held.execute(text("SELECT 1"))
        started = time.monotonic()
        response = await client.get("/api/v1/me", headers=UNKNOWN_KEY)
        waited = time.monotonic() - started
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "2"
        assert response.json() == {"code": "busy", "message": "系统繁忙，请稍后再试"}
        assert waited < 2.5
        page = await client.get("/console/", cookies={"siyu_session": "x"})
        assert page.status_code == 503 and "系统繁忙" in page.text and page.headers["retry-after"] == "2"
    assert (await client.get("/api/v1/me", headers=UNKNOWN_KEY)).status_code == 401


@pytest.mark.skipif(backend() != "postgres", reason="PostgreSQL connection limits and timeouts")
async def test_postgres_limits_and_recovery(database_url: str) -> None:
    settings = _settings(database_url, db_statement_timeout_ms=250, db_lock_timeout_ms=150)
    engine = engine_for(settings)
    try:
        async with engine.connect() as connection:
            assert (await connection.execute(text("SHOW statement_timeout"))).scalar() == "250ms"
            assert (await connection.execute(text("SHOW lock_timeout"))).scalar() == "150ms"
        async for client in _client(settings, engine):
            assert (await client.get("/api/v1/me", headers=UNKNOWN_KEY)).status_code == 401
            # The database restarts under the server: its pooled connections die. A request that meets a dead one
            # is told to come back (503), the pool is replaced, and the next request works.
            async with engine.connect() as connection:
                await connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                )
            first = await client.get("/api/v1/me", headers=UNKNOWN_KEY)
            assert first.status_code in (401, 503), first.text
            assert (await client.get("/api/v1/me", headers=UNKNOWN_KEY)).status_code == 401
    finally:
        await engine.dispose()


@pytest.mark.skipif(backend() != "postgres", reason="PostgreSQL connection refused")
async def test_an_unreachable_database_is_503_not_500() -> None:
    settings = _settings("postgresql+asyncpg://postgres@127.0.0.1:1/none")
    engine = engine_for(settings)
    try:
        async for client in _client(settings, engine):
            response = await client.get("/api/v1/me", headers=UNKNOWN_KEY)
            assert response.status_code == 503 and response.headers["retry-after"] == "2"
            assert response.json()["code"] == "busy"
    finally:
        await engine.dispose()


@pytest.mark.skipif(backend() != "postgres", reason="PostgreSQL statement timeout")
async def test_a_statement_timeout_is_503(database_url: str) -> None:
    from siyu.errors import database_unavailable

    engine = engine_for(_settings(database_url, db_statement_timeout_ms=100))
    try:
        async with engine.connect() as connection:
            with pytest.raises(Exception) as caught:
                await connection.execute(text("SELECT pg_sleep(1)"))
        assert database_unavailable(caught.value)
    finally:
        await engine.dispose()
