"""The member-center home of one tenant."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from siyu.h5.fans import Fan
from siyu.kit.web import DbSession
from siyu.ledger import service as ledger
from siyu.templating import templates
from siyu.tenants import service as tenants
from siyu.tenants.models import PLATFORM_LABELS

router = APIRouter()


@router.get("/{slug}/", response_class=HTMLResponse)
async def home(fan: Fan, request: Request, session: DbSession) -> HTMLResponse:
    tenant = fan.tenant
    channels = [c for c in await tenants.list_channels(session, tenant_id=tenant.id) if c.active]
    platforms = sorted({c.platform for c in channels}, key=list(PLATFORM_LABELS).index)
    return templates.TemplateResponse(
        request,
        "h5/home.html",
        {
            "tenant": tenant,
            "brand_color": (tenant.settings or {}).get("brand_color", "#e8336d"),
            "welcome": (tenant.settings or {}).get("welcome_text") or f"欢迎来到{tenant.name}会员中心",
            "platforms": [PLATFORM_LABELS[p] for p in platforms],
            "fan_points": None
            if fan.member is None
            else await ledger.balance(session, tenant_id=tenant.id, member_id=fan.member.id),
        },
    )
