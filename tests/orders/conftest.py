"""Order ingest runs on a database of its own with a real sessionmaker: every batch commits, as in production.

The whole tests/orders run shares one migrated database; each test works in a tenant of its own, so tests
never see each other's orders. (The suite's rolled-back `sessionmaker` fixture is not used here: an import
commits once per batch, and on PostgreSQL the batch's `ON COMMIT DROP` staging tables need real commits.)
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from siyu.db import create_engine, create_sessionmaker
from siyu.jobs.models import Job
from siyu.orders import service, tasks
from siyu.orders.models import ImportRejection, Order, OrderChange, OrderImport, SubOrder
from siyu.orders.service import Totals
from siyu.tenants import service as tenants
from siyu.tenants.models import Tenant
from tests.support.databases import fresh_database

CANONICAL = (
    "platform",
    "order_id",
    "status",
    "paid_fen",
    "refund_fen",
    "item_count",
    "title",
    "buyer_nick",
    "buyer_open_uid",
    "receiver_phone",
    "shop",
    "author",
    "live_room",
    "placed_at",
    "paid_at",
    "completed_at",
)


def utc(text: str) -> datetime:
    """`2026-11-10T16:01:30` as an aware UTC datetime."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def canonical(order: Order) -> dict[str, Any]:
    return {name: getattr(order, name) for name in CANONICAL}


def new_slug() -> str:
    return f"shop-{secrets.token_hex(5)}"


@pytest.fixture(scope="session")
def orders_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("orders-db"), "orders") as url:
        yield url


@pytest.fixture(scope="session")
async def orders_engine(orders_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(orders_database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
def db(orders_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """A real sessionmaker: what the worker and the CLI use."""
    return create_sessionmaker(orders_engine)


@dataclass
class Imported:
    import_id: int
    totals: Totals


@dataclass
class Shop:
    """One tenant and the helpers to import files into it and read back what was stored."""

    db: async_sessionmaker[AsyncSession]
    tenant: Tenant
    storage: Path
    inbox: Path
    names: list[str] = field(default_factory=list)

    @property
    def id(self) -> int:
        return self.tenant.id

    async def create_import(self, filename: str, data: bytes, platform: str | None = None) -> int:
        path = self.inbox / f"{len(self.names)}-{filename}"
        self.names.append(filename)
        path.write_bytes(data)
        async with self.db() as session, session.begin():
            row = await service.create_import(
                session,
                tenant_id=self.id,
                source=path,
                filename=filename,
                storage_dir=self.storage,
                requested_platform=platform,
                created_by="tests",
            )
            return row.id

    async def run(self, import_id: int) -> Totals:
        return await tasks.run_import(self.db, tenant_id=self.id, import_id=import_id, storage_dir=self.storage)

    async def load(self, filename: str, data: bytes, platform: str | None = None) -> Imported:
        """Store the file and run its import through the real pipeline (batches, one transaction each)."""
        import_id = await self.create_import(filename, data, platform)
        return Imported(import_id, await self.run(import_id))

    async def orders(self) -> dict[str, Order]:
        async with self.db() as session:
            rows = await session.scalars(select(Order).where(Order.tenant_id == self.id))
            return {o.order_id: o for o in rows}

    async def order(self, order_id: str) -> Order:
        return (await self.orders())[order_id]

    async def items(self) -> dict[tuple[str, str], SubOrder]:
        async with self.db() as session:
            rows = await session.scalars(select(SubOrder).where(SubOrder.tenant_id == self.id))
            return {(i.order_id, i.sub_id): i for i in rows}

    async def changes(self) -> list[OrderChange]:
        async with self.db() as session:
            rows = await session.scalars(
                select(OrderChange)
                .where(OrderChange.tenant_id == self.id)
                .order_by(OrderChange.created_at, OrderChange.order_id)
            )
            return list(rows)

    async def import_row(self, import_id: int) -> OrderImport:
        async with self.db() as session:
            return await service.get_import(session, tenant_id=self.id, import_id=import_id)

    async def imports(self) -> list[OrderImport]:
        async with self.db() as session:
            rows = await session.scalars(select(OrderImport).where(OrderImport.tenant_id == self.id))
            return list(rows)

    async def rejections(self, import_id: int) -> list[dict[str, Any]]:
        async with self.db() as session:
            return await service.rejections(session, tenant_id=self.id, import_id=import_id)

    async def rejection_count(self) -> int:
        async with self.db() as session:
            count = await session.scalar(
                select(func.count()).select_from(ImportRejection).where(ImportRejection.tenant_id == self.id)
            )
            return int(count or 0)

    async def jobs(self, kind: str) -> list[Job]:
        async with self.db() as session:
            rows = await session.scalars(select(Job).where(Job.tenant_id == self.id, Job.kind == kind).order_by(Job.id))
            return list(rows)


async def make_tenant(db: async_sessionmaker[AsyncSession], slug: str | None = None) -> Tenant:
    async with db() as session, session.begin():
        return await tenants.create_tenant(session, slug=slug or new_slug(), name="星河直播间")


@pytest.fixture
async def shop(db: async_sessionmaker[AsyncSession], tmp_path: Path) -> Shop:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    return Shop(db=db, tenant=await make_tenant(db), storage=tmp_path / "uploads", inbox=inbox)
