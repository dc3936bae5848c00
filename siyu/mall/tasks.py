"""Background work of the mall: keep the Redis flash gates (when configured) in step with the database's stock."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.config import get_settings
from siyu.jobs.models import Job
from siyu.jobs.registry import every, handler
from siyu.mall import repository
from siyu.mall.gate import FlashGate

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
