"""Durable jobs: enqueued in the caller's transaction, drained by Worker, retried with backoff, parked.

Everything here runs inside the test's rolled-back transaction: the Worker gets the `sessionmaker`
fixture, whose sessions join that transaction through savepoints.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import siyu.staff.tasks  # noqa: F401 - registers staff.purge_sessions and its period
from siyu.db import create_engine, create_sessionmaker
from siyu.jobs import registry, repository
from siyu.jobs import worker as worker_module
from siyu.jobs.models import Job, JobStatus
from siyu.jobs.registry import HANDLERS, handler
from siyu.jobs.service import backoff, enqueue
from siyu.jobs.worker import LEASE, Worker
from siyu.kit.time import utcnow
from siyu.members import service as members
from siyu.members.models import Member
from siyu.staff import service as staff
from siyu.staff.models import StaffSession
from tests.support import factories
from tests.support.databases import fresh_database

# Runs per job id of the handlers below; cleared before every test (SQLite reuses ids after a rollback).
CALLS: Counter[int] = Counter()


class Boom(RuntimeError):
    pass


@handler("test.echo")
async def echo(session: AsyncSession, job: Job) -> dict[str, Any]:
    CALLS[job.id] += 1
    return {"echo": job.payload, "attempt": job.attempts}


@handler("test.always_fails")
async def always_fails(session: AsyncSession, job: Job) -> None:
    CALLS[job.id] += 1
    raise Boom(f"boom on attempt {job.attempts}")


@handler("test.write_member")
async def write_member(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Writes a member through the members service, then fails when the payload says so."""
    CALLS[job.id] += 1
    member = await members.create_member(session, tenant_id=job.payload["tenant_id"], nickname=job.payload["nickname"])
    if job.payload.get("fail"):
        raise Boom("failed after writing a member")
    return {"member_id": member.id}


@pytest.fixture(autouse=True)
def _clear_calls() -> Iterator[None]:
    CALLS.clear()
    yield
    CALLS.clear()


@pytest.fixture
def worker(sessionmaker: async_sessionmaker[AsyncSession]) -> Worker:
    return Worker(sessionmaker, name="test-worker")


async def reload(session: AsyncSession, job_id: int) -> Job:
    job = await session.get(Job, job_id, populate_existing=True)
    assert job is not None, f"job {job_id} is gone"
    return job


async def make_due(session: AsyncSession, job_id: int) -> None:
    """Pretend the backoff has passed."""
    await session.execute(update(Job).where(Job.id == job_id).values(run_after=utcnow() - timedelta(seconds=1)))


async def count_jobs(session: AsyncSession, *conditions: Any) -> int:
    return await session.scalar(select(func.count()).select_from(Job).where(*conditions)) or 0


async def member_count(session: AsyncSession, tenant_id: int, nickname: str) -> int:
    statement = select(func.count()).select_from(Member)
    return await session.scalar(statement.where(Member.tenant_id == tenant_id, Member.nickname == nickname)) or 0


# 1. The job exists if and only if the transaction that enqueued it commits.


async def test_job_enqueued_in_rolled_back_transaction_does_not_exist(session: AsyncSession) -> None:
    # Both insert paths: the ORM one (no dedupe key) and the INSERT .. ON CONFLICT one (dedupe key).
    async with session.begin_nested() as savepoint:
        plain = await enqueue(session, "test.tx.rolled_back", {})
        keyed = await enqueue(session, "test.tx.rolled_back", {}, dedupe_key="tx-test:1")
        assert plain is not None and keyed is not None
        assert await count_jobs(session, Job.kind == "test.tx.rolled_back") == 2
        await savepoint.rollback()
    assert await count_jobs(session, Job.kind == "test.tx.rolled_back") == 0

    async with session.begin_nested():
        plain = await enqueue(session, "test.tx.committed", {"n": 1})
        # The rolled-back job did not keep its dedupe key.
        keyed = await enqueue(session, "test.tx.committed", {"n": 2}, dedupe_key="tx-test:1")
    assert plain is not None and keyed is not None
    assert await count_jobs(session, Job.kind == "test.tx.committed") == 2
    assert (await reload(session, plain)).status == JobStatus.queued
    assert (await reload(session, keyed)).payload == {"n": 2}


