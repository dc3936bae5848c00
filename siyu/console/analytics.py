"""The analytics pages: the dashboard (the console home of owners and analysts) and member value (RFM)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.analytics import service
from siyu.analytics.periods import Period, period_of
from siyu.analytics.rfm import LETTERS, Rfm
from siyu.console.deps import ConsoleContext
from siyu.console.exports import table_response
from siyu.kit.errors import InvalidInput
from siyu.kit.money import format_yuan
from siyu.kit.time import format_local, to_local, utcnow
from siyu.kit.web import DbSession, form_text

router = APIRouter()

Day = Annotated[str | None, Query(max_length=10)]
LETTER_LABELS = {"r": "最近一单距今（天）", "f": "订单数", "m": "消费金额（元）"}


def snapshot_dir(request: Request) -> Path:
    return Path(request.app.state.settings.data_dir) / "analytics"


def _today(console: ConsoleContext) -> date:
    return to_local(utcnow(), console.tenant.timezone).date()


def _orders_link(period: Period, platform: str = "", claimed: str = "") -> str:
    link = f"/console/orders?paid_from={period.first.isoformat()}&paid_to={period.last.isoformat()}"
    if platform:
        link += f"&platform={platform}"
    if claimed:
        link += f"&claimed={claimed}"
    return link


def _presets(period: Period, today: date) -> list[tuple[str, str, bool]]:
    out = []
    for days in (7, 30, 90):
        first = today - timedelta(days=days - 1)
        on = period == Period(first, today)
        out.append((f"近 {days} 天", f"/console/?first={first.isoformat()}&last={today.isoformat()}", on))
    return out


async def dashboard_page(
    request: Request, console: ConsoleContext, session: DbSession, first: str | None, last: str | None
) -> HTMLResponse:
    period = period_of(first, last, today=_today(console))
    board = await service.dashboard(
        session,
        tenant_id=console.tenant.id,
        timezone=console.tenant.timezone,
        period=period,
        directory=snapshot_dir(request),
    )
    return console.render(
        "console/analytics.html",
        "dashboard",
        board=board,
        orders_link=_orders_link,
        presets=_presets(period, _today(console)),
    )


def _heat(result: Rfm) -> list[list[int]]:
    """[f index, r index, members] for every cell of the grid (ECharts' heat map data)."""
    return [[f, r, result.grid[r][f][0]] for r in range(5) for f in range(5)]


def _edges_for_form(result: Rfm) -> dict[str, list[str]]:
    out = {}
    for letter in LETTERS:
        values = getattr(result.edges, letter)
        if letter == "m":
            out[letter] = [format_yuan(int(v)) for v in values]
        else:
            out[letter] = [f"{v:g}" for v in values]
    return out


@router.get("/analytics/rfm", response_class=HTMLResponse)
async def rfm_page(request: Request, console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("analytics.read")
    tenant_id = console.tenant.id
    state = await service.snapshot_state(session, tenant_id=tenant_id)
    result: Rfm | None = None
    at_risk: list[dict[str, Any]] = []
    if state is not None:
        result, at_risk = await service.at_risk(session, tenant_id=tenant_id, directory=snapshot_dir(request), limit=50)
    settings = await service.settings_of(session, tenant_id=tenant_id)
    return console.render(
        "console/rfm.html",
        "rfm",
        state=state,
        result=result,
        heat=_heat(result) if result else [],
        at_risk=at_risk,
        edges=_edges_for_form(result) if result else None,
        letters=LETTER_LABELS,
        yuan_per_point=settings.yuan_per_point,
        can_edit=console.can("tenant.write"),
        error=request.query_params.get("error", ""),
    )


@router.post("/analytics/refresh")
async def refresh(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("analytics.read")
    await service.refresh(session, tenant_id=console.tenant.id, directory=snapshot_dir(request))
    return RedirectResponse("/console/analytics/rfm", status_code=303)


def _numbers(form: Any, letter: str) -> list[float]:
    values = []
    for n in range(4):
        text = form_text(form, f"{letter}{n}")
        try:
            value = Decimal(text)
        except ArithmeticError as error:
            raise InvalidInput(f"{LETTER_LABELS[letter]}的分界值请填写数字", code="invalid_edges") from error
        values.append(float(value * 100) if letter == "m" else float(value))
    return values


@router.post("/analytics/settings")
async def save_settings(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("tenant.write")
    form = await request.form()
    try:
        rate = form_text(form, "yuan_per_point")
        if rate:
            await service.save_settings(session, tenant_id=console.tenant.id, yuan_per_point=service.parse_rate(rate))
        if form_text(form, "edges") == "default":
            await service.save_settings(session, tenant_id=console.tenant.id, clear_edges=True)
        elif form_text(form, "edges") == "own":
            edges = {letter: _numbers(form, letter) for letter in LETTERS}
            await service.save_settings(session, tenant_id=console.tenant.id, rfm_edges=edges)
    except InvalidInput as error:
        return RedirectResponse(f"/console/analytics/rfm?error={error.message}", status_code=303)
    return RedirectResponse("/console/analytics/rfm", status_code=303)


AT_RISK_COLUMNS = ["会员号", "昵称", "分层", "最近一单距今（天）", "平时几天一单", "订单数", "消费金额（元）"]


@router.get("/analytics/at-risk.xlsx", name="at_risk_xlsx")
async def export_at_risk(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("analytics.read")
    tenant_id = console.tenant.id
    _, rows = await service.at_risk(session, tenant_id=tenant_id, directory=snapshot_dir(request), limit=None)

    async def chunks() -> AsyncIterator[list[list[object]]]:
        for start in range(0, len(rows), 5000):
            yield [
                [
                    str(r["member_id"]),
                    r["nickname"],
                    r["segment_name"],
                    r["recency_days"],
                    round(r["usual_gap_days"], 1),
                    r["frequency"],
                    r["monetary_fen"] / 100,
                ]
                for r in rows[start : start + 5000]
            ]

    stamp = format_local(utcnow(), console.tenant.timezone, "%Y%m%d")
    return await table_response(
        fmt="xlsx",
        filename=f"流失风险会员-{stamp}",
        sheet="流失风险会员",
        headers=AT_RISK_COLUMNS,
        chunks=chunks(),
        text_columns=(0, 1),
        widths=(21, 18, 10, 16, 14, 8, 14),
    )
