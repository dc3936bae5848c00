"""Orders: import platform exports (drag and drop, progress, summary, rejected rows, column mapping),
browse and search orders, see one order with its lines and history."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from siyu.claims import lookup
from siyu.console.deps import ConsoleContext, text
from siyu.console.exports import every_page, table_response
from siyu.console.forms import Refusal, attempt
from siyu.console.listing import Listing
from siyu.kit.pagination import Page, PageRequest
from siyu.kit.time import format_local, utcnow
from siyu.kit.web import DbSession, ResourceId
from siyu.members import service as members
from siyu.orders import layouts, service
from siyu.orders.exporting import (
    OPS_COLUMNS,
    OPS_TEXT_COLUMNS,
    OPS_WIDTHS,
    REJECTION_COLUMNS,
    Earned,
    ops_row,
    rejection_row,
)
from siyu.orders.models import STATUS_LABELS, Order, OrderImport
from siyu.orders.uploads import declared_too_large, start_import, too_large
from siyu.tenants.models import PLATFORM_LABELS

router = APIRouter()

EXPORT_CHUNK = 200  # orders a query of the export reads
IMPORT_STATUS = {"queued": "排队中", "running": "导入中", "done": "已完成", "refused": "已拒绝", "failed": "失败"}


def _rate(row: OrderImport) -> int:
    end = row.finished_at or utcnow()
    seconds = max((end - row.created_at).total_seconds(), 0.001)
    return int(row.rows / seconds)


def _import_context() -> dict[str, Any]:
    return {
        "platforms": PLATFORM_LABELS,
        "import_status": IMPORT_STATUS,
        "rate": _rate,
        "fields": layouts.FIELD_LABELS,
        "required": layouts.REQUIRED,
    }


@router.get("/orders/import", response_class=HTMLResponse)
async def import_page(
    console: ConsoleContext, session: DbSession, page: Annotated[int, Query(ge=1, le=100_000)] = 1
) -> HTMLResponse:
    console.require("orders.read")
    listing = Listing.of(
        "/console/orders/import", sort=None, allowed=("created_at",), default="-created_at", page=page, size=20
    )
    recent = await service.list_imports(session, tenant_id=console.tenant.id, page=listing.request)
    mappings = await service.list_mappings(session, tenant_id=console.tenant.id)
    return console.render(
        "console/orders_import.html",
        "orders",
        recent=recent,
        listing=listing,
        mappings=mappings,
        **_import_context(),
    )


@router.post("/orders/import", response_class=HTMLResponse)
async def upload(request: Request, console: ConsoleContext, session: DbSession) -> HTMLResponse:
    """htmx target: the upload answers with the import's live card, or the refusal (with a mapping form)."""
    console.require("orders.import")
    limit = request.app.state.settings.max_upload_mb << 20
    if declared_too_large(request.scope["headers"], limit):  # before the body is read and spooled
        refusal = too_large(limit)
        return console.render(
            "console/_import_refused.html",
            "orders",
            status_code=refusal.status,
            message=refusal.message,
            code=refusal.code,
            headers=[],
            **_import_context(),
        )
    form = await request.form()
    file = form.get("file")
    platform = text(form, "platform") or "auto"
    if not isinstance(file, UploadFile) or not file.filename:
        return console.render(
            "console/_import_refused.html",
            "orders",
            status_code=422,
            message="请选择要导入的文件",
            code="no_file",
            headers=[],
            **_import_context(),
        )
    row = await attempt(
        session,
        lambda: start_import(session, request, console.principal, file, platform, force=bool(form.get("force"))),
    )
    if isinstance(row, Refusal):
        headers = list(row.detail.get("headers", [])) if row.code == "unknown_layout" else []
        return console.render(
            "console/_import_refused.html",
            "orders",
            status_code=row.status,
            message=row.message,
            code=row.code,
            headers=headers,
            filename=file.filename,
            **_import_context(),
        )
    return console.render("console/_import_card.html", "orders", row=row, **_import_context())