@pytest.fixture
def own_database(tmp_path: Path) -> Iterator[str]:
    with fresh_database(tmp_path, "jobs_tx") as url:
        yield url


@pytest.fixture
async def own_sessionmaker(own_database: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(own_database)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


async def test_job_follows_real_commit_and_rollback_seen_from_another_connection(
    own_sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    with pytest.raises(Boom):
        async with own_sessionmaker() as session, session.begin():
            await enqueue(session, "test.echo", {"tx": "rolled back"})
            raise Boom("the change the job belongs to failed")
    async with own_sessionmaker() as session, session.begin():
        kept = await enqueue(session, "test.echo", {"tx": "committed"})

    async with own_sessionmaker() as reader:
        rows = (await reader.execute(select(Job.id, Job.payload))).all()
    assert [(row.id, row.payload) for row in rows] == [(kept, {"tx": "committed"})]


# 2. Draining runs due jobs only.


async def test_drain_runs_due_job_and_records_result(session: AsyncSession, worker: Worker) -> None:
    due = await enqueue(session, "test.echo", {"n": 1})
    later = await enqueue(session, "test.echo", {"n": 2}, run_after=utcnow() + timedelta(minutes=10))
    assert due is not None and later is not None
    before = utcnow()

    assert await worker.drain() == 1

    done = await reload(session, due)
    assert done.status == JobStatus.done
    assert done.result == {"echo": {"n": 1}, "attempt": 1}
    assert done.attempts == 1
    assert done.finished_at is not None and before <= done.finished_at <= utcnow()
    assert done.locked_by is None and done.locked_until is None and done.last_error is None
    assert CALLS[due] == 1

    waiting = await reload(session, later)
    assert waiting.status == JobStatus.queued and waiting.attempts == 0 and waiting.finished_at is None
    assert CALLS[later] == 0

    # Draining again runs nothing: the done job is not picked up twice.
    assert await worker.drain() == 0
    assert CALLS[due] == 1


# 3. Retry with exponential backoff, park after max_attempts.


def test_backoff_doubles_from_two_seconds_and_caps_at_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 7)] == [2, 4, 8, 16, 32, 64]
    assert backoff(11) == timedelta(seconds=2048)
    assert backoff(12) == timedelta(hours=1)
    assert backoff(40) == timedelta(hours=1)


async def test_failing_job_is_retried_with_backoff_then_parked(session: AsyncSession, worker: Worker) -> None:
    job_id = await enqueue(session, "test.always_fails", {}, max_attempts=3)
    assert job_id is not None

    for attempt, delay in [(1, 2), (2, 4)]:
        before = utcnow()
        assert await worker.drain() == 1
        after = utcnow()
        job = await reload(session, job_id)
        assert job.status == JobStatus.queued
        assert job.attempts == attempt
        assert before + timedelta(seconds=delay) <= job.run_after <= after + timedelta(seconds=delay)
        assert job.last_error == f"tests.jobs.test_worker.Boom: boom on attempt {attempt}"
        assert job.locked_by is None and job.locked_until is None and job.finished_at is None
        # Not due yet: draining now does not run it again.
        assert await worker.drain() == 0
        assert CALLS[job_id] == attempt
        await make_due(session, job_id)

    assert await worker.drain() == 1
    parked = await reload(session, job_id)
    assert parked.status == JobStatus.parked
    assert parked.attempts == 3
    assert parked.last_error == "tests.jobs.test_worker.Boom: boom on attempt 3"
    assert parked.finished_at is not None and parked.result is None
    assert parked.locked_by is None and parked.locked_until is None

    await make_due(session, job_id)
    assert await worker.drain() == 0
    assert CALLS[job_id] == 3
    assert (await reload(session, job_id)).status == JobStatus.parked


