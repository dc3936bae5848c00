"""积分任务 in the console: the tasks with their completions (an ECharts trend by kind), one task's set-up (a
survey's questions, the account to follow) and its latest answers, and the review queue of 评价有礼 screenshots
(approve, or reject with a reason the fan sees). Every change goes through the service, in a savepoint, audited."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from siyu.console.deps import Console, ConsoleContext, text
from siyu.console.listing import Listing
from siyu.engagement.missions import service
from siyu.engagement.missions.models import (
    KIND_LABELS,
    PERIOD_LABELS,
    REVIEW_STATUS_LABELS,
    ReviewStatus,
    Task,
    TaskKind,
)
from siyu.engagement.missions.schemas import TaskIn
from siyu.kit import images
from siyu.kit.errors import AppError
from siyu.kit.time import to_local
from siyu.kit.web import DbSession, ResourceId
from siyu.members import service as members
from siyu.tenants.models import PLATFORM_LABELS

router = APIRouter()
FIELDS = ("kind", "title", "description", "points", "period", "cap_per_period", "sort_order")
CONFIG = ("channel", "channel_platform", "link")
WINDOW = ("starts_at", "ends_at")
LABELS = {
    "kind": "类型",
    "title": "名称",
    "description": "说明",
    "points": "积分",
    "period": "周期",
    "cap_per_period": "每个周期次数",
    "starts_at": "开始时间",
    "ends_at": "结束时间",
    "sort_order": "排序",
    "config": "任务设置",
    "questions": "问卷题目",
    "channel": "关注的账号",
    "link": "账号链接",
}


def _local_input(value: datetime | None, timezone: str) -> str:
    return "" if value is None else to_local(value, timezone).strftime("%Y-%m-%dT%H:%M")


def questions_text(questions: list[dict[str, Any]]) -> str:
    """A survey's questions as ops type them: one a line, options after "|"."""
    return "\n".join(" | ".join([q.get("text", ""), *q.get("options", [])]) for q in questions)


def parse_questions(raw: str) -> list[dict[str, Any]]:
    questions = []
    for line in raw.replace("｜", "|").splitlines():
        parts = [p.strip() for p in line.split("|")]
        if not parts[0]:
            continue
        options = [p for p in parts[1:] if p]
        questions.append({"text": parts[0], "kind": "choice" if options else "text", "options": options})
    return questions


def _values(row: Task | None, timezone: str) -> dict[str, Any]:
    if row is None:
        return {"kind": "follow", "period": "one_time", "cap_per_period": "1", "points": "10", "enabled": True}
    values: dict[str, Any] = {f: str(getattr(row, f)) for f in FIELDS}
    values.update({w: _local_input(getattr(row, w), timezone) for w in WINDOW}, enabled=row.enabled)
    config = row.config or {}
    values.update({c: str(config.get(c, "")) for c in CONFIG})
    values["questions"] = questions_text(list(config.get("questions") or []))
    return values


def _form(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: text(form, k) for k in FIELDS + WINDOW + CONFIG}
    values["questions"] = str(form.get("questions") or "")[:4000]
    values["enabled"] = bool(form.get("enabled"))
    return values


def _task_in(values: dict[str, Any], timezone: str) -> TaskIn:
    data: dict[str, Any] = {k: values[k] for k in FIELDS if values[k] != ""}
    for key in WINDOW:
        raw = values[key]
        data[key] = datetime.fromisoformat(raw).replace(tzinfo=ZoneInfo(timezone)) if raw else None
    data["enabled"] = values["enabled"]
    config: dict[str, Any] = {c: values[c] for c in CONFIG}
    if values["kind"] == TaskKind.survey:
        config["questions"] = parse_questions(values["questions"])
    data["config"] = config
    return TaskIn.model_validate(data)


def _problem(error: ValidationError | ValueError) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        loc = [str(p) for p in first["loc"]]
        message = str(first["msg"]).removeprefix("Value error, ")
        if len(loc) >= 3 and loc[:2] == ["config", "questions"] and loc[2].isdigit():
            return f"第 {int(loc[2]) + 1} 道题：{message}"
        field = next((p for p in reversed(loc) if p in LABELS), loc[0] if loc else "")
        return f"{LABELS.get(field, '填写的内容')}：{message}" if field else message
    return "时间格式不正确"


@router.get("/tasks", response_class=HTMLResponse)
async def tasks_page(console: ConsoleContext, session: DbSession, deleted: int = 0) -> HTMLResponse:
    console.require("members.read")
    tenant_id = console.tenant.id
    days, series = await service.completions_by_day(session, tenant_id=tenant_id, timezone=console.tenant.timezone)
    return console.render(
        "console/tasks.html",
        "tasks",
        stats=await service.stats(session, tenant_id=tenant_id),
        waiting=await service.waiting_reviews(session, tenant_id=tenant_id),
        days=days,
        series=[{"name": KIND_LABELS.get(kind, "其他"), "data": counts} for kind, counts in sorted(series.items())],
        kinds=KIND_LABELS,
        periods=PERIOD_LABELS,
        deleted=bool(deleted),
    )


