"""Background work of the orders domain: running an import batch by batch, announcing changes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import polars as pl
import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.jobs import service as jobs
from siyu.jobs.models import Job
from siyu.jobs.registry import every, handler, long_handler
from siyu.kit import metrics
from siyu.kit.errors import AppError
from siyu.kit.time import utcnow
from siyu.orders import events, service
from siyu.orders.service import Totals
from siyu.orders.uploads import temp_dir

log = structlog.get_logger("siyu.orders")

Progress = Callable[[int, int], None]  # (rows done, estimated total)
REJECTIONS_IN_SUMMARY = 1000
FAILED_MESSAGE = (
    "导入中途出错，已停止。前 {rows} 行已经导入（其中的状态变化已通知积分处理），其余没有导入。"
    "请稍后在导入页勾选“同一文件也重新导入”再导一次，已导入的部分不会重复"
)


async def _set(sessionmaker: async_sessionmaker[AsyncSession], tenant_id: int, import_id: int, **values: Any) -> None:
    async with sessionmaker() as session, session.begin():
        row = await service.get_import(session, tenant_id=tenant_id, import_id=import_id)
        for key, value in values.items():
            setattr(row, key, value)


async def run_import(
    sessionmaker: async_sessionmaker[AsyncSession],
    *,
    tenant_id: int,
    import_id: int,
    storage_dir: Path,
    on_progress: Progress | None = None,
) -> Totals:
    """Import a stored file. Refusals (not an order export, corrupt, empty) store nothing but the refusal;
    otherwise every batch commits on its own, and running the same import again changes nothing more."""
    async with sessionmaker() as session, session.begin():
        row = await service.get_import(session, tenant_id=tenant_id, import_id=import_id)
        path = service.stored_file(storage_dir, row)
        platform = None if row.requested_platform == "auto" else row.requested_platform
        retried = row.status != "queued" or row.rows > 0  # an earlier attempt may have committed batches
        row.status = "running"
        mapped = await service.mapped_headers(session, tenant_id=tenant_id)
    totals = Totals()
    with temp_dir("import") as workdir:
        try:
            opened = service.open_file(path, Path(workdir), also_read=mapped)
            async with sessionmaker() as session, session.begin():
                layout = await service.choose_layout(
                    session, tenant_id=tenant_id, headers=opened.headers, platform=platform
                )
        except AppError as refusal:
            await _set(
                sessionmaker,
                tenant_id,
                import_id,
                status="refused",
                error=refusal.message,
                finished_at=utcnow(),
            )
            metrics.count_import("refused")
            raise
        await _set(
            sessionmaker,
            tenant_id,
            import_id,
            platform=layout.platform,
            layout=layout.mapping_name or layout.key,
        )
        batcher = service.Batcher(layout, opened.headers)
        try:
            # The next batch is read and normalised (in a thread; Polars releases the GIL) while the database
            # applies this one.
            announced = _Announced()
            async with contextlib.aclosing(_read_ahead(_batches(opened.frames_for(layout), batcher))) as batches:
                async for batch in batches:
                    await _apply(sessionmaker, tenant_id, import_id, layout, batch, totals, announced)
                    if on_progress:
                        on_progress(totals.rows, max(opened.estimated_rows, totals.rows))
        except Exception as error:
            # The batches committed so far stay, each with its changes already announced (see _apply); what the
            # user reads is ours, never the database's own words (those go to the log).
            log.exception("orders.import_failed", tenant_id=tenant_id, import_id=import_id, error=repr(error)[:500])
            await _set(
                sessionmaker,
                tenant_id,
                import_id,
                status="failed",
                error=FAILED_MESSAGE.format(rows=totals.rows),
                finished_at=utcnow(),
            )
            metrics.count_import("failed")
            raise
    async with sessionmaker() as session, session.begin():
        row = await service.get_import(session, tenant_id=tenant_id, import_id=import_id)
        if retried:
            await service.count_retried(session, tenant_id=tenant_id, import_id=import_id, totals=totals)
            row.inserted, row.updated, row.unchanged = totals.inserted, totals.updated, totals.unchanged
        row.status, row.finished_at = "done", utcnow()
    metrics.count_import("done")
    log.info(
        "orders.imported",
        tenant_id=tenant_id,
        import_id=import_id,
        **{k: v for k, v in asdict(totals).items() if k != "rejections"},
    )
    return totals


def _batches(frames: Iterator[pl.DataFrame], batcher: service.Batcher) -> Iterator[service.Batch]:
    for raw in frames:
        batch = batcher.feed(raw)
        if batch is not None:
            yield batch
    last = batcher.flush()
    if last is not None:
        yield last


async def _read_ahead(batches: Iterator[service.Batch]) -> AsyncGenerator[service.Batch, None]:
    """Yield `batches`, computing each next one in a worker thread while the caller works on the current one."""
    done = object()

    def step() -> Any:
        return next(batches, done)

    pending = asyncio.ensure_future(asyncio.to_thread(step))
    try:
        while True:
            batch = await pending
            if batch is done:
                return
            pending = asyncio.ensure_future(asyncio.to_thread(step))
            yield cast(service.Batch, batch)
    finally:
        # Never leave a thread reading the file after we return (the work directory is about to go).
        if not pending.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(pending)


@dataclass
class _Announced:
    """What the committed batches of an import have announced so far (see `_apply`)."""

    batches: int = 0
    changes: int = 0


def _dedupe_key(kind: str, tenant_id: int, import_id: int, batch: int) -> str:
    # The first batch's key is the import's own (one job for a file of one batch, as it always was).
    return f"{kind}:{tenant_id}:{import_id}" + (f":{batch}" if batch > 1 else "")


async def _apply(
    sessionmaker: async_sessionmaker[AsyncSession],
    tenant_id: int,
    import_id: int,
    layout: Any,
    batch: service.Batch | None,
    totals: Totals,
    announced: _Announced,
) -> None:
    """Apply one batch in its own transaction, and in that same transaction queue the news of it: the orders it
    changed (points post, void or claw back) and those it brought (waiting claims). A batch is never committed
    without its news, so an import that fails later still has every committed refund clawed back. The listeners
    act on the import's changes so far and are safe to run again."""
    if batch is None:
        return
    async with sessionmaker() as session, session.begin():
        row = await service.get_import(session, tenant_id=tenant_id, import_id=import_id)
        counts = await service.apply_batch(session, tenant_id=tenant_id, import_row=row, layout=layout, batch=batch)
        number = announced.batches + 1
        changes = await service.changes_in_import(session, tenant_id=tenant_id, import_id=import_id)
        if changes > announced.changes:
            await jobs.enqueue(
                session,
                "orders.changed",
                {"import_id": import_id},
                tenant_id=tenant_id,
                dedupe_key=_dedupe_key("orders.changed", tenant_id, import_id, number),
            )
        if counts.inserted:  # a fan may be waiting for one of them (a pending claim)
            await jobs.enqueue(
                session,
                "orders.arrived",
                {"import_id": import_id},
                tenant_id=tenant_id,
                dedupe_key=_dedupe_key("orders.arrived", tenant_id, import_id, number),
            )
        totals.rows += batch.rows
        totals.inserted += counts.inserted
        totals.updated += counts.updated
        totals.unchanged += counts.unchanged
        totals.rejected += batch.rejected.height
        totals.skipped += batch.skipped
        room = REJECTIONS_IN_SUMMARY - len(totals.rejections)
        if room > 0:
            totals.rejections.extend(batch.rejected.head(room).select("row", "reason").to_dicts())
        row.rows, row.inserted, row.updated = totals.rows, totals.inserted, totals.updated
        row.unchanged, row.rejected, row.skipped = totals.unchanged, totals.rejected, totals.skipped
    # Counted only once the transaction committed: a batch that failed announced nothing.
    announced.batches, announced.changes = number, changes


