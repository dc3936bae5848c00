"""The API of points tasks (积分任务).

- Fans (their own bearer tokens, paths under /fan/{slug}/tasks): the open tasks with her progress, 领取 a task,
  answer a survey, the orders she can send a review of, send a review screenshot, her screenshots and their
  outcome.
- Staff (sessions or API keys): task definitions, the review queue with decisions, completion statistics.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile

from siyu.engagement.missions import service
from siyu.engagement.missions.models import REVIEW_STATUS_LABELS, Completion, Review, ReviewStatus, Task
from siyu.engagement.missions.schemas import (
    ClaimIn,
    CompletionOut,
    CreditedOrderOut,
    DecisionIn,
    FanTaskOut,
    ReviewOut,
    SurveyIn,
    TaskIn,
    TaskOut,
    TaskStatOut,
)
from siyu.fans.api import CurrentFan
from siyu.kit import images
from siyu.kit.pagination import PageRequest
from siyu.kit.web import DbSession, Principal, ResourceId, require
from siyu.tenants import service as tenants
from siyu.tenants.models import Platform

fan_router = APIRouter(tags=["粉丝：积分任务"])
router = APIRouter(tags=["积分任务"])


def review_out(row: Review) -> ReviewOut:
    out = ReviewOut.model_validate(row)
    out.status_label = REVIEW_STATUS_LABELS.get(row.status, "")
    return out


def _done(task: Task, row: Completion) -> CompletionOut:
    return CompletionOut(
        task_id=task.id, period_key=row.period_key, points=row.points, message=f"已领取 {row.points} 积分"
    )


async def read_upload(file: UploadFile) -> bytes:
    """At most one byte past the cap is read: a larger file is refused without reading it all."""
    data = await file.read(images.MAX_BYTES + 1)
    if len(data) > images.MAX_BYTES:
        raise images.ImageTooLarge()
    return data


# Fans


@fan_router.get("/fan/{slug}/tasks", response_model=list[FanTaskOut], summary="积分任务列表和我的进度")
async def fan_tasks(fan: CurrentFan, session: DbSession) -> list[FanTaskOut]:
    rows = await service.fan_tasks(
        session, tenant_id=fan.tenant.id, member_id=fan.member.id, timezone=fan.tenant.timezone
    )
    return [
        FanTaskOut(
            id=r.task.id,
            kind=r.task.kind,
            title=r.task.title,
            description=r.task.description,
            points=r.task.points,
            period=r.task.period,
            period_label=r.period_label,
            cap_per_period=r.task.cap_per_period,
            done=r.done,
            state=r.state,
            hint=r.hint,
            config=r.task.config,
        )
        for r in rows
    ]


@fan_router.get(
    "/fan/{slug}/tasks/orders", response_model=list[CreditedOrderOut], summary="可以晒评价的订单（已换成我的积分）"
)
async def fan_orders(fan: CurrentFan, session: DbSession) -> list[CreditedOrderOut]:
    rows = await service.credited_orders(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return [CreditedOrderOut(platform=Platform(o.platform), order_id=o.order_id, label=o.label) for o in rows]


@fan_router.get("/fan/{slug}/tasks/reviews", response_model=list[ReviewOut], summary="我提交的评价截图和审核结果")
async def fan_reviews(fan: CurrentFan, session: DbSession) -> list[ReviewOut]:
    rows = await service.reviews_of(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return [review_out(r) for r in rows]


@fan_router.post(
    "/fan/{slug}/tasks/{task_id}/claim",
    response_model=CompletionOut,
    summary="领取任务积分（完善资料、绑定账号：系统核对；关注账号：confirm=true 表示已关注）",
)
async def fan_claim(task_id: ResourceId, body: ClaimIn, fan: CurrentFan, session: DbSession) -> CompletionOut:
    row = await service.complete(
        session,
        tenant_id=fan.tenant.id,
        member_id=fan.member.id,
        task_id=task_id,
        timezone=fan.tenant.timezone,
        confirm=body.confirm,
    )
    task = await service.get_task(session, tenant_id=fan.tenant.id, task_id=task_id)
    return _done(task, row)


@fan_router.post("/fan/{slug}/tasks/{task_id}/survey", response_model=CompletionOut, summary="提交问卷并领取积分")
async def fan_survey(task_id: ResourceId, body: SurveyIn, fan: CurrentFan, session: DbSession) -> CompletionOut:
    row = await service.complete(
        session,
        tenant_id=fan.tenant.id,
        member_id=fan.member.id,
        task_id=task_id,
        timezone=fan.tenant.timezone,
        answers=body.answers,
    )
    task = await service.get_task(session, tenant_id=fan.tenant.id, task_id=task_id)
    return _done(task, row)


@fan_router.post(
    "/fan/{slug}/tasks/{task_id}/reviews",
    response_model=ReviewOut,
    status_code=201,
    summary="评价有礼：上传订单评价截图（JPG/PNG/GIF/WebP，≤ 2 MB），审核通过后发放积分",
)
async def fan_review(
    task_id: ResourceId,
    request: Request,
    fan: CurrentFan,
    session: DbSession,
    platform: Annotated[Platform, Form(description="订单所在平台")],
    order_id: Annotated[str, Form(min_length=1, max_length=64, description="订单号（须是已换成你积分的订单）")],
    file: Annotated[UploadFile, File(description="评价截图")],
) -> ReviewOut:
    data = await read_upload(file)
    row = await service.submit_review(
        session,
        tenant_id=fan.tenant.id,
        member_id=fan.member.id,
        task_id=task_id,
        platform=platform,
        order_id=order_id,
        data=data,
        data_dir=request.app.state.settings.data_dir,
        timezone=fan.tenant.timezone,
    )
    return review_out(row)


# Staff


@router.get("/tasks", response_model=list[TaskOut], summary="积分任务列表")
async def list_tasks(session: DbSession, principal: Annotated[Principal, require("members.read")]) -> list[TaskOut]:
    return [TaskOut.model_validate(t) for t in await service.list_tasks(session, tenant_id=principal.tenant_id)]


async def _timezone(session: DbSession, tenant_id: int) -> str:
    return (await tenants.get_tenant(session, tenant_id)).timezone


@router.post("/tasks", response_model=TaskOut, status_code=201, summary="新建积分任务（记入操作日志）")
async def create_task(
    body: TaskIn, session: DbSession, principal: Annotated[Principal, require("points.rules")]
) -> TaskOut:
    timezone = await _timezone(session, principal.tenant_id)
    return TaskOut.model_validate(await service.create_task(session, actor=principal, data=body, timezone=timezone))


@router.get("/tasks/reviews", response_model=list[ReviewOut], summary="评价截图审核队列（默认：待审核，最早的在前）")
async def list_reviews(
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
    status: Annotated[ReviewStatus | None, Query()] = ReviewStatus.pending,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ReviewOut]:
    result = await service.review_page(
        session, tenant_id=principal.tenant_id, status=status, page=PageRequest(page=page, size=size)
    )
    return [review_out(r) for r in result.items]


@router.get("/tasks/reviews/{review_id}", response_model=ReviewOut, summary="一条评价截图")
async def get_review(
    review_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.read")]
) -> ReviewOut:
    return review_out(await service.get_review(session, tenant_id=principal.tenant_id, review_id=review_id))


@router.get("/tasks/reviews/{review_id}/image", summary="评价截图的图片", response_class=Response)
async def review_image(
    review_id: ResourceId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
) -> Response:
    row = await service.get_review(session, tenant_id=principal.tenant_id, review_id=review_id)
    path = service.image_path(request.app.state.settings.data_dir, principal.tenant_id, row.image)
    if path is None:
        raise service.ReviewNotFound("截图文件已不存在")
    return Response(path.read_bytes(), media_type=images.MEDIA_TYPES[row.image.rsplit(".", 1)[1]])


@router.post(
    "/tasks/reviews/{review_id}/decision",
    response_model=ReviewOut,
    summary="通过（按订单只发一次积分）或拒绝（须写原因，会员可见）评价截图；记入操作日志",
)
async def decide(
    review_id: ResourceId,
    body: DecisionIn,
    session: DbSession,
    principal: Annotated[Principal, require("claims.review")],
) -> ReviewOut:
    row = await service.decide(session, actor=principal, review_id=review_id, approve=body.approve, reason=body.reason)
    return review_out(row)


@router.get("/tasks/stats", response_model=list[TaskStatOut], summary="每个任务的完成次数、人数和发放积分")
async def task_stats(session: DbSession, principal: Annotated[Principal, require("members.read")]) -> list[TaskStatOut]:
    rows = await service.stats(session, tenant_id=principal.tenant_id)
    return [
        TaskStatOut(
            task_id=s.task.id, title=s.task.title, completions=s.completions, members=s.members, points=s.points
        )
        for s in rows
    ]


@router.get("/tasks/{task_id}", response_model=TaskOut, summary="一个积分任务")
async def get_task(
    task_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.read")]
) -> TaskOut:
    return TaskOut.model_validate(await service.get_task(session, tenant_id=principal.tenant_id, task_id=task_id))


@router.put("/tasks/{task_id}", response_model=TaskOut, summary="修改积分任务（记入操作日志）")
async def update_task(
    task_id: ResourceId, body: TaskIn, session: DbSession, principal: Annotated[Principal, require("points.rules")]
) -> TaskOut:
    timezone = await _timezone(session, principal.tenant_id)
    row = await service.update_task(session, actor=principal, task_id=task_id, data=body, timezone=timezone)
    return TaskOut.model_validate(row)


@router.delete("/tasks/{task_id}", status_code=204, summary="删除积分任务（已有人完成的只能停用）")
async def delete_task(
    task_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("points.rules")]
) -> Response:
    await service.delete_task(session, actor=principal, task_id=task_id)
    return Response(status_code=204)
