"""直播预约 on the H5: the coming shows grouped by (tenant-local) day, one show (cover, time, benefits, featured
products, 预约 / 取消预约 in place with htmx and as a plain form without JavaScript), and her reservations.

A cancelled or moved show says so on its page and in her reservations: that is where a fan learns of it until a
notice channel reaches her."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.h5.fans import Fan, FanPage, to_sign_in
from siyu.kit import images
from siyu.kit.errors import AppError
from siyu.kit.time import to_local
from siyu.kit.web import DbSession, ResourceId
from siyu.live import service
from siyu.live.models import Show, ShowStatus
from siyu.notices import service as notices
from siyu.templating import templates
from siyu.tenants.models import PLATFORM_LABELS

router = APIRouter()
WEEKDAYS = "一二三四五六日"


def _context(fan: FanPage, **values: Any) -> dict[str, Any]:
    return {
        "tenant": fan.tenant,
        "brand_color": fan.brand_color,
        "fan": fan.member,
        "platforms": PLATFORM_LABELS,
        "status_of": service.status_of,
        "status_label": service.status_label,
        "open": (ShowStatus.planned, ShowStatus.live),
        **values,
    }


def _day(show: Show, timezone: str) -> str:
    local = to_local(show.starts_at, timezone)
    return f"{local.month}月{local.day}日 周{WEEKDAYS[local.weekday()]}"


@router.get("/{slug}/live", response_class=HTMLResponse)
async def calendar(fan: Fan, request: Request, session: DbSession) -> Response:
    tenant_id = fan.tenant.id
    shows = await service.upcoming(session, tenant_id=tenant_id, limit=60)
    mine: set[int] = set()
    if fan.member is not None:
        mine = await service.reserved_shows(
            session, tenant_id=tenant_id, member_id=fan.member.id, show_ids=[s.id for s in shows]
        )
    days: dict[str, list[Show]] = {}
    for show in shows:
        days.setdefault(_day(show, fan.tenant.timezone), []).append(show)
    return templates.TemplateResponse(request, "h5/live.html", _context(fan, days=days, mine=mine))


@router.get("/{slug}/live/mine", response_class=HTMLResponse)
async def mine(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/live/mine")
    shows = await service.my_reservations(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return templates.TemplateResponse(request, "h5/live_mine.html", _context(fan, shows=shows))


async def _show_page(
    fan: FanPage, request: Request, session: DbSession, show: Show, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    tenant_id = fan.tenant.id
    reserved = fan.member is not None and bool(
        await service.reserved_shows(session, tenant_id=tenant_id, member_id=fan.member.id, show_ids=[show.id])
    )
    products = (await service.products_of(session, tenant_id=tenant_id, show_ids=[show.id]))[show.id]
    counts = await service.reservation_counts(session, tenant_id=tenant_id, show_ids=[show.id])
    oa_templates = (
        await notices.official_templates(
            session, tenant_id=tenant_id, member_id=fan.member.id, kinds=["live_show_reminder"]
        )
        if fan.member is not None
        else []
    )
    template = "h5/_live_button.html" if request.headers.get("HX-Request") else "h5/live_show.html"
    return templates.TemplateResponse(
        request,
        template,
        _context(
            fan,
            show=show,
            reserved=reserved,
            products=products,
            reservations=counts.get(show.id, 0),
            error=error,
            day=_day(show, fan.tenant.timezone),
            oa_templates=oa_templates,
            oa_button="订阅开播提醒",
            js_sdk=request.app.state.settings.wechat_js_sdk,
        ),
        status_code=status_code,
    )


@router.get("/{slug}/live/{show_id}", response_class=HTMLResponse)
async def show_page(fan: Fan, request: Request, session: DbSession, show_id: ResourceId) -> Response:
    show = await service.get_show(session, tenant_id=fan.tenant.id, show_id=show_id)
    return await _show_page(fan, request, session, show)


async def _change(fan: FanPage, request: Request, session: DbSession, show_id: int, reserve: bool) -> Response:
    show = await service.get_show(session, tenant_id=fan.tenant.id, show_id=show_id)
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/live/{show_id}")
    try:
        async with session.begin_nested():
            if reserve:
                await service.reserve(session, tenant_id=fan.tenant.id, member_id=fan.member.id, show_id=show_id)
            else:
                await service.cancel_reservation(
                    session, tenant_id=fan.tenant.id, member_id=fan.member.id, show_id=show_id
                )
    except AppError as refused:
        return await _show_page(fan, request, session, show, error=refused.message, status_code=refused.status)
    if request.headers.get("HX-Request"):
        return await _show_page(fan, request, session, show)
    return RedirectResponse(f"/h5/{fan.tenant.slug}/live/{show_id}", status_code=303)


@router.post("/{slug}/live/{show_id}/reserve")
async def reserve(fan: Fan, request: Request, session: DbSession, show_id: ResourceId) -> Response:
    return await _change(fan, request, session, show_id, True)


@router.post("/{slug}/live/{show_id}/cancel")
async def cancel(fan: Fan, request: Request, session: DbSession, show_id: ResourceId) -> Response:
    return await _change(fan, request, session, show_id, False)


def _image(request: Request, tenant_id: int, name: str | None) -> Response:
    path = service.image_path(request.app.state.settings.data_dir, tenant_id, name)
    if name is None or path is None:
        raise service.ShowNotFound("图片已不存在")
    media_type = images.MEDIA_TYPES[name.rsplit(".", 1)[1]]
    return Response(path.read_bytes(), media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})


@router.get("/{slug}/live/{show_id}/cover")
async def cover(fan: Fan, request: Request, session: DbSession, show_id: ResourceId) -> Response:
    show = await service.get_show(session, tenant_id=fan.tenant.id, show_id=show_id)
    return _image(request, fan.tenant.id, show.cover)


@router.get("/{slug}/live/{show_id}/products/{product_id}/image")
async def product_image(
    fan: Fan, request: Request, session: DbSession, show_id: ResourceId, product_id: ResourceId
) -> Response:
    product = await service.get_product(session, tenant_id=fan.tenant.id, show_id=show_id, product_id=product_id)
    return _image(request, fan.tenant.id, product.image)


async def next_show(session: DbSession, *, tenant_id: int, member_id: int | None) -> dict[str, Any] | None:
    """The next show not cancelled, for the H5 home's card: the show and whether she reserved it."""
    show = next(
        (s for s in await service.upcoming(session, tenant_id=tenant_id, limit=10) if s.cancelled_at is None), None
    )
    if show is None:
        return None
    reserved = member_id is not None and bool(
        await service.reserved_shows(session, tenant_id=tenant_id, member_id=member_id, show_ids=[show.id])
    )
    return {"show": show, "reserved": reserved, "live": service.status_of(show) == ShowStatus.live}
