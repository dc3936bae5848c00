"""The audit log: every staff and API-key action with before and after."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from siyu.audit import service as audit
from siyu.console.deps import ConsoleContext
from siyu.kit.pagination import PageRequest
from siyu.kit.web import DbSession

router = APIRouter()


@router.get("/audit", response_class=HTMLResponse)
async def audit_page(
    console: ConsoleContext,
    session: DbSession,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    action: Annotated[str | None, Query(max_length=64)] = None,
) -> HTMLResponse:
    console.require("audit.read")
    result = await audit.list_entries(
        session, tenant_id=console.tenant.id, page=PageRequest(page=page, size=50), action=action or None
    )
    return console.render(
        "console/audit.html", "audit", result=result, action=action or "", action_labels=audit.ACTION_LABELS
    )
