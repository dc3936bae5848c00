"""Concurrent transactions on one member (PostgreSQL: real connections committing at the same time)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.db import create_engine, create_sessionmaker
from siyu.ledger import service
from siyu.ledger.audit import check_invariants
from siyu.members import service as members
from siyu.tenants import service as tenants
from tests.support.databases import backend, fresh_database

pytestmark = pytest.mark.skipif(backend() != "postgres", reason="concurrent writers need PostgreSQL")


@pytest.fixture(scope="module")
def ledger_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("ledger-db"), "ledger") as url:
        yield url


@pytest.fixture
async def db(ledger_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(ledger_database_url, pool_size=12)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def setup(db: async_sessionmaker[AsyncSession], members_count: int = 1) -> tuple[int, list[int]]:
    async with db() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug=f"shop-{secrets.token_hex(5)}", name="星河直播间")
        fans = [(await members.create_member(session, tenant_id=tenant.id)).id for _ in range(members_count)]
        return tenant.id, fans


async def earn(db: async_sessionmaker[AsyncSession], tenant_id: int, member_id: int, amount: int, ref: str) -> None:
    async with db() as session, session.begin():
        await service.earn(session, tenant_id=tenant_id, member_id=member_id, amount=amount, source_ref=ref)


async def books(db: async_sessionmaker[AsyncSession], tenant_id: int, member_id: int) -> tuple[int, list[str]]:
    async with db() as session:
        points = await service.balance(session, tenant_id=tenant_id, member_id=member_id)
        return points.available, await check_invariants(session, tenant_id)


async def test_two_concurrent_spends_never_overdraw(db: async_sessionmaker[AsyncSession]) -> None:
    tenant_id, (fan,) = await setup(db)
    await earn(db, tenant_id, fan, 100, "order:taobao:1")

    async def spend(ref: str) -> object:
        async with db() as session, session.begin():
            return await service.spend(session, tenant_id=tenant_id, member_id=fan, amount=60, source_ref=ref)

    for round_ in range(5):
        results = await asyncio.gather(spend(f"r:{round_}:a"), spend(f"r:{round_}:b"), return_exceptions=True)
        done = [r for r in results if isinstance(r, service.Spend)]
        refused = [r for r in results if isinstance(r, service.InsufficientPoints)]
        expected = 1 if round_ == 0 else 0
        assert (len(done), len(refused)) == (expected, 2 - expected), results
    assert await books(db, tenant_id, fan) == (40, [])


async def test_many_concurrent_spends_take_exactly_what_is_there(db: async_sessionmaker[AsyncSession]) -> None:
    tenant_id, (fan,) = await setup(db)
    for n in range(5):  # five lots, so spends draw from several lots at once
        await earn(db, tenant_id, fan, 20, f"order:douyin:{n}")

    async def spend(n: int) -> object:
        async with db() as session, session.begin():
            return await service.spend(session, tenant_id=tenant_id, member_id=fan, amount=7, source_ref=f"r:{n}")

    results = await asyncio.gather(*(spend(n) for n in range(20)), return_exceptions=True)
    assert all(isinstance(r, service.Spend | service.InsufficientPoints) for r in results), results
    done = sum(isinstance(r, service.Spend) for r in results)
    assert done == 100 // 7
    assert await books(db, tenant_id, fan) == (100 - 7 * done, [])


async def test_concurrent_credits_of_one_new_member_and_of_one_order(db: async_sessionmaker[AsyncSession]) -> None:
    tenant_id, (fan, rival) = await setup(db, members_count=2)

    # Ten earns at once for a member without a balance row yet: the row is created once, nothing lost.
    await asyncio.gather(*(earn(db, tenant_id, fan, 10 + n, f"order:kuaishou:{n}") for n in range(10)))
    assert await books(db, tenant_id, fan) == (sum(10 + n for n in range(10)), [])

    # Two members claim the same order at the same moment: one is credited, the other told so.
    results = await asyncio.gather(
        earn(db, tenant_id, fan, 50, "order:taobao:same"),
        earn(db, tenant_id, rival, 50, "order:taobao:same"),
        return_exceptions=True,
    )
    assert sorted(type(r).__name__ for r in results) == ["AlreadyCredited", "NoneType"], results
    first, _ = await books(db, tenant_id, fan)
    second, problems = await books(db, tenant_id, rival)
    assert first + second == sum(10 + n for n in range(10)) + 50 and problems == []
