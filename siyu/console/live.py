"""直播预告 in the console: a month's calendar and list of shows, the show editor (cover, featured products, cancel),
the reminder setting, and the attribution reports (one show, one month) with ECharts charts and XLSX export.

Every change goes through siyu.live's service inside `attempt` (a savepoint): a refusal is said beside what was
typed and leaves nothing behind."""

from __future__ import annotations

import calendar as months
from collections.abc import AsyncIterator
from datetime import date, datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from siyu.console.deps import Console, ConsoleContext, text
from siyu.console.exports import table_response
from siyu.console.forms import Refusal, attempt
from siyu.kit import images
from siyu.kit.errors import InvalidInput
from siyu.kit.money import format_yuan
from siyu.kit.time import to_local, utcnow
from siyu.kit.web import DbSession, ResourceId
from siyu.live import attribution, service
from siyu.live.models import STATUS_LABELS, Show
from siyu.live.schemas import LiveSettings, ProductIn, ShowIn
from siyu.tenants import service as tenants
from siyu.tenants.models import PLATFORM_LABELS

router = APIRouter()
MONTH_PATTERN = r"^20\d{2}-(0[1-9]|1[0-2])$"
LABELS = {
    "channel_id": "渠道",
    "title": "直播标题",
    "live_room": "直播间 ID",
    "author_id": "达人 ID",
    "starts_at": "开播时间",
    "ends_at": "下播时间",
    "benefits": "直播福利",
    "price_fen": "直播价",
    "sort_order": "排序",
    "remind_minutes": "提前提醒",
}
FIELDS = ("channel_id", "title", "live_room", "author_id", "starts_at", "ends_at", "benefits")


def _this_month(timezone: str) -> str:
    return to_local(utcnow(), timezone).strftime("%Y-%m")


def _shift(month: str, by: int) -> str:
    year, number = (int(p) for p in month.split("-"))
    index = year * 12 + number - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def _weeks(month: str, shows: list[Show], timezone: str) -> list[list[tuple[date | None, list[Show]]]]:
    """The month as weeks (Monday first) of (day, shows starting that local day)."""
    year, number = (int(p) for p in month.split("-"))
    by_day: dict[date, list[Show]] = {}
    for show in shows:
        by_day.setdefault(to_local(show.starts_at, timezone).date(), []).append(show)
    return [
        [(day if day.month == number else None, by_day.get(day, []) if day.month == number else []) for day in week]
        for week in months.Calendar().monthdatescalendar(year, number)
    ]


@router.get("/live", response_class=HTMLResponse)
async def live_page(
    console: ConsoleContext,
    session: DbSession,
    month: Annotated[str | None, Query(pattern=MONTH_PATTERN)] = None,
    saved: int = 0,
) -> HTMLResponse:
    console.require("members.read")
    return await _calendar(console, session, month=month, saved=bool(saved))


