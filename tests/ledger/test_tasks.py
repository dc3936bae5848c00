"""The periodic expiry job: one tenant or all, in batches that continue in follow-up jobs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.jobs import registry
from siyu.jobs.models import Job, JobStatus
from siyu.jobs.service import enqueue
from siyu.jobs.worker import Worker
from siyu.kit.time import utcnow
from siyu.ledger import service, tasks
from siyu.tasks import load_handlers
from tests.ledger.conftest import Book


async def expired_yesterday(book: Book, member_id: int, amount: int) -> None:
    earned = utcnow() - timedelta(days=2)
    await service.earn(
        book.session,
        tenant_id=book.tenant_id,
        member_id=member_id,
        amount=amount,
        source_ref=book.order(),
        expires_at=earned + timedelta(days=1),
        now=earned,
    )


async def results(session: AsyncSession) -> list[tuple[int | None, str, object]]:
    rows = await session.scalars(
        select(Job).where(Job.kind == "ledger.expire").order_by(Job.id).execution_options(populate_existing=True)
    )
    return [(job.tenant_id, job.status, job.result) for job in rows]


async def test_the_expiry_job_sweeps_a_tenant_and_continues_when_a_batch_is_full(
    book: Book, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    load_handlers()
    book.now = utcnow()
    assert ("ledger.expire", 3600) not in registry.PERIODIC  # the loyalty sweep expires lots on schedule
    monkeypatch.setattr(tasks, "EXPIRE_BATCH", 1)
    a, b = await book.member(), await book.member("小桃")
    await expired_yesterday(book, a, 30)
    await expired_yesterday(book, b, 20)
    await enqueue(session, "ledger.expire", {}, tenant_id=book.tenant_id)
    await session.flush()

    # A full batch queues a follow-up; the last one finds nothing left.
    assert await Worker(sessionmaker).drain() == 3
    tenant = str(book.tenant_id)
    assert await results(session) == [
        (book.tenant_id, JobStatus.done, {"expired": {tenant: 1}}),
        (book.tenant_id, JobStatus.done, {"expired": {tenant: 1}}),
        (book.tenant_id, JobStatus.done, {"expired": {}}),
    ]
    assert await book.points(a) == (0, 0, 0) and await book.points(b) == (0, 0, 0)
    await book.check()


async def test_the_periodic_run_sweeps_every_tenant(
    book: Book, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    load_handlers()
    book.now = utcnow()  # the job runs at the real time
    fan, other = await book.member(), await book.member("小桃")
    await expired_yesterday(book, fan, 30)
    await book.earn(other, 5)  # never expires
    await enqueue(session, "ledger.expire", {"slot": 1})  # as the worker schedules it: no tenant
    await session.flush()
    await Worker(sessionmaker).drain()
    ((tenant_id, status, result),) = await results(session)
    assert (tenant_id, status) == (None, JobStatus.done)
    assert result == {"expired": {str(book.tenant_id): 1}}
    assert await book.points(fan) == (0, 0, 0) and await book.points(other) == (5, 0, 0)
    await book.check()
