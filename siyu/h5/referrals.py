"""邀请有礼 and 分享排行榜 on the H5: her invite code, link and QR code, her invitations; a leaderboard with her rank.

A friend opens `/h5/<slug>/?invite=CODE`: the home page keeps the code in a cookie (`remember_invite`), and the
sign-in that creates her member hands it to the invitations (`joined_here`).
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from siyu.engagement.referrals import images, rules, service
from siyu.engagement.referrals.api import fan_board, fan_invite
from siyu.fans import events
from siyu.h5.fans import Fan, FanPage, to_sign_in
from siyu.kit.web import DbSession, ResourceId, device_hash, ip_hash
from siyu.members.models import Member
from siyu.templating import templates

router = APIRouter()
INVITE_COOKIE = "siyu_invite"
INVITE_DAYS = 7


def remember_invite(request: Request, response: Response, fan: FanPage) -> None:
    """A friend's link carries her code: kept for a week on this member center until she signs up."""
    code = rules.normalise_code(request.query_params.get("invite"))
    if code is None or fan.member is not None:
        return
    response.set_cookie(
        INVITE_COOKIE,
        code,
        max_age=INVITE_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=request.app.state.settings.cookie_secure,
        path=f"/h5/{fan.tenant.slug}/",
    )


async def welcome(request: Request, session: DbSession, fan: FanPage) -> str | None:
    """What the home page tells a friend who came through an invite link (not signed in yet), or None."""
    if fan.member is not None:
        return None
    code = request.query_params.get("invite") or request.cookies.get(INVITE_COOKIE)
    if await service.inviter_of_code(session, tenant_id=fan.tenant.id, code=code) is None:
        return None
    config = await service.rules_of(session, tenant_id=fan.tenant.id)
    if not config.enabled:
        return None
    if config.invitee_points:
        return f"好友邀请你加入！登录成为会员，第一次订单换积分到账后，再送你 {config.invitee_points} 积分。"
    return "好友邀请你加入！登录成为会员，下单就能攒积分。"


async def joined_here(
    request: Request, response: Response, session: DbSession, fan: FanPage, member: Member, started: datetime
) -> None:
    """After a sign-in: a member it created came through the friend's link kept in the cookie."""
    code = request.cookies.get(INVITE_COOKIE)
    if not code:
        return
    await events.joined(
        session,
        tenant_id=fan.tenant.id,
        member=member,
        since=started,
        invite=code,
        device_hash=device_hash(request),
        ip_hash=ip_hash(request),
    )
    response.delete_cookie(INVITE_COOKIE, path=f"/h5/{fan.tenant.slug}/")


@router.get("/{slug}/invite", response_class=HTMLResponse)
async def invite_page(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/invite")
    invite = await fan_invite(session, request, tenant_id=fan.tenant.id, slug=fan.tenant.slug, member_id=fan.member.id)
    boards = [b for b in await service.boards(session, tenant_id=fan.tenant.id) if b.status != "settled"]
    return templates.TemplateResponse(
        request,
        "h5/invite.html",
        {"tenant": fan.tenant, "brand_color": fan.brand_color, "invite": invite, "boards": boards},
    )


@router.get("/{slug}/invite/qr.svg")
async def invite_qr(fan: Fan, request: Request, session: DbSession, code: str = Query("", max_length=16)) -> Response:
    """The QR code of a member's invite link (only for a code of this tenant)."""
    normalised = rules.normalise_code(code)
    if normalised is None or await service.inviter_of_code(session, tenant_id=fan.tenant.id, code=normalised) is None:
        return Response(status_code=404)
    link = str(request.base_url).rstrip("/") + images.invite_path(fan.tenant.slug, normalised)
    return Response(
        images.qr_svg(link), media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=86400"}
    )


@router.get("/{slug}/leaderboards/{board_id}", response_class=HTMLResponse)
async def board_page(fan: Fan, board_id: ResourceId, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/leaderboards/{board_id}")
    board = await service.get_board(session, tenant_id=fan.tenant.id, board_id=board_id)
    return templates.TemplateResponse(
        request,
        "h5/leaderboard.html",
        {
            "tenant": fan.tenant,
            "brand_color": fan.brand_color,
            "board": await fan_board(session, board, fan.member.id),
        },
    )
