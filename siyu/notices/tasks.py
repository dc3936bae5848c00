"""Background work of notices: send one notice (its retries and redeliveries are jobs of the same kind)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs.models import Job
from siyu.jobs.registry import handler
from siyu.notices import service


@handler(service.SEND_JOB)
async def send_notice(session: AsyncSession, job: Job) -> dict[str, Any]:
    assert job.tenant_id is not None
    return await service.send(session, tenant_id=job.tenant_id, notice_id=int(job.payload["notice_id"]))
