"""The console home: the numbers of this tenant at a glance."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from siyu.audit import service as audit
from siyu.console.auditview import views
from siyu.console.deps import ConsoleContext
from siyu.kit.pagination import PageRequest
from siyu.kit.web import DbSession
from siyu.members import service as members
from siyu.staff import service as staff
from siyu.tenants import service as tenants

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
async def dashboard(console: ConsoleContext, session: DbSession) -> HTMLResponse:
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
