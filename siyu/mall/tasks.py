"""Background work of the mall: tell fans their reward has shipped or that they won a prize; keep the Redis flash
gates (when configured) in step with the database's stock."""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.config import get_settings
from siyu.jobs.models import Job
from siyu.jobs.notify import notify
from siyu.jobs.registry import every, handler
from siyu.mall import repository
from siyu.mall.fulfil import SHIPPED_JOB
from siyu.mall.gate import FlashGate
from siyu.mall.lottery import PRIZE_JOB

log = structlog.get_logger("siyu.mall")

RECONCILE_JOB = "mall.reconcile_gates"


@handler(RECONCILE_JOB)
async def reconcile_gates(session: AsyncSession, job: Job) -> dict[str, Any]:
    redis_url = get_settings().redis_url
    if not redis_url:
        return {"skipped": "no Redis: the database alone admits"}
    gate = FlashGate(redis_url)
    try:
        corrected = {}
        for reward in await repository.gated_rewards(session):
            assert reward.stock is not None
            drift = await gate.reconcile(tenant_id=reward.tenant_id, reward_id=reward.id, stock=reward.stock)
            if drift:
                corrected[str(reward.id)] = drift
        return {"corrected": corrected}
    finally:
        await gate.close()


every(60, RECONCILE_JOB)


@handler(SHIPPED_JOB)
async def tell_shipped(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Her reward is on its way: every channel that can reach her says so (her H5 home says it in any case)."""
    tenant_id, member_id = int(job.tenant_id or 0), int(job.payload["member_id"])
    payload = {**job.payload, "kind": "shipped", "subject": str(job.payload.get("redemption_id", job.id))}
    reached = await notify(session, tenant_id=tenant_id, member_id=member_id, payload=payload)
    log.info("mall.shipped_notice", tenant_id=tenant_id, member_id=member_id, channels=reached)
    return {"reached": reached}


@handler(PRIZE_JOB)
async def tell_prize(session: AsyncSession, job: Job) -> dict[str, Any]:
    """She won a prize in a lottery: every channel that can reach her says so."""
    tenant_id, member_id = int(job.tenant_id or 0), int(job.payload["member_id"])
    payload = {**job.payload, "kind": "prize_won", "subject": str(job.payload.get("draw_id", job.id))}
    reached = await notify(session, tenant_id=tenant_id, member_id=member_id, payload=payload)
    log.info("mall.prize_notice", tenant_id=tenant_id, member_id=member_id, channels=reached)
    return {"reached": reached}
