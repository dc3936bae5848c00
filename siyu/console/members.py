"""Members: search by nickname, phone, platform account or member number; a member's identities, points and tier,
and adjusting her points with a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.console.deps import Console, ConsoleContext, text
from siyu.kit.errors import AppError
from siyu.kit.pagination import PageRequest
from siyu.kit.web import DbSession, ResourceId
from siyu.ledger import service as ledger
from siyu.ledger.models import KIND_LABELS
from siyu.loyalty import service as loyalty
from siyu.loyalty.models import TIER_REASON_LABELS
from siyu.members import service as members
from siyu.members.models import IDENTITY_LABELS

router = APIRouter()


@router.get("/members", response_class=HTMLResponse)
async def members_page(
    console: ConsoleContext,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    console.require("members.read")
    result = await members.search(session, tenant_id=console.tenant.id, query=q, page=PageRequest(page=page))
    identities = await members.identities_by_member(
        session, tenant_id=console.tenant.id, member_ids=[m.id for m in result.items]
    )
    return console.render(
        "console/members.html",
        "members",
        result=result,
        q=q or "",
        identities=identities,
        identity_labels=IDENTITY_LABELS,
        mask=members.mask,
    )


async def _member_page(
    console: Console,
    session: DbSession,
    member_id: int,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    member = await members.get_member(session, tenant_id=tenant_id, member_id=member_id)
    identities = await members.identities_of(session, tenant_id=tenant_id, member_id=member_id)
    return console.render(
        "console/member.html",
        "members",
        member=member,
        identities=identities,
        identity_labels=IDENTITY_LABELS,
        mask=members.mask,
        points=await ledger.balance(session, tenant_id=tenant_id, member_id=member_id),
        entries=await ledger.recent_entries(session, tenant_id=tenant_id, member_id=member_id, limit=50),
        lots=await ledger.lots(session, tenant_id=tenant_id, member_id=member_id, limit=50),
        kind_labels=KIND_LABELS,
        standing=await loyalty.standing(session, tenant_id=tenant_id, member_id=member_id),
        tier_history=await loyalty.tier_history(session, tenant_id=tenant_id, member_id=member_id, limit=20),
        tier_reasons=TIER_REASON_LABELS,
        expiring=await loyalty.expiring_soon(session, tenant_id=tenant_id, member_id=member_id),
        error=error,
        values=values or {},
        status_code=status_code,
    )


@router.get("/members/{member_id}", response_class=HTMLResponse)
async def member_page(member_id: ResourceId, console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("members.read")
    return await _member_page(console, session, member_id)


@router.post("/members/{member_id}/points")
async def adjust_points(
    member_id: ResourceId, request: Request, console: ConsoleContext, session: DbSession
) -> Response:
    console.require("points.adjust")
    form = await request.form()
    values = {"amount": text(form, "amount"), "reason": text(form, "reason"), "direction": text(form, "direction")}
    try:
        amount = int(values["amount"])
    except ValueError:
        return await _member_page(console, session, member_id, error="请填写整数积分", values=values, status_code=422)
    try:
        if amount <= 0:
            raise ledger.InvalidAmount()
        if values["direction"] == "deduct":
            amount = -amount
        await ledger.adjust(
            session,
            tenant_id=console.tenant.id,
            member_id=member_id,
            amount=amount,
            reason=values["reason"],
            actor=console.principal,
        )
    except AppError as error:
        return await _member_page(
            console, session, member_id, error=error.message, values=values, status_code=error.status
        )
    return RedirectResponse(f"/console/members/{member_id}?adjusted=1#points", status_code=303)
