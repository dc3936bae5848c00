"""积分抽奖 in the console: the campaigns, one campaign's set-up (cost, window, caps, weighted prizes with stock) and
its latest draws."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from siyu.console.deps import Console, ConsoleContext, text
from siyu.console.forms import BAD_TIME, Refusal, attempt
from siyu.console.listing import Listing, paged
from siyu.kit.time import to_local, utcnow
from siyu.kit.web import DbSession, ResourceId
from siyu.mall import lottery, service
from siyu.mall.models import PRIZE_KIND_LABELS, Lottery, Prize
from siyu.mall.schemas import LotteryIn
from siyu.members import service as members

router = APIRouter()
FIELDS = ("title", "description", "points_cost", "cap_per_day", "cap_total")
WINDOW = ("starts_at", "ends_at")
PRIZE_FIELDS = ("id", "kind", "title", "weight", "stock", "points", "reward_id")
BLANK_ROWS = 3
LABELS = {
    "title": "名称",
    "points_cost": "每次消耗积分",
    "starts_at": "开始时间",
    "ends_at": "结束时间",
    "prizes": "奖项",
}


def _local_input(value: datetime, timezone: str) -> str:
    return to_local(value, timezone).strftime("%Y-%m-%dT%H:%M")


def _values(row: Lottery | None, prizes: list[Prize], timezone: str) -> dict[str, Any]:
    if row is None:
        return {
            "enabled": True,
            "prizes": [
                {"kind": "points", "title": "10 积分", "weight": "20", "points": "10"},
                {"kind": "nothing", "title": "谢谢参与", "weight": "80"},
            ],
        }
    values: dict[str, Any] = {f: "" if getattr(row, f) is None else str(getattr(row, f)) for f in FIELDS}
    values.update({w: _local_input(getattr(row, w), timezone) for w in WINDOW}, enabled=row.enabled)
    values["prizes"] = [
        {f: "" if getattr(p, f) is None else str(getattr(p, f)) for f in PRIZE_FIELDS} | {"won": p.won} for p in prizes
    ]
    return values


def _form(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: text(form, k) for k in FIELDS + WINDOW}
    values["enabled"] = bool(form.get("enabled"))
    columns = {f: [str(v).strip() for v in form.getlist(f"prize_{f}")] for f in PRIZE_FIELDS}
    rows = max((len(c) for c in columns.values()), default=0)
    values["prizes"] = [
        {f: columns[f][n] if n < len(columns[f]) else "" for f in PRIZE_FIELDS}
        for n in range(rows)
        if n < len(columns["title"]) and columns["title"][n]
    ]
    return values


def _lottery_in(values: dict[str, Any], timezone: str) -> LotteryIn:
    data: dict[str, Any] = {k: values[k] or None for k in FIELDS}
    data["description"] = values["description"]
    for key in WINDOW:
        raw = values[key]
        data[key] = datetime.fromisoformat(raw).replace(tzinfo=ZoneInfo(timezone)) if raw else None
    data["enabled"] = values["enabled"]
    data["prizes"] = [
        {f: p[f] or None for f in PRIZE_FIELDS} | {"weight": p["weight"] or "0"} for p in values["prizes"]
    ]
    return LotteryIn.model_validate(data)


LOTTERY_SORTS: dict[str, Any] = {
    "starts_at": lambda row: row.starts_at,
    "title": lambda row: row.title,
    "points_cost": lambda row: row.points_cost,
}


@router.get("/mall/lottery", response_class=HTMLResponse)
async def campaigns(
    console: ConsoleContext,
    session: DbSession,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    sort: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    console.require("mall.read")
    listing = Listing.of("/console/mall/lottery", sort=sort, allowed=LOTTERY_SORTS, default="-starts_at", page=page)
    result = paged(await lottery.list_lotteries(session, tenant_id=console.tenant.id), listing, LOTTERY_SORTS)
    return console.render(
        "console/lotteries.html",
        "lottery",
        lotteries=result.items,
        result=result,
        listing=listing,
        now=utcnow(),
        is_open=lottery.is_open,
    )


async def _page(
    console: Console,
    session: DbSession,
    row: Lottery | None,
    *,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    prizes = [] if row is None else await lottery.prizes_of(session, tenant_id=tenant_id, lottery_id=row.id)
    draws = [] if row is None else await lottery.draws_of(session, tenant_id=tenant_id, lottery_id=row.id, limit=50)
    values = values or _values(row, prizes, console.tenant.timezone)
    rewards = await service.list_rewards(session, tenant_id=tenant_id)  # goods too: the winner gives her address
    return console.render(
        "console/lottery.html",
        "lottery",
        status_code=status_code,
        lottery=row,
        values=values,
        blank_rows=BLANK_ROWS,
        kinds=PRIZE_KIND_LABELS,
        rewards=rewards,
        draws=draws,
        nicknames=await members.nicknames(session, tenant_id=tenant_id, member_ids=[d.member_id for d in draws]),
        error=error,
    )


@router.get("/mall/lottery/new", response_class=HTMLResponse)
async def new_campaign(console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("mall.manage")
    return await _page(console, session, None)


@router.get("/mall/lottery/{lottery_id}", response_class=HTMLResponse)
async def campaign(console: ConsoleContext, session: DbSession, lottery_id: ResourceId) -> HTMLResponse:
    console.require("mall.read")
    row = await lottery.get_lottery(session, tenant_id=console.tenant.id, lottery_id=lottery_id)
    return await _page(console, session, row)


async def _save(request: Request, console: Console, session: DbSession, lottery_id: int | None) -> Response:
    console.require("mall.manage")
    row = (
        None
        if lottery_id is None
        else await lottery.get_lottery(session, tenant_id=console.tenant.id, lottery_id=lottery_id)
    )
    values = _form(await request.form())

    async def save() -> Lottery:
        data = _lottery_in(values, console.tenant.timezone)
        if row is None:
            return await lottery.create_lottery(session, actor=console.principal, data=data)
        return await lottery.update_lottery(session, actor=console.principal, lottery_id=row.id, data=data)

    outcome = await attempt(session, save, labels=LABELS, invalid=BAD_TIME)
    if isinstance(outcome, Refusal):
        return await _page(console, session, row, values=values, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/mall/lottery/{outcome.id}?saved=1", status_code=303)


@router.post("/mall/lottery")
async def create_campaign(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    return await _save(request, console, session, None)


@router.post("/mall/lottery/{lottery_id}")
async def update_campaign(
    request: Request, console: ConsoleContext, session: DbSession, lottery_id: ResourceId
) -> Response:
    return await _save(request, console, session, lottery_id)
