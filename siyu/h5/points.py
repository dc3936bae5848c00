"""The fan's points: balance, pending with the date it posts, expiring soon, tier, and history explained."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.h5.fans import Fan, sign_in, sign_out, to_sign_in
from siyu.kit.web import DbSession
from siyu.ledger import service as ledger
from siyu.ledger.models import KIND_LABELS
from siyu.loyalty import service as loyalty
from siyu.templating import templates

router = APIRouter()


@router.get("/{slug}/points", response_class=HTMLResponse)
async def points_page(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/points")
    tenant_id, member_id = fan.tenant.id, fan.member.id
    lots = await ledger.lots(session, tenant_id=tenant_id, member_id=member_id, limit=100)
    return templates.TemplateResponse(
        request,
        "h5/points.html",
        {
            "fan": fan,
            "tenant": fan.tenant,
            "brand_color": fan.brand_color,
            "points": await ledger.balance(session, tenant_id=tenant_id, member_id=member_id),
            "held": [lot for lot in lots if lot.status == "pending"],
            "entries": await ledger.recent_entries(session, tenant_id=tenant_id, member_id=member_id, limit=50),
            "kind_labels": KIND_LABELS,
            "expiring": await loyalty.expiring_soon(session, tenant_id=tenant_id, member_id=member_id),
            "standing": await loyalty.standing(session, tenant_id=tenant_id, member_id=member_id),
        },
    )


@router.get("/{slug}/login", response_class=HTMLResponse)
async def login_page(fan: Fan, request: Request, next: str = "") -> Response:
    if fan.member is not None:
        return RedirectResponse(_safe_next(fan.tenant.slug, next), status_code=303)
    return templates.TemplateResponse(
        request,
        "h5/login.html",
        {
            "tenant": fan.tenant,
            "brand_color": fan.brand_color,
            "demo": request.app.state.settings.demo,
            "next": _safe_next(fan.tenant.slug, next),
        },
    )


@router.post("/{slug}/demo-login")
async def demo_login(fan: Fan, request: Request, session: DbSession) -> Response:
    """On a demo server: look around as the demo fan with the most points."""
    if not request.app.state.settings.demo:
        return RedirectResponse(f"/h5/{fan.tenant.slug}/login", status_code=303)
    form = await request.form()
    next_path = form.get("next")
    member_id = await ledger.richest_member(session, tenant_id=fan.tenant.id)
    response = RedirectResponse(
        _safe_next(fan.tenant.slug, next_path if isinstance(next_path, str) else ""), status_code=303
    )
    if member_id is not None:
        sign_in(request, response, fan.tenant, member_id)
    return response


@router.post("/{slug}/logout")
async def logout(fan: Fan) -> Response:
    response = RedirectResponse(f"/h5/{fan.tenant.slug}/", status_code=303)
    sign_out(response, fan.tenant)
    return response


def _safe_next(slug: str, next_path: str) -> str:
    """Only back into this tenant's H5 (never an open redirect)."""
    home = f"/h5/{slug}/"
    if next_path.startswith(home) and "//" not in next_path[1:] and "\\" not in next_path:
        return next_path
    return home
