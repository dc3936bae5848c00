"""Tenant settings: name, timezone and how the fan H5 looks."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.console.deps import ConsoleContext, text
from siyu.console.forms import Refusal, attempt
from siyu.kit.web import DbSession
from siyu.tenants import service as tenants
from siyu.tenants.schemas import TenantUpdate

router = APIRouter()


@router.get("/settings", response_class=HTMLResponse)
async def settings_page(console: ConsoleContext, saved: int = 0) -> HTMLResponse:
    console.require("tenant.read")
    return console.render("console/settings.html", "settings", values=None, error=None, saved=bool(saved))


@router.post("/settings")
async def save_settings(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("tenant.write")
    form = await request.form()
    values = {key: text(form, key) for key in ("name", "timezone", "brand_color", "welcome_text")}
    outcome = await attempt(
        session,
        lambda: tenants.update_tenant(
            session,
            actor=console.principal,
            changes=TenantUpdate(**{k: v for k, v in values.items() if v or k == "welcome_text"}),
        ),
        check={"name": "店铺名称不能为空", "brand_color": "品牌色请填写 #RRGGBB 格式", "timezone": "时区格式不正确"},
    )
    if isinstance(outcome, Refusal):
        return console.render(
            "console/settings.html",
            "settings",
            values=values,
            error=outcome.message,
            saved=False,
            status_code=outcome.status,
        )
    return RedirectResponse("/console/settings?saved=1", status_code=303)
