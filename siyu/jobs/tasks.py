"""Housekeeping of the database itself. SQLite never gathers planner statistics on its own: without them it picks
tenant-wide indexes for one member's rows (tens of milliseconds at a million ledger entries). PostgreSQL's
autovacuum does this there."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs.models import Job
from siyu.jobs.registry import every, handler

OPTIMIZE_JOB = "db.optimize"


@handler(OPTIMIZE_JOB)
async def optimize(session: AsyncSession, job: Job) -> dict[str, Any]:
    if session.bind is None or session.bind.dialect.name != "sqlite":
        return {"skipped": "autovacuum gathers statistics"}
    has_stats = await session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"))
    if not has_stats:
        await session.execute(text("ANALYZE"))  # the first time: every table
        return {"analyzed": "all"}
    await session.execute(text("PRAGMA optimize"))  # then only the tables whose statistics went stale
    return {"optimized": True}


every(3600, OPTIMIZE_JOB)
