"""Members: search by nickname, phone, platform account or member number; a member's identities, points and tier,
and adjusting her points with a reason."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.claims import service as claims
from siyu.claims.models import OUTCOME_LABELS
from siyu.console.deps import Console, ConsoleContext, text
from siyu.fans import service as fans
from siyu.kit.errors import AppError
from siyu.kit.pagination import PageRequest
from siyu.kit.web import DbSession, ResourceId
from siyu.ledger import service as ledger
from siyu.ledger.models import KIND_LABELS
from siyu.ledger.schemas import MAX_ADJUSTMENT
from siyu.loyalty import service as loyalty
from siyu.loyalty.models import TIER_REASON_LABELS
from siyu.members import service as members
from siyu.members.models import IDENTITY_LABELS, IdentityKind

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
    merged_into = (
        await members.current(session, tenant_id=tenant_id, member_id=member_id) if member.status == "merged" else None
    )
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
        claims=await claims.claims_of(session, tenant_id=tenant_id, member_id=member_id, limit=10),
        outcome_labels=OUTCOME_LABELS,
        merged_into=merged_into,
        bindable=[(kind.value, IDENTITY_LABELS[kind]) for kind in IdentityKind],
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
        if not 0 < amount <= MAX_ADJUSTMENT:  # (a huge number would overflow the ledger's columns)
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


async def _identity_change(
    request: Request, console: Console, session: DbSession, member_id: int, *, bind: bool
) -> Response:
    console.require("members.write")
    form = await request.form()
    values = {"kind": text(form, "kind"), "value": text(form, "value")}
    try:
        if values["kind"] not in set(IdentityKind):
            raise members.IdentityNotFound("请选择账号类型")
        change = fans.bind_for_staff if bind else fans.unbind_for_staff
        await change(session, actor=console.principal, member_id=member_id, kind=values["kind"], value=values["value"])
    except AppError as error:
        return await _member_page(
            console, session, member_id, error=error.message, values=values, status_code=error.status
        )
    return RedirectResponse(
        f"/console/members/{member_id}?{'bound' if bind else 'unbound'}=1#identities", status_code=303
    )


@router.post("/members/{member_id}/identities")
async def bind_identity(
    member_id: ResourceId, request: Request, console: ConsoleContext, session: DbSession
) -> Response:
    return await _identity_change(request, console, session, member_id, bind=True)


@router.post("/members/{member_id}/identities/unbind")
async def unbind_identity(
    member_id: ResourceId, request: Request, console: ConsoleContext, session: DbSession
) -> Response:
    return await _identity_change(request, console, session, member_id, bind=False)


@router.post("/members/{member_id}/merge")
async def merge(member_id: ResourceId, request: Request, console: ConsoleContext, session: DbSession) -> Response:
    """This member joins another (the one ops found to be the same person); cannot be undone."""
    console.require("claims.review")
    form = await request.form()
    values = {"into": text(form, "into"), "merge_reason": text(form, "merge_reason")}
    into = await _member_for(session, console.tenant.id, values["into"])
    if into is None or into == member_id:
        error = "请填写另一位会员的会员号或手机号" if into != member_id else "不能把会员合并到自己"
        return await _member_page(console, session, member_id, error=error, values=values, status_code=422)
    if not values["merge_reason"]:
        return await _member_page(
            console, session, member_id, error="请写明为什么是同一人", values=values, status_code=422
        )
    try:
        await fans.merge_members(
            session,
            tenant_id=console.tenant.id,
            from_member_id=member_id,
            into_member_id=into,
            reason=values["merge_reason"],
            actor=console.principal,
        )
    except AppError as error:
        return await _member_page(
            console, session, member_id, error=error.message, values=values, status_code=error.status
        )
    return RedirectResponse(f"/console/members/{into}?merged={member_id}", status_code=303)


async def _member_for(session: DbSession, tenant_id: int, typed: str) -> int | None:
    """A member number, or a phone number bound to a member."""
    try:
        by_phone = await members.find_by_identity(session, tenant_id=tenant_id, kind=IdentityKind.phone, value=typed)
    except AppError:  # not a phone number
        by_phone = None
    if by_phone is not None:
        return by_phone.id
    number = typed.strip()
    if not number.isdigit() or len(number) >= 19:
        return None
    try:
        return (await members.get_member(session, tenant_id=tenant_id, member_id=int(number))).id
    except AppError:
        return None