async def test_backoff_delay_is_capped_at_an_hour(session: AsyncSession, worker: Worker) -> None:
    job_id = await enqueue(session, "test.always_fails", {}, max_attempts=20)
    assert job_id is not None
    # As if it had already failed 14 times: 2**15 s would be nine hours.
    await session.execute(update(Job).where(Job.id == job_id).values(attempts=14))
    before = utcnow()
    assert await worker.drain() == 1
    after = utcnow()
    job = await reload(session, job_id)
    assert job.status == JobStatus.queued and job.attempts == 15
    assert before + timedelta(hours=1) <= job.run_after <= after + timedelta(hours=1)


# 4. A failing handler's writes are rolled back with it; a succeeding handler's are kept.


async def test_writes_of_failing_handler_are_rolled_back(session: AsyncSession, worker: Worker) -> None:
    tenant = await factories.tenant(session)
    failing = await enqueue(
        session, "test.write_member", {"tenant_id": tenant.id, "nickname": "失败的粉丝", "fail": True}
    )
    succeeding = await enqueue(session, "test.write_member", {"tenant_id": tenant.id, "nickname": "成功的粉丝"})
    assert failing is not None and succeeding is not None

    assert await worker.drain() == 2

    assert CALLS[failing] == 1, "the failing handler did run (and wrote before raising)"
    assert await member_count(session, tenant.id, "失败的粉丝") == 0
    failed = await reload(session, failing)
    assert failed.status == JobStatus.queued
    assert failed.last_error == "tests.jobs.test_worker.Boom: failed after writing a member"

    assert await member_count(session, tenant.id, "成功的粉丝") == 1
    done = await reload(session, succeeding)
    assert done.status == JobStatus.done
    member = await session.get(Member, (tenant.id, done.result["member_id"]))  # type: ignore[index]
    assert member is not None and member.nickname == "成功的粉丝"


