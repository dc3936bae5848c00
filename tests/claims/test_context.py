"""What a claim reads that rarely changes is kept per process, and every process sees an edit at its next claim;
flows that lock several members lock them in member-id order (no deadlock between two of them)."""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from multiprocessing.connection import Connection
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from siyu.claims import crediting
from siyu.claims import service as claims
from siyu.claims.models import Outcome
from siyu.claims.schemas import ClaimPolicy
from siyu.db import create_engine, create_sessionmaker
from siyu.kit.time import utcnow
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.loyalty.schemas import CampaignIn
from tests.support import factories
from tests.support.databases import backend, fresh_database


@pytest.fixture(scope="module")
def committed_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A database of its own whose data is committed: other processes see it."""
    with fresh_database(tmp_path_factory.mktemp("context"), "context") as url:
        yield url


@pytest.fixture
async def committed(committed_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine: AsyncEngine = create_engine(committed_url)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


def _worker(url: str, pipe: Connection) -> None:
    """A worker process: answers "what would you credit with" for a tenant from its own memory."""

    async def serve() -> None:
        engine = create_engine(url)
        makesession = create_sessionmaker(engine)
        while True:
            tenant_id = pipe.recv()
            if tenant_id is None:
                break
            async with makesession() as session, session.begin():
                context = await crediting.context_of(session, tenant_id=tenant_id)
            campaigns = [(c.facts.name, c.facts.multiplier_pct) for c in context.programme.campaigns]
            pipe.send((context.tenant.version, id(context), campaigns, context.claims.pending_days))
        await engine.dispose()

    asyncio.run(serve())


def _ask(pipes: list[Connection], tenant_id: int) -> list[Any]:
    for pipe in pipes:
        pipe.send(tenant_id)
    return [pipe.recv() for pipe in pipes]


async def test_every_worker_process_sees_an_edit_at_its_next_claim(
    committed_url: str, committed: async_sessionmaker[AsyncSession]
) -> None:
    async with committed() as session, session.begin():
        tenant = await factories.tenant(session)
        owner = (await factories.staff_login(session, tenant.id)).principal
    spawn = multiprocessing.get_context("spawn")
    pipes, processes = [], []
    for _ in range(2):
        mine, theirs = spawn.Pipe()
        process = spawn.Process(target=_worker, args=(committed_url, theirs), daemon=True)
        process.start()
        pipes.append(mine)
        processes.append(process)
    try:
        first = await asyncio.to_thread(_ask, pipes, tenant.id)
        assert [answer[2:] for answer in first] == [([], 15), ([], 15)]
        again = await asyncio.to_thread(_ask, pipes, tenant.id)
        assert [a[1] for a in again] == [a[1] for a in first]  # nothing changed: kept, not read again

        now = utcnow()
        async with committed() as session, session.begin():
            data = CampaignIn(name="双12", starts_at=now, ends_at=now + timedelta(days=1), multiplier_pct=200)
            campaign = await loyalty.create_campaign(session, actor=owner, data=data)
        edited = await asyncio.to_thread(_ask, pipes, tenant.id)
        assert [answer[2] for answer in edited] == [[("双12", 200)], [("双12", 200)]]
        assert all(e[0] > f[0] for e, f in zip(edited, first, strict=True))

        async with committed() as session, session.begin():
            await claims.save_policy(session, actor=owner, policy=ClaimPolicy(pending_days=7))
            changed = data.model_copy(update={"multiplier_pct": 300})
            await loyalty.update_campaign(session, actor=owner, campaign_id=campaign.id, data=changed)
        assert [answer[2:] for answer in await asyncio.to_thread(_ask, pipes, tenant.id)] == [
            ([("双12", 300)], 7),
            ([("双12", 300)], 7),
        ]
    finally:
        for pipe in pipes:
            pipe.send(None)
        for process in processes:
            process.join(timeout=20)


@pytest.mark.skipif(backend() != "postgres", reason="row locks wait for each other only on PostgreSQL")
async def test_two_reviews_of_the_same_members_in_opposite_orders_do_not_deadlock(
    committed: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    async with committed() as session, session.begin():
        tenant = await factories.tenant(session)
        owner = (await factories.staff_login(session, tenant.id)).principal
        await claims.save_policy(session, actor=owner, policy=ClaimPolicy(review_paid_yuan=100))
        first, second = sorted([(await factories.member(session, tenant.id)).id for _ in range(2)])
        waiting = {}
        for name, member_id in (("a1", first), ("b1", second), ("b2", second), ("a2", first)):
            order = await factories.order(session, tenant.id, paid_fen=50_000)
            row = await claims.claim(
                session, tenant_id=tenant.id, member_id=member_id, platform="taobao", text=order.order_id
            )
            assert row.outcome == Outcome.review
            waiting[name] = row.id
    # Each review holds its first member a moment before taking the next: locked in the order the rows came,
    # the first review would wait for `second` while the other waits for `first`.
    locking = ledger.lock_member

    async def slow_lock(session: AsyncSession, **kwargs: Any) -> ledger.Points:
        points = await locking(session, **kwargs)
        await asyncio.sleep(0.3)
        return points

    monkeypatch.setattr(ledger, "lock_member", slow_lock)

    async def review(claim_ids: list[int]) -> list[str]:
        async with committed() as session, session.begin():
            rows = await claims.review(session, actor=owner, claim_ids=claim_ids, approve=True)
            return [row.outcome for row in rows]

    done = await asyncio.wait_for(
        asyncio.gather(review([waiting["a1"], waiting["b1"]]), review([waiting["b2"], waiting["a2"]])), timeout=30
    )
    assert done == [[Outcome.credited] * 2, [Outcome.credited] * 2]
