"""Points tasks (积分任务): ops define tasks; a fan completes one and taps 领取; a review screenshot (评价有礼) waits
for ops to approve or reject it.

Exactly once: a completion is unique per (task, member, period key, n) and its points are credited under
`refs.task_ref`; an approved review is credited under `refs.review_ref(platform, order)`, so an order's review
pays once whoever sends it twice. The conditions are read through the lower domains' services (members for her
bound accounts, the ledger for the orders credited to her), never their tables. Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.engagement.missions import repository, rules
from siyu.engagement.missions.models import (
    PERIOD_LABELS,
    Completion,
    Period,
    Review,
    ReviewStatus,
    Task,
    TaskKind,
)
from siyu.engagement.missions.schemas import TaskIn
from siyu.kit import images
from siyu.kit.errors import Conflict, InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.pagination import Page, PageRequest
from siyu.kit.time import aware_or_none, to_local, utcnow
from siyu.kit.web import Principal
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.ledger.models import LotStatus
from siyu.live import service as live
from siyu.members import service as members
from siyu.members.models import IdentityKind
from siyu.tenants.models import PLATFORM_LABELS

IMAGE_AREA = "review-images"
PLATFORM_ACCOUNTS = frozenset(
    {
        IdentityKind.taobao_nick,
        IdentityKind.taobao_open_uid,
        IdentityKind.douyin_open_id,
        IdentityKind.kuaishou_id,
        IdentityKind.channels_openid,
    }
)


class TaskNotFound(NotFound):
    code = "task_not_found"
    message = "找不到这个任务"


class TaskClosed(Conflict):
    code = "task_closed"
    message = "这个任务现在不在进行中"


class TaskDone(Conflict):
    code = "task_done"
    message = "这个任务本期已经完成啦"


class TaskNotMet(Conflict):
    code = "task_not_met"
    message = "还没有完成任务要求"


class WrongTaskKind(InvalidInput):
    code = "wrong_task_kind"
    message = "这个任务不能这样完成"


class BadSurvey(InvalidInput):
    code = "bad_survey"
    message = "问卷还没有填完整"


class TaskInUse(Conflict):
    code = "task_in_use"
    message = "已有会员完成过这个任务，不能删除；可以停用它"


class OrderNotYours(InvalidInput):
    code = "order_not_yours"
    message = "这个订单还没有换成你的积分，请先在“订单换积分”领取后再来评价"


class ReviewExists(Conflict):
    code = "review_exists"
    message = "这个订单的评价截图已经提交过了"


class ReviewCapReached(Conflict):
    code = "review_cap_reached"
    message = "本期提交的评价已达上限，下个周期再来吧"


class ReviewNotFound(NotFound):
    code = "review_not_found"
    message = "找不到这条评价截图"


class ReviewDecided(Conflict):
    code = "review_decided"
    message = "这条评价截图已经审核过了"


class ReasonRequired(InvalidInput):
    code = "reason_required"
    message = "拒绝时请写明原因，会员会看到"


# Tasks (ops)


def _view(task: Task) -> dict[str, Any]:
    return {
        "kind": task.kind,
        "title": task.title,
        "points": task.points,
        "period": task.period,
        "cap_per_period": task.cap_per_period,
        "starts_at": None if task.starts_at is None else task.starts_at.isoformat(),
        "ends_at": None if task.ends_at is None else task.ends_at.isoformat(),
        "enabled": task.enabled,
        "sort_order": task.sort_order,
        "description": task.description,
        "config": task.config,
    }


def _fields(data: TaskIn, timezone: str) -> dict[str, Any]:
    values = data.model_dump(exclude={"config", "starts_at", "ends_at"})
    values["config"] = data.config.model_dump(mode="json")
    values["starts_at"] = aware_or_none(data.starts_at, timezone)
    values["ends_at"] = aware_or_none(data.ends_at, timezone)
    return values


async def get_task(session: AsyncSession, *, tenant_id: int, task_id: int) -> Task:
    row = await repository.get_task(session, tenant_id=tenant_id, task_id=task_id)
    if row is None:
        raise TaskNotFound()
    return row


async def list_tasks(session: AsyncSession, *, tenant_id: int) -> list[Task]:
    return await repository.tasks(session, tenant_id=tenant_id)


async def create_task(session: AsyncSession, *, actor: Principal, data: TaskIn, timezone: str) -> Task:
    task = Task(tenant_id=actor.tenant_id, id=new_id(), **_fields(data, timezone))
    repository.add(session, task)
    await session.flush()
    audit.record(session, actor=actor, action="task.create", target_type="task", target_id=task.id, after=_view(task))
    return task


async def update_task(session: AsyncSession, *, actor: Principal, task_id: int, data: TaskIn, timezone: str) -> Task:
    task = await get_task(session, tenant_id=actor.tenant_id, task_id=task_id)
    if data.kind != task.kind:
        raise InvalidInput("任务类型创建后不能修改", code="task_kind_fixed")
    before = _view(task)
    for key, value in _fields(data, timezone).items():
        setattr(task, key, value)
    await session.flush()
    audit.record_change(
        session,
        actor=actor,
        action="task.update",
        target_type="task",
        target_id=task.id,
        before=before,
        after=_view(task),
    )
    return task


async def delete_task(session: AsyncSession, *, actor: Principal, task_id: int) -> None:
    task = await get_task(session, tenant_id=actor.tenant_id, task_id=task_id)
    if await repository.has_completions(session, tenant_id=actor.tenant_id, task_id=task_id):
        raise TaskInUse()
    before = _view(task)
    await repository.delete(session, task)
    await session.flush()
    audit.record(session, actor=actor, action="task.delete", target_type="task", target_id=task_id, before=before)


# Tasks (fans)


@dataclass(frozen=True)
class FanTask:
    task: Task
    period_key: str
    done: int
    state: str  # todo | claimable | done
    hint: str

    @property
    def period_label(self) -> str:
        return PERIOD_LABELS.get(self.task.period, "")


async def _has_profile(session: AsyncSession, tenant_id: int, member_id: int) -> bool:
    member = await members.get_member(session, tenant_id=tenant_id, member_id=member_id)
    kinds = {i.kind for i in await members.identities_of(session, tenant_id=tenant_id, member_id=member_id)}
    return bool(member.nickname.strip()) and IdentityKind.phone in kinds


async def _has_platform_account(session: AsyncSession, tenant_id: int, member_id: int) -> bool:
    identities = await members.identities_of(session, tenant_id=tenant_id, member_id=member_id)
    return any(i.kind in PLATFORM_ACCOUNTS for i in identities)


SEEN_KINDS = (TaskKind.profile, TaskKind.bind_account, TaskKind.reserve_live)  # the system checks these itself


async def _met(
    session: AsyncSession, task: Task, member_id: int, *, now: datetime | None = None, timezone: str = "Asia/Shanghai"
) -> bool:
    """Whether what the task asks for is done, for the kinds the system can see (the rest she confirms or answers).
    A live show counts when she holds a reservation she made in the task's current period."""
    if task.kind == TaskKind.reserve_live:
        since = rules.period_start(task.period, now or utcnow(), timezone)
        return await live.holds_reservation(session, tenant_id=task.tenant_id, member_id=member_id, since=since)
    if task.kind == TaskKind.profile:
        return await _has_profile(session, task.tenant_id, member_id)
    if task.kind == TaskKind.bind_account:
        return await _has_platform_account(session, task.tenant_id, member_id)
    return False