async def _task_page(
    console: Console,
    session: DbSession,
    row: Task | None,
    *,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    answers = []
    nicknames: dict[int, str] = {}
    if row is not None and row.kind == TaskKind.survey:
        answers = await service.answers_of(session, tenant_id=console.tenant.id, task_id=row.id, limit=50)
        nicknames = await members.nicknames(
            session, tenant_id=console.tenant.id, member_ids=[a.member_id for a in answers]
        )
    return console.render(
        "console/task.html",
        "tasks",
        task=row,
        values=values or _values(row, console.tenant.timezone),
        kinds=KIND_LABELS,
        periods=PERIOD_LABELS,
        answers=answers,
        nicknames=nicknames,
        error=error,
        status_code=status_code,
    )


@router.get("/tasks/new", response_class=HTMLResponse)
async def new_task(console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("points.rules")
    return await _task_page(console, session, None)


# The review queue (before /tasks/{task_id}, whose id is a number)


@router.get("/tasks/reviews", response_class=HTMLResponse)
async def reviews_page(
    console: ConsoleContext,
    session: DbSession,
    status: Annotated[str, Query(max_length=10)] = ReviewStatus.pending,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    done: str = "",
) -> HTMLResponse:
    console.require("members.read")
    return await _reviews(console, session, status=status, page=page, done=done)


async def _reviews(
    console: Console,
    session: DbSession,
    *,
    status: str = ReviewStatus.pending,
    page: int = 1,
    done: str = "",
    error: str | None = None,
    error_review: int | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    if status not in REVIEW_STATUS_LABELS:
        status = ReviewStatus.pending
    listing = Listing.of(
        "/console/tasks/reviews", sort=None, allowed=("created_at",), default="created_at", page=page, status=status
    )
    result = await service.review_page(session, tenant_id=tenant_id, status=status, page=listing.request)
    titles = {t.id: t.title for t in await service.list_tasks(session, tenant_id=tenant_id)}
    return console.render(
        "console/task_reviews.html",
        "task_reviews",
        result=result,
        listing=listing,
        status=status,
        statuses=REVIEW_STATUS_LABELS,
        titles=titles,
        nicknames=await members.nicknames(session, tenant_id=tenant_id, member_ids=[r.member_id for r in result.items]),
        platforms=PLATFORM_LABELS,
        done=done if done in ("approved", "rejected") else "",
        error=error,
        error_review=error_review,
        status_code=status_code,
    )


@router.get("/tasks/reviews/{review_id}/image")
async def review_image(
    review_id: ResourceId, request: Request, console: ConsoleContext, session: DbSession
) -> Response:
    console.require("members.read")
    row = await service.get_review(session, tenant_id=console.tenant.id, review_id=review_id)
    path = service.image_path(request.app.state.settings.data_dir, console.tenant.id, row.image)
    if path is None:
        raise service.ReviewNotFound("截图文件已不存在")
    media_type = images.MEDIA_TYPES[row.image.rsplit(".", 1)[1]]
    return Response(path.read_bytes(), media_type=media_type, headers={"Cache-Control": "private, max-age=86400"})


@router.post("/tasks/reviews/{review_id}")
async def decide(review_id: ResourceId, request: Request, console: ConsoleContext, session: DbSession) -> Response:
    """Approve a screenshot (its order's points are paid once) or reject it with the reason she is shown."""
    console.require("claims.review")
    form = await request.form()
    approve = text(form, "action") == "approve"
    try:
        await service.decide(
            session, actor=console.principal, review_id=review_id, approve=approve, reason=text(form, "reason")
        )
    except AppError as error:
        return await _reviews(console, session, error=error.message, error_review=review_id, status_code=error.status)
    return RedirectResponse(f"/console/tasks/reviews?done={'approved' if approve else 'rejected'}", status_code=303)


# One task


@router.get("/tasks/{task_id}", response_class=HTMLResponse)
async def task_page(console: ConsoleContext, session: DbSession, task_id: ResourceId) -> HTMLResponse:
    console.require("members.read")
    row = await service.get_task(session, tenant_id=console.tenant.id, task_id=task_id)
    return await _task_page(console, session, row)


async def _save(request: Request, console: Console, session: DbSession, task_id: int | None) -> Response:
    console.require("points.rules")
    timezone = console.tenant.timezone
    row = None if task_id is None else await service.get_task(session, tenant_id=console.tenant.id, task_id=task_id)
    values = _form(await request.form())
    if row is not None:
        values["kind"] = row.kind  # a task keeps its kind
    try:
        data = _task_in(values, timezone)
        async with session.begin_nested():
            if row is None:
                row = await service.create_task(session, actor=console.principal, data=data, timezone=timezone)
            else:
                row = await service.update_task(
                    session, actor=console.principal, task_id=row.id, data=data, timezone=timezone
                )
    except (ValidationError, ValueError) as error:
        return await _task_page(console, session, row, values=values, error=_problem(error), status_code=422)
    except AppError as error:
        return await _task_page(console, session, row, values=values, error=error.message, status_code=error.status)
    return RedirectResponse(f"/console/tasks/{row.id}?saved=1", status_code=303)


@router.post("/tasks/new")
async def create(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    return await _save(request, console, session, None)


@router.post("/tasks/{task_id}")
async def update(request: Request, console: ConsoleContext, session: DbSession, task_id: ResourceId) -> Response:
    return await _save(request, console, session, task_id)


@router.post("/tasks/{task_id}/delete")
async def delete(console: ConsoleContext, session: DbSession, task_id: ResourceId) -> Response:
    console.require("points.rules")
    row = await service.get_task(session, tenant_id=console.tenant.id, task_id=task_id)
    try:
        async with session.begin_nested():
            await service.delete_task(session, actor=console.principal, task_id=task_id)
    except AppError as error:
        return await _task_page(console, session, row, error=error.message, status_code=error.status)
    return RedirectResponse("/console/tasks?deleted=1", status_code=303)
