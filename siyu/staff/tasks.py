"""Background work of the staff domain."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs.models import Job
from siyu.jobs.registry import every, handler
from siyu.staff import service


@handler("staff.purge_sessions")
async def purge_sessions(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Delete expired console sessions. Running it twice deletes nothing more."""
    return {"deleted": await service.purge_expired_sessions(session)}


every(3600, "staff.purge_sessions")
