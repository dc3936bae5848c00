"""Background work of claims: settle waiting claims when their orders arrive, expire those that waited too long."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims import crediting, service
from siyu.jobs import service as jobs
from siyu.jobs.models import Job
from siyu.jobs.notify import notify
from siyu.jobs.registry import every, handler
from siyu.kit.time import utcnow
from siyu.tenants import service as tenants

RESOLVE_JOB = "claims.resolve"
SWEEP_JOB = "loyalty.sweep"  # (its name from before the sweep moved here: queued jobs keep running)
SWEEP_BATCH = 2000  # rows each step looks at per tenant per job; a fuller sweep continues in a follow-up job
SWEEP_EVERY_S = 600


async def on_orders_arrived(session: AsyncSession, tenant_id: int, import_id: int) -> int:
    """An import brought new orders: settle the claims waiting for them, credit those of bound accounts."""
    settled, _expired = await service.resolve_pending(session, tenant_id=tenant_id)
    return settled + await service.credit_bound(session, tenant_id=tenant_id, import_id=import_id)


async def credit_changes(session: AsyncSession, tenant_id: int, import_id: int) -> int:
    """An import changed orders: post, void or claw back the points of those that earned some."""
    return await crediting.apply_order_changes(session, tenant_id=tenant_id, import_id=import_id)


async def on_orders_changed(session: AsyncSession, tenant_id: int, import_id: int) -> int:
    """An import changed orders: one of a bound account may have become payable (paid after unpaid)."""
    return await service.credit_bound(session, tenant_id=tenant_id, import_id=import_id)


@handler(service.BOUND_JOB)
async def credit_bound(session: AsyncSession, job: Job) -> dict[str, Any]:
    """An account was bound to a member (or an import asks): credit the orders it carries."""
    assert job.tenant_id is not None
    member_id, import_id = job.payload.get("member_id"), job.payload.get("import_id")
    credited = await service.credit_bound(session, tenant_id=job.tenant_id, member_id=member_id, import_id=import_id)
    return {"credited": credited}


@handler(RESOLVE_JOB)
async def resolve(session: AsyncSession, job: Job) -> dict[str, Any]:
    now = utcnow()
    tenant_ids = [job.tenant_id] if job.tenant_id else await tenants.tenant_ids(session)
    done: dict[str, list[int]] = {}
    for tenant_id in tenant_ids:
        settled, expired = await service.resolve_pending(session, tenant_id=tenant_id, now=now)
        if settled or expired:
            done[str(tenant_id)] = [settled, expired]
    return {"settled_expired": done}


every(600, RESOLVE_JOB)


@handler(SWEEP_JOB)
async def sweep_points(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Post held points whose hold ended, expire lots, warn of coming expiry, review tiers: one batch per tenant
    (job.tenant_id, or every tenant); a tenant with work left gets a follow-up job. Idempotent."""
    now = utcnow()
    tenant_ids = [job.tenant_id] if job.tenant_id else await tenants.tenant_ids(session)
    done: dict[str, dict[str, int]] = {}
    for tenant_id in tenant_ids:
        result = await crediting.sweep(session, tenant_id=tenant_id, now=now, batch=SWEEP_BATCH)
        counts = {k: v for k, v in vars(result).items() if k != "more" and v}
        if counts:
            done[str(tenant_id)] = counts
        if result.more:
            await jobs.enqueue(
                session,
                SWEEP_JOB,
                {"after": job.id},
                tenant_id=tenant_id,
                dedupe_key=f"{SWEEP_JOB}:{job.id}:{tenant_id}",
            )
    return {"swept": done}


every(SWEEP_EVERY_S, SWEEP_JOB)


@handler(service.RESULT_JOB)
async def tell_result(session: AsyncSession, job: Job) -> dict[str, Any]:
    """A claim was credited, approved, rejected or expired (or a bound account's order credited): tell her."""
    assert job.tenant_id is not None
    payload = {**job.payload, "subject": str(job.payload["claim_id"])}
    reached = await notify(session, tenant_id=job.tenant_id, member_id=int(job.payload["member_id"]), payload=payload)
    return {"reached": reached}
