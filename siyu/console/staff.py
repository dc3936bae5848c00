"""Staff of this tenant and their roles."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.console.deps import ConsoleContext, text
from siyu.console.forms import Refusal, attempt
from siyu.console.listing import Listing, paged
from siyu.kit.web import DbSession, ResourceId
from siyu.staff import service as staff
from siyu.staff.models import ROLE_LABELS

router = APIRouter()


STAFF_SORTS: dict[str, Any] = {
    "name": lambda row: row[0].name or row[0].email,
    "email": lambda row: row[0].email,
    "role": lambda row: list(ROLE_LABELS).index(row[1].role) if row[1].role in ROLE_LABELS else 99,
}


async def _page(
    console: ConsoleContext,
    session: DbSession,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
    page: int = 1,
    sort: str | None = None,
) -> HTMLResponse:
    listing = Listing.of("/console/staff", sort=sort, allowed=STAFF_SORTS, default="name", page=page)
    result = paged(await staff.list_staff(session, tenant_id=console.tenant.id), listing, STAFF_SORTS)
    return console.render(
        "console/staff.html",
        "staff",
        rows=result.items,
        result=result,
        listing=listing,
        roles=ROLE_LABELS,
        error=error,
        values=values or {},
        status_code=status_code,
    )


@router.get("/staff", response_class=HTMLResponse)
async def staff_page(
    console: ConsoleContext,
    session: DbSession,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    sort: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    console.require("staff.read")
    return await _page(console, session, page=page, sort=sort)


@router.post("/staff")
async def add_staff(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("staff.write")
    form = await request.form()
    values = {key: text(form, key) for key in ("email", "name", "role")}
    if "@" not in values["email"]:
        return await _page(console, session, error="请填写正确的邮箱", values=values, status_code=422)
    outcome = await attempt(
        session,
        lambda: staff.add_staff(
            session,
            tenant_id=console.tenant.id,
            email=values["email"],
            role=values["role"],
            password=str(form.get("password") or "") or None,
            name=values["name"],
            actor=console.principal,
        ),
    )
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, values=values, status_code=outcome.status)
    return RedirectResponse("/console/staff", status_code=303)


@router.post("/staff/{staff_id}/role")
async def change_role(staff_id: ResourceId, request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("staff.write")
    form = await request.form()
    outcome = await attempt(
        session,
        lambda: staff.change_role(session, actor=console.principal, staff_id=staff_id, role=text(form, "role")),
        not_found_page=True,
    )
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, status_code=outcome.status)
    return RedirectResponse("/console/staff", status_code=303)


@router.post("/staff/{staff_id}/remove")
async def remove_staff(staff_id: ResourceId, console: ConsoleContext, session: DbSession) -> Response:
    console.require("staff.write")
    outcome = await attempt(
        session, lambda: staff.remove_staff(session, actor=console.principal, staff_id=staff_id), not_found_page=True
    )
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, status_code=outcome.status)
    return RedirectResponse("/console/staff", status_code=303)
