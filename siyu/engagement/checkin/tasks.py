"""Background work of the check-in: queue the reminders of the day, and the reminder notice itself.

Sending comes with the notice channels (WeChat subscribe messages, SMS): until then a reminder job is kept as
queued, not sent, and says so in its result. Nothing pretends to reach the fan.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.checkin import service
from siyu.jobs.models import Job
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
    """No notice channel exists yet: the reminder is recorded as queued and not sent."""
    return {"sent": False, "reason": "no_notice_channel", "member_id": job.payload.get("member_id")}


every(900, QUEUE_JOB)
