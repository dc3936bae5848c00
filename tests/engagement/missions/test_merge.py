"""Two members merged into one: what she did counts for the member she joined."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from siyu.engagement.missions.service import TaskDone
from siyu.fans import service as fans
from siyu.fans import tasks as fan_tasks
from siyu.jobs.models import Job
from siyu.tasks import load_handlers
from tests.engagement.missions.conftest import Tasks


async def _run_merge_job(tasks: Tasks, from_member_id: int) -> dict[str, int]:
    load_handlers()  # the wiring registers each domain's merge listener
    job = await tasks.session.scalar(
        select(Job).where(Job.kind == fans.MERGED_JOB, Job.dedupe_key.endswith(f":{from_member_id}"))
    )
    assert job is not None  # queued in the merge's own transaction
    result = await fan_tasks.merged(tasks.session, job)
    assert result is not None
    return result


async def test_a_one_time_task_is_not_paid_twice_to_one_person(tasks: Tasks) -> None:
    task = await tasks.task(points=15)
    old, new = await tasks.fan("旧号"), await tasks.fan("新号")
    await tasks.complete(old, task, confirm=True)
    await fans.merge_members(
        tasks.session, tenant_id=tasks.tenant_id, from_member_id=old, into_member_id=new, reason="同一人"
    )
    assert (await _run_merge_job(tasks, old))["missions"] == 1
    with pytest.raises(TaskDone):
        await tasks.complete(new, task, confirm=True)
    assert (await _run_merge_job(tasks, old))["missions"] == 0  # a retried job moves nothing more


async def test_a_slot_both_hold_stays_with_each(tasks: Tasks) -> None:
    task = await tasks.task(points=15)
    old, new = await tasks.fan("旧号"), await tasks.fan("新号")
    await tasks.complete(old, task, confirm=True)
    await tasks.complete(new, task, confirm=True)
    await fans.merge_members(
        tasks.session, tenant_id=tasks.tenant_id, from_member_id=old, into_member_id=new, reason="同一人"
    )
    assert (await _run_merge_job(tasks, old))["missions"] == 0
