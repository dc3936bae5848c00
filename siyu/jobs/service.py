"""Enqueue work in the caller's transaction: the job exists if and only if the change it belongs to does."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs import repository
from siyu.jobs.models import Job, JobStatus
from siyu.kit.errors import NotFound
from siyu.kit.pagination import Page, PageRequest
from siyu.kit.time import utcnow

DEFAULT_MAX_ATTEMPTS = 8


class JobNotFound(NotFound):
    code = "job_not_found"
    message = "找不到这个后台任务"


async def enqueue(
    session: AsyncSession,
    kind: str,
    payload: dict[str, Any] | None = None,
    *,
    tenant_id: int | None = None,
    dedupe_key: str | None = None,
    run_after: datetime | None = None,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int | None:
    """Add a job; returns its id, or None when a job with the same dedupe key already exists."""
    return await repository.insert(
        session,
        {
            "tenant_id": tenant_id,
            "kind": kind,
            "payload": payload or {},
            "dedupe_key": dedupe_key,
            "status": JobStatus.queued,
            "attempts": 0,
            "max_attempts": max_attempts,
            "run_after": run_after or utcnow(),
            "created_at": utcnow(),
        },
    )


async def enqueue_many(
    session: AsyncSession,
    kind: str,
    jobs: list[tuple[int | None, dict[str, Any], str, datetime]],
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> None:
    """Add many jobs of one kind set-wise: (tenant_id, payload, dedupe key, run after) each; duplicates skipped."""
    now = utcnow()
    await repository.insert_many(
        session,
        [
            {
                "tenant_id": tenant_id,
                "kind": kind,
                "payload": payload,
                "dedupe_key": dedupe_key,
                "status": JobStatus.queued,
                "attempts": 0,
                "max_attempts": max_attempts,
                "run_after": run_after,
                "created_at": now,
            }
            for tenant_id, payload, dedupe_key, run_after in jobs
        ],
    )


def backoff(attempts: int) -> timedelta:
    """2 s, 4 s, 8 s ... capped at one hour."""
    return timedelta(seconds=min(3600, 2 ** max(1, attempts)))


async def get_for_tenant(session: AsyncSession, *, tenant_id: int, job_id: int) -> Job:
    job = await repository.get_for_tenant(session, tenant_id=tenant_id, job_id=job_id)
    if job is None:
        raise JobNotFound()
    return job


async def list_for_tenant(
    session: AsyncSession, *, tenant_id: int, page: PageRequest, status: str | None = None
) -> Page[Job]:
    return await repository.list_for_tenant(session, tenant_id=tenant_id, page=page, status=status)


async def backlog(session: AsyncSession) -> dict[str, int]:
    """How many jobs are due, retrying after an error, running and parked (for monitoring)."""
    return await repository.backlog(session, now=utcnow())


async def revive(session: AsyncSession, *, dedupe_key: str) -> bool:
    """Run a parked job again, from its first attempt (a person looked at why it failed and asks once more);
    False when no job of that key is parked: it is queued, running, done, or was never added."""
    return await repository.revive(session, dedupe_key=dedupe_key, now=utcnow())


async def is_parked(session: AsyncSession, *, dedupe_key: str) -> bool:
    return await repository.status_of_key(session, dedupe_key=dedupe_key) == JobStatus.parked


async def given_up(session: AsyncSession, job_ids: list[int]) -> set[int]:
    """Of `job_ids`, those that will never run again: parked, or gone."""
    if not job_ids:
        return set()
    statuses = await repository.statuses(session, job_ids)
    return {job_id for job_id in job_ids if statuses.get(job_id, JobStatus.parked) == JobStatus.parked}
