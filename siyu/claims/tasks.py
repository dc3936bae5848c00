"""Background work of claims: settle waiting claims when their orders arrive, expire those that waited too long."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims import service
from siyu.jobs.models import Job
from siyu.jobs.registry import every, handler
from siyu.kit.time import utcnow
from siyu.loyalty import service as loyalty

RESOLVE_JOB = "claims.resolve"


async def on_orders_arrived(session: AsyncSession, tenant_id: int, _import_id: int) -> int:
    """An import brought new orders: settle the claims waiting for them."""
    settled, _expired = await service.resolve_pending(session, tenant_id=tenant_id)
    return settled


@handler(RESOLVE_JOB)
async def resolve(session: AsyncSession, job: Job) -> dict[str, Any]:
    now = utcnow()
    tenant_ids = [job.tenant_id] if job.tenant_id else await loyalty.tenants_to_sweep(session)
    done: dict[str, list[int]] = {}
    for tenant_id in tenant_ids:
        settled, expired = await service.resolve_pending(session, tenant_id=tenant_id, now=now)
        if settled or expired:
            done[str(tenant_id)] = [settled, expired]
    return {"settled_expired": done}


every(600, RESOLVE_JOB)