HINTS = {
    TaskKind.profile: ("绑定手机号、完善资料后可领取", "资料已完善，可以领取"),
    TaskKind.bind_account: ("绑定淘宝、抖音、快手或视频号账号后可领取", "账号已绑定，可以领取"),
    TaskKind.survey: ("回答几个小问题即可领取", ""),
    TaskKind.follow: ("关注后回来点“我已关注”领取", ""),
    TaskKind.review: ("上传订单评价截图，审核通过后发放", ""),
    TaskKind.reserve_live: ("预约一场直播后可领取", "已预约直播，可以领取"),
}


DONE_HINTS = {Period.one_time: "已完成", Period.daily: "今天已完成，明天再来", Period.weekly: "本周已完成，下周再来"}


async def fan_tasks(
    session: AsyncSession, *, tenant_id: int, member_id: int, timezone: str, now: datetime | None = None
) -> list[FanTask]:
    """The open tasks with her progress in each one's current period."""
    now = now or utcnow()
    tasks = [
        t
        for t in await repository.tasks(session, tenant_id=tenant_id, enabled_only=True)
        if rules.is_open(enabled=t.enabled, starts_at=t.starts_at, ends_at=t.ends_at, now=now)
    ]
    keys = {t.id: rules.period_key(t.period, now, timezone) for t in tasks}
    counts = await repository.done_counts(
        session, tenant_id=tenant_id, member_id=member_id, keys=[(t.id, keys[t.id]) for t in tasks]
    )
    shown = []
    for task in tasks:
        key = keys[task.id]
        if task.kind == TaskKind.review:
            done = await repository.sent_in(
                session, tenant_id=tenant_id, task_id=task.id, member_id=member_id, period_key=key
            )
        else:
            done = counts.get((task.id, key), 0)
        todo, ready = HINTS[TaskKind(task.kind)]
        if done >= task.cap_per_period:
            state, hint = "done", DONE_HINTS[Period(task.period)]
        elif task.kind in SEEN_KINDS and await _met(session, task, member_id, now=now, timezone=timezone):
            state, hint = "claimable", ready
        else:
            state, hint = "todo", todo
        shown.append(FanTask(task, key, done, state, hint))
    return shown


