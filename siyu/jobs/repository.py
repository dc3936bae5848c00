from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs.models import Job, JobStatus
from siyu.kit.db import of_tenant
from siyu.kit.pagination import Page, PageRequest


async def insert(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Insert a job; with a dedupe key already present, insert nothing and return None."""
    if values.get("dedupe_key") is None:
        job = Job(**values)
        session.add(job)
        await session.flush()
        return job.id
    dialect = session.get_bind().dialect.name
    insert_fn = pg_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_fn(Job).values(**values).on_conflict_do_nothing(index_elements=["dedupe_key"])
    result = await session.execute(statement.returning(Job.id))
    return result.scalar_one_or_none()


async def claim(session: AsyncSession, *, worker: str, now: datetime, lease_until: datetime, limit: int) -> list[Job]:
    """Take up to `limit` due jobs (or jobs whose worker died: lease over) for this worker.

    PostgreSQL: FOR UPDATE SKIP LOCKED lets several workers claim side by side without waiting.
    SQLite: one writer at a time; the statement is the same, the locking clause is dropped.
    """
    await _park_exhausted(session, now=now)
    due = or_(
        and_(Job.status == JobStatus.queued, Job.run_after <= now),
        and_(Job.status == JobStatus.running, Job.locked_until < now, Job.attempts < Job.max_attempts),
    )
    candidates = (
        select(Job.id).where(due).order_by(Job.run_after, Job.id).limit(limit).with_for_update(skip_locked=True)
    )
    ids = list(await session.scalars(candidates))
    if not ids:
        return []
    await session.execute(
        update(Job)
        .where(Job.id.in_(ids), due)
        .values(status=JobStatus.running, locked_by=worker, locked_until=lease_until, attempts=Job.attempts + 1)
        .execution_options(synchronize_session=False)
    )
    rows = await session.scalars(
        select(Job).where(Job.id.in_(ids), Job.locked_by == worker).execution_options(populate_existing=True)
    )
    return list(rows)


LOST_ON_LAST_ATTEMPT = "lease expired on the last attempt: the worker stopped or crashed running the job"


async def _park_exhausted(session: AsyncSession, *, now: datetime) -> None:
    """Park jobs whose worker died on their last allowed attempt instead of running them again.

    Such a job may be what kills its worker; without this it would be re-run forever, with no backoff.
    """
    exhausted = and_(Job.status == JobStatus.running, Job.locked_until < now, Job.attempts >= Job.max_attempts)
    ids = list(await session.scalars(select(Job.id).where(exhausted).with_for_update(skip_locked=True)))
    if not ids:
        return
    await session.execute(
        update(Job)
        .where(Job.id.in_(ids), exhausted)
        .values(
            status=JobStatus.parked,
            finished_at=now,
            locked_by=None,
            locked_until=None,
            last_error=LOST_ON_LAST_ATTEMPT,
        )
        .execution_options(synchronize_session=False)
    )


async def statuses(session: AsyncSession, job_ids: list[int]) -> dict[int, str]:
    rows = await session.execute(select(Job.id, Job.status).where(Job.id.in_(job_ids)))
    return {int(row[0]): str(row[1]) for row in rows.all()}


async def get(session: AsyncSession, job_id: int) -> Job | None:
    return await session.get(Job, job_id)


async def get_for_tenant(session: AsyncSession, *, tenant_id: int, job_id: int) -> Job | None:
    return await session.scalar(select(Job).where(of_tenant(Job, tenant_id), Job.id == job_id))


async def finish(session: AsyncSession, *, job_id: int, worker: str, values: dict[str, Any]) -> bool:
    result = await session.execute(
        update(Job).where(Job.id == job_id, Job.locked_by == worker, Job.status == JobStatus.running).values(**values)
    )
    return bool(getattr(result, "rowcount", 0))


async def list_for_tenant(
    session: AsyncSession, *, tenant_id: int, page: PageRequest, status: str | None = None
) -> Page[Job]:
    statement = select(Job).where(of_tenant(Job, tenant_id))
    if status:
        statement = statement.where(Job.status == status)
    total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = await session.scalars(statement.order_by(Job.id.desc()).offset(page.offset).limit(page.size))
    return Page(items=list(rows), total=total, request=page)


async def backlog(session: AsyncSession, *, now: datetime) -> dict[str, int]:
    """Jobs due and not taken, jobs waiting to retry after an error, and parked jobs: one grouped count over the
    (status, run_after) index, cheap enough for every scrape."""
    retrying = and_(Job.status == JobStatus.queued, Job.last_error.is_not(None))
    due = and_(Job.status == JobStatus.queued, Job.run_after <= now)
    statement = select(
        func.count().filter(due),
        func.count().filter(retrying),
        func.count().filter(Job.status == JobStatus.running),
        func.count().filter(Job.status == JobStatus.parked),
    ).where(Job.status.in_((JobStatus.queued, JobStatus.running, JobStatus.parked)))
    waiting, failing, running, parked = (await session.execute(statement)).one()
    return {"waiting": waiting, "retrying": failing, "running": running, "parked": parked}


async def renew(session: AsyncSession, *, job_id: int, worker: str, lease_until: datetime) -> bool:
    """Extend the lease of a job this worker still holds; False when it has lost it."""
    result = await session.execute(
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker, Job.status == JobStatus.running)
        .values(locked_until=lease_until)
    )
    return bool(getattr(result, "rowcount", 0))


async def insert_many(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert many jobs in one statement per chunk; rows whose dedupe key is already present are skipped."""
    dialect = session.get_bind().dialect.name
    insert_fn = pg_insert if dialect == "postgresql" else sqlite_insert
    for start in range(0, len(rows), 2000):
        chunk = rows[start : start + 2000]
        await session.execute(insert_fn(Job).on_conflict_do_nothing(index_elements=["dedupe_key"]), chunk)


async def revive(session: AsyncSession, *, dedupe_key: str, now: datetime) -> bool:
    """A parked job (found by its dedupe key) queued again with fresh attempts; False when there is none parked."""
    result = await session.execute(
        update(Job)
        .where(Job.dedupe_key == dedupe_key, Job.status == JobStatus.parked)
        .values(status=JobStatus.queued, attempts=0, run_after=now, locked_by=None, locked_until=None, finished_at=None)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def status_of_key(session: AsyncSession, *, dedupe_key: str) -> str | None:
    return await session.scalar(select(Job.status).where(Job.dedupe_key == dedupe_key))
