"""Points tasks: each kind's condition, caps per tenant-local day and ISO week, a survey's answers kept; a review
screenshot approved pays once per order (whoever sends it twice), a rejection carries the reason she sees; a
refused screenshot stores nothing; every ops change is audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from siyu.audit.models import AuditEntry
from siyu.engagement.missions import rules, service
from siyu.engagement.missions.models import Completion, Review, ReviewStatus
from siyu.engagement.missions.schemas import TaskIn
from siyu.kit import images
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.ledger.audit import check_invariants
from siyu.members import service as members
from tests.engagement.missions.conftest import TZ, Tasks, png


def _files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


async def test_following_is_her_own_confirmation_and_pays_once(tasks: Tasks) -> None:
    fan = await tasks.fan()
    task = await tasks.task(points=15)
    with pytest.raises(service.TaskNotMet):
        await tasks.complete(fan, task)
    row = await tasks.complete(fan, task, confirm=True)
    assert row.points == 15 and row.period_key == "once"
    with pytest.raises(service.TaskDone):
        await tasks.complete(fan, task, confirm=True)
    assert await tasks.available(fan) == 15
    entry = (await ledger.recent_entries(tasks.session, tenant_id=tasks.tenant_id, member_id=fan))[0]
    assert entry.source_ref == refs.task_ref(task.id, fan, "once") and entry.explanation == "完成任务 关注抖音号"
    await check_invariants(tasks.session, tenant_id=tasks.tenant_id)


async def test_daily_caps_count_the_tenants_local_day(tasks: Tasks) -> None:
    fan = await tasks.fan()
    task = await tasks.task(period="daily", cap_per_period=2)
    late = tasks.now.replace(hour=15, minute=30)  # 23:30 in Shanghai
    await tasks.complete(fan, task, confirm=True, at=late)
    await tasks.complete(fan, task, confirm=True, at=late)
    with pytest.raises(service.TaskDone):
        await tasks.complete(fan, task, confirm=True, at=late)
    next_day = late + timedelta(hours=1)  # 00:30 the next local day, still the same UTC day
    assert (await tasks.complete(fan, task, confirm=True, at=next_day)).period_key == "2030-03-02"
    assert await tasks.available(fan) == 30
    shown = await service.fan_tasks(tasks.session, tenant_id=tasks.tenant_id, member_id=fan, timezone=TZ, now=next_day)
    assert [(t.done, t.state) for t in shown] == [(1, "todo")]


def test_period_keys_are_local_days_and_iso_weeks() -> None:
    at = datetime(2030, 12, 29, 17, 0, tzinfo=UTC)
    assert rules.period_key("one_time", at, TZ) == "once"
    assert rules.period_key("daily", at, TZ) == "2030-12-30"  # 01:00 Monday in Shanghai
    assert rules.period_key("weekly", at, TZ) == "2031-W01"  # ISO week 1 of 2031 starts on 2030-12-30
    assert rules.period_key("weekly", at - timedelta(hours=2), TZ) == "2030-W52"


async def test_weekly_tasks_reset_on_monday(tasks: Tasks) -> None:
    fan = await tasks.fan()
    task = await tasks.task(period="weekly")
    await tasks.complete(fan, task, confirm=True)  # a Friday
    with pytest.raises(service.TaskDone):
        await tasks.complete(fan, task, confirm=True, at=tasks.now + timedelta(days=2))  # Sunday
    await tasks.complete(fan, task, confirm=True, at=tasks.now + timedelta(days=3))  # Monday
    assert await tasks.available(fan) == 20


async def test_profile_and_bound_accounts_are_read_from_her_member_record(tasks: Tasks) -> None:
    fan = await tasks.fan()
    member = await members.get_member(tasks.session, tenant_id=tasks.tenant_id, member_id=fan)
    profile = await tasks.task(kind="profile", title="完善资料", points=20, config={})
    bind = await tasks.task(kind="bind_account", title="绑定淘宝账号", points=30, config={})
    shown = {t.task.id: t for t in await _shown(tasks, fan)}
    assert shown[profile.id].state == "todo" and shown[bind.id].state == "todo"
    with pytest.raises(service.TaskNotMet) as refused:
        await tasks.complete(fan, bind)
    assert "绑定" in refused.value.message
    await members.bind_identity(
        tasks.session, tenant_id=tasks.tenant_id, member=member, kind="phone", value="13800138000"
    )
    await members.bind_identity(tasks.session, tenant_id=tasks.tenant_id, member=member, kind="taobao_nick", value="鱼")
    shown = {t.task.id: t for t in await _shown(tasks, fan)}
    assert shown[profile.id].state == "claimable" and shown[bind.id].state == "claimable"
    await tasks.complete(fan, profile)
    await tasks.complete(fan, bind)
    assert {t.task.id: t.state for t in await _shown(tasks, fan)} == {profile.id: "done", bind.id: "done"}
    assert await tasks.available(fan) == 50


async def _shown(tasks: Tasks, fan: int) -> list[service.FanTask]:
    return await service.fan_tasks(tasks.session, tenant_id=tasks.tenant_id, member_id=fan, timezone=TZ, now=tasks.now)


async def test_a_survey_keeps_her_answers_and_refuses_incomplete_ones(tasks: Tasks) -> None:
    fan = await tasks.fan()
    questions = [
        {"text": "你最常在哪个平台下单？", "kind": "choice", "options": ["淘宝", "抖音"]},
        {"text": "想让主播播什么？", "kind": "text"},
    ]
    survey = await tasks.task(kind="survey", title="直播间小调查", config={"questions": questions})
    with pytest.raises(service.BadSurvey, match="第 2 题"):
        await tasks.complete(fan, survey, answers={"1": "淘宝"})
    with pytest.raises(service.BadSurvey, match="选项"):
        await tasks.complete(fan, survey, answers={"1": "京东", "2": "面膜"})
    with pytest.raises(service.WrongTaskKind):
        await tasks.complete(fan, survey, confirm=True)
    await tasks.complete(fan, survey, answers={"1": "抖音", "2": "  面膜  "})
    kept = await service.answers_of(tasks.session, tenant_id=tasks.tenant_id, task_id=survey.id)
    assert [c.answers for c in kept] == [{"1": "抖音", "2": "面膜"}]


async def test_closed_and_disabled_tasks_are_not_offered(tasks: Tasks) -> None:
    fan = await tasks.fan()
    later = await tasks.task(title="下周开始", starts_at=tasks.now + timedelta(days=7))
    off = await tasks.task(title="停用的", enabled=False)
    assert await _shown(tasks, fan) == []
    with pytest.raises(service.TaskClosed):
        await tasks.complete(fan, later, confirm=True)
    with pytest.raises(service.TaskNotFound):
        await tasks.complete(fan, off, confirm=True)


def test_task_definitions_are_checked() -> None:
    with pytest.raises(ValidationError, match="问卷至少需要一道题"):
        TaskIn(kind="survey", title="问卷", points=5)
    with pytest.raises(ValidationError, match="两个选项"):
        TaskIn(kind="survey", title="问卷", points=5, config={"questions": [{"text": "?", "options": ["只有一个"]}]})
    with pytest.raises(ValidationError, match="账号名称"):
        TaskIn(kind="follow", title="关注", points=5)
    with pytest.raises(ValidationError, match="一次性"):
        TaskIn(kind="profile", title="资料", points=5, period="daily")
    assert TaskIn(kind="reserve_live", title="预约直播", points=5, period="weekly").kind == "reserve_live"


async def test_review_approval_pays_once_per_order_whoever_asks_twice(tasks: Tasks) -> None:
    fan = await tasks.fan()
    review_task = await tasks.task(
        kind="review", title="晒评价得积分", points=30, period="daily", cap_per_period=5, config={}
    )
    order = await tasks.order(fan)
    before = await tasks.available(fan)
    first = await tasks.review(fan, review_task, order)
    assert first.status == ReviewStatus.pending
    with pytest.raises(service.ReviewExists):  # the same order again while it waits
        await tasks.review(fan, review_task, order)
    approved = await service.decide(tasks.session, actor=tasks.owner, review_id=first.id, approve=True, now=tasks.now)
    assert approved.status == ReviewStatus.approved and approved.points == 30
    assert await tasks.available(fan) == before + 30
    with pytest.raises(service.ReviewDecided):  # approving twice pays nothing more
        await service.decide(tasks.session, actor=tasks.owner, review_id=first.id, approve=True, now=tasks.now)
    with pytest.raises(service.ReviewExists):  # nor does sending it again after approval
        await tasks.review(fan, review_task, order)
    # a second screenshot of the same order that slipped in (two taps at once) is approved without paying again
    twin = Review(**{c.key: getattr(first, c.key) for c in Review.__table__.columns} | {"id": first.id + 1})
    twin.status, twin.points, twin.decided_at, twin.decided_by = ReviewStatus.pending, 0, None, None
    tasks.session.add(twin)
    await tasks.session.flush()
    again = await service.decide(tasks.session, actor=tasks.owner, review_id=twin.id, approve=True, now=tasks.now)
    assert again.points == 0 and "已经发放过" in again.reason
    assert await tasks.available(fan) == before + 30
    credits = await ledger.credit_owners(
        tasks.session, tenant_id=tasks.tenant_id, source_refs=[refs.review_ref("taobao", order)]
    )
    assert credits == {refs.review_ref("taobao", order): fan}
    actions = list(await tasks.session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "review")))
    assert sorted(actions) == ["review.approve", "review.approve"]
    await check_invariants(tasks.session, tenant_id=tasks.tenant_id)


async def test_a_rejection_needs_a_reason_she_sees_and_she_may_send_again(tasks: Tasks) -> None:
    fan = await tasks.fan()
    review_task = await tasks.task(kind="review", title="晒评价", points=30, cap_per_period=3, config={})
    order = await tasks.order(fan)
    row = await tasks.review(fan, review_task, order)
    with pytest.raises(service.ReasonRequired):
        await service.decide(tasks.session, actor=tasks.owner, review_id=row.id, approve=False)
    await service.decide(tasks.session, actor=tasks.owner, review_id=row.id, approve=False, reason="截图看不清订单号")
    mine = await service.reviews_of(tasks.session, tenant_id=tasks.tenant_id, member_id=fan)
    assert [(r.status, r.reason, r.points) for r in mine] == [("rejected", "截图看不清订单号", 0)]
    assert [
        o.order_id for o in await service.credited_orders(tasks.session, tenant_id=tasks.tenant_id, member_id=fan)
    ] == [order]
    await tasks.review(fan, review_task, order)  # a clearer screenshot


async def test_only_her_own_credited_orders_can_be_reviewed(tasks: Tasks) -> None:
    fan, other = await tasks.fan(), await tasks.fan("小满")
    review_task = await tasks.task(kind="review", title="晒评价", points=30, config={})
    theirs = await tasks.order(other)
    with pytest.raises(service.OrderNotYours):
        await tasks.review(fan, review_task, theirs)
    with pytest.raises(service.OrderNotYours):
        await tasks.review(fan, review_task, "9999999999")
    follow = await tasks.task()
    with pytest.raises(service.WrongTaskKind):
        await tasks.review(fan, follow, await tasks.order(fan))
    assert _files(tasks.data_dir) == []


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (b"%PDF-1.7 not a picture at all" * 4, images.NotAnImage),
        (png() + b"\0" * images.MAX_BYTES, images.ImageTooLarge),
        (png(50_000, 50_000, pixels=False), images.ImageTooManyPixels),
    ],
    ids=["not-an-image", "too-large", "decompression-bomb"],
)
async def test_a_refused_screenshot_stores_nothing(tasks: Tasks, data: bytes, error: type[Exception]) -> None:
    fan = await tasks.fan()
    review_task = await tasks.task(kind="review", title="晒评价", points=30, config={})
    order = await tasks.order(fan)
    with pytest.raises(error) as refused:
        await tasks.review(fan, review_task, order, data)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in refused.value.message)  # type: ignore[attr-defined]
    assert _files(tasks.data_dir) == []
    assert await tasks.session.scalar(select(func.count()).select_from(Review)) == 0


async def test_task_changes_are_audited_and_used_tasks_cannot_be_deleted(tasks: Tasks) -> None:
    fan = await tasks.fan()
    task = await tasks.task()
    unused = await tasks.task(title="没人做的")
    data = TaskIn(kind="follow", title="关注视频号", points=12, config={"channel": "小鱼直播间"})
    await service.update_task(tasks.session, actor=tasks.owner, task_id=task.id, data=data, timezone=TZ)
    await tasks.complete(fan, task, confirm=True)
    with pytest.raises(service.TaskInUse):
        await service.delete_task(tasks.session, actor=tasks.owner, task_id=task.id)
    await service.delete_task(tasks.session, actor=tasks.owner, task_id=unused.id)
    actions = list(await tasks.session.scalars(select(AuditEntry.action).where(AuditEntry.target_type == "task")))
    assert sorted(actions) == ["task.create", "task.create", "task.delete", "task.update"]
    stats = await service.stats(tasks.session, tenant_id=tasks.tenant_id)
    assert [(s.task.title, s.completions, s.members, s.points) for s in stats] == [("关注视频号", 1, 1, 12)]
    days, series = await service.completions_by_day(
        tasks.session, tenant_id=tasks.tenant_id, timezone=TZ, now=tasks.now
    )
    assert len(days) == 14 and days[-1] == "03-01" and series == {"follow": [0] * 13 + [1]}
    assert await tasks.session.scalar(select(func.count()).select_from(Completion)) == 1


def test_bombs_are_told_by_their_headers_in_every_format() -> None:
    assert images.size_of(png(3, 2), "png") == (3, 2)
    gif = b"GIF89a" + (60000).to_bytes(2, "little") + (60000).to_bytes(2, "little") + b"\0" * 16
    jpg = (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        + b"\xff\xc0\x00\x11\x08\xea\x60\xea\x60"
    )
    webp = b"RIFF\0\0\0\0WEBPVP8X\x0a\0\0\0\0\0\0\0" + (59999).to_bytes(3, "little") * 2 + b"\0" * 8
    for data in (gif, jpg + b"\0" * 16, webp):
        with pytest.raises(images.ImageTooManyPixels):
            images.check(data)
