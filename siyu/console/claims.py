"""订单换积分 in the console: look up claims by order or member, outcomes of the last 7 days, the claim policy."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.claims import lookup
from siyu.claims import service as claims
from siyu.claims.models import OUTCOME_LABELS, REVIEW_REASONS
from siyu.claims.schemas import CHECK_LABELS, ClaimPolicy
from siyu.console.deps import Console, ConsoleContext, text
from siyu.console.forms import Refusal, attempt
from siyu.console.listing import Listing
from siyu.kit.money import format_yuan
from siyu.kit.time import utcnow
from siyu.kit.web import DbSession
from siyu.members import service as members
from siyu.tenants.models import PLATFORM_LABELS

router = APIRouter()
POLICY_FIELDS = (
    "check",
    "window_days",
    "pending_days",
    "max_failures",
    "lock_minutes",
    "ip_max_failures",
    "per_minute",
    "ip_per_minute",
)
REVIEW_FIELDS = ("review_paid_yuan", "review_daily_claims", "review_shared_members")  # empty: the rule is off


async def _page(
    console: Console,
    session: DbSession,
    *,
    q: str = "",
    outcome: str = "",
    page: int = 1,
    sort: str | None = None,
    error: str | None = None,
    policy_values: dict[str, Any] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    listing = Listing.of(
        "/console/claims", sort=sort, allowed=lookup.SORTS, default="-created_at", page=page, q=q, outcome=outcome
    )
    result = await lookup.search(
        session, tenant_id=tenant_id, query=q, outcome=outcome or None, page=listing.request, sort=listing.sort
    )
    policy = await claims.policy_of(session, tenant_id)
    return console.render(
        "console/claims.html",
        "claims",
        result=result,
        listing=listing,
        nicknames=await members.nicknames(session, tenant_id=tenant_id, member_ids=[c.member_id for c in result.items]),
        q=q,
        outcome=outcome,
        stats=await claims.outcomes_since(session, tenant_id=tenant_id, since=utcnow() - timedelta(days=7)),
        outcome_labels=OUTCOME_LABELS,
        platforms=PLATFORM_LABELS,
        policy=policy_values or policy.model_dump(mode="json"),
        check_labels=CHECK_LABELS,
        error=error,
        saved=saved,
        status_code=status_code,
    )


@router.get("/claims", response_class=HTMLResponse)
async def claims_page(
    console: ConsoleContext,
    session: DbSession,
    q: Annotated[str, Query(max_length=40)] = "",
    outcome: Annotated[str, Query(max_length=20)] = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    sort: Annotated[str | None, Query(max_length=20)] = None,
    saved: int = 0,
) -> HTMLResponse:
    console.require("members.read")
    if outcome and outcome not in OUTCOME_LABELS:
        outcome = ""
    return await _page(console, session, q=q.strip(), outcome=outcome, page=page, sort=sort, saved=bool(saved))


@router.post("/claims/policy")
async def save_policy(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("points.rules")
    form = await request.form()
    values: dict[str, Any] = {key: text(form, key) for key in POLICY_FIELDS}
    values.update({key: text(form, key) or None for key in REVIEW_FIELDS})
    outcome = await attempt(
        session,
        lambda: claims.save_policy(session, actor=console.principal, policy=ClaimPolicy.model_validate(values)),
        check="请检查填写的天数和次数",
    )
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, policy_values=values, status_code=outcome.status)
    return RedirectResponse("/console/claims?saved=1", status_code=303)


async def _review_page(
    console: Console,
    session: DbSession,
    *,
    error: str | None = None,
    done: str = "",
    page: int = 1,
    sort: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    listing = Listing.of("/console/claims/review", sort=sort, allowed=lookup.SORTS, default="created_at", page=page)
    result, orders = await lookup.review_page(session, tenant_id=tenant_id, page=listing.request, sort=listing.sort)
    queue = [(c, orders.get((c.platform, c.order_id or ""))) for c in result.items]
    return console.render(
        "console/claims_review.html",
        "review",
        queue=queue,
        result=result,
        listing=listing,
        nicknames=await members.nicknames(session, tenant_id=tenant_id, member_ids=[c.member_id for c, _ in queue]),
        reasons=REVIEW_REASONS,
        platforms=PLATFORM_LABELS,
        yuan=format_yuan,
        error=error,
        done=done,
        status_code=status_code,
    )


@router.get("/claims/review", response_class=HTMLResponse)
async def review_page(
    console: ConsoleContext,
    session: DbSession,
    done: str = "",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    sort: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    console.require("members.read")
    return await _review_page(
        console, session, done=done if done in ("approved", "rejected") else "", page=page, sort=sort
    )


@router.post("/claims/review")
async def review(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    """Approve or reject the ticked claims (reject needs a reason the fans are told)."""
    console.require("claims.review")
    form = await request.form()
    ids = [int(v) for v in form.getlist("claim_id") if isinstance(v, str) and v.isdigit() and len(v) < 20]
    approve = text(form, "action") == "approve"
    if not ids:
        return await _review_page(console, session, error="请先勾选要处理的领取", status_code=422)
    # all or nothing, as the API: a refusal of one claim undoes the approvals ticked before it
    outcome = await attempt(
        session,
        lambda: claims.review(
            session, actor=console.principal, claim_ids=ids, approve=approve, note=text(form, "note")
        ),
    )
    if isinstance(outcome, Refusal):
        return await _review_page(console, session, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/claims/review?done={'approved' if approve else 'rejected'}", status_code=303)
