"""Concurrent draws of one trial on PostgreSQL (real connections committing at the same time): exactly the quota
wins, once, and every loser's points come back once."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.db import create_engine
from siyu.kit.errors import AppError
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.ledger.audit import check_invariants
from siyu.ledger.models import Entry
from siyu.mall.models import Redemption
from siyu.members import service as members
from siyu.tenants import service as tenants
from siyu.trials import service
from siyu.trials.models import Application, AppStatus
from siyu.trials.schemas import ApplyIn, DrawIn, TrialIn
from tests.support.databases import backend, fresh_database

pytestmark = pytest.mark.skipif(backend() != "postgres", reason="concurrent writers need PostgreSQL")
ADDRESS = {"name": "林小鱼", "phone": "13800138000", "region": "浙江省 杭州市 西湖区", "detail": "文三路 1 号"}


@pytest.fixture(scope="module")
def trials_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("trials-db"), "trials") as url:
        yield url


@pytest.fixture
async def db(trials_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    from siyu.db import create_sessionmaker

    engine = create_engine(trials_database_url, pool_size=12)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def test_concurrent_draws_pick_exactly_the_quota_once(db: async_sessionmaker[AsyncSession]) -> None:
    now = utcnow()
    async with db() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug=f"trial-{secrets.token_hex(5)}", name="星河直播间")
        owner = Principal(tenant_id=tenant.id, kind="system", actor_id=None, label="t", permissions=frozenset())
        trial = await service.create_trial(
            session,
            actor=owner,
            data=TrialIn(
                title="精华液",
                quota=4,
                points_cost=25,
                apply_from=now - timedelta(hours=1),
                apply_until=now + timedelta(days=1),
            ),
        )
        fans = []
        for n in range(15):
            member = await members.create_member(session, tenant_id=tenant.id)
            await ledger.earn(session, tenant_id=tenant.id, member_id=member.id, amount=100, source_ref=f"seed:{n}")
            await service.apply(
                session, tenant_id=tenant.id, member_id=member.id, trial_id=trial.id, data=ApplyIn(address=ADDRESS)
            )
            fans.append(member.id)
        row = await service.get_trial(session, tenant_id=tenant.id, trial_id=trial.id)
        row.apply_from, row.apply_until = now - timedelta(days=2), now - timedelta(minutes=1)
        await service.publish_seed(session, actor=owner, trial_id=trial.id)

    async def attempt() -> Any:
        try:
            async with db() as session, session.begin():
                return await service.draw(session, actor=owner, trial_id=trial.id, data=DrawIn())
        except AppError as error:
            return error.code

    results = await asyncio.gather(*(attempt() for _ in range(8)))
    done = [r for r in results if isinstance(r, service.DrawResult)]
    assert len(done) == 1 and {r for r in results if isinstance(r, str)} == {"trial_already_drawn"}
    async with db() as session:
        statuses = list(
            await session.scalars(
                select(Application.status).where(Application.tenant_id == tenant.id, Application.trial_id == trial.id)
            )
        )
        assert statuses.count(AppStatus.won) == 4 and statuses.count(AppStatus.lost) == 11
        refunds = await session.scalar(select(func.count()).where(Entry.tenant_id == tenant.id, Entry.kind == "refund"))
        assert refunds == 11
        shipped = await session.scalar(select(func.count()).where(Redemption.tenant_id == tenant.id))
        assert shipped == 4
        balances = sorted([(await ledger.balance(session, tenant_id=tenant.id, member_id=m)).available for m in fans])
        assert balances == [75] * 4 + [100] * 11
        assert await check_invariants(session, tenant.id) == []
