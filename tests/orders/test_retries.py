"""An import run again after a failure (the job's retry): its counts are those of the file, once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs.models import Job, JobStatus
from siyu.kit.errors import AppError
from siyu.kit.time import utcnow
from siyu.orders import service
from tests.orders import exports
from tests.orders.conftest import Shop

HOUR = timedelta(hours=1)


class Crash(RuntimeError):
    pass


async def test_counts_after_a_retry_are_those_of_the_file(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "BATCH_ROWS", 2)
    rows = [
        exports.douyin_row(
            f"69312345678911{n:03d}00",
            f"69312345678911{n:03d}01",
            title="t",
            quantity="1",
            paid="10.00",
            status="已完成",
        )
        for n in range(6)
    ]
    rows.append(
        exports.douyin_row("", "", title="t", quantity="1", paid="10.00", status="已完成")
    )  # no order number: rejected
    import_id = await shop.create_import("six.csv", exports.douyin(rows))
    real = service.apply_batch
    calls = {"n": 0}

    async def crash_on_the_third_batch(session: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash("the database went away")
        return await real(session, **kwargs)

    monkeypatch.setattr(service, "apply_batch", crash_on_the_third_batch)
    with pytest.raises(Crash):
        await shop.run(import_id)
    failed = await shop.import_row(import_id)
    assert failed.status == "failed" and 0 < failed.inserted < 6

    totals = await shop.run(import_id)  # the retry

    row = await shop.import_row(import_id)
    assert row.status == "done"
    assert (row.rows, row.inserted, row.updated, row.unchanged, row.rejected) == (7, 6, 0, 0, 1)
    assert (totals.rows, totals.inserted, totals.unchanged, totals.rejected) == (7, 6, 0, 1)
    assert len(await shop.rejections(import_id)) == 1
    assert len(await shop.orders()) == 6


async def test_imports_whose_worker_died_on_the_last_attempt_are_marked_failed(session: AsyncSession) -> None:
    """The job was parked when its lease ran out on the last attempt: its import says so, in words ops can act on.
    An import whose job is still leased or queued is left to its worker (or to the next one, at lease expiry)."""
    from siyu.jobs.service import enqueue
    from siyu.orders import tasks
    from tests.support import factories

    tenant = await factories.tenant(session)
    abandoned, alive, waiting = [await factories.order_import(session, tenant.id) for _ in range(3)]
    for row, status in ((abandoned, JobStatus.running), (alive, JobStatus.running), (waiting, JobStatus.queued)):
        row.status = "running" if status == JobStatus.running else "queued"
        row.job_id = await enqueue(session, "orders.import", {"import_id": row.id}, tenant_id=tenant.id, max_attempts=3)
        lease = utcnow() + (timedelta(seconds=-1) if row is abandoned else timedelta(minutes=5))
        await session.execute(
            update(Job)
            .where(Job.id == row.job_id)
            .values(
                status=status,
                attempts=3,
                locked_by="killed",
                locked_until=lease,
                run_after=utcnow() + timedelta(hours=1),
            )
        )
    await session.flush()
    # The next worker's claim parks the job (its worker died on its last attempt); the recovery marks its import.
    from siyu.jobs import repository as jobs_repository

    now = utcnow()
    await jobs_repository.claim(session, worker="next", now=now, lease_until=now, limit=0)
    job = await session.get(Job, abandoned.job_id, populate_existing=True)
    assert job is not None and job.status == JobStatus.parked

    result = await tasks.recover_abandoned(session, job)
    assert result == {"failed": 1}
    await session.flush()
    for row in (abandoned, alive, waiting):
        await session.refresh(row)
    assert abandoned.status == "failed" and abandoned.finished_at is not None
    assert abandoned.error is not None and "重新导入" in abandoned.error and "Error" not in abandoned.error
    assert (alive.status, waiting.status) == ("running", "queued")


async def test_an_unbalanced_quote_is_a_refusal_not_a_failure(shop: Shop) -> None:
    rows = [
        exports.douyin_row(
            f"69312345678912{n}0000",
            f"69312345678912{n}0001",
            title=f"title{n}",
            quantity="1",
            paid="1.00",
            status="已完成",
        )
        for n in range(3)
    ]
    # The second row's title opens a quote that never closes: the rest of the file would be one cell.
    data = exports.douyin(rows).replace(b",title1,", b',"title1,')
    assert data.count(b'"') % 2 == 1
    import_id = await shop.create_import("quote.csv", data)
    with pytest.raises(AppError) as refused:
        await shop.run(import_id)
    row = await shop.import_row(import_id)
    assert row.status == "refused" and row.error == refused.value.message
    assert refused.value.code == "unbalanced_quote" and "第 3 行" in refused.value.message
    assert await shop.orders() == {}  # refused before anything was imported
