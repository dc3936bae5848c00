"""The console home: for owners and analysts the analytics dashboard, for everyone else (and at /overview for
all) the tenant at a glance: members, channels, staff and the latest actions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from siyu.audit import service as audit
from siyu.console.analytics import dashboard_page
from siyu.console.auditview import views
from siyu.console.deps import ConsoleContext
from siyu.kit.pagination import PageRequest
from siyu.kit.web import DbSession
from siyu.members import service as members
from siyu.staff import service as staff
from siyu.tenants import service as tenants

router = APIRouter()


Day = Annotated[str | None, Query(max_length=10)]


@router.get("/", response_class=HTMLResponse)
async def home(
    request: Request, console: ConsoleContext, session: DbSession, first: Day = None, last: Day = None
) -> HTMLResponse:
    if console.can("analytics.read"):
        return await dashboard_page(request, console, session, first, last)
    return await overview(console, session)


@router.get("/overview", response_class=HTMLResponse)
async def overview(console: ConsoleContext, session: DbSession) -> HTMLResponse:
    tenant_id = console.tenant.id
    channels = await tenants.list_channels(session, tenant_id=tenant_id)
    recent = (
        await views(
            session,
            tenant_id=tenant_id,
            timezone=console.tenant.timezone,
            entries=(
                await audit.list_entries(session, tenant_id=tenant_id, page=PageRequest(size=8), staff_only=True)
            ).items,
        )
        if console.can("audit.read")
        else None
    )
    joined = await members.joined_by_day(session, tenant_id=tenant_id, timezone=console.tenant.timezone, days=14)
    return console.render(
        "console/dashboard.html",
        "dashboard",
        member_count=await members.count(session, tenant_id=tenant_id),
        channels=channels,
        staff_count=len(await staff.list_staff(session, tenant_id=tenant_id)),
        recent=recent,
        joined=joined,
    )
