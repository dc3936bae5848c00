"""积分任务 on the H5: her tasks as cards (points, progress, 去完成 / 领取 / 已完成), a survey's questions, the account
to follow, the review upload form (评价有礼) and her screenshots with their outcome and reason."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from siyu.engagement.missions import service
from siyu.engagement.missions.models import KIND_LABELS, REVIEW_STATUS_LABELS
from siyu.h5.fans import Fan, FanPage, to_sign_in
from siyu.kit import images
from siyu.kit.errors import AppError, InvalidInput
from siyu.kit.web import DbSession, ResourceId
from siyu.ledger import service as ledger
from siyu.templating import templates
from siyu.tenants.models import PLATFORM_LABELS, Platform

router = APIRouter()


async def _page(
    fan: FanPage,
    request: Request,
    session: DbSession,
    *,
    done: str | None = None,
    error: str | None = None,
    error_task: int | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    assert fan.member is not None
    tenant_id, member_id = fan.tenant.id, fan.member.id
    shown = await service.fan_tasks(session, tenant_id=tenant_id, member_id=member_id, timezone=fan.tenant.timezone)
    return templates.TemplateResponse(
        request,
        "h5/tasks.html",
        {
            "tenant": fan.tenant,
            "brand_color": fan.brand_color,
            "fan": fan.member,
            "tasks": shown,
            "points": await ledger.balance(session, tenant_id=tenant_id, member_id=member_id),
            "orders": await service.credited_orders(session, tenant_id=tenant_id, member_id=member_id),
            "reviews": await service.reviews_of(session, tenant_id=tenant_id, member_id=member_id, limit=20),
            "kind_labels": KIND_LABELS,
            "status_labels": REVIEW_STATUS_LABELS,
            "platforms": PLATFORM_LABELS,
            "done": done,
            "error": error,
            "error_task": error_task,
            "typed": typed or {},
        },
        status_code=status_code,
    )


@router.get("/{slug}/tasks", response_class=HTMLResponse)
async def tasks_page(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/tasks")
    return await _page(fan, request, session)


async def _finish(
    fan: FanPage, request: Request, session: DbSession, task_id: int, **kw: Any
) -> Response:  # 领取 or a survey: the page again, with what happened in words
    assert fan.member is not None
    try:
        async with session.begin_nested():
            row = await service.complete(
                session,
                tenant_id=fan.tenant.id,
                member_id=fan.member.id,
                task_id=task_id,
                timezone=fan.tenant.timezone,
                **kw,
            )
    except AppError as refused:
        typed = {k: str(v) for k, v in (kw.get("answers") or {}).items()}
        return await _page(
            fan, request, session, error=refused.message, error_task=task_id, typed=typed, status_code=refused.status
        )
    return await _page(fan, request, session, done=f"已领取 {row.points} 积分，积分已到账")


@router.get("/{slug}/tasks/reviews/{review_id}/image")
async def review_image(fan: Fan, request: Request, session: DbSession, review_id: ResourceId) -> Response:
    """One of her own screenshots (another fan's is not found)."""
    row = (
        None if fan.member is None else await service.get_review(session, tenant_id=fan.tenant.id, review_id=review_id)
    )
    path = None
    if row is not None and fan.member is not None and row.member_id == fan.member.id:
        path = service.image_path(request.app.state.settings.data_dir, fan.tenant.id, row.image)
    if row is None or path is None:
        raise service.ReviewNotFound()
    media_type = images.MEDIA_TYPES[row.image.rsplit(".", 1)[1]]
    return Response(path.read_bytes(), media_type=media_type, headers={"Cache-Control": "private, max-age=86400"})


@router.post("/{slug}/tasks/{task_id}/claim", response_class=HTMLResponse)
async def claim(fan: Fan, request: Request, session: DbSession, task_id: ResourceId) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/tasks")
    form = await request.form()
    return await _finish(fan, request, session, task_id, confirm=form.get("confirm") == "1")


@router.post("/{slug}/tasks/{task_id}/survey", response_class=HTMLResponse)
async def survey(fan: Fan, request: Request, session: DbSession, task_id: ResourceId) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/tasks")
    form = await request.form()
    answers = {
        key[1:]: str(value)[:400]
        for key, value in form.items()
        if key.startswith("q") and key[1:].isdigit() and len(key) < 4 and isinstance(value, str)
    }
    return await _finish(fan, request, session, task_id, answers=answers)


@router.post("/{slug}/tasks/{task_id}/reviews", response_class=HTMLResponse)
async def review(fan: Fan, request: Request, session: DbSession, task_id: ResourceId) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/tasks")
    form = await request.form()
    chosen = str(form.get("order") or "")
    platform, _, order_id = chosen.partition(":")
    if not order_id:  # typed instead of picked
        platform, order_id = str(form.get("platform") or ""), str(form.get("order_id") or "").strip()
    typed = {"platform": platform, "order_id": order_id}
    upload = form.get("image")
    try:
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("请选择评价截图", code="image_required")
        data = await upload.read(images.MAX_BYTES + 1)
        if len(data) > images.MAX_BYTES:
            raise images.ImageTooLarge()
        if platform not in [p.value for p in Platform]:
            raise service.OrderNotYours()
        async with session.begin_nested():
            await service.submit_review(
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
    except AppError as refused:
        return await _page(
            fan, request, session, error=refused.message, error_task=task_id, typed=typed, status_code=refused.status
        )
    return await _page(fan, request, session, done="评价截图已提交，审核通过后积分会自动到账")
