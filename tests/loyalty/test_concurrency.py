"""Campaign caps under concurrent claims (PostgreSQL: real connections committing at the same time)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.claims import crediting
from siyu.db import create_engine, create_sessionmaker
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger.audit import check_invariants
from siyu.loyalty import service
from siyu.loyalty.models import CampaignAward
from siyu.loyalty.rules import OrderFacts
from siyu.loyalty.schemas import CampaignIn
from siyu.members import service as members
from siyu.tenants import service as tenants
from tests.support.databases import backend, fresh_database

pytestmark = pytest.mark.skipif(backend() != "postgres", reason="concurrent writers need PostgreSQL")


@pytest.fixture(scope="module")
def loyalty_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("loyalty-db"), "loyalty") as url:
        yield url


@pytest.fixture
async def db(loyalty_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(loyalty_database_url, pool_size=12)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_concurrent_claims_never_exceed_a_campaigns_caps(db: async_sessionmaker[AsyncSession]) -> None:
    now = utcnow()
    async with db() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug=f"shop-{secrets.token_hex(5)}", name="星河直播间")
        owner = Principal(tenant_id=tenant.id, kind="system", actor_id=None, label="t", permissions=frozenset())
        campaign = await service.create_campaign(
            session,
            actor=owner,
            data=CampaignIn(
                name="抢积分",
                starts_at=now - timedelta(hours=1),
                ends_at=now + timedelta(hours=1),
                bonus_points=10,
                cap_total=95,
                cap_per_member_day=25,
            ),
        )
        fans = [(await members.create_member(session, tenant_id=tenant.id)).id for _ in range(6)]

    async def claim(n: int) -> object:
        order = OrderFacts(platform="douyin", order_id=f"69312345678901{n:05d}", paid_fen=5000)
        async with db() as session, session.begin():
            return await crediting.credit(
                session,
                await crediting.context_of(session, tenant_id=tenant.id),
                member_id=fans[n % len(fans)],
                order=order,
            )

    results = await asyncio.gather(*(claim(n) for n in range(24)), return_exceptions=True)
    assert all(isinstance(r, crediting.Credited) for r in results), results
    async with db() as session:
        refreshed = await service.get_campaign(session, tenant_id=tenant.id, campaign_id=campaign.id)
        awarded = await session.scalar(
            select(func.sum(CampaignAward.points)).where(CampaignAward.tenant_id == tenant.id)
        )
        per_member = await session.execute(
            select(CampaignAward.member_id, func.sum(CampaignAward.points))
            .where(CampaignAward.tenant_id == tenant.id)
            .group_by(CampaignAward.member_id)
        )
        assert refreshed.awarded_total == awarded == 95
        assert all(points <= 25 for _member, points in per_member)
        assert await check_invariants(session, tenant.id) == []
