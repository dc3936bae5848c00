"""API keys for server-to-server calls: created here, shown once, revoked here."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.console.deps import ConsoleContext, text
from siyu.console.forms import Refusal, attempt
from siyu.console.listing import Listing, paged
from siyu.kit.web import DbSession, ResourceId
from siyu.staff import api_keys
from siyu.staff.permissions import PERMISSION_LABELS

router = APIRouter()


KEY_SORTS: dict[str, Any] = {  # over (key, the staff member who created it)
    "name": lambda pair: pair[0].name,
    "created_at": lambda pair: pair[0].created_at,
    "last_used_at": lambda pair: pair[0].last_used_at,
}


async def _page(
    console: ConsoleContext,
    session: DbSession,
    *,
    created: str | None = None,
    error: str | None = None,
    status_code: int = 200,
    page: int = 1,
    sort: str | None = None,
) -> HTMLResponse:
    listing = Listing.of("/console/api-keys", sort=sort, allowed=KEY_SORTS, default="-created_at", page=page)
    result = paged(await api_keys.list_keys(session, tenant_id=console.tenant.id), listing, KEY_SORTS)
    keys = result.items
    grantable = {p: label for p, label in PERMISSION_LABELS.items() if console.can(p)}
    return console.render(
        "console/api_keys.html",
        "api_keys",
        keys=keys,
        result=result,
        listing=listing,
        created=created,
        error=error,
        permissions=grantable,
        permissions_of=api_keys.permissions_of,
        permission_labels=PERMISSION_LABELS,
        status_code=status_code,
    )


@router.get("/api-keys", response_class=HTMLResponse)
async def api_keys_page(
    console: ConsoleContext,
    session: DbSession,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    sort: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    console.require("api_keys.manage")
    return await _page(console, session, page=page, sort=sort)


@router.post("/api-keys", response_class=HTMLResponse)
async def create_api_key(request: Request, console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("api_keys.manage")
    form = await request.form()
    name = text(form, "name")
    permissions = [p for p in form.getlist("permissions") if isinstance(p, str)]
    if not name or not permissions:
        return await _page(console, session, error="请填写名称并至少选择一项权限", status_code=422)
    outcome = await attempt(
        session,
        lambda: api_keys.create(session, actor=console.principal, name=name, permissions=permissions, expires_at=None),
    )
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, status_code=outcome.status)
    _key, secret = outcome
    return await _page(console, session, created=secret, status_code=201)


@router.post("/api-keys/{api_key_id}/revoke")
async def revoke_api_key(api_key_id: ResourceId, console: ConsoleContext, session: DbSession) -> Response:
    console.require("api_keys.manage")
    await api_keys.revoke(session, actor=console.principal, api_key_id=api_key_id)
    return RedirectResponse("/console/api-keys", status_code=303)
