"""Shows, reservations and the notices they queue: refusals in words, a reservation once per member, a cancel or
a new time queued once for everyone who reserved, reminders before the start; and the attribution report."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from siyu.jobs import notify
from siyu.jobs.models import Job
from siyu.kit.time import utcnow
from siyu.live import attribution, service
from siyu.live import tasks as live_tasks
from siyu.live.schemas import LiveSettings, ProductIn, ShowIn
from tests.live.conftest import Live


async def _jobs(live: Live, kind: str) -> list[Job]:
    return list(
        await live.session.scalars(
            select(Job).where(Job.tenant_id == live.tenant_id, Job.kind == kind).order_by(Job.id)
        )
    )


async def test_a_show_in_the_past_or_ending_before_it_starts_is_refused(live: Live) -> None:
    with pytest.raises(service.ShowInPast) as past:
        await live.show(in_hours=-1)
    assert past.value.status == 422 and "开播时间" in past.value.message
    with pytest.raises(service.EndsBeforeStart):
        await live.show(hours=-1)
    with pytest.raises(service.EndsBeforeStart):
        await live.show(hours=0)


async def test_a_featured_product_needs_a_price(live: Live) -> None:
    show = await live.show()
    with pytest.raises(service.PriceRequired) as refused:
        await service.add_product(live.session, actor=live.owner, show_id=show.id, data=ProductIn(title="精华液"))
    assert refused.value.code == "price_required" and "价" in refused.value.message
    product = await service.add_product(
        live.session, actor=live.owner, show_id=show.id, data=ProductIn(title="精华液", price_fen=19900)
    )
    assert (await service.products_of(live.session, tenant_id=live.tenant_id, show_ids=[show.id]))[show.id] == [product]


async def test_reserving_twice_is_one_reservation_and_cancelling_is_idempotent(live: Live) -> None:
    show, fan = await live.show(), await live.fan()
    args: dict[str, Any] = {"tenant_id": live.tenant_id, "member_id": fan, "show_id": show.id}
    first = await service.reserve(live.session, **args)
    again = await service.reserve(live.session, **args)
    assert first.id == again.id
    assert await service.reservation_counts(live.session, tenant_id=live.tenant_id, show_ids=[show.id]) == {show.id: 1}
    await service.cancel_reservation(live.session, **args)
    await service.cancel_reservation(live.session, **args)
    assert await service.reservation_counts(live.session, tenant_id=live.tenant_id, show_ids=[show.id]) == {}
    await service.reserve(live.session, **args)  # again after cancelling: the same row, held again
    assert [s.id for s in await service.my_reservations(live.session, tenant_id=live.tenant_id, member_id=fan)] == [
        show.id
    ]


async def test_a_cancelled_or_ended_show_cannot_be_reserved(live: Live) -> None:
    fan = await live.fan()
    cancelled = await service.cancel_show(live.session, actor=live.owner, show_id=(await live.show()).id)
    with pytest.raises(service.ShowClosed):
        await service.reserve(live.session, tenant_id=live.tenant_id, member_id=fan, show_id=cancelled.id)
    ended = await live.show()
    await live.move(ended, utcnow() - timedelta(hours=3), utcnow() - timedelta(hours=1))
    with pytest.raises(service.ShowClosed) as refused:
        await service.reserve(live.session, tenant_id=live.tenant_id, member_id=fan, show_id=ended.id)
    assert refused.value.status == 409


async def test_a_cancel_and_a_new_time_are_queued_once_and_reach_every_registered_channel(
    live: Live, monkeypatch: pytest.MonkeyPatch
) -> None:
    show = await live.show()
    fans = [await live.fan(f"粉丝{n}") for n in range(5)]
    for fan in fans:
        await service.reserve(live.session, tenant_id=live.tenant_id, member_id=fan, show_id=show.id)
    data = ShowIn(
        channel_id=live.channel.id,
        title=show.title,
        starts_at=show.starts_at + timedelta(hours=1),
        ends_at=show.ends_at + timedelta(hours=1),
    )
    await service.update_show(live.session, actor=live.owner, show_id=show.id, data=data)
    await service.cancel_show(live.session, actor=live.owner, show_id=show.id)
    await service.cancel_show(live.session, actor=live.owner, show_id=show.id)  # again: nobody told twice
    changed = await _jobs(live, service.CHANGED_JOB)
    assert [j.payload["change"] for j in changed] == ["time", "cancelled"]
    assert show.notice == "这场直播已取消"
    reminders = await _jobs(live, service.REMINDER_JOB)
    assert len(reminders) == 2  # one per start time; the first one now skips

    told: list[tuple[int, str]] = []

    async def channel(session: Any, tenant_id: int, member_id: int, payload: dict[str, Any]) -> bool:
        told.append((member_id, payload["dedupe"]))
        return True

    monkeypatch.setattr(notify, "NOTIFIERS", {"test": channel})
    monkeypatch.setattr(live_tasks, "BATCH", 2)
    result = await live_tasks.tell_show_changed(live.session, changed[1])
    assert result["members"] == 2  # the first batch; the next one is its own job
    for _ in range(3):
        follow = [
            j for j in await _jobs(live, service.CHANGED_JOB) if j.payload["after_member"] and j.status == "queued"
        ]
        for job in follow:
            job.status = "done"
            await live_tasks.tell_show_changed(live.session, job)
    assert sorted(m for m, _ in told) == sorted(fans)
    assert len({d for _, d in told}) == len(fans)
    assert await live_tasks.remind(live.session, reminders[0]) == {"skipped": "show cancelled or moved"}


async def test_the_reminder_is_set_minutes_before_the_start_as_the_tenant_says(live: Live) -> None:
    await service.save_settings(live.session, actor=live.owner, data=LiveSettings(remind_minutes=30))
    show = await live.show(in_hours=5)
    (job,) = await _jobs(live, service.REMINDER_JOB)
    assert abs((job.run_after - (show.starts_at - timedelta(minutes=30))).total_seconds()) < 1
    await service.save_settings(live.session, actor=live.owner, data=LiveSettings(remind_minutes=0))
    await live.show(in_hours=6)
    assert len(await _jobs(live, service.REMINDER_JOB)) == 1


async def test_the_report_splits_a_shows_orders_by_who_bought(live: Live) -> None:
    show = await live.show(author_id="A1")
    reserved, other = await live.fan("预约的"), await live.fan("没预约的")
    await service.reserve(live.session, tenant_id=live.tenant_id, member_id=reserved, show_id=show.id)
    start = utcnow() - timedelta(hours=2)
    await live.move(show, start, start + timedelta(hours=1))
    end = show.ends_at
    await live.order(placed_at=start, paid_fen=30000, member_id=reserved)  # at the start: in
    await live.order(placed_at=end - timedelta(seconds=1), paid_fen=20000, member_id=other)
    await live.order(placed_at=start + timedelta(minutes=5), paid_fen=10000)  # nobody claimed it
    await live.order(placed_at=end, paid_fen=99900, member_id=reserved)  # at the end: out
    await live.order(placed_at=start, author="B2", paid_fen=77700)  # another host's order
    await live.order(placed_at=start, platform="taobao", paid_fen=55500)
    found = await attribution.report(live.session, show=show)
    s = found.split
    assert (s.reserved.orders, s.reserved.gmv_fen) == (1, 30000)
    assert (s.members.orders, s.members.gmv_fen) == (1, 20000)
    assert (s.others.orders, s.others.gmv_fen) == (1, 10000)
    assert s.claimed == 2 and round(s.claim_rate, 4) == round(2 / 3, 4)
    assert s.private_share == 50000 / 60000
    assert found.reservations == 1 and found.new_members == 2
    month = start.strftime("%Y-%m")  # the show's month in UTC
    whole = await attribution.month_report(live.session, tenant_id=live.tenant_id, month=month, timezone="UTC")
    assert [r.show.id for r in whole.shows] == [show.id] and whole.gmv_fen == 60000
