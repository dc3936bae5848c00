"""Background work of notices: send one notice (its retries and redeliveries are jobs of the same kind).

The send runs in three steps with a commit after the first and the last: each try is on record as under way before
its provider is called, so a worker killed mid-call leaves a trace that the next run checks instead of sending
blindly again (see `service.prepare`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.jobs.models import Job
from siyu.jobs.registry import long_handler
from siyu.notices import service


@long_handler(service.SEND_JOB)
async def send_notice(sessionmaker: async_sessionmaker[AsyncSession], job: Job) -> dict[str, Any]:
    assert job.tenant_id is not None
    tenant_id, notice_id = job.tenant_id, int(job.payload["notice_id"])
    async with sessionmaker() as session, session.begin():
        plan = await service.prepare(session, tenant_id=tenant_id, notice_id=notice_id)
        if isinstance(plan, dict):
            return plan
        if not plan.calls:
            return await service.record(session, plan, [])
    results = await service.call(plan)
    async with sessionmaker() as session, session.begin():
        return await service.record(session, plan, results)
