"""Settling a leaderboard exactly once when clicks, workers and restarts overlap (PostgreSQL: real connections
committing at the same time)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.db import create_engine, create_sessionmaker
from siyu.engagement.referrals import service
from siyu.engagement.referrals.models import Leaderboard, Prize
from siyu.engagement.referrals.schemas import BoardIn
from siyu.jobs.models import Job
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.ledger.models import Entry
from siyu.members import service as members
from siyu.tenants import service as tenants
from tests.support.databases import backend, fresh_database

pytestmark = pytest.mark.skipif(backend() != "postgres", reason="concurrent writers need PostgreSQL")


@pytest.fixture(scope="module")
def referrals_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("referrals-db"), "referrals") as url:
        yield url


@pytest.fixture
async def db(referrals_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(referrals_database_url, pool_size=12)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def _ended_board(db: async_sessionmaker[AsyncSession]) -> tuple[Principal, int, list[int]]:
    """Three inviters with 3, 2 and 1 invitees in the window of a board that has ended; prizes for three ranks."""
    now = utcnow()
    async with db() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug=f"shop-{secrets.token_hex(5)}", name="星河直播间")
        owner = Principal(tenant_id=tenant.id, kind="system", actor_id=None, label="运营", permissions=frozenset())
        board = await service.create_board(
            session,
            actor=owner,
            data=BoardIn(title="邀请榜", starts_at=now - timedelta(days=1), ends_at=now, prizes=[300, 200, 100]),
        )
        inviters = []
        for n, invitees in enumerate((3, 2, 1)):
            inviter = await members.create_member(session, tenant_id=tenant.id, nickname=f"邀请人{n}")
            code = await service.invite_code(session, tenant_id=tenant.id, member_id=inviter.id, ip_hash=f"home-{n}")
            for k in range(invitees):
                invitee = await members.create_member(session, tenant_id=tenant.id)
                at = now - timedelta(hours=20 - n * 3 - k)
                await service.joined(
                    session, tenant_id=tenant.id, invitee=invitee, code=code.code, ip_hash=f"net-{n}-{k}", now=at
                )
            inviters.append(inviter.id)
        return owner, board.id, inviters


async def _request(db: async_sessionmaker[AsyncSession], owner: Principal, board_id: int) -> str:
    async with db() as session, session.begin():
        return (await service.request_settle(session, actor=owner, board_id=board_id)).status


async def _settle(db: async_sessionmaker[AsyncSession], tenant_id: int, board_id: int) -> int:
    async with db() as session, session.begin():
        return await service.settle(session, tenant_id=tenant_id, board_id=board_id)


async def test_concurrent_settles_pay_each_rank_exactly_once(db: async_sessionmaker[AsyncSession]) -> None:
    owner, board_id, inviters = await _ended_board(db)
    tenant_id = owner.tenant_id

    clicks = await asyncio.gather(*(_request(db, owner, board_id) for _ in range(6)))
    assert set(clicks) == {"settling"}
    # Two workers, and a restarted one running the same job again, all at once.
    written = await asyncio.gather(*(_settle(db, tenant_id, board_id) for _ in range(4)))
    assert sorted(written) == [0, 0, 0, 3]
    assert await _settle(db, tenant_id, board_id) == 0  # and once more later

    async with db() as session:
        jobs = select(func.count()).select_from(Job).where(Job.tenant_id == tenant_id, Job.kind == service.SETTLE_JOB)
        assert (await session.execute(jobs)).scalar_one() == 1
        prizes = list(await session.scalars(select(Prize).where(Prize.tenant_id == tenant_id).order_by(Prize.rank)))
        assert [(p.rank, p.member_id, p.points) for p in prizes] == list(
            zip((1, 2, 3), inviters, (300, 200, 100), strict=True)
        )
        entries = (
            select(func.count())
            .select_from(Entry)
            .where(Entry.tenant_id == tenant_id, Entry.source_ref.like(f"board:{board_id}:%"))
        )
        assert (await session.execute(entries)).scalar_one() == 3
        balances = await ledger.balances(session, tenant_id=tenant_id, member_ids=inviters)
        assert [balances[m].available for m in inviters] == [300, 200, 100]
        board = await session.get(Leaderboard, (tenant_id, board_id))
        assert board is not None and board.status == "settled"
