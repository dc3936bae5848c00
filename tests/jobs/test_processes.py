"""Workers in separate OS processes, and the `siyu worker --once` command, against their own databases.

These tests are synchronous on purpose: each builds a dedicated migrated database (the rolled-back test
connection is of no use to another process) and drives it with short `asyncio.run` calls.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from siyu.cli import app
from siyu.config import get_settings
from siyu.db import create_engine, create_sessionmaker, is_sqlite
from siyu.jobs.models import Job, JobStatus
from siyu.jobs.registry import handler
from siyu.jobs.service import enqueue
from siyu.jobs.worker import Worker
from siyu.kit.time import utcnow
from siyu.staff import service as staff
from siyu.staff.models import StaffSession
from tests.support import factories
from tests.support.databases import backend, fresh_database

RUN_KIND = "test.processes.record_run"


@handler(RUN_KIND)
async def record_run(session: AsyncSession, job: Job) -> dict[str, Any]:
    """One row in job_runs per execution, written in the job's own transaction."""
    await session.execute(
        text("INSERT INTO job_runs (job_id, worker) VALUES (:job_id, :worker)"),
        {"job_id": job.id, "worker": job.locked_by},
    )
    return {"worker": job.locked_by}


def drain_in_child(url: str, name: str, batch: int, start_line: Barrier) -> None:
    """Entry point of a worker process (spawned: it imports this module, which registers record_run)."""
    asyncio.run(_drain(url, name, batch, start_line))


async def _drain(url: str, name: str, batch: int, start_line: Barrier) -> None:
    engine = create_engine(url)
    try:
        sessionmaker = create_sessionmaker(engine)
        async with sessionmaker() as session:  # connect before the start so all workers begin together
            await session.execute(text("SELECT 1"))
        start_line.wait(timeout=120)
        await Worker(sessionmaker, name=name, batch=batch).drain()
    finally:
        await engine.dispose()


@pytest.fixture
def workers_database(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path, "workers") as url:
        yield url


async def _prepare(url: str, jobs: int) -> None:
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE job_runs (job_id bigint NOT NULL, worker text NOT NULL)"))
        async with create_sessionmaker(engine)() as session, session.begin():
            for n in range(jobs):
                await enqueue(session, RUN_KIND, {"n": n})
    finally:
        await engine.dispose()


async def _outcome(
    url: str,
) -> tuple[list[tuple[int, str]], list[tuple[int, str, int, dict[str, Any] | None]]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            runs = [(row[0], row[1]) for row in await connection.execute(text("SELECT job_id, worker FROM job_runs"))]
        async with create_sessionmaker(engine)() as session:
            rows = await session.execute(select(Job.id, Job.status, Job.attempts, Job.result).order_by(Job.id))
            jobs = [(row.id, row.status, row.attempts, row.result) for row in rows]
        return runs, jobs
    finally:
        await engine.dispose()


ON_POSTGRES = backend() == "postgres"


@pytest.mark.parametrize(
    ("processes", "jobs", "batch"),
    [
        pytest.param(
            3,
            300,
            5,
            id="postgres-3-processes",
            marks=pytest.mark.skipif(not ON_POSTGRES, reason="needs SIYU_TEST_DATABASE=postgres"),
        ),
        pytest.param(
            2,
            300,
            5,
            id="sqlite-2-processes",
            marks=pytest.mark.skipif(ON_POSTGRES, reason="the SQLite case of this test"),
        ),
    ],
)
def test_workers_in_separate_processes_never_run_a_job_twice(
    workers_database: str, processes: int, jobs: int, batch: int
) -> None:
    assert is_sqlite(workers_database) != ON_POSTGRES
    asyncio.run(_prepare(workers_database, jobs))

    context = multiprocessing.get_context("spawn")
    start_line = context.Barrier(processes)
    children = [
        context.Process(target=drain_in_child, args=(workers_database, f"worker-{n}", batch, start_line))
        for n in range(processes)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join(timeout=180)
    for child in children:
        if child.is_alive():
            child.kill()
    assert [child.exitcode for child in children] == [0] * processes

    runs, rows = asyncio.run(_outcome(workers_database))
    job_ids = [job_id for job_id, _status, _attempts, _result in rows]
    assert len(rows) == jobs
    assert len(runs) == jobs, "some job ran more than once (or not at all)"
    assert sorted(job_id for job_id, _ in runs) == job_ids
    assert all(status == JobStatus.done and attempts == 1 for _id, status, attempts, _ in rows)
    # The done mark names the worker that wrote the run: both were written in one transaction.
    ran_by = dict(runs)
    assert all(result == {"worker": ran_by[job_id]} for job_id, _status, _attempts, result in rows)
    per_worker = Counter(worker for _, worker in runs)
    assert len(per_worker) > 1, f"only one worker got jobs: {per_worker}"
    assert set(per_worker) <= {f"worker-{n}" for n in range(processes)}


# 10. The command line.


async def _seed_for_cli(url: str) -> tuple[int, int, str]:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            tenant = await factories.tenant(session)
            login = await factories.staff_login(session, tenant.id)
            old = await staff.open_session(session, user=login.user, tenant_id=tenant.id, ip=None, hours=1)
            await session.execute(
                update(StaffSession)
                .where(StaffSession.token_hash == old.session.token_hash)
                .values(expires_at=utcnow() - timedelta(hours=1))
            )
            purge = await enqueue(session, "staff.purge_sessions", {})
            later = await enqueue(session, "staff.purge_sessions", {}, run_after=utcnow() + timedelta(hours=1))
        assert purge is not None and later is not None
        return purge, later, old.session.token_hash
    finally:
        await engine.dispose()


async def _cli_outcome(url: str, job_ids: tuple[int, int]) -> tuple[list[Job], set[str]]:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            jobs = list(await session.scalars(select(Job).where(Job.id.in_(job_ids)).order_by(Job.id)))
            sessions = set(await session.scalars(select(StaffSession.token_hash)))
        return jobs, sessions
    finally:
        await engine.dispose()


@pytest.fixture
def cli_database(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path, "cli") as url:
        yield url


@pytest.fixture
def fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_worker_once_command_drains_due_jobs(cli_database: str, fresh_settings: None) -> None:
    purge, later, expired_hash = asyncio.run(_seed_for_cli(cli_database))

    result = CliRunner().invoke(app, ["worker", "--once"], env={"SIYU_DATABASE_URL": cli_database})

    assert result.exit_code == 0, result.output
    assert "已处理 1 个任务" in result.output
    jobs, sessions = asyncio.run(_cli_outcome(cli_database, (purge, later)))
    assert [(job.id, job.status, job.result) for job in jobs] == [
        (purge, JobStatus.done, {"deleted": 1}),
        (later, JobStatus.queued, None),
    ]
    assert expired_hash not in sessions and len(sessions) == 1  # the valid session is kept

    # Nothing due any more: a second run handles nothing.
    again = CliRunner().invoke(app, ["worker", "--once"], env={"SIYU_DATABASE_URL": cli_database})
    assert again.exit_code == 0, again.output
    assert "已处理 0 个任务" in again.output
