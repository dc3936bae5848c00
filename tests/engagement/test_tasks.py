"""The check-in's background work: the periodic job queues reminders for every tenant past its hour, and each
reminder is handed to the notice channels (filed once per member and day)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from siyu.engagement.checkin import service, tasks
from siyu.jobs import registry
from siyu.jobs.models import Job
from siyu.kit.time import utcnow
from siyu.notices.models import Notice
from siyu.tasks import load_handlers
from tests.engagement.conftest import Desk


async def test_the_periodic_job_queues_reminders_and_each_is_filed_as_a_notice(desk: Desk) -> None:
    load_handlers()
    assert (tasks.QUEUE_JOB, 900) in registry.PERIODIC
    fan = await desk.fan(joined=utcnow() - timedelta(days=3))
    await service.set_reminder(desk.session, tenant_id=desk.tenant.id, member_id=fan, enabled=True)
    await desk.rules(reminder_hour=0)  # any hour of the day is past it
    run = Job(id=1, kind=tasks.QUEUE_JOB, payload={}, attempts=1, max_attempts=1)
    assert (await registry.HANDLERS[tasks.QUEUE_JOB](desk.session, run) or {})["queued"] >= 1
    notice = await desk.session.scalar(
        select(Job).where(Job.tenant_id == desk.tenant.id, Job.kind == service.REMINDER_JOB)
    )
    assert notice is not None and notice.payload["member_id"] == fan
    result = await registry.HANDLERS[service.REMINDER_JOB](desk.session, notice)
    assert result == {"member_id": fan, "reached": ["notices"]}
    filed = await desk.session.scalar(
        select(Notice).where(Notice.tenant_id == desk.tenant.id, Notice.kind == "checkin_reminder")
    )
    assert filed is not None and filed.member_id == fan
    await registry.HANDLERS[service.REMINDER_JOB](desk.session, notice)  # a retried job files nothing more
    assert len((await desk.session.scalars(select(Notice).where(Notice.tenant_id == desk.tenant.id))).all()) == 1
    again = await registry.HANDLERS[tasks.QUEUE_JOB](desk.session, run)
    assert again is not None
    jobs = (
        await desk.session.scalars(select(Job).where(Job.tenant_id == desk.tenant.id, Job.kind == service.REMINDER_JOB))
    ).all()
    assert len(jobs) == 1  # once a day
