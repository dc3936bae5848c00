"""One database per test run built by the real migrations; every test runs in a transaction rolled back."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import values
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from siyu.app import create_app
from siyu.config import Settings
from siyu.db import create_engine
from siyu.kit import metrics
from siyu.kit.ratelimit import RateLimiter
from tests.support.databases import backend, fresh_database


def pytest_report_header() -> str:
    return f"siyu test database: {backend()}"


@pytest.fixture(autouse=True)
def metrics_stay_in_this_process() -> Iterator[None]:
    """`siyu serve` / `siyu worker` run in-process by a test point Prometheus at a shared directory (an environment
    variable and the client's value store): put both back, so later tests and the servers they start count alone."""
    before, value_class = os.environ.get(metrics.MULTIPROC_ENV), values.ValueClass
    yield
    if before is None:
        os.environ.pop(metrics.MULTIPROC_ENV, None)
    else:
        os.environ[metrics.MULTIPROC_ENV] = before
    values.ValueClass = value_class


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("db"), "main") as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    # Every test tenant (host-…) may be the demo tenant when a test turns the demo on.
    return Settings(database_url=database_url, env="test", embedded_worker=False, demo_tenant="host-*", _env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url, pre_ping=True)  # a test may restart the database's connections
    yield engine
    await engine.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as connection:
        transaction = await connection.begin()
        try:
            yield connection
        finally:
            await transaction.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions joined to the test's outer transaction: their commits are savepoints."""
    return async_sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessionmaker() as session:
        yield session


@pytest.fixture
def app(settings: Settings, engine: AsyncEngine, sessionmaker: async_sessionmaker[AsyncSession]) -> FastAPI:
    app = create_app(settings)
    app.state.engine = engine
    app.state.sessionmaker = sessionmaker
    app.state.limiter = RateLimiter()
    return app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(__file__).parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path
