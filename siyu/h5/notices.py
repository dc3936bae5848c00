"""Her notice settings on the H5: which kinds of notice she wants (an unsubscribe counts at once) and her recent
notices."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from siyu.h5.fans import Fan, FanPage, to_sign_in
from siyu.kit.web import DbSession
from siyu.notices import service
from siyu.notices.schemas import KINDS
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
