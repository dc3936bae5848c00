"""Many notices of one kind, filed set-wise and drained by two workers at once: each goes out exactly once.

The draining test is synchronous on purpose (like tests/jobs/test_processes.py): the workers need a database of their
own with real commits, which the rolled-back test connection cannot give them.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from siyu.db import create_engine, create_sessionmaker
from siyu.jobs.models import Job, JobStatus
from siyu.jobs.worker import Worker
from siyu.kit.bulk import insert_ignoring_duplicates
from siyu.kit.ids import new_id
from siyu.kit.time import utcnow
from siyu.members import service as members
from siyu.members.models import Member
from siyu.notices import service
from siyu.notices.models import Delivery, Notice, NoticeStatus
from siyu.notices.schemas import NoticeSettings
from siyu.staff import service as staff
from siyu.tenants import service as tenants
from tests.notices.conftest import Receiver, Shop
from tests.support.databases import backend, fresh_database

FANS = 600
DAYTIME = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")).astimezone(UTC)


async def _run(url: str, hook: str) -> tuple[list[int], float]:
    engine = create_engine(url)
    try:
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session, session.begin():
            tenant = await tenants.create_tenant(session, slug="drain", name="排队测试")
            user, membership = await staff.add_staff(
                session, tenant_id=tenant.id, email="o@example.com", role="owner", password="p" * 12, name="店主"
            )
            owner = staff.principal_for(user, membership, ip="127.0.0.1")
            await service.save_settings(
                session, actor=owner, settings=NoticeSettings(channels={"shipped": ["webhook"]})
            )
            await service.add_endpoint(session, actor=owner, url=hook)
            fans = [
                (await members.create_member(session, tenant_id=tenant.id, nickname=f"粉丝{n}")).id for n in range(FANS)
            ]
        async with sessionmaker() as session, session.begin():
            started = time.perf_counter()
            told = await service.file_many(
                session,
                tenant_id=tenant.id,
                kind="shipped",
                subject="batch-1",
                member_ids=fans,
                payload={},
                now=DAYTIME,
            )
            filing = time.perf_counter() - started
            assert told == FANS
        first, second = Worker(sessionmaker, batch=20), Worker(sessionmaker, batch=20)
        await asyncio.gather(first.drain(max_rounds=10_000), second.drain(max_rounds=10_000))
        assert first.processed > 0 and second.processed > 0  # both took a share
        async with sessionmaker() as session:
            sent = Counter((await session.scalars(select(Delivery.notice_id).where(Delivery.status == "sent"))).all())
            statuses = Counter((await session.scalars(select(Notice.status))).all())
            left = await session.scalar(select(func.count()).select_from(Job).where(Job.status != JobStatus.done))
        assert statuses == {NoticeStatus.sent: FANS} and left == 0
        return sorted(sent.values()), filing
    finally:
        await engine.dispose()


def test_two_workers_drain_many_notices_each_exactly_once(tmp_path: Path, receiver: tuple[Receiver, str]) -> None:
    if backend() != "postgres":
        pytest.skip("concurrent workers take rows with SKIP LOCKED on PostgreSQL; SQLite has one writer")
    with fresh_database(tmp_path, "notices") as url:
        counts, _filing = asyncio.run(_run(url, receiver[1]))
    assert counts == [1] * FANS
    ids = Counter(headers["webhook-id"] for headers, _body in receiver[0].got)
    assert len(ids) == FANS and set(ids.values()) == {1}


async def test_twenty_thousand_notices_of_one_kind_are_filed_set_wise(shop: Shop) -> None:
    """One news item for 20,000 fans: a handful of statements, not 20,000 round trips; filing again adds nothing."""
    now = utcnow()
    fans = [new_id() for _ in range(20_000)]
    await insert_ignoring_duplicates(
        shop.session,
        Member,
        [{"tenant_id": shop.tenant_id, "id": f, "nickname": "", "status": "active", "created_at": now} for f in fans],
    )
    started = time.perf_counter()
    told = await service.file_many(
        shop.session, tenant_id=shop.tenant_id, kind="shipped", subject="big", member_ids=fans, payload={}, now=DAYTIME
    )
    took = time.perf_counter() - started
    assert told == 20_000
    await service.file_many(
        shop.session, tenant_id=shop.tenant_id, kind="shipped", subject="big", member_ids=fans, payload={}, now=DAYTIME
    )
    count = select(func.count()).select_from(Notice).where(Notice.tenant_id == shop.tenant_id)
    jobs = select(func.count()).select_from(Job).where(Job.kind == service.SEND_JOB, Job.tenant_id == shop.tenant_id)
    assert await shop.session.scalar(count) == 20_000 and await shop.session.scalar(jobs) == 20_000
    assert took < 60, f"filing 20,000 notices took {took:.1f} s"
