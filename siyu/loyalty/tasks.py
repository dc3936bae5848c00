"""Background work of the loyalty programme: the periodic sweep, reacting to order changes, expiry warnings.

What order changes do to points is the crediting module's (siyu.claims.crediting).
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs.models import Job
from siyu.jobs.notify import notify
from siyu.jobs.registry import handler
from siyu.loyalty import service

log = structlog.get_logger(__name__)


@handler(service.WARNING_JOB)
async def warn_of_expiry(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Tell a member that points are about to expire, through every channel that can reach her."""
    tenant_id, member_id = int(job.tenant_id or 0), int(job.payload["member_id"])
    expires_at = str(job.payload.get("expires_at", ""))
    payload = {**job.payload, "kind": "points_expiring", "subject": f"{expires_at[:10]}:{job.payload.get('points')}"}
    reached = await notify(session, tenant_id=tenant_id, member_id=member_id, payload=payload)
    log.info(
        "points.expiry_warning",
        tenant_id=tenant_id,
        member_id=member_id,
        points=job.payload.get("points"),
        expires_at=job.payload.get("expires_at"),
        channels=reached,
    )
    return {"reached": reached}
