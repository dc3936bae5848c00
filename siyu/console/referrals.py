"""邀请有礼 in the console: the rules and the referral funnel, the review queue, share leaderboards and settling them.

Every change goes through the service (which audits it) inside a savepoint: a refused form rolls back only its
own writes and the page comes back with what was typed and why it was refused.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError

from siyu.console.deps import Console, ConsoleContext, text
from siyu.console.forms import Refusal, attempt
from siyu.engagement.referrals import service
from siyu.engagement.referrals.models import (
    BOARD_METRIC_LABELS,
    BOARD_STATUS_LABELS,
    STATE_LABELS,
    SUSPICION_LABELS,
    BoardMetric,
    Leaderboard,
    State,
)
from siyu.engagement.referrals.schemas import BoardIn, RulesIn
from siyu.kit.errors import AppError
from siyu.kit.time import utcnow
from siyu.kit.web import DbSession, ResourceId
from siyu.live import service as live
from siyu.loyalty import service as loyalty
from siyu.mall import service as mall
from siyu.members import service as members

router = APIRouter()
RULE_FIELDS = ("inviter_points", "invitee_points", "cap", "network_limit")
RULE_LABELS = {
    "inviter_points": "邀请人得积分",
    "invitee_points": "被邀请人得积分",
    "cap": "每人奖励上限",
    "network_limit": "同一网络上限",
}
BOARD_LABELS = {
    "title": "名称",
    "starts_at": "开始时间",
    "ends_at": "结束时间",
    "prizes": "名次奖励",
    "reward_ids": "名次奖品",
    "metric": "排名依据",
}
BOARD_FIELDS = ("title", "starts_at", "ends_at", "prizes", "belongs", "metric", "reward_1", "reward_2", "reward_3")
PRIZE_REWARD_RANKS = 3  # ranks the form offers a mall reward for (the API takes any number)


def _problem(error: ValidationError, labels: dict[str, str]) -> str:
    first = error.errors()[0]
    loc = [str(p) for p in first["loc"]]
    message = str(first["msg"]).removeprefix("Value error, ")
    if first["type"] in ("int_parsing", "int_type"):
        message = "请填写整数"
    elif first["type"] in ("greater_than_equal", "less_than_equal"):
        message = "超出允许的范围"
    elif first["type"] in ("datetime_from_date_parsing", "datetime_parsing", "datetime_type"):
        message = "请选择时间"
    return f"{labels.get(loc[0], loc[0])}：{message}" if loc else message


async def _overview(
    console: Console,
    session: DbSession,
    *,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    saved: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    config = await service.rules_of(session, tenant_id=tenant_id)
    funnel = await service.funnel(session, tenant_id=tenant_id, timezone=console.tenant.timezone)
    recent = await service.listing(session, tenant_id=tenant_id, limit=20)
    ids = [r.inviter_id for r in recent] + [r.invitee_id for r in recent]
    return console.render(
        "console/referrals.html",
        "referrals",
        rules=values or config.model_dump(),
        funnel=funnel,
        recent=recent,
        names=await members.nicknames(session, tenant_id=tenant_id, member_ids=ids),
        state_labels=STATE_LABELS,
        error=error,
        saved=saved,
        status_code=status_code,
    )


@router.get("/referrals", response_class=HTMLResponse)
async def overview(console: ConsoleContext, session: DbSession, saved: int = 0) -> HTMLResponse:
    console.require("members.read")
    return await _overview(console, session, saved=bool(saved))


@router.post("/referrals/rules")
async def save_rules(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("points.rules")
    form = await request.form()
    values: dict[str, Any] = {key: text(form, key) for key in RULE_FIELDS}
    values["enabled"] = bool(form.get("enabled"))
    try:
        data = RulesIn.model_validate(values)
    except ValidationError as error:
        return await _overview(console, session, error=_problem(error, RULE_LABELS), values=values, status_code=422)
    async with session.begin_nested():
        await service.save_rules(session, actor=console.principal, data=data)
    return RedirectResponse("/console/referrals?saved=1", status_code=303)


async def _queue(
    console: Console, session: DbSession, *, error: str | None = None, done: str = "", status_code: int = 200
) -> HTMLResponse:
    tenant_id = console.tenant.id
    rows = await service.listing(session, tenant_id=tenant_id, state=State.suspected, limit=200)
    ids = [r.inviter_id for r in rows] + [r.invitee_id for r in rows]
    return console.render(
        "console/referrals_review.html",
        "referrals",
        rows=rows,
        names=await members.nicknames(session, tenant_id=tenant_id, member_ids=ids),
        suspicion_labels=SUSPICION_LABELS,
        error=error,
        done=done,
        status_code=status_code,
    )


@router.get("/referrals/review", response_class=HTMLResponse)
async def review_page(console: ConsoleContext, session: DbSession, done: str = "") -> HTMLResponse:
    console.require("members.read")
    return await _queue(console, session, done=done if done in ("approved", "rejected") else "")


@router.post("/referrals/review")
async def review(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    """Approve or reject one invitation of the queue (a rejection needs a reason)."""
    console.require("claims.review")
    form = await request.form()
    raw = text(form, "referral_id")
    approve = text(form, "action") == "approve"
    if not raw.isdigit() or len(raw) > 19:
        return await _queue(console, session, error="请选择要处理的邀请", status_code=422)
    try:
        async with session.begin_nested():
            await service.review(
                session, actor=console.principal, referral_id=int(raw), approve=approve, note=text(form, "note")
            )
    except AppError as error:
        return await _queue(console, session, error=error.message, status_code=error.status)
    return RedirectResponse(f"/console/referrals/review?done={'approved' if approve else 'rejected'}", status_code=303)


async def _belongs(
    session: DbSession, tenant_id: int, boards: list[Leaderboard], campaigns: dict[int, str]
) -> dict[int, str]:
    """What each board belongs to, in words ("直播：…", "活动：…")."""
    named: dict[int, str] = {}
    for board in boards:
        if board.show_id is not None:
            with contextlib.suppress(AppError):  # a show deleted since: the board stands on its own
                named[board.id] = (
                    "直播：" + (await live.get_show(session, tenant_id=tenant_id, show_id=board.show_id)).title
                )
        elif board.campaign_id in campaigns:
            named[board.id] = "活动：" + campaigns[board.campaign_id]
    return named


async def _boards(
    console: Console,
    session: DbSession,
    *,
    error: str | None = None,
    values: dict[str, Any] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    now = utcnow()
    shows = await live.calendar(
        session, tenant_id=tenant_id, start=now - timedelta(days=7), end=now + timedelta(days=60)
    )
    boards = await service.boards(session, tenant_id=tenant_id)
    campaigns = await loyalty.list_campaigns(session, tenant_id=tenant_id)
    return console.render(
        "console/referral_boards.html",
        "referrals",
        boards=boards,
        belongs=await _belongs(session, tenant_id, boards, {c.id: c.name for c in campaigns}),
        status_labels=BOARD_STATUS_LABELS,
        shows=[s for s in shows if s.cancelled_at is None and s.ends_at > now],  # a board for what is to come
        campaigns=campaigns,
        rewards=await mall.list_rewards(session, tenant_id=tenant_id),
        ranks=range(1, PRIZE_REWARD_RANKS + 1),
        metric_labels=BOARD_METRIC_LABELS,
        values=values or {"prizes": "500, 300, 100"},
        error=error,
        status_code=status_code,
    )


@router.get("/referrals/leaderboards", response_class=HTMLResponse)
async def boards_page(console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("members.read")
    return await _boards(console, session)


def _board_in(values: dict[str, Any], timezone: str) -> BoardIn:
    data: dict[str, Any] = {"title": values["title"]}
    for key in ("starts_at", "ends_at"):
        raw = values[key]
        data[key] = datetime.fromisoformat(raw).replace(tzinfo=ZoneInfo(timezone)) if raw else None
    data["prizes"] = [p.strip() for p in values["prizes"].replace("，", ",").split(",") if p.strip()]
    data["reward_ids"] = [values[f"reward_{rank}"] or None for rank in range(1, PRIZE_REWARD_RANKS + 1)]
    if values["metric"]:
        data["metric"] = values["metric"]
    kind, _, ref = values["belongs"].partition(":")
    if kind in ("show", "campaign") and ref.isdigit():
        data[f"{kind}_id"] = ref
    return BoardIn.model_validate(data)


@router.post("/referrals/leaderboards")
async def create_board(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("points.rules")
    form = await request.form()
    values = {key: text(form, key) for key in BOARD_FIELDS}

    async def step() -> Leaderboard:
        return await service.create_board(
            session, actor=console.principal, data=_board_in(values, console.tenant.timezone)
        )

    outcome = await attempt(session, step, labels=BOARD_LABELS, invalid="时间格式不正确")
    if isinstance(outcome, Refusal):
        return await _boards(console, session, error=outcome.message, values=values, status_code=outcome.status)
    return RedirectResponse(f"/console/referrals/leaderboards/{outcome.id}", status_code=303)


async def _board(
    console: Console, session: DbSession, board_id: int, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    board = await service.get_board(session, tenant_id=console.tenant.id, board_id=board_id)
    standings = await service.standings(session, board=board)
    prizes = await service.prizes_of_board(session, tenant_id=console.tenant.id, board_id=board_id)
    ids = [s.member_id for s in standings] + [p.member_id for p in prizes]
    return console.render(
        "console/referral_board.html",
        "referrals",
        board=board,
        standings=standings,
        prizes=prizes,
        names=await members.nicknames(session, tenant_id=console.tenant.id, member_ids=ids),
        status_labels=BOARD_STATUS_LABELS,
        ended=board.ends_at <= datetime.now(ZoneInfo("UTC")),
        stuck=await service.settle_stuck(session, board=board),
        prize_rewards=await service.prize_rewards(session, board=board),
        metric_label=BOARD_METRIC_LABELS[board.metric or BoardMetric.invitations],
        error=error,
        status_code=status_code,
    )


@router.get("/referrals/leaderboards/{board_id}", response_class=HTMLResponse)
async def board_page(board_id: ResourceId, console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("members.read")
    return await _board(console, session, board_id)


@router.post("/referrals/leaderboards/{board_id}/settle")
async def settle(board_id: ResourceId, console: ConsoleContext, session: DbSession) -> Response:
    """Queue the settling (once: a second click queues nothing); the worker gives the prizes."""
    console.require("points.rules")
    try:
        async with session.begin_nested():
            await service.request_settle(session, actor=console.principal, board_id=board_id)
    except AppError as error:
        if error.status == 404:
            raise
        return await _board(console, session, board_id, error=error.message, status_code=error.status)
    return RedirectResponse(f"/console/referrals/leaderboards/{board_id}", status_code=303)