async def test_handler_writes_are_rolled_back_when_the_job_was_taken_over(
    session: AsyncSession,
    sessionmaker: async_sessionmaker[AsyncSession],
    worker: Worker,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The writes and the "done" mark commit together: if the done mark cannot be written because
    another worker took the job over (lease expired), the writes must not commit either."""

    async def slow_then_write(job_session: AsyncSession, job: Job) -> dict[str, Any]:
        CALLS[job.id] += 1
        # Meanwhile the lease ran out and another worker claimed the job (its own transaction).
        async with sessionmaker() as other, other.begin():
            await other.execute(
                update(Job)
                .where(Job.id == job.id)
                .values(locked_by="other-worker", locked_until=utcnow() + LEASE, attempts=Job.attempts + 1)
            )
        await members.create_member(job_session, tenant_id=job.payload["tenant_id"], nickname="迟到的写入")
        return {"written": True}

    monkeypatch.setitem(HANDLERS, "test.lease_lost", slow_then_write)
    tenant = await factories.tenant(session)
    job_id = await enqueue(session, "test.lease_lost", {"tenant_id": tenant.id})
    assert job_id is not None

    await worker.drain()

    assert CALLS[job_id] == 1
    assert await member_count(session, tenant.id, "迟到的写入") == 0
    job = await reload(session, job_id)
    # Still the other worker's job: neither marked done nor sent back to the queue by the late worker.
    assert job.status == JobStatus.running
    assert job.locked_by == "other-worker" and job.attempts == 2
    assert job.result is None and job.last_error is None


# 5. Dedupe keys.


async def test_dedupe_key_creates_one_job(session: AsyncSession) -> None:
    first = await enqueue(session, "test.echo", {"n": 1}, dedupe_key="dedupe-test:1")
    second = await enqueue(session, "test.echo", {"n": 2}, dedupe_key="dedupe-test:1")
    assert isinstance(first, int)
    assert second is None
    assert await count_jobs(session, Job.dedupe_key == "dedupe-test:1") == 1
    assert (await reload(session, first)).payload == {"n": 1}

    # The transaction is still usable after the conflict (no aborted transaction on PostgreSQL).
    other = await enqueue(session, "test.echo", {"n": 3}, dedupe_key="dedupe-test:2")
    assert isinstance(other, int) and other != first
    # Without a key, identical jobs are separate jobs.
    assert await enqueue(session, "test.echo", {"n": 4}) != await enqueue(session, "test.echo", {"n": 4})


# 6. Leases: a dead worker's job is taken over, a live worker's is not.


async def test_job_of_dead_worker_is_claimed_again_but_live_lease_is_respected(
    session: AsyncSession, worker: Worker
) -> None:
    dead = await enqueue(session, "test.echo", {"who": "dead"})
    alive = await enqueue(session, "test.echo", {"who": "alive"})
    assert dead is not None and alive is not None
    now = utcnow()
    await session.execute(
        update(Job)
        .where(Job.id == dead)
        .values(
            status=JobStatus.running,
            locked_by="dead-worker",
            locked_until=now - timedelta(seconds=5),
            attempts=1,
        )
    )
    await session.execute(
        update(Job)
        .where(Job.id == alive)
        .values(status=JobStatus.running, locked_by="busy-worker", locked_until=now + LEASE, attempts=1)
    )

    assert await worker.drain() == 1

    taken_over = await reload(session, dead)
    assert taken_over.status == JobStatus.done and taken_over.attempts == 2
    assert taken_over.result == {"echo": {"who": "dead"}, "attempt": 2}
    assert CALLS[dead] == 1

    untouched = await reload(session, alive)
    assert untouched.status == JobStatus.running and untouched.locked_by == "busy-worker"
    assert untouched.attempts == 1 and untouched.result is None
    assert CALLS[alive] == 0

    # The dead worker, coming back late, can no longer record anything on the job.
    late = await repository.finish(
        session, job_id=dead, worker="dead-worker", values={"status": JobStatus.queued, "last_error": "late"}
    )
    assert late is False
    assert (await reload(session, dead)).status == JobStatus.done


async def test_claim_takes_a_job_once_and_leases_it(session: AsyncSession) -> None:
    job_id = await enqueue(session, "test.echo", {})
    now = utcnow()
    claimed = await repository.claim(session, worker="w1", now=now, lease_until=now + LEASE, limit=10)
    assert [job.id for job in claimed] == [job_id]
    assert claimed[0].status == JobStatus.running and claimed[0].locked_by == "w1"
    assert claimed[0].locked_until == now + LEASE and claimed[0].attempts == 1
    assert await repository.claim(session, worker="w2", now=now, lease_until=now + LEASE, limit=10) == []
    # Once the lease is over, another worker may take it.
    later = now + LEASE + timedelta(seconds=1)
    again = await repository.claim(session, worker="w2", now=later, lease_until=later + LEASE, limit=10)
    assert [(job.id, job.locked_by, job.attempts) for job in again] == [(job_id, "w2", 2)]


async def test_job_that_keeps_killing_its_worker_is_parked(session: AsyncSession, worker: Worker) -> None:
    """A job whose worker died on its last allowed attempt is parked, not run forever."""
    job_id = await enqueue(session, "test.echo", {}, max_attempts=3)
    assert job_id is not None
    await session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(
            status=JobStatus.running,
            locked_by="crashed",
            locked_until=utcnow() - timedelta(seconds=1),
            attempts=3,
        )
    )

    assert await worker.drain() == 0

    assert CALLS[job_id] == 0
    job = await reload(session, job_id)
    assert job.status == JobStatus.parked and job.attempts == 3
    assert job.last_error is not None and "lease" in job.last_error
    assert job.finished_at is not None and job.locked_by is None and job.locked_until is None


def test_workers_in_one_process_have_distinct_names_that_fit_the_column(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "h" * 63)
    names = {Worker(None).name for _ in range(5)}  # type: ignore[arg-type]
    assert len(names) == 5
    column_length = Job.__table__.c.locked_by.type.length
    assert all(len(name) <= column_length for name in names)


async def test_worker_with_default_name_runs_jobs(
    sessionmaker: async_sessionmaker[AsyncSession], session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "worker-host-" + "x" * 51)
    job_id = await enqueue(session, "test.echo", {})
    assert job_id is not None
    assert await Worker(sessionmaker).drain() == 1
    assert (await reload(session, job_id)).status == JobStatus.done


# 7. Periodic jobs, and the real purge handler.


@pytest.fixture
def periodic() -> Iterator[list[tuple[str, int]]]:
    saved = list(registry.PERIODIC)
    yield registry.PERIODIC
    registry.PERIODIC[:] = saved


async def test_schedule_periodic_enqueues_each_kind_once_per_period(
    session: AsyncSession,
    worker: Worker,
    periodic: list[tuple[str, int]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    registry.every(60, "test.echo")
    registry.every(60, "test.echo")  # registering twice is one registration
    assert periodic.count(("test.echo", 60)) == 1
    assert ("staff.purge_sessions", 3600) in periodic

    async def scheduled() -> Counter[str]:
        rows = await session.scalars(select(Job.kind).where(Job.dedupe_key.like("periodic:%")))
        return Counter(rows)

    start = datetime(2031, 1, 1, 0, 0, 5, tzinfo=UTC)  # midnight: a boundary of every period
    monkeypatch.setattr(worker_module, "utcnow", lambda: start)
    await worker.schedule_periodic()
    await Worker(worker.sessionmaker, name="second-worker").schedule_periodic()
    await worker.schedule_periodic()
    assert await scheduled() == Counter({kind: 1 for kind, _ in periodic})

    # A minute later: a new slot for the 60 s job only.
    monkeypatch.setattr(worker_module, "utcnow", lambda: start + timedelta(seconds=60))
    await worker.schedule_periodic()
    await worker.schedule_periodic()
    every_minute = {kind for kind, seconds in periodic if seconds == 60}
    assert "test.echo" in every_minute
    expected = Counter({kind: 1 + (kind in every_minute) for kind, _ in periodic})
    assert await scheduled() == expected

    # An hour later: a new slot for both.
    monkeypatch.setattr(worker_module, "utcnow", lambda: start + timedelta(hours=1))
    await worker.schedule_periodic()
    expected = Counter({kind: 2 + (kind in every_minute) for kind, _ in periodic})
    assert await scheduled() == expected

    slots = await session.scalars(
        select(Job.payload).where(Job.kind == "test.echo", Job.dedupe_key.like("periodic:%")).order_by(Job.id)
    )
    first_slot = int(start.timestamp()) // 60
    assert [p["slot"] for p in slots] == [first_slot, first_slot + 1, first_slot + 60]


async def test_purge_sessions_job_deletes_expired_sessions_only(session: AsyncSession, worker: Worker) -> None:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id)  # one valid session
    opened = [
        await staff.open_session(session, user=login.user, tenant_id=tenant.id, ip="127.0.0.1", hours=1)
        for _ in range(3)
    ]
    expired = [signed_in.session.token_hash for signed_in in opened[:2]]
    valid = [signed_in.session.token_hash for signed_in in opened[2:]]
    await session.execute(
        update(StaffSession)
        .where(StaffSession.token_hash.in_(expired))
        .values(expires_at=utcnow() - timedelta(minutes=1))
    )

    async def remaining() -> set[str]:
        rows = await session.scalars(select(StaffSession.token_hash).where(StaffSession.staff_id == login.user.id))
        return set(rows)

    before = await remaining()
    assert set(expired) | set(valid) <= before and len(before) == 4

    first = await enqueue(session, "staff.purge_sessions", {})
    assert await worker.drain() == 1
    job = await reload(session, first)  # type: ignore[arg-type]
    assert job.status == JobStatus.done
    assert job.result is not None and job.result["deleted"] >= 2
    assert await remaining() == before - set(expired)

    # Idempotent: a second run deletes nothing more.
    second = await enqueue(session, "staff.purge_sessions", {})
    assert await worker.drain() == 1
    assert (await reload(session, second)).result == {"deleted": 0}  # type: ignore[arg-type]
    assert await remaining() == before - set(expired)


# 8. Unknown kinds.


async def test_job_without_handler_fails_clearly_and_is_parked(session: AsyncSession, worker: Worker) -> None:
    orphan = await enqueue(session, "test.nobody_handles_this", {}, max_attempts=2)
    fine = await enqueue(session, "test.echo", {"n": 1})
    assert orphan is not None and fine is not None
    assert "test.nobody_handles_this" not in HANDLERS

    assert await worker.drain() == 2  # the worker survives and goes on with the next job

    assert (await reload(session, fine)).status == JobStatus.done
    failed = await reload(session, orphan)
    assert failed.status == JobStatus.queued and failed.attempts == 1
    assert failed.last_error == "LookupError: no handler for job kind 'test.nobody_handles_this'"

    await make_due(session, orphan)
    assert await worker.drain() == 1
    parked = await reload(session, orphan)
    assert parked.status == JobStatus.parked and parked.attempts == 2
    assert parked.last_error == "LookupError: no handler for job kind 'test.nobody_handles_this'"

    await make_due(session, orphan)
    assert await worker.drain() == 0


async def test_sqlite_gets_planner_statistics_from_the_hourly_job(session: AsyncSession) -> None:
    import siyu.jobs.tasks  # noqa: F401 - registers db.optimize and its period

    job = Job(kind="db.optimize", payload={})
    result = await HANDLERS["db.optimize"](session, job)
    if session.bind.dialect.name != "sqlite":
        assert result == {"skipped": "autovacuum gathers statistics"}
        return
    assert result in ({"analyzed": "all"}, {"optimized": True})
    assert await session.scalar(text("SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'")) == 1
    assert ("db.optimize", 3600) in registry.PERIODIC


# 8. A job longer than its lease keeps it while its worker is alive.

RENEWED: dict[str, asyncio.Event] = {}
CLOCK = {"worked": timedelta(0)}  # how long the slow job has "been running", as the worker's clock sees it


@registry.long_handler("test.outlives_lease")
async def outlives_lease(sessionmaker: async_sessionmaker[AsyncSession], job: Job) -> dict[str, Any]:
    """Runs until its worker has renewed the lease, then checks nobody can take the job over."""
    CALLS[job.id] += 1
    CLOCK["worked"] = timedelta(minutes=10)  # twice the lease
    await asyncio.wait_for(RENEWED["event"].wait(), timeout=30)  # a safety net: the event comes first or never
    async with sessionmaker() as session, session.begin():
        renewed = await reload(session, job.id)
        assert renewed.locked_until is not None and job.locked_until is not None
        assert renewed.locked_until > job.locked_until
        # Ten minutes on, past the first lease, another worker still finds nothing to take.
        later = job.locked_until + timedelta(minutes=5)
        taken = await repository.claim(session, worker="thief", now=later, lease_until=later + LEASE, limit=10)
        assert taken == []
    return {"ok": True}


async def test_running_job_renews_its_lease_and_is_not_taken_over(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = await enqueue(session, "test.outlives_lease", {})
    worker = Worker(sessionmaker, name="slow-worker", heartbeat=0)
    RENEWED["event"] = asyncio.Event()
    renew = repository.renew

    async def renew_once(session: AsyncSession, **kwargs: Any) -> bool:
        kept = await renew(session, **kwargs)
        worker.heartbeat = 3600  # one renewal is the proof; the handler then has the connection to itself
        RENEWED["event"].set()
        return kept

    monkeypatch.setattr(repository, "renew", renew_once)
    CLOCK["worked"] = timedelta(0)
    monkeypatch.setattr(worker_module, "utcnow", lambda: utcnow() + CLOCK["worked"])

    assert await worker.drain() == 1

    job = await reload(session, job_id)
    assert (job.status, job.locked_by, job.result, CALLS[job_id]) == (JobStatus.done, None, {"ok": True}, 1)


async def test_job_log_lines_carry_the_job_id(session: AsyncSession, worker: Worker) -> None:
    import structlog

    seen: list[dict[str, Any]] = []

    @handler("test.logs")
    async def logs(session: AsyncSession, job: Job) -> None:
        seen.append(structlog.contextvars.get_contextvars())

    job_id = await enqueue(session, "test.logs", {})
    assert await worker.drain() == 1
    assert seen == [{"job_id": job_id, "job_kind": "test.logs"}]
    assert structlog.contextvars.get_contextvars() == {}
