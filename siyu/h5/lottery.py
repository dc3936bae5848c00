"""积分抽奖 on the H5: the open campaigns, one campaign (cost, chances left, prizes, her last draws) and a draw
with its result in words."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from siyu.h5.fans import Fan, FanPage, to_sign_in
from siyu.kit.time import utcnow
from siyu.kit.web import DbSession, ResourceId
from siyu.ledger import service as ledger
from siyu.mall import lottery, service
from siyu.mall.models import Draw
from siyu.templating import templates

router = APIRouter()


def _render(fan: FanPage, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {"tenant": fan.tenant, "brand_color": fan.brand_color, "fan": fan.member, **context},
        status_code=status_code,
    )


@router.get("/{slug}/lottery", response_class=HTMLResponse)
async def campaigns(fan: Fan, request: Request, session: DbSession) -> Response:
    rows = await lottery.open_lotteries(session, tenant_id=fan.tenant.id)
    return _render(fan, request, "h5/lotteries.html", lotteries=rows)


async def _campaign(
    fan: FanPage,
    request: Request,
    session: DbSession,
    lottery_id: int,
    *,
    result: Draw | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tenant = fan.tenant
    now = utcnow()
    row = await lottery.open_lottery(session, tenant_id=tenant.id, lottery_id=lottery_id)
    prizes = [p for p in await lottery.prizes_of(session, tenant_id=tenant.id, lottery_id=row.id) if p.weight > 0]
    points = chances = refused = None
    mine: list[Draw] = []
    if fan.member is not None:
        points = await ledger.balance(session, tenant_id=tenant.id, member_id=fan.member.id)
        chances = await lottery.chances(
            session, tenant_id=tenant.id, lottery=row, member_id=fan.member.id, timezone=tenant.timezone, now=now
        )
        mine = await lottery.draws_of(
            session, tenant_id=tenant.id, lottery_id=row.id, member_id=fan.member.id, limit=10
        )
        refused = lottery.draw_refusal(row, chances, points.available, now, tenant.timezone)
    prize = None  # the redemption a won mall reward became (goods ask for her address)
    if result is not None and result.redemption_id is not None and fan.member is not None:
        prize = await service.redemption_of_member(
            session, tenant_id=tenant.id, member_id=fan.member.id, redemption_id=result.redemption_id
        )
    return _render(
        fan,
        request,
        "h5/lottery.html",
        prize=prize,
        status_code=status_code,
        lottery=row,
        prizes=[p for p in prizes if p.kind != "nothing"],
        is_open=lottery.is_open(row, now),
        now=now,
        points=points,
        chances=chances,
        mine=mine,
        key=secrets.token_urlsafe(16),
        result=result,
        error=error,
        refused=refused,
    )


@router.get("/{slug}/lottery/{lottery_id}", response_class=HTMLResponse)
async def campaign(fan: Fan, request: Request, session: DbSession, lottery_id: ResourceId) -> Response:
    return await _campaign(fan, request, session, lottery_id)


@router.post("/{slug}/lottery/{lottery_id}/draw", response_class=HTMLResponse)
async def draw(fan: Fan, request: Request, session: DbSession, lottery_id: ResourceId) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/lottery/{lottery_id}")
    form = await request.form()
    key = str(form.get("key") or "").strip() or None
    try:
        row = await lottery.draw(
            session,
            tenant_id=fan.tenant.id,
            timezone=fan.tenant.timezone,
            member_id=fan.member.id,
            lottery_id=lottery_id,
            idempotency_key=key,
        )
    except (lottery.LotteryClosed, lottery.OverDrawLimit, lottery.InsufficientPoints) as refused:
        return await _campaign(fan, request, session, lottery_id, error=refused.message, status_code=refused.status)
    return await _campaign(fan, request, session, lottery_id, result=row)
