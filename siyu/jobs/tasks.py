"""Housekeeping of the database itself: SQLite never gathers planner statistics on its own, and without them it
picks tenant-wide indexes for one member's rows (tens of milliseconds at a million ledger entries)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs.models import Job
from siyu.jobs.registry import every, handler
from siyu.kit.db import gather_statistics

OPTIMIZE_JOB = "db.optimize"


@handler(OPTIMIZE_JOB)
async def optimize(session: AsyncSession, job: Job) -> dict[str, Any]:
    return await gather_statistics(session)


every(3600, OPTIMIZE_JOB)
