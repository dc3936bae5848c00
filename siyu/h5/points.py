"""The fan's points: balance, pending with the date it posts, expiring soon, tier, and history explained."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from siyu.h5.fans import Fan, to_sign_in
from siyu.kit.web import DbSession
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.mall.models import entry_label
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
            "entry_label": entry_label,
            "expiring": await loyalty.expiring_soon(session, tenant_id=tenant_id, member_id=member_id),
            "standing": await loyalty.standing(session, tenant_id=tenant_id, member_id=member_id),
        },
    )
