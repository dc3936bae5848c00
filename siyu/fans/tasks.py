"""Background work of fan sign-in: forget used-up codes and sessions; tell the domains above of a merge."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.fans import repository
from siyu.fans.events import MERGE_LISTENERS
from siyu.fans.service import MERGED_JOB
from siyu.jobs.models import Job
from siyu.jobs.registry import every, handler
from siyu.kit.time import utcnow

CLEANUP_JOB = "fans.cleanup"


@handler(CLEANUP_JOB)
async def cleanup(session: AsyncSession, job: Job) -> dict[str, Any]:
    return {"deleted": await repository.delete_expired(session, now=utcnow())}


every(3600, CLEANUP_JOB)


@handler(MERGED_JOB)
async def merged(session: AsyncSession, job: Job) -> dict[str, Any]:
    """What the domains above fans keep of the merged member follows her into the member she joined."""
    tenant_id = int(job.tenant_id or 0)
    source, target = int(job.payload["from_member_id"]), int(job.payload["into_member_id"])
    return {name: await listener(session, tenant_id, source, target) for name, listener in MERGE_LISTENERS.items()}
