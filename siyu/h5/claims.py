"""订单换积分 on the H5: pick the platform, paste the order number, see what happened; the fan's claims."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from siyu.claims import service as claims
from siyu.claims.models import OUTCOME_LABELS
from siyu.claims.schemas import CHECK_PROMPTS, Check
from siyu.h5.fans import Fan, FanPage, to_sign_in
from siyu.kit.security import new_token
from siyu.kit.web import DEVICE_COOKIE, DbSession, device_hash, device_id, ip_hash
from siyu.templating import templates
from siyu.tenants import service as tenants
from siyu.tenants.models import PLATFORM_LABELS

router = APIRouter()


async def _platforms(session: DbSession, fan: FanPage) -> list[tuple[str, str]]:
    """The tenant's platforms first (those it sells on), then the others it can read."""
    channels = await tenants.list_channels(session, tenant_id=fan.tenant.id)
    used = {c.platform for c in channels if c.active}
    ordered = [p for p in claims.PLATFORMS if p in used] or list(claims.PLATFORMS)
    return [(p, PLATFORM_LABELS[p]) for p in ordered]


async def _claim_form(
    fan: FanPage,
    request: Request,
    session: DbSession,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    policy = await claims.policy_of(session, fan.tenant.id)
    return templates.TemplateResponse(
        request,
        "h5/claim.html",
        {
            "tenant": fan.tenant,
            "brand_color": fan.brand_color,
            "platforms": await _platforms(session, fan),
            "check_prompt": CHECK_PROMPTS.get(policy.check) if policy.check != Check.none else None,
            "values": values or {},
            "error": error,
        },
        status_code=status_code,
    )


@router.get("/{slug}/claim", response_class=HTMLResponse)
async def claim_page(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/claim")
    response = await _claim_form(fan, request, session)
    if not device_id(request):  # one id per phone browser: guessing from one device is counted across members
        response.set_cookie(DEVICE_COOKIE, new_token(12), max_age=3 * 365 * 86400, httponly=True, samesite="lax")
    return response


@router.post("/{slug}/claim", response_class=HTMLResponse)
async def claim(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/claim")
    form = await request.form()
    platform, text, check_value = (str(form.get(k) or "") for k in ("platform", "order", "check"))
    if platform not in claims.PLATFORMS:
        values = {"order": text, "check": check_value}
        return await _claim_form(fan, request, session, values=values, error="请选择下单的平台", status_code=422)
    try:
        row = await claims.claim(
            session,
            tenant_id=fan.tenant.id,
            member_id=fan.member.id,
            platform=platform,
            text=text,
            check_value=check_value,
            ip_hash=ip_hash(request),
            device_hash=device_hash(request),
            limiter=request.app.state.limiter,
            tenant=await tenants.config_of(session, fan.tenant.id, version=fan.tenant.config_version),
        )
    except claims.ClaimsTooFast as error:  # what she typed stays in the form
        values = {"platform": platform, "order": text, "check": check_value}
        return await _claim_form(fan, request, session, values=values, error=error.message, status_code=429)
    return templates.TemplateResponse(
        request,
        "h5/claim_result.html",
        {
            "tenant": fan.tenant,
            "brand_color": fan.brand_color,
            "claim": row,
            "platform_label": PLATFORM_LABELS.get(row.platform, row.platform),
            "outcome_label": OUTCOME_LABELS.get(row.outcome, row.outcome),
        },
    )


@router.get("/{slug}/claims", response_class=HTMLResponse)
async def my_claims(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/claims")
    rows = await claims.claims_of(session, tenant_id=fan.tenant.id, member_id=fan.member.id, limit=50)
    return templates.TemplateResponse(
        request,
        "h5/claims.html",
        {
            "tenant": fan.tenant,
            "brand_color": fan.brand_color,
            "claims": rows,
            "platforms": PLATFORM_LABELS,
            "outcome_labels": OUTCOME_LABELS,
        },
    )