def storage_dir() -> Path:
    from siyu.config import get_settings

    return get_settings().uploads_dir


@long_handler("orders.import")
async def import_job(sessionmaker: async_sessionmaker[AsyncSession], job: Job) -> dict[str, Any]:
    tenant_id, import_id = int(job.tenant_id or 0), int(job.payload["import_id"])
    try:
        totals = await run_import(sessionmaker, tenant_id=tenant_id, import_id=import_id, storage_dir=storage_dir())
    except AppError as refusal:
        # A refused file is an answer, not a failure to retry.
        return {"refused": refusal.code, "message": refusal.message}
    return {k: v for k, v in asdict(totals).items() if k != "rejections"}


RECOVER_JOB = "orders.recover_abandoned"


@handler(RECOVER_JOB)
async def recover_abandoned(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Imports left running by a worker that was killed on the job's last attempt: marked failed, with a reason.
    Runs when a worker starts and every five minutes."""
    return {"failed": await service.fail_abandoned_imports(session)}


every(300, RECOVER_JOB)


@handler("orders.changed")
async def announce_changes(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Hand an import's changes to every listener (ledger, claims) in this job's transaction."""
    tenant_id, import_id = int(job.tenant_id or 0), int(job.payload["import_id"])
    acted = {name: await listener(session, tenant_id, import_id) for name, listener in events.LISTENERS.items()}
    return {"import_id": import_id, "listeners": acted}


@handler("orders.arrived")
async def announce_arrivals(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Tell every arrivals listener (waiting claims) that an import brought new orders, in this job's transaction."""
    tenant_id, import_id = int(job.tenant_id or 0), int(job.payload["import_id"])
    acted = {name: await listener(session, tenant_id, import_id) for name, listener in events.ARRIVALS.items()}
    return {"import_id": import_id, "listeners": acted}
