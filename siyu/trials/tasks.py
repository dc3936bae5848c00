"""Background work of product trials: telling a winner she was drawn, the hourly sweep of overdue reports (a
reminder first, then the trial's penalty, once) and the reminder's notice. Every handler is idempotent: a notice
is filed once per member and subject, and the sweep's steps are conditional updates."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs.models import Job
from siyu.jobs.notify import notify
from siyu.jobs.registry import every, handler
from siyu.tenants import service as tenants
from siyu.trials import service


@handler(service.WON_JOB)
async def tell_winner(session: AsyncSession, job: Job) -> dict[str, Any]:
    member_id, application_id = int(job.payload["member_id"]), int(job.payload["application_id"])
    payload = {
        "kind": "trial_won",
        "subject": f"trial:{application_id}",
        "trial_id": int(job.payload["trial_id"]),
        "title": str(job.payload.get("title", "")),
    }
    reached = await notify(session, tenant_id=int(job.tenant_id or 0), member_id=member_id, payload=payload)
    return {"member_id": member_id, "reached": reached}


@handler(service.REMINDER_JOB)
async def remind(session: AsyncSession, job: Job) -> dict[str, Any]:
    member_id, application_id = int(job.payload["member_id"]), int(job.payload["application_id"])
    payload = {
        "kind": "trial_report_due",
        "subject": f"trial-report:{application_id}",
        "trial_id": int(job.payload["trial_id"]),
        "title": str(job.payload.get("title", "")),
    }
    reached = await notify(session, tenant_id=int(job.tenant_id or 0), member_id=member_id, payload=payload)
    return {"member_id": member_id, "reached": reached}


@handler(service.SWEEP_JOB)
async def sweep(session: AsyncSession, job: Job) -> dict[str, Any]:
    totals = {"due_set": 0, "reminded": 0, "penalised": 0}
    for tenant_id in await tenants.tenant_ids(session):
        for key, value in (await service.sweep(session, tenant_id=tenant_id)).items():
            totals[key] += value
    return totals


every(3600, service.SWEEP_JOB)