@router.get("/orders/imports/{import_id}", response_class=HTMLResponse)
async def import_card(import_id: ResourceId, console: ConsoleContext, session: DbSession) -> HTMLResponse:
    """The live card of one import (polled by htmx while it runs)."""
    console.require("orders.read")
    row = await service.get_import(session, tenant_id=console.tenant.id, import_id=import_id)
    rejections = await service.rejections(session, tenant_id=console.tenant.id, import_id=import_id)
    return console.render(
        "console/_import_card.html", "orders", row=row, rejections=rejections[:20], **_import_context()
    )


@router.get("/orders/imports/{import_id}/rejections.csv")
async def rejections_csv(import_id: ResourceId, console: ConsoleContext, session: DbSession) -> Response:
    console.require("orders.read")
    row = await service.get_import(session, tenant_id=console.tenant.id, import_id=import_id)
    rows = await service.rejections(session, tenant_id=console.tenant.id, import_id=import_id)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REJECTION_COLUMNS)
    for item in rows:
        writer.writerow(rejection_row(item))
    name = f"rejected-{row.id}.csv"
    return Response(
        ("\ufeff" + buffer.getvalue()).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/orders/mappings", response_class=HTMLResponse)
async def save_mapping(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("orders.import")
    form = await request.form()
    headers = [h for h in form.getlist("headers") if isinstance(h, str)]
    columns = {field: text(form, f"map_{field}") for field in layouts.FIELDS}
    outcome = await attempt(
        session,
        lambda: service.save_mapping(
            session,
            actor=console.principal,
            headers=headers,
            name=text(form, "name") or "自定义格式",
            platform=text(form, "platform"),
            columns=columns,
        ),
    )
    if isinstance(outcome, Refusal):
        return console.render(
            "console/_import_refused.html",
            "orders",
            status_code=outcome.status,
            message=outcome.message,
            code=outcome.code,
            headers=headers,
            **_import_context(),
        )
    return RedirectResponse("/console/orders/import?mapped=1", status_code=303)


def _day(value: str | None, timezone: str, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        return None
    start = datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone))
    return start + timedelta(days=1) if end else start


CLAIMED = {"yes": "已领取", "no": "未领取"}


@dataclass(frozen=True)
class OrderFilters:
    q: str = ""
    platform: str = ""
    status: str = ""
    paid_from: str = ""
    paid_to: str = ""
    claimed: str = ""

    def kwargs(self, timezone: str) -> dict[str, Any]:
        where = [lookup.orders_claimed(self.claimed == "yes")] if self.claimed in CLAIMED else []
        return {
            "query": self.q or None,
            "platform": self.platform or None,
            "status": self.status or None,
            "paid_from": _day(self.paid_from, timezone),
            "paid_to": _day(self.paid_to, timezone, end=True),
            "where": where,
        }


def _filters(
    q: str | None,
    platform: str | None,
    status: str | None,
    paid_from: str | None,
    paid_to: str | None,
    claimed: str | None,
) -> OrderFilters:
    return OrderFilters(
        q=(q or "").strip(),
        platform=platform if platform in PLATFORM_LABELS else "",
        status=status if status in STATUS_LABELS else "",
        paid_from=paid_from if paid_from and _day(paid_from, "UTC") else "",
        paid_to=paid_to if paid_to and _day(paid_to, "UTC") else "",
        claimed=claimed if claimed in CLAIMED else "",
    )


async def _earned(session: DbSession, tenant_id: int, orders: list[Order]) -> dict[tuple[str, str], Earned]:
    """Who claimed each of these orders and the points it earned (from the claims domain)."""
    claimed = await lookup.claims_of_orders(
        session, tenant_id=tenant_id, keys=[(o.platform, o.order_id) for o in orders]
    )
    names = await members.nicknames(session, tenant_id=tenant_id, member_ids=[c.member_id for c in claimed.values()])
    return {
        key: Earned(member=names.get(c.member_id) or f"会员 {c.member_id}", points=c.points or 0, member_id=c.member_id)
        for key, c in claimed.items()
    }


Q = Annotated[str | None, Query(max_length=100)]
Short = Annotated[str | None, Query(max_length=16)]
Day = Annotated[str | None, Query(max_length=10)]


@router.get("/orders", response_class=HTMLResponse)
async def orders_page(
    console: ConsoleContext,
    session: DbSession,
    q: Q = None,
    platform: Short = None,
    status: Short = None,
    paid_from: Day = None,
    paid_to: Day = None,
    claimed: Short = None,
    sort: Short = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    console.require("orders.read")
    filters = _filters(q, platform, status, paid_from, paid_to, claimed)
    listing = Listing.of(
        "/console/orders", sort=sort, allowed=service.ORDER_SORTS, default="-paid_at", page=page, **asdict(filters)
    )
    result = await service.search_orders(
        session,
        tenant_id=console.tenant.id,
        page=listing.request,
        sort=listing.sort,
        **filters.kwargs(console.tenant.timezone),
    )
    return console.render(
        "console/orders.html",
        "orders",
        result=result,
        listing=listing,
        filters=filters,
        earned=await _earned(session, console.tenant.id, result.items),
        claimed_labels=CLAIMED,
        platforms=PLATFORM_LABELS,
        statuses=STATUS_LABELS,
    )


@router.get("/orders/export.csv", name="orders_csv")
@router.get("/orders/export.xlsx", name="orders_xlsx")
async def export_orders(
    request: Request,
    console: ConsoleContext,
    q: Q = None,
    platform: Short = None,
    status: Short = None,
    paid_from: Day = None,
    paid_to: Day = None,
    claimed: Short = None,
) -> Response:
    """The orders of the list as ops read them (the filters of the list apply): Chinese headers, yuan, statuses
    in words, who claimed each order and its points. CSV is streamed from a session of its own."""
    console.require("orders.read")
    fmt = "xlsx" if request.url.path.endswith(".xlsx") else "csv"
    timezone = console.tenant.timezone
    tenant_id = console.tenant.id
    filters = _filters(q, platform, status, paid_from, paid_to, claimed)
    sessionmaker = request.app.state.sessionmaker

    async def read(session: AsyncSession, page: PageRequest) -> Page[Order]:
        return await service.search_orders(session, tenant_id=tenant_id, page=page, **filters.kwargs(timezone))

    async def chunks() -> AsyncIterator[list[list[object]]]:
        async for session, items in every_page(sessionmaker, read, size=EXPORT_CHUNK):
            earned = await _earned(session, tenant_id, items)
            yield [ops_row(o, timezone, PLATFORM_LABELS, earned.get((o.platform, o.order_id))) for o in items]

    stamp = format_local(utcnow(), timezone, "%Y%m%d%H%M")
    return await table_response(
        fmt=fmt,
        filename=f"订单-{stamp}",
        sheet="订单",
        headers=OPS_COLUMNS,
        chunks=chunks(),
        text_columns=OPS_TEXT_COLUMNS,
        widths=OPS_WIDTHS,
    )


@router.get("/orders/{platform}/{order_id}", response_class=HTMLResponse)
async def order_page(
    console: ConsoleContext,
    session: DbSession,
    platform: Annotated[str, Path(pattern=r"^(taobao|douyin|kuaishou|channels|jd|pdd)$")],
    order_id: Annotated[str, Path(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z-]+$")],
) -> HTMLResponse:
    console.require("orders.read")
    detail = await service.order_detail(session, tenant_id=console.tenant.id, platform=platform, order_id=order_id)
    return console.render(
        "console/order.html", "orders", detail=detail, platforms=PLATFORM_LABELS, statuses=STATUS_LABELS
    )
