"""The fan API: sign in (phone code, WeChat, mini-program), refresh, and what a signed-in fan can do from an
app or a mini-program: see herself, claim orders, read her claims, unbind an account.

Fans use their own bearer tokens (`Authorization: Bearer fa2…`), never a staff session or API key. Every
path names the tenant by its slug.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Path, Request
from fastapi.responses import JSONResponse, Response

from siyu.claims import service as claims
from siyu.claims.schemas import ClaimLockOut, ClaimOut
from siyu.fans import events, service
from siyu.fans.schemas import (
    CodeSent,
    FanClaimIn,
    FanExpiring,
    FanIdentityOut,
    FanMe,
    FanPoints,
    MergeIn,
    PhoneCodeIn,
    PhoneIn,
    RefreshIn,
    TokenPair,
    WechatCodeIn,
    WechatConfig,
)
from siyu.fans.service import TokenInvalid
from siyu.kit.errors import AppError
from siyu.kit.time import last_valid_day, utcnow
from siyu.kit.web import (
    DbSession,
    Principal,
    ResourceId,
    bearer_token,
    client_ip,
    device_hash,
    ip_hash,
    request_transaction,
    require,
)
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.members import service as members
from siyu.members.models import IdentityKind, Member
from siyu.members.schemas import IdentityIn, IdentityOut
from siyu.tenants import service as tenants
from siyu.tenants.models import Tenant
from siyu.tenants.service import TenantConfig

router = APIRouter(tags=["粉丝"])

HIDDEN = "***"

Slug = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[a-z0-9][a-z0-9-]*$")]


def _error(error: AppError) -> JSONResponse:
    """An error answered without raising, so what the call changed (a revoked session) is still committed."""
    return JSONResponse({"code": error.code, "message": error.message}, status_code=error.status)


@dataclass(frozen=True)
class FanCaller:
    tenant: TenantConfig  # as this process keeps it (one small read per request, see tenants.config_by_slug)
    member: Member


async def current_fan(
    slug: Slug,
    request: Request,
    session: DbSession,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> FanCaller:
    tenant = await tenants.config_by_slug(session, slug)
    token = bearer_token(authorization)
    found = service.read_access_token(request.app.state.settings.secret_key, token) if token else None
    if found is None or found[0] != tenant.id:
        raise TokenInvalid()
    member = await service.fan_member(session, tenant_id=tenant.id, member_id=found[1])
    if member is None:
        raise TokenInvalid()
    request.app.state.visits.note(member, timezone=tenant.timezone)  # written a few seconds later, set-wise
    return FanCaller(tenant, member)


CurrentFan = Annotated[FanCaller, Depends(current_fan)]


async def _tokens(request: Request, session: DbSession, tenant: Tenant, member: Member) -> TokenPair:
    return await service.issue_tokens(
        session, secret=request.app.state.settings.secret_key, tenant_id=tenant.id, member_id=member.id
    )


async def _joined(
    request: Request, session: DbSession, tenant: Tenant, member: Member, started: datetime, invite: str | None
) -> None:
    """A member this sign-in created may have come through an invitation (siyu.fans.events)."""
    await events.joined(
        session,
        tenant_id=tenant.id,
        member=member,
        since=started,
        invite=invite,
        device_hash=device_hash(request),
        ip_hash=ip_hash(request),
    )


@router.post("/fan/{slug}/auth/sms-code", response_model=CodeSent, summary="发送登录验证码到手机")
async def send_code(slug: Slug, body: PhoneIn, request: Request, session: DbSession) -> CodeSent:
    tenant = await tenants.get_by_slug(session, slug)
    settings = request.app.state.settings
    sent = await service.send_code(
        session,
        secret=settings.secret_key,
        tenant_id=tenant.id,
        phone=body.phone,
        ip=client_ip(request),
        limiter=request.app.state.limiter,
        sms=request.app.state.sms,
    )
    return CodeSent(
        expires_in=sent.expires_in,
        resend_in=sent.resend_in,
        demo_code=sent.code if settings.is_demo_tenant(slug) else None,
    )


@router.post("/fan/{slug}/auth/sms", response_model=TokenPair, summary="手机号 + 验证码登录")
async def sign_in_sms(slug: Slug, body: PhoneCodeIn, request: Request, session: DbSession) -> TokenPair:
    tenant = await tenants.get_by_slug(session, slug)
    started = utcnow()
    member = await service.sign_in_with_code(
        session,
        secret=request.app.state.settings.secret_key,
        tenant_id=tenant.id,
        phone=body.phone,
        code=body.code,
        limiter=request.app.state.limiter,
    )
    await _joined(request, session, tenant, member, started, body.invite)
    return await _tokens(request, session, tenant, member)


@router.post("/fan/{slug}/auth/wechat", response_model=TokenPair, summary="公众号网页授权登录（code 换会员）")
async def sign_in_wechat(slug: Slug, body: WechatCodeIn, request: Request, session: DbSession) -> TokenPair:
    tenant = await tenants.get_by_slug(session, slug)
    config = await service.wechat_config(session, tenant.id)
    if not config.official_account:
        raise service.WechatNotConfigured()
    user = await request.app.state.wechat.oauth_user(
        app_id=config.app_id, secret=config.app_secret, code=body.code, with_profile=config.scope == "snsapi_userinfo"
    )
    started = utcnow()
    member = await service.sign_in_wechat(session, tenant_id=tenant.id, user=user)
    await _joined(request, session, tenant, member, started, body.invite)
    return await _tokens(request, session, tenant, member)


@router.post("/fan/{slug}/auth/mini-program", response_model=TokenPair, summary="小程序登录（wx.login 的 code）")
async def sign_in_mini_program(slug: Slug, body: WechatCodeIn, request: Request, session: DbSession) -> TokenPair:
    tenant = await tenants.get_by_slug(session, slug)
    config = await service.wechat_config(session, tenant.id)
    if not config.mini_program:
        raise service.WechatNotConfigured("这个会员中心没有开通小程序登录")
    user = await request.app.state.wechat.mini_program_user(
        app_id=config.mini_app_id, secret=config.mini_app_secret, js_code=body.code
    )
    started = utcnow()
    member = await service.sign_in_wechat(session, tenant_id=tenant.id, user=user)
    await _joined(request, session, tenant, member, started, body.invite)
    return await _tokens(request, session, tenant, member)


@router.post("/fan/{slug}/auth/demo", response_model=TokenPair, summary="演示会员登录（仅演示站点）")
async def sign_in_demo(slug: Slug, request: Request, session: DbSession) -> TokenPair:
    if not request.app.state.settings.is_demo_tenant(slug):
        raise service.DemoOnly()
    tenant = await tenants.get_by_slug(session, slug)
    member = await service.demo_member(session, tenant_id=tenant.id)
    return await _tokens(request, session, tenant, member)


@router.post(
    "/fan/{slug}/auth/refresh",
    response_model=TokenPair,
    summary="用 refresh_token 换新的令牌（旧的随即失效；重复使用会让这次登录全部失效）",
)
async def refresh(slug: Slug, body: RefreshIn, request: Request, session: DbSession) -> TokenPair | Response:
    tenant = await tenants.get_by_slug(session, slug)
    done = await service.refresh(
        session, secret=request.app.state.settings.secret_key, tenant_id=tenant.id, token=body.refresh_token
    )
    if done.tokens is None:
        assert done.error is not None
        return _error(done.error)
    return done.tokens


@router.post("/fan/{slug}/auth/logout", status_code=204, summary="退出登录（这次登录的令牌全部失效）")
async def logout(slug: Slug, body: RefreshIn, session: DbSession) -> Response:
    tenant = await tenants.get_by_slug(session, slug)
    await service.sign_out(session, tenant_id=tenant.id, token=body.refresh_token)
    return Response(status_code=204)


@router.get("/fan/{slug}/me", response_model=FanMe, summary="我的会员信息、积分（含即将过期）和绑定的账号")
async def me(fan: CurrentFan, request: Request, session: DbSession) -> FanMe:
    tenant_id, member_id = fan.tenant.id, fan.member.id
    secret = request.app.state.settings.secret_key
    points = await ledger.balance(session, tenant_id=tenant_id, member_id=member_id)
    standing = await loyalty.standing(session, tenant_id=tenant_id, member_id=member_id)
    expiring = await loyalty.expiring_soon(session, tenant_id=tenant_id, member_id=member_id)
    identities = await members.identities_of(session, tenant_id=tenant_id, member_id=member_id)
    phone = next((i.value for i in identities if i.kind == IdentityKind.phone), None)
    shown = [
        service.shown_identity(secret, member=fan.member, kind=i.kind, value=i.value, bound_at=i.created_at)
        for i in identities
    ]
    return FanMe(
        member_id=member_id,
        nickname=fan.member.nickname,
        display_name=service.display_name(fan.member, phone),
        points=FanPoints(
            available=points.available,
            pending=points.pending,
            debt=points.debt,
            expiring=FanExpiring(
                points=expiring.points,
                expires_at=expiring.soonest,
                last_day=None if expiring.soonest is None else last_valid_day(expiring.soonest, fan.tenant.timezone),
            ),
        ),
        tier=standing.tier.name if standing.tier else None,
        identities=[
            FanIdentityOut(kind=i.kind, label=i.platform, value=i.account, created_at=i.bound_at) for i in shown
        ],
    )


CLAIM_PATH = "/api/v1/fan/{slug}/claims"
CLAIM_SUMMARY = "订单换积分：结果在 outcome（credited / claimed_by_you / pending …），每次尝试都会记录"


async def claim(
    slug: Slug,
    body: FanClaimIn,
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> ClaimOut:
    # The busiest call after a live show opens its transaction itself rather than through the yielded DbSession
    # dependency, whose cancel scope and exit stack cost about a tenth of a claim's CPU. Same rule: committed
    # before the response is sent, rolled back on any error.
    async with request_transaction(request) as session:
        fan = await current_fan(slug, request, session, authorization)
        row = await claims.claim(
            session,
            tenant_id=fan.tenant.id,
            member_id=fan.member.id,
            platform=body.platform,
            text=body.order,
            check_value=body.check,
            ip_hash=ip_hash(request),
            device_hash=device_hash(request),
            limiter=request.app.state.limiter,
            tenant=fan.tenant,
            confirm_platform=body.confirm_platform,
        )
    return ClaimOut.of(row)


@router.get("/fan/{slug}/claims", response_model=list[ClaimOut], summary="我的领取记录（最近 50 条）")
async def my_claims(fan: CurrentFan, session: DbSession) -> list[ClaimOut]:
    rows = await claims.claims_of(session, tenant_id=fan.tenant.id, member_id=fan.member.id, limit=50)
    return [ClaimOut.of(row) for row in rows]


@router.get("/fan/{slug}/claims/lock", response_model=ClaimLockOut, summary="领取是否暂停中，暂停到几点")
async def claim_lock(fan: CurrentFan, request: Request, session: DbSession) -> ClaimLockOut:
    until = await claims.locked_until(
        session,
        tenant_id=fan.tenant.id,
        member_id=fan.member.id,
        ip_hash=ip_hash(request),
        device_hash=device_hash(request),
        limiter=request.app.state.limiter,
    )
    return claims.lock_out(until, fan.tenant.timezone)


@router.delete("/fan/{slug}/identities/{kind}", status_code=204, summary="解绑一个平台账号")
async def unbind(fan: CurrentFan, kind: IdentityKind, session: DbSession) -> Response:
    for identity in await members.identities_of(session, tenant_id=fan.tenant.id, member_id=fan.member.id):
        if identity.kind == kind:
            await members.unbind_identity(
                session, tenant_id=fan.tenant.id, member_id=fan.member.id, kind=kind, value=identity.value
            )
            return Response(status_code=204)
    raise members.IdentityNotFound()


@router.get("/fans/wechat", response_model=WechatConfig, summary="微信登录设置（密钥以 *** 显示）")
async def get_wechat(session: DbSession, principal: Annotated[Principal, require("tenant.write")]) -> WechatConfig:
    config = await service.wechat_config(session, principal.tenant_id)
    return config.model_copy(
        update={
            "app_secret": HIDDEN if config.app_secret else "",
            "mini_app_secret": HIDDEN if config.mini_app_secret else "",
        }
    )


@router.put("/fans/wechat", response_model=WechatConfig, summary="修改微信登录设置（密钥填 *** 表示不变）")
async def put_wechat(
    body: WechatConfig, session: DbSession, principal: Annotated[Principal, require("tenant.write")]
) -> WechatConfig:
    old = await service.wechat_config(session, principal.tenant_id)
    kept = body.model_copy(
        update={
            "app_secret": old.app_secret if body.app_secret == HIDDEN else body.app_secret,
            "mini_app_secret": old.mini_app_secret if body.mini_app_secret == HIDDEN else body.mini_app_secret,
        }
    )
    await service.save_wechat_config(session, actor=principal, config=kept)
    return await get_wechat(session, principal)


# Staff: one ID


@router.post(
    "/members/{member_id}/identities",
    response_model=list[IdentityOut],
    status_code=201,
    summary="给会员绑定一个账号；平台账号绑定后，它过去和以后的订单自动领取积分",
)
async def bind(
    member_id: ResourceId,
    body: IdentityIn,
    session: DbSession,
    principal: Annotated[Principal, require("members.write")],
) -> list[IdentityOut]:
    await service.bind_for_staff(session, actor=principal, member_id=member_id, kind=body.kind, value=body.value)
    identities = await members.identities_of(session, tenant_id=principal.tenant_id, member_id=member_id)
    return [IdentityOut.model_validate(i) for i in identities]


@router.delete(
    "/members/{member_id}/identities/{kind}/{value}", status_code=204, summary="解绑会员的一个账号（记入操作日志）"
)
async def unbind_for_staff(
    member_id: ResourceId,
    kind: IdentityKind,
    value: Annotated[str, Path(min_length=1, max_length=128)],
    session: DbSession,
    principal: Annotated[Principal, require("members.write")],
) -> Response:
    await service.unbind_for_staff(session, actor=principal, member_id=member_id, kind=kind, value=value)
    return Response(status_code=204)


@router.post(
    "/members/{member_id}/merge",
    status_code=204,
    summary="合并会员：这位会员并入另一位（积分、账号、领取记录都转过去），记入操作日志，不能撤销",
)
async def merge(
    member_id: ResourceId,
    body: MergeIn,
    session: DbSession,
    principal: Annotated[Principal, require("claims.review")],
) -> Response:
    await service.merge_members(
        session,
        tenant_id=principal.tenant_id,
        from_member_id=member_id,
        into_member_id=body.into_member_id,
        reason=body.reason,
        actor=principal,
    )
    return Response(status_code=204)
