"""Background work of the check-in: queue the reminders of the day, and hand each one to the notice channels
(siyu.jobs.notify: the notices domain files it for the channels the tenant chose for 签到提醒)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.checkin import service
from siyu.jobs.models import Job
from siyu.jobs.notify import notify
from siyu.jobs.registry import every, handler
from siyu.tenants import service as tenants

QUEUE_JOB = "checkin.remind"


@handler(QUEUE_JOB)
async def queue_reminders(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Every tenant past its reminder hour: a notice job for each opted-in member not checked in today."""
    queued = 0
    for tenant_id in await tenants.tenant_ids(session):
        queued += await service.queue_reminders(session, tenant_id=tenant_id)
    return {"queued": queued}


@handler(service.REMINDER_JOB)
async def reminder_notice(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Her reminder of the day, through whatever channels reach her (filed once per member and day)."""
    member_id, day = int(job.payload["member_id"]), str(job.payload.get("day", ""))
    payload = {"kind": "checkin_reminder", "subject": f"checkin:{day}", "day": day}
    reached = await notify(session, tenant_id=int(job.tenant_id or 0), member_id=member_id, payload=payload)
    return {"member_id": member_id, "reached": reached}


every(900, QUEUE_JOB)
