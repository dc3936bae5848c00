"""Background work of analytics: the snapshots kept current on a schedule (a refresh reads only what changed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.analytics import service
from siyu.jobs.models import Job
from siyu.jobs.registry import every, handler

REFRESH_JOB = "analytics.refresh"
REFRESH_EVERY_S = 900


def snapshot_dir() -> Path:
    from siyu.config import get_settings

    return get_settings().data_dir / "analytics"


@handler(REFRESH_JOB)
async def refresh_snapshots(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Refresh the snapshot of one tenant (job.tenant_id) or of every tenant that has one (a first build is asked
    for on the member value page or through the API). Idempotent."""
    tenant_ids = [job.tenant_id] if job.tenant_id else await service.tenants_with_snapshots(session)
    directory = snapshot_dir()
    read: dict[str, int] = {}
    for tenant_id in tenant_ids:
        done = await service.refresh(session, tenant_id=tenant_id, directory=directory)
        read[str(tenant_id)] = done.read
    return {"read": read}


every(REFRESH_EVERY_S, REFRESH_JOB)