async def _calendar(
    console: Console,
    session: DbSession,
    *,
    month: str | None = None,
    saved: bool = False,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    timezone = console.tenant.timezone
    month = month or _this_month(timezone)
    start, end = attribution.month_bounds(month, timezone)
    shows = await service.calendar(session, tenant_id=console.tenant.id, start=start, end=end)
    counts = await service.reservation_counts(session, tenant_id=console.tenant.id, show_ids=[s.id for s in shows])
    config = await tenants.config_of(session, console.tenant.id)
    return console.render(
        "console/live.html",
        "live",
        month=month,
        previous=_shift(month, -1),
        following=_shift(month, 1),
        weeks=_weeks(month, shows, timezone),
        shows=shows,
        counts=counts,
        status_of=service.status_of,
        statuses=STATUS_LABELS,
        platforms=PLATFORM_LABELS,
        settings=typed or {"remind_minutes": str(service.settings_of(config).remind_minutes)},
        saved=saved,
        error=error,
        status_code=status_code,
    )


@router.post("/live/settings")
async def save_settings(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("channels.write")
    form = await request.form()
    typed = {"remind_minutes": text(form, "remind_minutes")}
    outcome = await attempt(
        session,
        lambda: service.save_settings(session, actor=console.principal, data=LiveSettings.model_validate(typed)),
        check={"remind_minutes": "提前提醒：请填写 0 到 1440 之间的分钟数"},
    )
    if isinstance(outcome, Refusal):
        return await _calendar(console, session, error=outcome.message, typed=typed, status_code=outcome.status)
    return RedirectResponse("/console/live?saved=1", status_code=303)


# The month's report (before /live/{show_id}, whose id is a number)


async def _month(console: Console, session: DbSession, month: str | None) -> attribution.MonthReport:
    timezone = console.tenant.timezone
    return await attribution.month_report(
        session, tenant_id=console.tenant.id, month=month or _this_month(timezone), timezone=timezone
    )


@router.get("/live/report", response_class=HTMLResponse)
async def month_page(
    console: ConsoleContext, session: DbSession, month: Annotated[str | None, Query(pattern=MONTH_PATTERN)] = None
) -> HTMLResponse:
    console.require("orders.read")
    found = await _month(console, session, month)
    return console.render(
        "console/live_month.html",
        "live",
        report=found,
        previous=_shift(found.month, -1),
        following=_shift(found.month, 1),
        chart=_month_chart(found),
    )


def _month_chart(found: attribution.MonthReport) -> dict[str, Any]:
    return {
        "labels": [f"{r.show.title[:8]}" for r in found.shows],
        "series": [
            {"name": "预约会员", "data": [r.split.reserved.gmv_fen / 100 for r in found.shows]},
            {"name": "其他会员", "data": [r.split.members.gmv_fen / 100 for r in found.shows]},
            {"name": "非会员", "data": [r.split.others.gmv_fen / 100 for r in found.shows]},
        ],
        "unit": "元",
    }


HEADERS = [
    "直播",
    "开播时间",
    "预约人数",
    "订单数",
    "成交额（元）",
    "预约会员订单",
    "预约会员成交额（元）",
    "其他会员订单",
    "其他会员成交额（元）",
    "非会员订单",
    "非会员成交额（元）",
    "下播后换积分率",
    "带来新会员",
    "私域占比",
]


def _row(found: attribution.ShowReport, timezone: str) -> list[object]:
    s = found.split
    return [
        found.show.title,
        to_local(found.show.starts_at, timezone).strftime("%Y-%m-%d %H:%M"),
        found.reservations,
        s.orders,
        s.gmv_fen / 100,
        s.reserved.orders,
        s.reserved.gmv_fen / 100,
        s.members.orders,
        s.members.gmv_fen / 100,
        s.others.orders,
        s.others.gmv_fen / 100,
        f"{s.claim_rate:.1%}",
        found.new_members,
        f"{s.private_share:.1%}",
    ]


async def _export(rows: list[list[object]], filename: str) -> Response:
    async def chunks() -> AsyncIterator[list[list[object]]]:
        yield rows

    return await table_response(
        fmt="xlsx", filename=filename, sheet="直播归因", headers=HEADERS, chunks=chunks(), widths=[28, 18] + [14] * 12
    )


@router.get("/live/report/export")
async def month_export(
    console: ConsoleContext, session: DbSession, month: Annotated[str | None, Query(pattern=MONTH_PATTERN)] = None
) -> Response:
    console.require("orders.read")
    found = await _month(console, session, month)
    rows = [_row(r, console.tenant.timezone) for r in found.shows]
    return await _export(rows, f"直播归因-{found.month}")


# Shows


def _local_input(value: datetime | None, timezone: str) -> str:
    return "" if value is None else to_local(value, timezone).strftime("%Y-%m-%dT%H:%M")


def _values(show: Show | None, timezone: str) -> dict[str, str]:
    if show is None:
        return {}
    return {
        "channel_id": str(show.channel_id or ""),
        "title": show.title,
        "live_room": show.live_room or "",
        "author_id": show.author_id or "",
        "starts_at": _local_input(show.starts_at, timezone),
        "ends_at": _local_input(show.ends_at, timezone),
        "benefits": "\n".join(show.benefits or []),
    }


def _show_in(values: dict[str, str], timezone: str) -> ShowIn:
    data: dict[str, Any] = {k: values[k] for k in ("channel_id", "title", "live_room", "author_id") if values[k]}
    for key in ("starts_at", "ends_at"):
        if not values[key]:
            raise InvalidInput(f"请填写{LABELS[key]}", code="time_required")
        data[key] = datetime.fromisoformat(values[key]).replace(tzinfo=ZoneInfo(timezone))
    data["benefits"] = [line.strip() for line in values["benefits"].splitlines() if line.strip()]
    if "channel_id" not in data:
        raise InvalidInput("请选择直播所在的渠道", code="channel_required")
    return ShowIn.model_validate(data)


async def _show_page(
    console: Console,
    session: DbSession,
    show: Show | None,
    *,
    values: dict[str, str] | None = None,
    product: dict[str, str] | None = None,
    error: str | None = None,
    product_error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    products = (
        [] if show is None else (await service.products_of(session, tenant_id=tenant_id, show_ids=[show.id]))[show.id]
    )
    counts = {} if show is None else await service.reservation_counts(session, tenant_id=tenant_id, show_ids=[show.id])
    channels = [c for c in await tenants.list_channels(session, tenant_id=tenant_id) if c.active]
    return console.render(
        "console/live_show.html",
        "live",
        show=show,
        values=values if values is not None else _values(show, console.tenant.timezone),
        product=product or {},
        products=products,
        reservations=counts.get(show.id, 0) if show else 0,
        channels=channels,
        platforms=PLATFORM_LABELS,
        status=service.status_of(show) if show else None,
        statuses=STATUS_LABELS,
        error=error,
        product_error=product_error,
        status_code=status_code,
    )


@router.get("/live/new", response_class=HTMLResponse)
async def new_show(console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("channels.write")
    return await _show_page(console, session, None)


def _form(form: FormData) -> dict[str, str]:
    values = {k: text(form, k) for k in FIELDS if k != "benefits"}
    values["benefits"] = str(form.get("benefits") or "")[:1000]
    return values


async def _save(request: Request, console: Console, session: DbSession, show_id: int | None) -> Response:
    console.require("channels.write")
    timezone = console.tenant.timezone
    show = None if show_id is None else await service.get_show(session, tenant_id=console.tenant.id, show_id=show_id)
    values = _form(await request.form())

    async def step() -> Show:
        data = _show_in(values, timezone)
        if show is None:
            return await service.create_show(session, actor=console.principal, data=data)
        return await service.update_show(session, actor=console.principal, show_id=show.id, data=data)

    outcome = await attempt(session, step, labels=LABELS, invalid="时间格式不正确")
    if isinstance(outcome, Refusal):
        return await _show_page(
            console, session, show, values=values, error=outcome.message, status_code=outcome.status
        )
    return RedirectResponse(f"/console/live/{outcome.id}?saved=1", status_code=303)


@router.post("/live/new")
async def create(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    return await _save(request, console, session, None)


@router.get("/live/{show_id}", response_class=HTMLResponse)
async def show_page(console: ConsoleContext, session: DbSession, show_id: ResourceId) -> HTMLResponse:
    console.require("members.read")
    show = await service.get_show(session, tenant_id=console.tenant.id, show_id=show_id)
    return await _show_page(console, session, show)


@router.post("/live/{show_id}")
async def update(request: Request, console: ConsoleContext, session: DbSession, show_id: ResourceId) -> Response:
    return await _save(request, console, session, show_id)


@router.post("/live/{show_id}/cancel")
async def cancel(console: ConsoleContext, session: DbSession, show_id: ResourceId) -> Response:
    console.require("channels.write")
    show = await service.get_show(session, tenant_id=console.tenant.id, show_id=show_id)
    outcome = await attempt(session, lambda: service.cancel_show(session, actor=console.principal, show_id=show_id))
    if isinstance(outcome, Refusal):
        return await _show_page(console, session, show, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/live/{show_id}?cancelled=1", status_code=303)


async def _upload(form: FormData, name: str) -> bytes | None:
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(images.MAX_BYTES + 1)
    if len(data) > images.MAX_BYTES:
        raise images.ImageTooLarge()
    return data


@router.post("/live/{show_id}/cover")
async def upload_cover(request: Request, console: ConsoleContext, session: DbSession, show_id: ResourceId) -> Response:
    console.require("channels.write")
    show = await service.get_show(session, tenant_id=console.tenant.id, show_id=show_id)
    form = await request.form()

    async def step() -> Show:
        data = await _upload(form, "cover")
        if data is None:
            raise InvalidInput("请选择封面图片", code="image_required")
        return await service.set_cover(
            session, actor=console.principal, show_id=show_id, data=data, data_dir=request.app.state.settings.data_dir
        )

    outcome = await attempt(session, step)
    if isinstance(outcome, Refusal):
        return await _show_page(console, session, show, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/live/{show_id}?saved=1", status_code=303)


@router.post("/live/{show_id}/products")
async def add_product(request: Request, console: ConsoleContext, session: DbSession, show_id: ResourceId) -> Response:
    console.require("channels.write")
    show = await service.get_show(session, tenant_id=console.tenant.id, show_id=show_id)
    form = await request.form()
    typed = {"title": text(form, "title"), "price": text(form, "price"), "sort_order": text(form, "sort_order")}

    async def step() -> Any:
        price = typed["price"].replace("¥", "").replace("￥", "").replace(",", "").strip()
        fen = None
        if price:
            try:
                fen = round(float(price) * 100)
            except ValueError:
                raise InvalidInput("直播价：请填写金额，如 199.00", code="bad_price") from None
        data = ProductIn.model_validate(
            {"title": typed["title"], "price_fen": fen, "sort_order": typed["sort_order"] or 0}
        )
        return await service.add_product(
            session,
            actor=console.principal,
            show_id=show_id,
            data=data,
            image=await _upload(form, "image"),
            data_dir=request.app.state.settings.data_dir,
        )

    outcome = await attempt(session, step, labels=LABELS)
    if isinstance(outcome, Refusal):
        return await _show_page(
            console, session, show, product=typed, product_error=outcome.message, status_code=outcome.status
        )
    return RedirectResponse(f"/console/live/{show_id}?saved=1#products", status_code=303)


@router.post("/live/{show_id}/products/{product_id}/delete")
async def remove_product(
    console: ConsoleContext, session: DbSession, show_id: ResourceId, product_id: ResourceId
) -> Response:
    console.require("channels.write")
    await service.remove_product(session, actor=console.principal, show_id=show_id, product_id=product_id)
    return RedirectResponse(f"/console/live/{show_id}#products", status_code=303)


def _image(request: Request, console: Console, name: str | None) -> Response:
    path = service.image_path(request.app.state.settings.data_dir, console.tenant.id, name)
    if name is None or path is None:
        raise service.ShowNotFound("图片已不存在")
    media_type = images.MEDIA_TYPES[name.rsplit(".", 1)[1]]
    return Response(path.read_bytes(), media_type=media_type, headers={"Cache-Control": "private, max-age=86400"})


@router.get("/live/{show_id}/cover")
async def cover(request: Request, console: ConsoleContext, session: DbSession, show_id: ResourceId) -> Response:
    console.require("members.read")
    show = await service.get_show(session, tenant_id=console.tenant.id, show_id=show_id)
    return _image(request, console, show.cover)


@router.get("/live/{show_id}/products/{product_id}/image")
async def product_image(
    request: Request, console: ConsoleContext, session: DbSession, show_id: ResourceId, product_id: ResourceId
) -> Response:
    console.require("members.read")
    product = await service.get_product(session, tenant_id=console.tenant.id, show_id=show_id, product_id=product_id)
    return _image(request, console, product.image)


# One show's report


@router.get("/live/{show_id}/report", response_class=HTMLResponse)
async def report_page(console: ConsoleContext, session: DbSession, show_id: ResourceId) -> HTMLResponse:
    console.require("orders.read")
    show = await service.get_show(session, tenant_id=console.tenant.id, show_id=show_id)
    found = await attribution.report(session, show=show)
    series = await service.reservation_series(session, show=show, timezone=console.tenant.timezone)
    s = found.split
    return console.render(
        "console/live_report.html",
        "live",
        show=show,
        report=found,
        split=s,
        status=service.status_of(show),
        statuses=STATUS_LABELS,
        platforms=PLATFORM_LABELS,
        yuan=format_yuan,
        bars={
            "labels": ["预约会员", "其他会员", "非会员"],
            "orders": [s.reserved.orders, s.members.orders, s.others.orders],
            "gmv": [s.reserved.gmv_fen / 100, s.members.gmv_fen / 100, s.others.gmv_fen / 100],
        },
        line={"days": series.days, "counts": series.counts},
    )


@router.get("/live/{show_id}/report/export")
async def report_export(console: ConsoleContext, session: DbSession, show_id: ResourceId) -> Response:
    console.require("orders.read")
    show = await service.get_show(session, tenant_id=console.tenant.id, show_id=show_id)
    found = await attribution.report(session, show=show)
    start = to_local(show.starts_at, console.tenant.timezone).strftime("%Y%m%d")
    return await _export([_row(found, console.tenant.timezone)], f"直播归因-{start}")
