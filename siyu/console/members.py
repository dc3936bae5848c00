"""Members: search by nickname, phone, platform account or member number; a member's identities, points and tier,
and adjusting her points with a reason."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.claims import lookup as claims_lookup
from siyu.claims import service as claims
from siyu.claims.models import OUTCOME_LABELS
from siyu.console import sources
from siyu.console.auditview import views
from siyu.console.deps import Console, ConsoleContext, text
from siyu.console.exports import every_page, table_response
from siyu.console.forms import Refusal, attempt
from siyu.console.listing import Listing
from siyu.fans import service as fans
from siyu.kit.errors import AppError
from siyu.kit.pagination import Page, PageRequest, Sort
from siyu.kit.time import format_local, utcnow
from siyu.kit.web import DbSession, ResourceId
from siyu.ledger import service as ledger
from siyu.ledger.schemas import MAX_ADJUSTMENT
from siyu.ledger.service import Points
from siyu.loyalty import service as loyalty
from siyu.loyalty.models import TIER_REASON_LABELS
from siyu.mall.models import entry_label
from siyu.members import service as members
from siyu.members.models import IDENTITY_LABELS, IdentityKind, Member
from siyu.segments import service as segments

router = APIRouter()


@dataclass(frozen=True)
class MemberFilters:
    q: str = ""
    tier: str = ""  # a tier id, "none" (no tier) or "" (all)
    min_points: str = ""

    def where(self) -> list[Any]:
        conditions: list[Any] = []
        if self.tier == "none":
            conditions.append(~loyalty.holds_tier(None, Member.tenant_id, Member.id))
        elif self.tier:
            conditions.append(loyalty.holds_tier(int(self.tier), Member.tenant_id, Member.id))
        if self.min_points:
            conditions.append(ledger.available_of(Member.tenant_id, Member.id) >= int(self.min_points))
        return conditions


def _member_filters(q: str | None, tier: str | None, min_points: str | None) -> MemberFilters:
    tier = (tier or "").strip()
    points = (min_points or "").strip()
    return MemberFilters(
        q=(q or "").strip(),
        tier=tier if tier == "none" or (tier.isdigit() and len(tier) < 19) else "",
        min_points=points if points.isdigit() and len(points) < 10 else "",
    )


SORT_COLUMNS = {"points": ledger.available_of(Member.tenant_id, Member.id)}
SORTS = (*members.MEMBER_SORTS, *SORT_COLUMNS)


@dataclass(frozen=True)
class MemberRow:
    member: Member
    phone: str
    accounts: list[str]
    points: Points
    tier: str
    last_claim: datetime | None


async def _rows(session: DbSession, tenant_id: int, items: list[Member]) -> list[MemberRow]:
    ids = [m.id for m in items]
    identities = await members.identities_by_member(session, tenant_id=tenant_id, member_ids=ids)
    balances = await ledger.balances(session, tenant_id=tenant_id, member_ids=ids)
    tiers = await loyalty.tiers_of(session, tenant_id=tenant_id, member_ids=ids)
    last = await claims_lookup.last_claims(session, tenant_id=tenant_id, member_ids=ids)
    rows = []
    for m in items:
        bound = identities.get(m.id, [])
        rows.append(
            MemberRow(
                member=m,
                phone=" ".join(members.mask(i.kind, i.value) for i in bound if i.kind == IdentityKind.phone),
                accounts=[IDENTITY_LABELS.get(i.kind, i.kind) for i in bound if i.kind != IdentityKind.phone],
                points=balances.get(m.id, NO_POINTS),
                tier=tiers[m.id].name if m.id in tiers else "",
                last_claim=last.get(m.id),
            )
        )
    return rows


NO_POINTS = Points(0, 0, 0)
Q = Annotated[str | None, Query(max_length=100)]
Short = Annotated[str | None, Query(max_length=20)]


@router.get("/members", response_class=HTMLResponse)
async def members_page(
    console: ConsoleContext,
    session: DbSession,
    q: Q = None,
    tier: Short = None,
    min_points: Short = None,
    sort: Short = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    console.require("members.read")
    tenant_id = console.tenant.id
    filters = _member_filters(q, tier, min_points)
    listing = Listing.of(
        "/console/members", sort=sort, allowed=SORTS, default="-created_at", page=page, **asdict(filters)
    )
    result = await members.search(
        session,
        tenant_id=tenant_id,
        query=filters.q,
        page=listing.request,
        sort=listing.sort,
        where=filters.where(),
        sort_columns=SORT_COLUMNS,
    )
    return console.render(
        "console/members.html",
        "members",
        result=result,
        listing=listing,
        filters=filters,
        q=filters.q,
        rows=await _rows(session, tenant_id, result.items),
        tiers=await loyalty.list_tiers(session, tenant_id=tenant_id),
    )


MEMBER_COLUMNS = [
    "会员号",
    "昵称",
    "手机号",
    "绑定的账号",
    "可用积分",
    "待入账积分",
    "欠分",
    "等级",
    "最近领取",
    "加入时间",
]
MEMBER_WIDTHS = (21, 18, 14, 22, 10, 11, 8, 10, 17, 17)


@router.get("/members/export.csv", name="members_csv")
@router.get("/members/export.xlsx", name="members_xlsx")
async def export_members(
    request: Request,
    console: ConsoleContext,
    q: Q = None,
    tier: Short = None,
    min_points: Short = None,
    sort: Short = None,
) -> Response:
    """The members of the list (its filters and sort apply) with their points, tier and latest claim."""
    console.require("members.read")
    fmt = "xlsx" if request.url.path.endswith(".xlsx") else "csv"
    tenant_id, timezone = console.tenant.id, console.tenant.timezone
    filters = _member_filters(q, tier, min_points)
    order = Sort.parse(sort, allowed=SORTS, default="-created_at")
    sessionmaker = request.app.state.sessionmaker

    async def read(session: AsyncSession, page: PageRequest) -> Page[Member]:
        return await members.search(
            session,
            tenant_id=tenant_id,
            query=filters.q,
            page=page,
            sort=order,
            where=filters.where(),
            sort_columns=SORT_COLUMNS,
        )

    async def chunks() -> AsyncIterator[list[list[object]]]:
        async for session, items in every_page(sessionmaker, read):
            yield [
                [
                    str(r.member.id),
                    r.member.nickname,
                    r.phone,
                    "、".join(r.accounts),
                    r.points.available,
                    r.points.pending,
                    r.points.debt,
                    r.tier,
                    format_local(r.last_claim, timezone),
                    format_local(r.member.created_at, timezone),
                ]
                for r in await _rows(session, tenant_id, items)
            ]

    stamp = format_local(utcnow(), timezone, "%Y%m%d%H%M")
    return await table_response(
        fmt=fmt,
        filename=f"会员-{stamp}",
        sheet="会员",
        headers=MEMBER_COLUMNS,
        chunks=chunks(),
        text_columns={0, 2},
        widths=MEMBER_WIDTHS,
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
        entry_label=entry_label,
        source_of=sources.source,
        actor_of=sources.actor,
        history=await views(
            session,
            tenant_id=tenant_id,
            timezone=console.tenant.timezone,
            entries=(
                await audit.about_member(session, tenant_id=tenant_id, member_id=member_id, page=PageRequest(size=30))
            ).items,
        ),
        standing=await loyalty.standing(session, tenant_id=tenant_id, member_id=member_id),
        tier_history=await loyalty.tier_history(session, tenant_id=tenant_id, member_id=member_id, limit=20),
        tier_reasons=TIER_REASON_LABELS,
        expiring=await loyalty.expiring_soon(session, tenant_id=tenant_id, member_id=member_id),
        claims=await claims.claims_of(session, tenant_id=tenant_id, member_id=member_id, limit=10),
        lock=await claims.lock_of(
            session, tenant_id=tenant_id, member_id=member_id, limiter=console.request.app.state.limiter
        ),
        outcome_labels=OUTCOME_LABELS,
        merged_into=merged_into,
        bindable=[(kind.value, IDENTITY_LABELS[kind]) for kind in IdentityKind],
        member_tags=(await segments.tags_of_members(session, tenant_id=tenant_id, member_ids=[member_id])).get(
            member_id, []
        ),
        all_tags=await segments.list_tags(session, tenant_id=tenant_id),
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
    if not 0 < amount <= MAX_ADJUSTMENT:  # (a huge number would overflow the ledger's columns)
        return await _member_page(
            console, session, member_id, error=ledger.InvalidAmount.message, values=values, status_code=422
        )
    outcome = await attempt(
        session,
        lambda: ledger.adjust(
            session,
            tenant_id=console.tenant.id,
            member_id=member_id,
            amount=-amount if values["direction"] == "deduct" else amount,
            reason=values["reason"],
            actor=console.principal,
        ),
    )
    if isinstance(outcome, Refusal):
        return await _member_page(
            console, session, member_id, error=outcome.message, values=values, status_code=outcome.status
        )
    return RedirectResponse(f"/console/members/{member_id}?adjusted=1#points", status_code=303)


@router.post("/members/{member_id}/claims/unlock")
async def unlock_claims(member_id: ResourceId, console: ConsoleContext, session: DbSession) -> Response:
    """Her claiming was paused after failures that looked like guesses; ops who know her let her claim again."""
    console.require("claims.review")
    outcome = await attempt(
        session,
        lambda: claims.lift_lock(
            session, actor=console.principal, member_id=member_id, limiter=console.request.app.state.limiter
        ),
    )
    if isinstance(outcome, Refusal):
        return await _member_page(console, session, member_id, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/members/{member_id}?unlocked=1", status_code=303)


async def _identity_change(
    request: Request, console: Console, session: DbSession, member_id: int, *, bind: bool
) -> Response:
    console.require("members.write")
    form = await request.form()
    values = {"kind": text(form, "kind"), "value": text(form, "value")}
    if values["kind"] not in set(IdentityKind):
        return await _member_page(console, session, member_id, error="请选择账号类型", values=values, status_code=422)
    change = fans.bind_for_staff if bind else fans.unbind_for_staff
    outcome = await attempt(
        session,
        lambda: change(
            session, actor=console.principal, member_id=member_id, kind=values["kind"], value=values["value"]
        ),
    )
    if isinstance(outcome, Refusal):
        return await _member_page(
            console, session, member_id, error=outcome.message, values=values, status_code=outcome.status
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
    outcome = await attempt(
        session,
        lambda: fans.merge_members(
            session,
            tenant_id=console.tenant.id,
            from_member_id=member_id,
            into_member_id=into,
            reason=values["merge_reason"],
            actor=console.principal,
        ),
    )
    if isinstance(outcome, Refusal):
        return await _member_page(
            console, session, member_id, error=outcome.message, values=values, status_code=outcome.status
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
