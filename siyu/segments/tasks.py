"""Background work of segments: counts and tag rules kept current on a schedule, and a notice sent to a segment's
members batch by batch.

A send job tells one batch of members (by member id) through every channel registered in `NOTIFIERS` and enqueues
the job of the next batch, committed with its "done". The notices domain files one notice per kind, member and
subject, and the subject names the send, so a retried batch tells nobody twice."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs import service as jobs
from siyu.jobs.models import Job
from siyu.jobs.notify import notify
from siyu.jobs.registry import every, handler
from siyu.segments import service

log = structlog.get_logger("siyu.segments")

REFRESH_EVERY_S = 3600
BATCH = 200


@handler(service.REFRESH_JOB)
async def refresh(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Apply every tag rule and count every segment, of one tenant (job.tenant_id) or of every tenant with some.
    Idempotent."""
    tenant_ids = [job.tenant_id] if job.tenant_id else await service.tenants_with_work(session)
    done: dict[str, Any] = {}
    for tenant_id in tenant_ids:
        done[str(tenant_id)] = await service.refresh_tenant(session, tenant_id=tenant_id)
    return {"tenants": done}


@handler(service.SEND_JOB)
async def send(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Tell one batch of the segment's members; the next batch is a job of its own."""
    tenant_id = int(job.tenant_id or 0)
    found = await service.get_send(session, tenant_id=tenant_id, send_id=int(job.payload["send_id"]))
    if found is None:
        return {"skipped": "send gone"}
    after = int(job.payload.get("after_member", 0))
    batch = await service.send_batch(session, tenant_id=tenant_id, send=found, after_member=after, size=BATCH)
    payload = service.notice_payload(found)
    reached = 0
    for member_id in batch:
        if await notify(session, tenant_id=tenant_id, member_id=member_id, payload=payload):
            reached += 1
    if len(batch) == BATCH:
        await jobs.enqueue(
            session,
            job.kind,
            {"send_id": found.id, "after_member": batch[-1]},
            tenant_id=tenant_id,
            dedupe_key=f"{job.kind}:{tenant_id}:{found.id}:{batch[-1]}",
        )
    log.info("segments.send", tenant_id=tenant_id, send_id=found.id, members=len(batch), reached=reached)
    return {"members": len(batch), "reached": reached}


every(REFRESH_EVERY_S, service.REFRESH_JOB)
