"""Background work of fan sign-in: forget used-up codes and sessions."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.fans import repository
from siyu.jobs.models import Job
from siyu.jobs.registry import every, handler
from siyu.kit.time import utcnow

CLEANUP_JOB = "fans.cleanup"


@handler(CLEANUP_JOB)
async def cleanup(session: AsyncSession, job: Job) -> dict[str, Any]:
    return {"deleted": await repository.delete_expired(session, now=utcnow())}


every(3600, CLEANUP_JOB)
