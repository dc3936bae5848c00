"""Background work of the loyalty programme: the periodic sweep, reacting to order changes, expiry warnings.

What order changes do to points is the crediting module's (siyu.claims.crediting).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs import service as jobs
from siyu.jobs.models import Job
from siyu.jobs.registry import every, handler
from siyu.kit.time import utcnow
from siyu.loyalty import service
from siyu.tenants import service as tenants

log = structlog.get_logger(__name__)

SWEEP_JOB = "loyalty.sweep"
SWEEP_BATCH = 2000  # rows each step looks at per tenant per job; a fuller sweep continues in a follow-up job
SWEEP_EVERY_S = 600

# (session, tenant_id, member_id, payload) -> True when the member was reached (e.g. a WeChat subscribe message)
Notifier = Callable[[AsyncSession, int, int, dict[str, Any]], Awaitable[bool]]
NOTIFIERS: dict[str, Notifier] = {}


def notify_with(name: str, notifier: Notifier) -> None:
    """A channel that can reach members (registered by the domain that owns it)."""
    NOTIFIERS[name] = notifier


@handler(SWEEP_JOB)
async def sweep_points(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Post held points whose hold ended, expire lots, warn of coming expiry, review tiers: one batch per tenant
    (job.tenant_id, or every tenant); a tenant with work left gets a follow-up job. Idempotent."""
    now = utcnow()
    tenant_ids = [job.tenant_id] if job.tenant_id else await tenants.tenant_ids(session)
    done: dict[str, dict[str, int]] = {}
    for tenant_id in tenant_ids:
        result = await service.sweep(session, tenant_id=tenant_id, now=now, batch=SWEEP_BATCH)
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


@handler(service.WARNING_JOB)
async def warn_of_expiry(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Tell a member that points are about to expire, through every channel that can reach her."""
    tenant_id, member_id = int(job.tenant_id or 0), int(job.payload["member_id"])
    reached = [name for name, notify in NOTIFIERS.items() if await notify(session, tenant_id, member_id, job.payload)]
    log.info(
        "points.expiry_warning",
        tenant_id=tenant_id,
        member_id=member_id,
        points=job.payload.get("points"),
        expires_at=job.payload.get("expires_at"),
        channels=reached,
    )
    return {"reached": reached}


every(SWEEP_EVERY_S, SWEEP_JOB)
