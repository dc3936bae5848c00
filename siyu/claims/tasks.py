"""Background work of claims: settle waiting claims when their orders arrive, expire those that waited too long."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims import crediting, service
from siyu.jobs.models import Job
from siyu.jobs.registry import every, handler
from siyu.kit.time import utcnow
from siyu.tenants import service as tenants

RESOLVE_JOB = "claims.resolve"


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
