"""Background work of the ledger: voiding and clawing back for order changes, and expiry on demand.

The periodic sweep (post, expire, warn, review tiers) and the listener for order changes that the wiring
registers live in siyu.loyalty.tasks, which knows the tenant's policy; these stay usable on their own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs import service as jobs
from siyu.jobs.models import Job
from siyu.jobs.registry import handler
from siyu.kit.time import utcnow
from siyu.ledger import service

EXPIRE_BATCH = 5000  # lots looked at per tenant per job; a fuller sweep continues in a follow-up job


async def on_orders_changed(session: AsyncSession, tenant_id: int, import_id: int) -> int:
    """The orders of one import changed: for those that earned points, void held points of an order
    closed or refunded before posting, claw back (in proportion) the points of a refunded order.
    A completed order changes nothing here: held points post in the post sweep when the hold ends.
    Safe to run again. Returns the number of orders acted on."""
    return await service.apply_order_changes(session, tenant_id=tenant_id, import_id=import_id)


@handler("ledger.expire")
async def expire_points(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Expire lots past their expiry, in one tenant (job.tenant_id) or in every tenant. Idempotent."""
    now = utcnow()
    tenant_ids = [job.tenant_id] if job.tenant_id else await service.tenants_to_sweep(session)
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
