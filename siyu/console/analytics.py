"""The analytics pages: the dashboard (the console home of owners and analysts), member value (RFM, in two views,
with the churn list) and what the private domain contributes (per month and per live show)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.analytics import service
from siyu.analytics.contribution import MonthFigures
from siyu.analytics.periods import MONTH_PATTERN, Period, months_of, period_of
from siyu.analytics.rfm import LETTERS, Rfm
from siyu.analytics.ties import RfmView
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


VIEWS: dict[str, str] = {"claimed": "领取的订单", "tied": "可关联的全部订单"}
View = Annotated[RfmView, Query()]


@router.get("/analytics/rfm", response_class=HTMLResponse)
async def rfm_page(
    request: Request, console: ConsoleContext, session: DbSession, view: View = "claimed"
) -> HTMLResponse:
    console.require("analytics.read")
    view = view if view in VIEWS else "claimed"
    tenant_id = console.tenant.id
    state = await service.snapshot_state(session, tenant_id=tenant_id)
    result: Rfm | None = None
    at_risk: list[dict[str, Any]] = []
    if state is not None:
        result, at_risk = await service.at_risk(
            session, tenant_id=tenant_id, directory=snapshot_dir(request), limit=50, reading=view
        )
    settings = await service.settings_of(session, tenant_id=tenant_id)
    return console.render(
        "console/rfm.html",
        "rfm",
        view=view,
        views=VIEWS,
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
    back = form_text(await request.form(), "next")
    return RedirectResponse(back if back in REFRESH_PAGES else "/console/analytics/rfm", status_code=303)


REFRESH_PAGES = ("/console/analytics/rfm", "/console/analytics/contribution")


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


AT_RISK_COLUMNS = [
    "会员号",
    "昵称",
    "分层",
    "最近一单距今（天）",
    "最近访问距今（天）",
    "平时几天一单",
    "订单数",
    "消费金额（元）",
]


@router.get("/analytics/at-risk.xlsx", name="at_risk_xlsx")
async def export_at_risk(
    request: Request, console: ConsoleContext, session: DbSession, view: View = "claimed"
) -> Response:
    console.require("analytics.read")
    tenant_id = console.tenant.id
    _, rows = await service.at_risk(
        session, tenant_id=tenant_id, directory=snapshot_dir(request), limit=None, reading=view
    )

    async def chunks() -> AsyncIterator[list[list[object]]]:
        for start in range(0, len(rows), 5000):
            yield [
                [
                    str(r["member_id"]),
                    r["nickname"],
                    r["segment_name"],
                    r["recency_days"],
                    "没有访问记录" if r["visit_days"] is None else r["visit_days"],
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
        widths=(21, 18, 10, 16, 16, 14, 8, 14),
    )


# What the private domain contributes

Month = Annotated[str | None, Query(max_length=7)]
MONTH_COLUMNS = [
    "月份",
    "订单数",
    "成交额（元）",
    "会员订单",
    "会员成交额（元）",
    "其中预约直播会员订单",
    "其中预约直播会员成交额（元）",
    "非会员订单",
    "非会员成交额（元）",
    "会员成交占比",
]


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.1%}"


def _month_label(month: str) -> str:
    return f"{month[:4]} 年 {int(month[5:])} 月"


def _month_row(month: str, m: MonthFigures) -> list[object]:
    return [
        _month_label(month),
        m.orders,
        m.gmv_fen / 100,
        m.member_orders,
        m.member_gmv_fen / 100,
        m.reserved_orders,
        m.reserved_gmv_fen / 100,
        m.unknown_orders,
        m.unknown_gmv_fen / 100,
        _share(m.share),
    ]


def _month_presets(months: list[str], today: date) -> list[tuple[str, str, bool]]:
    this = f"{today.year:04d}-{today.month:02d}"
    out = []
    for label, first in (
        ("近 6 个月", months_of(None, this, today=today, default_months=6)[0]),
        ("近 12 个月", months_of(None, this, today=today)[0]),
        ("今年", f"{today.year:04d}-01"),
    ):
        on = months[0] == first and months[-1] == this
        out.append((label, f"/console/analytics/contribution?first={first}&last={this}", on))
    return out


MONTH_CHOICES = 60


def _month_choices(months: list[str], today: date) -> list[str]:
    """The months offered in the range's two lists, newest first: the last five years, and the range's own ends
    (a link may name older ones). Lists rather than the browser's month picker, whose words follow its language."""
    year, month = today.year, today.month
    out = []
    for _ in range(MONTH_CHOICES):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return sorted(set(out) | {months[0], months[-1]}, reverse=True)


def _contribution_chart(found: service.Contribution) -> dict[str, Any]:
    months = found.months
    return {
        "labels": [f"{m[2:4]}/{m[5:]}" for m, _ in months],
        "reserved": [f.reserved_gmv_fen / 100 for _, f in months],
        "members": [(f.member_gmv_fen - f.reserved_gmv_fen) / 100 for _, f in months],
        "unknown": [f.unknown_gmv_fen / 100 for _, f in months],
        "share": [None if f.share is None else round(f.share * 100, 1) for _, f in months],
    }


@router.get("/analytics/contribution", response_class=HTMLResponse)
async def contribution_page(
    request: Request,
    console: ConsoleContext,
    session: DbSession,
    first: Month = None,
    last: Month = None,
    show_month: Annotated[str | None, Query(pattern=MONTH_PATTERN)] = None,
) -> HTMLResponse:
    console.require("analytics.read")
    today = _today(console)
    timezone = console.tenant.timezone
    months = months_of(first, last, today=today)
    found = await service.contribution(
        session, tenant_id=console.tenant.id, timezone=timezone, months=months, directory=snapshot_dir(request)
    )
    shown = show_month if show_month in months else months[-1]
    shows = await service.shows_of_month(session, tenant_id=console.tenant.id, month=shown, timezone=timezone)
    return console.render(
        "console/contribution.html",
        "contribution",
        months=months,
        found=found,
        chart=_contribution_chart(found) if found else None,
        presets=_month_presets(months, today),
        month_choices=_month_choices(months, today),
        shown=shown,
        shows=shows,
        month_label=_month_label,
        share=_share,
        can_open_shows=console.can("orders.read"),
    )


@router.get("/analytics/contribution.xlsx", name="contribution_xlsx")
async def export_contribution(
    request: Request, console: ConsoleContext, session: DbSession, first: Month = None, last: Month = None
) -> Response:
    console.require("analytics.read")
    months = months_of(first, last, today=_today(console))
    found = await service.contribution(
        session,
        tenant_id=console.tenant.id,
        timezone=console.tenant.timezone,
        months=months,
        directory=snapshot_dir(request),
    )
    rows = [_month_row(m, f) for m, f in found.months] if found else [_month_row(m, MonthFigures()) for m in months]

    async def chunks() -> AsyncIterator[list[list[object]]]:
        yield rows

    return await table_response(
        fmt="xlsx",
        filename=f"私域贡献-{months[0]}-{months[-1]}",
        sheet="私域贡献",
        headers=MONTH_COLUMNS,
        chunks=chunks(),
        widths=(14, 10, 16, 10, 16, 14, 18, 12, 16, 12),
    )
