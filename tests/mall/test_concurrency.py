"""Stock, per-member limits, double taps and codes under concurrent redemptions (PostgreSQL: real connections
committing at the same time)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.db import create_engine
from siyu.kit.errors import AppError
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.ledger.audit import check_invariants
from siyu.mall import redeem, service
from siyu.mall.models import Code, Redemption, Reward, RewardKind
from siyu.mall.schemas import RewardIn
from siyu.members import service as members
from siyu.tenants import service as tenants
from tests.support.databases import backend, fresh_database

pytestmark = pytest.mark.skipif(backend() != "postgres", reason="concurrent writers need PostgreSQL")


@pytest.fixture(scope="module")
def mall_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("mall-db"), "mall") as url:
        yield url


@pytest.fixture
async def db(mall_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    from siyu.db import create_sessionmaker

    engine = create_engine(mall_database_url, pool_size=16)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def _setup(
    db: async_sessionmaker[AsyncSession], fans: int, points: int, **reward: Any
) -> tuple[int, int, list[int]]:
    async with db() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug=f"shop-{secrets.token_hex(5)}", name="星河直播间")
        owner = Principal(tenant_id=tenant.id, kind="system", actor_id=None, label="t", permissions=frozenset())
        pool = reward.pop("codes", 0)
        row = await service.create_reward(session, actor=owner, data=RewardIn(**reward))
        if pool:
            codes = "\n".join(f"CODE-{n:04d}" for n in range(pool)).encode()
            await service.import_codes(session, actor=owner, reward_id=row.id, data=codes, filename="codes.txt")
        ids = []
        for n in range(fans):
            member = await members.create_member(session, tenant_id=tenant.id)
            await ledger.earn(session, tenant_id=tenant.id, member_id=member.id, amount=points, source_ref=f"seed:{n}")
            ids.append(member.id)
        return tenant.id, row.id, ids


async def _attempt(
    db: async_sessionmaker[AsyncSession], tenant_id: int, reward_id: int, member_id: int, **kw: Any
) -> Any:
    try:
        async with db() as session, session.begin():
            return await redeem.redeem(session, tenant_id=tenant_id, member_id=member_id, reward_id=reward_id, **kw)
    except AppError as error:
        return error.code


async def test_a_flash_opening_sells_exactly_the_stock(db: async_sessionmaker[AsyncSession]) -> None:
    tenant_id, reward_id, fans = await _setup(
        db, 40, 100, kind=RewardKind.coupon, title="限量券", points_price=60, stock=7
    )
    results = await asyncio.gather(*(_attempt(db, tenant_id, reward_id, m) for m in fans))
    sold = [r for r in results if isinstance(r, Redemption)]
    assert len(sold) == 7 and {r for r in results if isinstance(r, str)} == {"sold_out"}
    async with db() as session:
        reward = await session.get(Reward, (tenant_id, reward_id))
        assert reward is not None and (reward.stock, reward.sold) == (0, 7)
        spent = {m: (await ledger.balance(session, tenant_id=tenant_id, member_id=m)).available for m in fans}
        assert sorted(spent.values()).count(40) == 7 and sorted(spent.values()).count(100) == 33
        assert await check_invariants(session, tenant_id) == []


async def test_one_members_concurrent_taps_keep_her_limit_and_her_key(db: async_sessionmaker[AsyncSession]) -> None:
    tenant_id, reward_id, (fan,) = await _setup(
        db, 1, 1000, kind=RewardKind.coupon, title="每人两张", points_price=10, stock=50, limit_per_member=2
    )
    results = await asyncio.gather(*(_attempt(db, tenant_id, reward_id, fan) for _ in range(10)))
    assert sum(isinstance(r, Redemption) for r in results) == 2
    assert {r for r in results if isinstance(r, str)} == {"over_member_limit"}

    tenant_id, reward_id, (fan,) = await _setup(
        db, 1, 1000, kind=RewardKind.coupon, title="双击", points_price=10, stock=50
    )
    taps = await asyncio.gather(*(_attempt(db, tenant_id, reward_id, fan, idempotency_key="tap") for _ in range(6)))
    assert len({r.id for r in taps}) == 1
    async with db() as session:
        assert (await ledger.balance(session, tenant_id=tenant_id, member_id=fan)).available == 990


async def test_concurrent_redemptions_never_share_a_code(db: async_sessionmaker[AsyncSession]) -> None:
    tenant_id, reward_id, fans = await _setup(
        db, 12, 100, kind=RewardKind.virtual_code, title="月卡", points_price=10, stock=0, codes=8
    )
    results = await asyncio.gather(*(_attempt(db, tenant_id, reward_id, m) for m in fans))
    codes = [r.code for r in results if isinstance(r, Redemption)]
    assert len(codes) == len(set(codes)) == 8
    async with db() as session:
        left = await session.scalar(
            select(func.count()).where(Code.tenant_id == tenant_id, Code.redemption_id.is_(None))
        )
        assert left == 0
        assert await check_invariants(session, tenant_id) == []
