"""Two members merged into one: her check-ins count for the member she joined, one a day."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from siyu.fans import service as fans
from siyu.fans import tasks as fan_tasks
from siyu.jobs.models import Job
from siyu.tasks import connect
from tests.engagement.conftest import Desk


async def test_her_check_ins_follow_her_but_a_day_stays_one(desk: Desk) -> None:
    old, new = await desk.fan(), await desk.fan()
    first, second = date(2030, 3, 1), date(2030, 3, 2)
    await desk.check_in(old, desk.local(first))
    await desk.check_in(old, desk.local(second))
    await desk.check_in(new, desk.local(second, hour=20))
    await fans.merge_members(
        desk.session, tenant_id=desk.tenant.id, from_member_id=old, into_member_id=new, reason="同一人"
    )

    connect()  # the wiring registers each domain's merge listener
    job = await desk.session.scalar(select(Job).where(Job.kind == fans.MERGED_JOB))
    assert job is not None
    assert ((await fan_tasks.merged(desk.session, job)) or {})["checkin"] == 1
    assert set(await desk.rows(new)) == {first, second}
    assert set(await desk.rows(old)) == {second}  # her own check-in of a day the other had stays behind
    assert ((await fan_tasks.merged(desk.session, job)) or {})["checkin"] == 0  # a retry moves nothing more
