"""订单换积分 on the H5: pick the platform, paste the order number, see what happened; the fan's claims."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from siyu.claims import service as claims
from siyu.claims.models import OUTCOME_LABELS
from siyu.claims.schemas import CHECK_PROMPTS, Check
from siyu.h5.fans import Fan, FanPage, to_sign_in
from siyu.kit.security import new_token
from siyu.kit.time import format_local
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


# Where each platform shows the order number, for the help under the form (pictures in static/img/claim-help/).
HELP_STEPS = {
    "taobao": "打开淘宝（或天猫）App →「我的淘宝」→「我的订单」→ 点开这笔订单，下方“订单编号”那串数字，点“复制”。",
    "douyin": "打开抖音 →「我」→ 右上角菜单「我的订单」→ 点开这笔订单，在“订单信息”里找到“订单编号”，点“复制”。",
    "kuaishou": "打开快手 →「我」→「我的订单」→ 点开这笔订单，在订单信息里找到“订单编号”，点“复制”。",
    "channels": "打开微信 →「我」→「订单与卡包」→ 视频号（微信小店）订单 → 点开这笔订单，找到“订单号”，点“复制”。",
    "jd": "打开京东 App →「我的」→「我的订单」→ 点开这笔订单，找到“订单编号”，点“复制”。",
    "pdd": "打开拼多多 →「个人中心」→「我的订单」→ 点开订单，找到“订单编号”（形如 261120-338201774062），点“复制”。",
}


# What a claim without an order number says in her history instead of the number.
NO_NUMBER = {"locked": "暂停期间的提交，没有处理", "invalid": "没有找到订单号"}


async def _lock_text(fan: FanPage, request: Request, session: DbSession) -> str | None:
    """ "20:45" when her claiming is paused (from this phone and network), else None."""
    assert fan.member is not None
    until = await claims.locked_until(
        session,
        tenant_id=fan.tenant.id,
        member_id=fan.member.id,
        ip_hash=ip_hash(request),
        device_hash=device_hash(request),
        limiter=request.app.state.limiter,
    )
    return claims.local_time(until, fan.tenant.timezone) if until else None


async def _claim_form(
    fan: FanPage,
    request: Request,
    session: DbSession,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    mismatch: claims.PlatformMismatch | None = None,
    status_code: int = 200,
) -> Response:
    policy = await claims.policy_of(session, fan.tenant.id)
    platforms = await _platforms(session, fan)
    return templates.TemplateResponse(
        request,
        "h5/claim.html",
        {
            "tenant": fan.tenant,
            "brand_color": fan.brand_color,
            "platforms": platforms,
            "check_prompt": CHECK_PROMPTS.get(policy.check) if policy.check != Check.none else None,
            "values": values or {},
            "error": error,
            "mismatch": mismatch,
            "suggested": [(p, PLATFORM_LABELS.get(p, p)) for p in (mismatch.detail["suggested"] if mismatch else [])],
            "locked_until": await _lock_text(fan, request, session),
            "help": [(key, label, HELP_STEPS[key]) for key, label in platforms if key in HELP_STEPS],
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
    switch_to = str(form.get("switch_to") or "")
    if switch_to in claims.PLATFORMS:  # she took the platform we suggested for her number
        platform = switch_to
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
            confirm_platform=form.get("confirm_platform") == "1",
        )
    except claims.ClaimsTooFast as error:  # what she typed stays in the form
        values = {"platform": platform, "order": text, "check": check_value}
        return await _claim_form(fan, request, session, values=values, error=error.message, status_code=429)
    except claims.PlatformMismatch as question:  # asked before anything is kept
        values = {"platform": platform, "order": text, "check": check_value}
        return await _claim_form(fan, request, session, values=values, mismatch=question, status_code=409)
    return templates.TemplateResponse(
        request,
        "h5/claim_result.html",
        {
            "tenant": fan.tenant,
            "brand_color": fan.brand_color,
            "claim": row,
            "platform_label": PLATFORM_LABELS.get(row.platform, row.platform),
            "outcome_label": OUTCOME_LABELS.get(row.outcome, row.outcome),
            "expires_on": format_local(row.expires_at, fan.tenant.timezone, "%m月%d日") if row.expires_at else "",
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
            "no_number": NO_NUMBER,
        },
    )
