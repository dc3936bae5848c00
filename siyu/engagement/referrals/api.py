"""HTTP API of invitations and share leaderboards.

Fans (bearer token of the fan API, see siyu.fans.api): their invite code, link and QR code, their invitations and
rewards; the leaderboards with their rank and the top 50. Staff and systems (API key or staff session): the
rules, the invitations and the review queue, the funnel, leaderboards and settling them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.referrals import images, service
from siyu.engagement.referrals.models import (
    BOARD_STATUS_LABELS,
    STATE_LABELS,
    SUSPICION_LABELS,
    Leaderboard,
    Referral,
    State,
)
from siyu.engagement.referrals.schemas import (
    BoardDetailOut,
    BoardIn,
    BoardOut,
    FanBoardOut,
    FanInvitationOut,
    FanInviteOut,
    PrizeOut,
    ReferralOut,
    ReviewIn,
    RulesIn,
    RulesOut,
    StandingOut,
    StatsOut,
)
from siyu.fans.api import CurrentFan
from siyu.fans.service import mask_name
from siyu.kit.web import DbSession, Principal, ResourceId, device_hash, ip_hash, require
from siyu.members import service as members

router = APIRouter(tags=["邀请有礼与分享排行榜"])


def referral_out(row: Referral) -> ReferralOut:
    out = ReferralOut.model_validate(row)
    out.state_label = STATE_LABELS.get(row.state, row.state)
    out.suspicion_label = SUSPICION_LABELS.get(row.suspicion or "")
    return out


def board_out(row: Leaderboard) -> BoardOut:
    out = BoardOut.model_validate(row)
    out.status_label = BOARD_STATUS_LABELS.get(row.status, row.status)
    return out


async def standings_out(
    session: AsyncSession, board: Leaderboard, rows: list[service.Standing], *, masked: bool
) -> list[StandingOut]:
    names = await members.nicknames(session, tenant_id=board.tenant_id, member_ids=[s.member_id for s in rows])
    rewards = await service.prize_rewards(session, board=board)
    return [
        StandingOut(
            rank=s.rank,
            member_id=None if masked else s.member_id,
            name=(mask_name(names.get(s.member_id, "")) if masked else names.get(s.member_id, "")) or "会员",
            invitations=s.invitations,
            reached_at=s.reached_at,
            prize_points=s.prize_points,
            prize_reward=rewards[s.rank - 1] if s.rank <= len(rewards) else None,
        )
        for s in rows
    ]


# Fans


async def fan_invite(
    session: AsyncSession, request: Request, *, tenant_id: int, slug: str, member_id: int
) -> FanInviteOut:
    """Her invite code (made now if new), link, QR code, rules and invitations: for the fan API and the H5."""
    code = await service.invite_code(
        session,
        tenant_id=tenant_id,
        member_id=member_id,
        device_hash=device_hash(request),
        ip_hash=ip_hash(request),
    )
    config = await service.rules_of(session, tenant_id=tenant_id)
    rows = await service.invitations_of(session, tenant_id=tenant_id, inviter_id=member_id)
    names = await members.nicknames(session, tenant_id=tenant_id, member_ids=[r.invitee_id for r in rows])
    base = str(request.base_url).rstrip("/")
    return FanInviteOut(
        code=code.code,
        link=base + images.invite_path(slug, code.code),
        qr_url=f"/h5/{slug}/invite/qr.svg?code={code.code}",
        enabled=config.enabled,
        inviter_points=config.inviter_points,
        invitee_points=config.invitee_points,
        cap=config.cap,
        rewarded=sum(r.state == State.rewarded for r in rows),
        points_earned=sum(r.inviter_points for r in rows),
        invitations=[
            FanInvitationOut(
                name=mask_name(names.get(r.invitee_id, "")) or "好友",
                state_label=STATE_LABELS.get(r.state, ""),
                points=r.inviter_points,
                created_at=r.created_at,
            )
            for r in rows
        ],
    )


@router.get("/fan/{slug}/invite", response_model=FanInviteOut, summary="我的邀请码、邀请链接、二维码和邀请记录")
async def my_invite(fan: CurrentFan, request: Request, session: DbSession) -> FanInviteOut:
    return await fan_invite(session, request, tenant_id=fan.tenant.id, slug=fan.tenant.slug, member_id=fan.member.id)


async def fan_board(session: AsyncSession, board: Leaderboard, member_id: int) -> FanBoardOut:
    top = await service.standings(session, board=board, limit=service.TOP)
    mine = await service.standing_of(session, board=board, member_id=member_id)
    return FanBoardOut(
        id=board.id,
        title=board.title,
        starts_at=board.starts_at,
        ends_at=board.ends_at,
        status_label=BOARD_STATUS_LABELS.get(board.status, ""),
        prizes=list(board.prizes or []),
        prize_rewards=await service.prize_rewards(session, board=board),
        metric=board.metric or "invitations",
        mine=(await standings_out(session, board, [mine], masked=True))[0] if mine else None,
        top=await standings_out(session, board, top, masked=True),
    )


@router.get("/fan/{slug}/leaderboards", response_model=list[BoardOut], summary="分享排行榜列表")
async def fan_boards(fan: CurrentFan, session: DbSession) -> list[BoardOut]:
    return [board_out(b) for b in await service.boards(session, tenant_id=fan.tenant.id)]


@router.get(
    "/fan/{slug}/leaderboards/{board_id}",
    response_model=FanBoardOut,
    summary="一个排行榜：我的名次、前 50 名（昵称打码）、奖励",
)
async def fan_board_detail(fan: CurrentFan, board_id: ResourceId, session: DbSession) -> FanBoardOut:
    board = await service.get_board(session, tenant_id=fan.tenant.id, board_id=board_id)
    return await fan_board(session, board, fan.member.id)


# Staff


@router.get("/referrals/rules", response_model=RulesOut, summary="邀请有礼规则")
async def get_rules(session: DbSession, principal: Annotated[Principal, require("members.read")]) -> RulesOut:
    return RulesOut(**(await service.rules_of(session, tenant_id=principal.tenant_id)).model_dump())


@router.put("/referrals/rules", response_model=RulesOut, summary="修改邀请有礼规则（记入操作日志）")
async def put_rules(
    body: RulesIn, session: DbSession, principal: Annotated[Principal, require("points.rules")]
) -> RulesOut:
    return RulesOut(**(await service.save_rules(session, actor=principal, data=body)).model_dump())


@router.get("/referrals", response_model=list[ReferralOut], summary="邀请记录（state=suspected：待审核队列）")
async def list_referrals(
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
    state: Annotated[State | None, Query(description="只看这种状态的邀请")] = None,
) -> list[ReferralOut]:
    rows = await service.listing(session, tenant_id=principal.tenant_id, state=state)
    return [referral_out(r) for r in rows]


@router.post(
    "/referrals/{referral_id}/review",
    response_model=ReferralOut,
    summary="审核一条可疑邀请：通过（首单已到账时立即发积分）或驳回（需填原因）。拒绝时 code："
    "referral_not_in_review、review_note_required、referral_not_found",
)
async def review_referral(
    referral_id: ResourceId,
    body: ReviewIn,
    session: DbSession,
    principal: Annotated[Principal, require("claims.review")],
) -> ReferralOut:
    row = await service.review(session, actor=principal, referral_id=referral_id, approve=body.approve, note=body.note)
    return referral_out(row)


@router.get("/referrals/stats", response_model=StatsOut, summary="邀请漏斗：生成邀请码、注册、审核、得奖")
async def stats(session: DbSession, principal: Annotated[Principal, require("members.read")]) -> StatsOut:
    funnel = await service.funnel(session, tenant_id=principal.tenant_id, timezone="Asia/Shanghai", days=1)
    return StatsOut(
        sharers=funnel.sharers,
        signed_up=funnel.signed_up,
        suspected=funnel.suspected,
        rewarded=funnel.rewarded,
        capped=funnel.capped,
        rejected=funnel.rejected,
    )


@router.get("/referrals/leaderboards", response_model=list[BoardOut], summary="分享排行榜列表")
async def list_boards(session: DbSession, principal: Annotated[Principal, require("members.read")]) -> list[BoardOut]:
    return [board_out(b) for b in await service.boards(session, tenant_id=principal.tenant_id)]


@router.post("/referrals/leaderboards", response_model=BoardOut, status_code=201, summary="新建排行榜（记入操作日志）")
async def create_board(
    body: BoardIn, session: DbSession, principal: Annotated[Principal, require("points.rules")]
) -> BoardOut:
    return board_out(await service.create_board(session, actor=principal, data=body))


@router.get("/referrals/leaderboards/{board_id}", response_model=BoardDetailOut, summary="排行榜详情与前 50 名")
async def get_board(
    board_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.read")]
) -> BoardDetailOut:
    board = await service.get_board(session, tenant_id=principal.tenant_id, board_id=board_id)
    out = BoardDetailOut(**board_out(board).model_dump())
    out.standings = await standings_out(session, board, await service.standings(session, board=board), masked=False)
    return out


@router.post(
    "/referrals/leaderboards/{board_id}/settle",
    response_model=BoardOut,
    summary="结算排行榜（只结算一次：重复点击不会重复发奖）。拒绝时 code：leaderboard_not_ended",
)
async def settle_board(
    board_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("points.rules")]
) -> BoardOut:
    return board_out(await service.request_settle(session, actor=principal, board_id=board_id))


@router.get("/referrals/leaderboards/{board_id}/prizes", response_model=list[PrizeOut], summary="已发出的排行榜奖励")
async def board_prizes(
    board_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.read")]
) -> list[PrizeOut]:
    await service.get_board(session, tenant_id=principal.tenant_id, board_id=board_id)
    rows = await service.prizes_of_board(session, tenant_id=principal.tenant_id, board_id=board_id)
    return [PrizeOut.model_validate(p) for p in rows]
