"""Drain the jobs table: claim, run each job in its own transaction, retry with backoff, park after N.

A handler's writes and the job's "done" mark commit together, so a crash re-runs the whole job or none
of it; handlers are idempotent, so a job that ran but whose lease expired is safe to run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import socket
import traceback
from dataclasses import dataclass, field
from datetime import timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.jobs import repository
from siyu.jobs.models import Job, JobStatus
from siyu.jobs.registry import HANDLERS, LONG_HANDLERS, PERIODIC
from siyu.jobs.service import backoff, enqueue
from siyu.kit.time import utcnow

log = structlog.get_logger("siyu.worker")

LEASE = timedelta(minutes=5)
HEARTBEAT = LEASE / 3  # a running job's lease is renewed this often: it is lost only when its worker is


def _worker_name() -> str:
    """Unique per Worker (several run in one process with --concurrency) and within jobs.locked_by (64)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


@dataclass
class _Heartbeat:
    stopping: asyncio.Event
    task: asyncio.Task[None] | None = None

    async def stop(self) -> None:
        self.stopping.set()
        if self.task is not None:
            await self.task


class LeaseLost(Exception):
    """The job's lease ran out and another worker took it over; this run's writes are not kept."""


@dataclass
class Worker:
    sessionmaker: async_sessionmaker[AsyncSession]
    name: str = field(default_factory=_worker_name)
    batch: int = 10
    idle_sleep: float = 1.0
    processed: int = 0
    heartbeat: float = HEARTBEAT.total_seconds()

    async def schedule_periodic(self) -> None:
        """Enqueue each periodic job once per its period; the dedupe key makes that once across workers."""
        now = utcnow()
        async with self.sessionmaker() as session, session.begin():
            for kind, seconds in PERIODIC:
                slot = int(now.timestamp()) // seconds
                await enqueue(session, kind, {"slot": slot}, dedupe_key=f"periodic:{kind}:{slot}")

    async def run_once(self) -> int:
        """Claim one batch and run it. Returns how many jobs were handled."""
        now = utcnow()
        async with self.sessionmaker() as session, session.begin():
            jobs = await repository.claim(session, worker=self.name, now=now, lease_until=now + LEASE, limit=self.batch)
        for job in jobs:
            await self._run(job)
        self.processed += len(jobs)
        return len(jobs)

    async def _run(self, job: Job) -> None:
        with structlog.contextvars.bound_contextvars(job_id=job.id, job_kind=job.kind):
            lease = _Heartbeat(asyncio.Event())
            lease.task = asyncio.create_task(self._keep_lease(job, lease.stopping))
            try:
                await self._run_handler(job, lease)
            finally:
                await lease.stop()

    async def _keep_lease(self, job: Job, stop: asyncio.Event) -> None:
        """Renew the job's lease while its handler runs, so a job longer than the lease is not taken over while
        its worker is alive. Stops once the job is being finished (or the lease is lost to another worker)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.heartbeat)
            if stop.is_set():
                return
            try:
                async with self.sessionmaker() as session, session.begin():
                    kept = await repository.renew(
                        session, job_id=job.id, worker=self.name, lease_until=utcnow() + LEASE
                    )
            except Exception:  # a lost connection: try again at the next beat, the lease still has time
                log.warning("job.lease_renewal_failed", exc_info=True)
                continue
            if not kept:
                log.warning("job.lease_lost", attempts=job.attempts)
                return

    async def _run_handler(self, job: Job, lease: _Heartbeat) -> None:
        handler = HANDLERS.get(job.kind)
        long_running = LONG_HANDLERS.get(job.kind)
        try:
            if handler is None and long_running is None:
                raise LookupError(f"no handler for job kind {job.kind!r}")
            # A long handler commits its own batches first; the job is marked done afterwards.
            early = await long_running(self.sessionmaker, job) if long_running is not None else None
            async with self.sessionmaker() as session, session.begin():
                result = await handler(session, job) if handler is not None else early
                await lease.stop()  # no renewal runs beside the statement that finishes the job
                finished = await repository.finish(
                    session,
                    job_id=job.id,
                    worker=self.name,
                    values={
                        "status": JobStatus.done,
                        "finished_at": utcnow(),
                        "result": result,
                        "locked_by": None,
                        "locked_until": None,
                        "last_error": None,
                    },
                )
                if not finished:
                    # Raising rolls the handler's writes back: they commit only with the done mark.
                    raise LeaseLost()
            log.info("job.done", job_id=job.id, kind=job.kind, attempts=job.attempts)
        except LeaseLost:
            log.warning("job.lease_lost", job_id=job.id, kind=job.kind, attempts=job.attempts)
        except Exception as error:
            await lease.stop()
            await self._fail(job, error)

    async def _fail(self, job: Job, error: Exception) -> None:
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()[:2000]
        parked = job.attempts >= job.max_attempts
        values: dict[str, object] = {"last_error": detail, "locked_by": None, "locked_until": None}
        if parked:
            values.update(status=JobStatus.parked, finished_at=utcnow())
        else:
            values.update(status=JobStatus.queued, run_after=utcnow() + backoff(job.attempts))
        async with self.sessionmaker() as session, session.begin():
            recorded = await repository.finish(session, job_id=job.id, worker=self.name, values=values)
        if not recorded:  # another worker has taken the job over; its outcome is the one that counts
            log.warning("job.lease_lost", job_id=job.id, kind=job.kind, attempts=job.attempts, error=detail)
            return
        log.warning(
            "job.parked" if parked else "job.retry",
            job_id=job.id,
            kind=job.kind,
            attempts=job.attempts,
            error=detail,
        )

    async def drain(self, *, max_rounds: int = 1000) -> int:
        """Run until no job is due (used by tests and by `siyu worker --once`)."""
        total = 0
        for _ in range(max_rounds):
            handled = await self.run_once()
            total += handled
            if handled == 0:
                break
        return total

    async def run_forever(self, stop: asyncio.Event) -> None:
        log.info("worker.start", worker=self.name, kinds=sorted(HANDLERS))
        last_schedule = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            if loop.time() - last_schedule > 30:
                await self.schedule_periodic()
                last_schedule = loop.time()
            try:
                handled = await self.run_once()
            except Exception:  # a lost connection must not kill the worker
                log.exception("worker.claim_failed")
                handled = 0
            if handled == 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self.idle_sleep)
        log.info("worker.stop", worker=self.name, processed=self.processed)