async def _open_task(session: AsyncSession, tenant_id: int, task_id: int, now: datetime) -> Task:
    task = await repository.get_task(session, tenant_id=tenant_id, task_id=task_id)
    if task is None or not task.enabled:
        raise TaskNotFound()
    if not rules.is_open(enabled=task.enabled, starts_at=task.starts_at, ends_at=task.ends_at, now=now):
        raise TaskClosed()
    return task


async def complete(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    task_id: int,
    timezone: str,
    confirm: bool = False,
    answers: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> Completion:
    """She taps 领取 (or sends a survey): the task's condition is checked, then the completion is written and its
    points credited, in one savepoint. A second tap in the same period beyond the cap is TaskDone."""
    now = now or utcnow()
    task = await _open_task(session, tenant_id, task_id, now)
    kept: dict[str, str] | None = None
    if task.kind == TaskKind.review:
        raise WrongTaskKind("评价有礼请上传评价截图，审核通过后发放积分")
    if task.kind == TaskKind.survey:
        if answers is None:
            raise WrongTaskKind("请先填写问卷")
        try:
            kept = rules.check_answers(list(task.config.get("questions") or []), answers)
        except rules.BadAnswers as bad:
            raise BadSurvey(bad.message) from bad
    elif answers is not None:
        raise WrongTaskKind("这个任务不是问卷")
    if task.kind == TaskKind.follow and not confirm:
        raise TaskNotMet("请先关注，再点“我已关注”")
    if task.kind in SEEN_KINDS and not await _met(session, task, member_id, now=now, timezone=timezone):
        raise TaskNotMet(HINTS[TaskKind(task.kind)][0])
    await ledger.lock_member(session, tenant_id=tenant_id, member_id=member_id, now=now)  # her taps, one at a time
    key = rules.period_key(task.period, now, timezone)
    done = (await repository.done_counts(session, tenant_id=tenant_id, member_id=member_id, keys=[(task.id, key)])).get(
        (task.id, key), 0
    )
    if done >= task.cap_per_period:
        raise TaskDone()
    n = done + 1
    row = Completion(
        tenant_id=tenant_id,
        id=new_id(),
        task_id=task.id,
        member_id=member_id,
        period_key=key,
        n=n,
        points=task.points,
        answers=kept,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            repository.add(session, row)
            await session.flush()
            await ledger.earn(
                session,
                tenant_id=tenant_id,
                member_id=member_id,
                amount=task.points,
                source_ref=refs.task_ref(task.id, member_id, key, n),
                explanation=f"完成任务 {task.title}"[:300],
                now=now,
            )
    except (IntegrityError, ledger.AlreadyCredited) as error:  # the same tap twice at once: the other one paid
        raise TaskDone() from error
    return row


# Reviews (评价有礼)


@dataclass(frozen=True)
class CreditedOrder:
    platform: str
    order_id: str

    @property
    def label(self) -> str:
        return f"{PLATFORM_LABELS.get(self.platform, '')} 订单 {self.order_id}".strip()


async def credited_orders(
    session: AsyncSession, *, tenant_id: int, member_id: int, limit: int = 100
) -> list[CreditedOrder]:
    """Her orders that earned points (held or posted, not voided), newest first, without those already sent."""
    found = []
    for lot in await ledger.lots(session, tenant_id=tenant_id, member_id=member_id, limit=limit):
        order = refs.order_of(lot.source_ref)
        if order is not None and lot.status != LotStatus.voided:
            found.append(CreditedOrder(*order))
    sent = {
        (r.platform, r.order_id)
        for r in await repository.reviews_of(session, tenant_id=tenant_id, member_id=member_id, limit=500)
        if r.status != ReviewStatus.rejected
    }
    return [o for o in found if (o.platform, o.order_id) not in sent]


async def _order_is_hers(session: AsyncSession, tenant_id: int, member_id: int, platform: str, order_id: str) -> bool:
    lot = await ledger.find_credit(session, tenant_id=tenant_id, source_ref=refs.order_ref(platform, order_id))
    return lot is not None and lot.member_id == member_id and lot.status != LotStatus.voided


async def submit_review(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    task_id: int,
    platform: str,
    order_id: str,
    data: bytes,
    data_dir: Path,
    timezone: str,
    now: datetime | None = None,
) -> Review:
    """She sends a screenshot of her review of one of her credited orders. Every check comes before the picture is
    stored, so a refusal stores nothing."""
    now = now or utcnow()
    order_id = order_id.strip()
    images.check(data)  # not a picture, too large, a bomb: refused before anything else
    task = await _open_task(session, tenant_id, task_id, now)
    if task.kind != TaskKind.review:
        raise WrongTaskKind()
    if platform not in PLATFORM_LABELS or not order_id or len(order_id) > 64:
        raise OrderNotYours()
    if not await _order_is_hers(session, tenant_id, member_id, platform, order_id):
        raise OrderNotYours()
    if await repository.live_reviews_of_order(session, tenant_id=tenant_id, platform=platform, order_id=order_id):
        raise ReviewExists()
    key = rules.period_key(task.period, now, timezone)
    sent = await repository.sent_in(session, tenant_id=tenant_id, task_id=task.id, member_id=member_id, period_key=key)
    if sent >= task.cap_per_period:
        raise ReviewCapReached()
    name = images.store(data_dir, IMAGE_AREA, tenant_id, data)
    row = Review(
        tenant_id=tenant_id,
        id=new_id(),
        task_id=task.id,
        member_id=member_id,
        platform=platform,
        order_id=order_id,
        period_key=key,
        image=name,
        status=ReviewStatus.pending,
        reason="",
        points=0,
        created_at=now,
    )
    repository.add(session, row)
    await session.flush()
    return row


def image_path(data_dir: Path, tenant_id: int, name: str) -> Path | None:
    return images.path_of(data_dir, IMAGE_AREA, tenant_id, name)


async def reviews_of(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int = 50) -> list[Review]:
    return await repository.reviews_of(session, tenant_id=tenant_id, member_id=member_id, limit=limit)


async def review_page(
    session: AsyncSession, *, tenant_id: int, status: str | None = ReviewStatus.pending, page: PageRequest
) -> Page[Review]:
    return await repository.review_page(session, tenant_id=tenant_id, status=status, page=page)


async def waiting_reviews(session: AsyncSession, *, tenant_id: int) -> int:
    return await repository.count_reviews(session, tenant_id=tenant_id, status=ReviewStatus.pending)


async def get_review(session: AsyncSession, *, tenant_id: int, review_id: int) -> Review:
    row = await repository.get_review(session, tenant_id=tenant_id, review_id=review_id)
    if row is None:
        raise ReviewNotFound()
    return row


async def decide(
    session: AsyncSession,
    *,
    actor: Principal,
    review_id: int,
    approve: bool,
    reason: str = "",
    now: datetime | None = None,
) -> Review:
    """Ops approve a screenshot (its order's review points are credited once, whoever sent it) or reject it with a
    reason she sees. In a savepoint, audited."""
    now = now or utcnow()
    reason = reason.strip()[:200]
    tenant_id = actor.tenant_id
    async with session.begin_nested():
        row = await repository.get_review(session, tenant_id=tenant_id, review_id=review_id, lock=True)
        if row is None:
            raise ReviewNotFound()
        if row.status != ReviewStatus.pending:
            raise ReviewDecided()
        if not approve and not reason:
            raise ReasonRequired()
        if approve:
            task = await get_task(session, tenant_id=tenant_id, task_id=row.task_id)
            try:
                async with session.begin_nested():
                    await ledger.earn(
                        session,
                        tenant_id=tenant_id,
                        member_id=row.member_id,
                        amount=task.points,
                        source_ref=refs.review_ref(row.platform, row.order_id),
                        explanation=f"评价有礼 订单 {row.order_id}"[:300],
                        created_by=actor.label,
                        now=now,
                    )
                row.points = task.points
            except ledger.AlreadyCredited:  # this order's review was paid before: approved, nothing more to pay
                row.points, reason = 0, reason or "这个订单的评价奖励已经发放过"
        row.status = ReviewStatus.approved if approve else ReviewStatus.rejected
        row.reason, row.decided_by, row.decided_at = reason, actor.label, now
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="review.approve" if approve else "review.reject",
            target_type="review",
            target_id=row.id,
            before={"status": ReviewStatus.pending},
            after={"status": row.status, "points": row.points, "reason": reason or None, "member_id": row.member_id},
        )
    return row


# Statistics


@dataclass(frozen=True)
class TaskStat:
    task: Task
    completions: int
    members: int
    points: int


async def stats(session: AsyncSession, *, tenant_id: int) -> list[TaskStat]:
    """Each task's completions, members and points paid (评价有礼: its approved screenshots)."""
    totals = await repository.totals_by_task(session, tenant_id=tenant_id)
    totals.update(await repository.approved_by_task(session, tenant_id=tenant_id))
    return [TaskStat(t, *totals.get(t.id, (0, 0, 0))) for t in await repository.tasks(session, tenant_id=tenant_id)]


async def completions_by_day(
    session: AsyncSession, *, tenant_id: int, timezone: str, days: int = 14, now: datetime | None = None
) -> tuple[list[str], dict[str, list[int]]]:
    """The last `days` local days (MM-DD) and, per kind of task, the completions on each (the chart's series;
    评价有礼 counts its approvals on the day they were approved)."""
    now = now or utcnow()
    today = to_local(now, timezone).date()
    first = today - timedelta(days=days - 1)
    labels = [(first + timedelta(days=n)).strftime("%m-%d") for n in range(days)]
    kinds = {t.id: t.kind for t in await repository.tasks(session, tenant_id=tenant_id)}
    series: dict[str, list[int]] = {}
    since = now - timedelta(days=days + 1)
    done = [
        (kinds.get(task_id, ""), at)
        for task_id, at, _ in await repository.completions_by_day(session, tenant_id=tenant_id, since=since)
    ]
    done += [
        (TaskKind.review.value, at)
        for at in await repository.approvals_since(session, tenant_id=tenant_id, since=since)
    ]
    for kind, at in done:
        day = to_local(at, timezone).date()
        if day < first or day > today:
            continue
        counts = series.setdefault(kind, [0] * days)
        counts[(day - first).days] += 1
    return labels, series


async def answers_of(session: AsyncSession, *, tenant_id: int, task_id: int, limit: int = 200) -> list[Completion]:
    """A survey's answers, newest first."""
    await get_task(session, tenant_id=tenant_id, task_id=task_id)
    return await repository.answers_of(session, tenant_id=tenant_id, task_id=task_id, limit=limit)


async def follow_merge(session: AsyncSession, tenant_id: int, from_member_id: int, into_member_id: int) -> int:
    """Two members became one: her tasks done count for the member she joined (a one-time task is not paid
    twice to one person), and her screenshots go with her."""
    return await repository.move_member(
        session, tenant_id=tenant_id, from_member_id=from_member_id, into_member_id=into_member_id
    )
