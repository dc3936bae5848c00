"""Background work of the ledger: expiry on demand.

What order changes do to points is decided by the crediting module (siyu.claims.crediting); the periodic sweep
(post, expire, warn, review tiers) lives with it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs import service as jobs
from siyu.jobs.models import Job
from siyu.jobs.registry import handler
from siyu.kit.time import utcnow
from siyu.ledger import service
from siyu.tenants import service as tenants

EXPIRE_BATCH = 5000  # lots looked at per tenant per job; a fuller sweep continues in a follow-up job


@handler("ledger.expire")
async def expire_points(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Expire lots past their expiry, in one tenant (job.tenant_id) or in every tenant. Idempotent."""
    now = utcnow()
    tenant_ids = [job.tenant_id] if job.tenant_id else await tenants.tenant_ids(session)
    expired: dict[str, int] = {}
    for tenant_id in tenant_ids:
        n = await service.expire(session, tenant_id=tenant_id, now=now, limit=EXPIRE_BATCH)
        if n:
            expired[str(tenant_id)] = n
        if n >= EXPIRE_BATCH:
            await jobs.enqueue(
                session,
                "ledger.expire",
                {"after": job.id},
                tenant_id=tenant_id,
                dedupe_key=f"ledger.expire:{job.id}:{tenant_id}",
            )
    return {"expired": expired}
