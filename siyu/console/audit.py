"""The audit log: what staff, API keys and the system did, with before and after in words. What fans did
themselves (their lottery draws) is on their member page instead."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from siyu.audit import service as audit
from siyu.audit.labels import ACTION_LABELS
from siyu.console.auditview import views
from siyu.console.deps import ConsoleContext
from siyu.console.listing import Listing
from siyu.kit.web import DbSession

router = APIRouter()


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    console: ConsoleContext,
    session: DbSession,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    action: Annotated[str | None, Query(max_length=64)] = None,
    sort: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    console.require("audit.read")
    action = action if action in ACTION_LABELS else ""
    listing = Listing.of(
        "/console/audit", sort=sort, allowed=audit.ENTRY_SORTS, default="-created_at", page=page, action=action
    )
    result = await audit.list_entries(
        session,
        tenant_id=console.tenant.id,
        page=listing.request,
        action=action or None,
        staff_only=True,
        sort=listing.sort,
    )
    return console.render(
        "console/audit.html",
        "audit",
        result=result,
        listing=listing,
        entries=await views(
            session, tenant_id=console.tenant.id, timezone=console.tenant.timezone, entries=result.items
        ),
        action=action,
        action_labels={k: v for k, v in ACTION_LABELS.items() if k != "lottery.draw"},
    )
