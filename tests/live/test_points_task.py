"""The "reserve a live show" points task (积分任务 预约直播): she can take its points once she holds a reservation
made in the task's period; cancelling it takes the condition away again."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siyu.engagement.missions import rules
from siyu.engagement.missions import service as missions
from siyu.engagement.missions.schemas import TaskIn
from siyu.live import service
from tests.live.conftest import Live

TZ = "Asia/Shanghai"


async def test_reserving_a_show_completes_the_task(live: Live) -> None:
    task = await missions.create_task(
        live.session,
        actor=live.owner,
        data=TaskIn(kind="reserve_live", title="预约直播领积分", points=10, period="weekly"),
        timezone=TZ,
    )
    fan = await live.fan()
    shown = await missions.fan_tasks(live.session, tenant_id=live.tenant_id, member_id=fan, timezone=TZ)
    assert [t.state for t in shown] == ["todo"] and shown[0].hint == "预约一场直播后可领取"
    with pytest.raises(missions.TaskNotMet):
        await missions.complete(live.session, tenant_id=live.tenant_id, member_id=fan, task_id=task.id, timezone=TZ)
    show = await live.show()
    await service.reserve(live.session, tenant_id=live.tenant_id, member_id=fan, show_id=show.id)
    shown = await missions.fan_tasks(live.session, tenant_id=live.tenant_id, member_id=fan, timezone=TZ)
    assert shown[0].state == "claimable"
    done = await missions.complete(live.session, tenant_id=live.tenant_id, member_id=fan, task_id=task.id, timezone=TZ)
    assert done.points == 10
    with pytest.raises(missions.TaskDone):
        await missions.complete(live.session, tenant_id=live.tenant_id, member_id=fan, task_id=task.id, timezone=TZ)


async def test_a_cancelled_reservation_does_not_count(live: Live) -> None:
    fan = await live.fan()
    show = await live.show()
    await service.reserve(live.session, tenant_id=live.tenant_id, member_id=fan, show_id=show.id)
    await service.cancel_reservation(live.session, tenant_id=live.tenant_id, member_id=fan, show_id=show.id)
    assert not await service.holds_reservation(live.session, tenant_id=live.tenant_id, member_id=fan)


def test_a_period_starts_at_local_midnight_or_monday() -> None:
    friday_noon = datetime(2030, 3, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
    assert rules.period_start("one_time", friday_noon, TZ) is None
    day = rules.period_start("daily", friday_noon, TZ)
    week = rules.period_start("weekly", friday_noon, TZ)
    assert day is not None and day.astimezone(UTC) == datetime(2030, 2, 28, 16, 0, tzinfo=UTC)
    assert week is not None and week.astimezone(UTC) == datetime(2030, 2, 24, 16, 0, tzinfo=UTC)
