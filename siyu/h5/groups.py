"""粉丝群 on the H5: every group of the shop as she sees it: the one she may join with its QR code (long-press to
join in WeChat) and a "我已入群" button, the others with why not in words ("还差 320 积分", "需要金卡及以上").
Signed out she sees the thresholds and a way to sign in."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.groups import service
from siyu.h5.fans import Fan, FanPage, to_sign_in
from siyu.kit import images
from siyu.kit.errors import AppError
from siyu.kit.web import DbSession, ResourceId
from siyu.templating import templates

router = APIRouter()


async def _page(
    fan: FanPage,
    request: Request,
    session: DbSession,
    *,
    error: str | None = None,
    joined: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    views = await service.fan_groups(
        session, tenant_id=fan.tenant.id, member_id=fan.member.id if fan.member is not None else None
    )
    return templates.TemplateResponse(
        request,
        "h5/groups.html",
        {
            "tenant": fan.tenant,
            "brand_color": fan.brand_color,
            "fan": fan.member,
            "views": views,
            "error": error,
            "joined": joined,
        },
        status_code=status_code,
    )


@router.get("/{slug}/groups", response_class=HTMLResponse)
async def groups_page(fan: Fan, request: Request, session: DbSession, joined: int = 0) -> Response:
    return await _page(fan, request, session, joined=bool(joined))


@router.get("/{slug}/groups/{group_id}/qr")
async def qr(fan: Fan, request: Request, session: DbSession, group_id: ResourceId) -> Response:
    if fan.member is None:
        raise service.GroupNotFound("登录后才能查看群二维码")
    group = await service.fan_can_see_qr(session, tenant_id=fan.tenant.id, member_id=fan.member.id, group_id=group_id)
    path = service.qr_path(request.app.state.settings.data_dir, fan.tenant.id, group.qr_image)
    if group.qr_image is None or path is None:
        raise service.GroupNotFound("群二维码已不存在")
    media_type = images.MEDIA_TYPES[group.qr_image.rsplit(".", 1)[1]]
    return Response(path.read_bytes(), media_type=media_type, headers={"Cache-Control": "private, max-age=300"})


@router.post("/{slug}/groups/{group_id}/join")
async def join(fan: Fan, request: Request, session: DbSession, group_id: ResourceId) -> Response:
    await service.get_group(session, tenant_id=fan.tenant.id, group_id=group_id)
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/groups")
    try:
        async with session.begin_nested():
            await service.join(session, tenant_id=fan.tenant.id, member_id=fan.member.id, group_id=group_id)
    except AppError as refused:
        return await _page(fan, request, session, error=refused.message, status_code=refused.status)
    return RedirectResponse(f"/h5/{fan.tenant.slug}/groups?joined=1", status_code=303)
