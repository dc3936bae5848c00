"""Background work of the live calendar: telling the fans who reserved a show that it changed (cancelled, a new
time) or that it is about to start.

One job per change (or per reminder) fans out batch by batch: a job tells one batch of members (by member id)
through every channel registered in `NOTIFIERS`; the first one also enqueues every later batch as a job of its own,
committed with its "done", so that several workers share them. A retried job tells the same batch again with the
same `dedupe` key in the payload, so a channel can keep each notice to once per member (the notices domain files
one per member and subject). The show page and "my reservations" say what changed in any case.
"""

from __future__ import annotations

from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs import service as jobs
from siyu.jobs.models import Job
from siyu.jobs.notify import NOTIFIERS, notify
from siyu.jobs.registry import handler
from siyu.live import service

log = structlog.get_logger("siyu.live")

BATCH = 200


async def _fan_out(session: AsyncSession, job: Job, kind: str, key: str, payload: dict[str, Any]) -> dict[str, Any]:
    tenant_id = int(job.tenant_id or 0)
    show_id, after = int(job.payload["show_id"]), int(job.payload.get("after_member", 0))
    batch = await service.reserved_batch(session, tenant_id=tenant_id, show_id=show_id, after_member=after, size=BATCH)
    reached = 0
    for member_id in batch:
        notice = {**payload, "subject": key, "dedupe": f"{key}:{member_id}"}
        if await notify(session, tenant_id=tenant_id, member_id=member_id, payload=notice):
            reached += 1
    if len(batch) == BATCH and not job.payload.get("part"):
        # The first job makes every later batch a job of its own at once, so several workers tell them side by side.
        rest: list[int] = []
        while True:
            page = await service.reserved_batch(
                session, tenant_id=tenant_id, show_id=show_id, after_member=(rest or batch)[-1], size=BATCH * 25
            )
            rest.extend(page)
            if len(page) < BATCH * 25:
                break
        for after_member in [batch[-1], *rest[BATCH - 1 : -1 : BATCH]]:
            await jobs.enqueue(
                session,
                job.kind,
                {**job.payload, "after_member": after_member, "part": True},
                tenant_id=tenant_id,
                dedupe_key=f"{job.kind}:{tenant_id}:{key}:{after_member}",
            )
    log.info(kind, tenant_id=tenant_id, show_id=show_id, members=len(batch), reached=reached)
    return {"members": len(batch), "reached": reached, "channels": sorted(NOTIFIERS)}


@handler(service.CHANGED_JOB)
async def tell_show_changed(session: AsyncSession, job: Job) -> dict[str, Any]:
    """A show her reservation is for was cancelled or moved: tell her."""
    try:
        show = await service.get_show(session, tenant_id=int(job.tenant_id or 0), show_id=int(job.payload["show_id"]))
    except service.ShowNotFound:
        return {"skipped": "show gone"}
    key = f"{show.id}:{job.payload['version']}"
    payload = {
        "kind": "live_show_changed",
        "show_id": show.id,
        "title": show.title,
        "change": job.payload["change"],
        "notice": show.notice,
        "starts_at": service.stamp(show.starts_at),
    }
    return await _fan_out(session, job, "live.show_changed", key, payload)


@handler(service.REMINDER_JOB)
async def remind(session: AsyncSession, job: Job) -> dict[str, Any]:
    """The show she reserved starts soon. A reminder for a time the show no longer has, or for a cancelled show,
    tells nobody (the new time has its own reminder)."""
    try:
        show = await service.get_show(session, tenant_id=int(job.tenant_id or 0), show_id=int(job.payload["show_id"]))
    except service.ShowNotFound:
        return {"skipped": "show gone"}
    if show.cancelled_at is not None or service.stamp(show.starts_at) != job.payload["starts_at"]:
        return {"skipped": "show cancelled or moved"}
    key = f"{show.id}:reminder:{job.payload['starts_at']}"
    payload = {
        "kind": "live_show_reminder",
        "urgent": True,  # she asked to be told when it starts, quiet hours or not
        "show_id": show.id,
        "title": show.title,
        "starts_at": service.stamp(show.starts_at),
    }
    return await _fan_out(session, job, "live.show_reminder", key, payload)
