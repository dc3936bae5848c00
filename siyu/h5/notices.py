"""Her notice settings on the H5: which kinds of notice she wants (an unsubscribe counts at once), the official
account's subscribe buttons (each tap she agrees on allows one notice of that kind), and her recent notices."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import ValidationError

from siyu.h5.fans import Fan, FanPage, official_account, to_sign_in
from siyu.kit.errors import AppError
from siyu.kit.web import DbSession
from siyu.notices import service
from siyu.notices.schemas import KINDS, ConsentIn
from siyu.templating import templates

router = APIRouter()

STATUS_LABELS = {"queued": "等待发送", "sent": "已发送", "dropped": "未发送", "parked": "发送遇到问题"}


async def _page(fan: FanPage, request: Request, session: DbSession, *, done: str | None = None) -> HTMLResponse:
    assert fan.member is not None
    tenant_id, member_id = fan.tenant.id, fan.member.id
    settings = await service.settings_of(session, tenant_id)
    return templates.TemplateResponse(
        request,
        "h5/notices.html",
        {
            "tenant": fan.tenant,
            "brand_color": fan.brand_color,
            "fan": fan.member,
            "kinds": KINDS,
            "off": await service.unsubscribed(session, tenant_id=tenant_id, member_id=member_id),
            "recent": await service.recent(session, tenant_id=tenant_id, member_id=member_id),
            "status_labels": STATUS_LABELS,
            "done": done,
            "quiet_start": settings.quiet_start,
            "quiet_end": settings.quiet_end,
            "oa_templates": await service.official_templates(session, tenant_id=tenant_id, member_id=member_id),
            "js_sdk": request.app.state.settings.wechat_js_sdk,
        },
    )


@router.get("/{slug}/notices", response_class=HTMLResponse)
async def notices_page(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/notices")
    return await _page(fan, request, session)


@router.post("/{slug}/notices", response_class=HTMLResponse)
async def save(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/notices")
    form = await request.form()
    for kind in KINDS:
        await service.set_subscribed(
            session, tenant_id=fan.tenant.id, member_id=fan.member.id, kind=kind, on=form.get(kind) == "on"
        )
    return await _page(fan, request, session, done="已保存，关闭的通知不会再发给你")


def _refused(status: int, message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=status)


@router.get("/{slug}/notices/wx-config")
async def wx_config(fan: Fan, session: DbSession, url: str = "") -> Response:
    """wx.config's fields for the page at `url` (the page's own address): the subscribe buttons need them."""
    if fan.member is None:
        return _refused(401, "请先登录会员中心")
    if not url.startswith(("https://", "http://")) or len(url) > 1000:
        return _refused(400, "页面地址不对")
    try:
        config = await service.official_config(session, tenant_id=fan.tenant.id, url=url)
    except AppError as refused:
        return _refused(refused.status, refused.message)
    return JSONResponse(
        {
            "app_id": config.app_id,
            "timestamp": config.timestamp,
            "nonce_str": config.nonce,
            "signature": config.signature,
        }
    )


@router.post("/{slug}/notices/consents")
async def record_consents(fan: Fan, request: Request, session: DbSession) -> Response:
    """What WeChat's subscribe button answered on one tap: each template she allowed may send her one notice. The
    same tap reported again records nothing new."""
    if fan.member is None:
        return _refused(401, "请先登录会员中心")
    try:
        body = ConsentIn.model_validate(await request.json())
    except (ValidationError, ValueError):
        return _refused(400, "订阅结果不对，请再点一次")
    openid = official_account(request, fan.tenant.slug, fan.member.id)
    try:
        async with session.begin_nested():
            accepted, remaining = await service.record_consents(
                session,
                tenant_id=fan.tenant.id,
                member_id=fan.member.id,
                results=body.results,
                tap=body.tap,
                openid=openid,
            )
    except AppError as refused:
        return _refused(refused.status, refused.message)
    agreed = any(answer == "accept" for answer in body.results.values())
    message = "订阅成功，到时公众号会提醒你" if agreed else "你没有同意，这次不会提醒你"
    return JSONResponse({"accepted": accepted, "remaining": remaining, "message": message})
