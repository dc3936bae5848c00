"""Orders: import platform exports (drag and drop, progress, summary, rejected rows, column mapping),
browse and search orders, see one order with its lines and history."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.datastructures import UploadFile

from siyu.console.deps import ConsoleContext, text
from siyu.kit.errors import AppError
from siyu.kit.pagination import PageRequest
from siyu.kit.time import format_local, utcnow
from siyu.kit.web import DbSession, ResourceId
from siyu.orders import layouts, service
from siyu.orders.exporting import EXPORT_COLUMNS, REJECTION_COLUMNS, export_row, rejection_row
from siyu.orders.models import STATUS_LABELS, OrderImport
from siyu.orders.uploads import start_import
from siyu.tenants.models import PLATFORM_LABELS

router = APIRouter()

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
async def import_page(console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("orders.read")
    recent = await service.list_imports(session, tenant_id=console.tenant.id, page=PageRequest(size=10))
    mappings = await service.list_mappings(session, tenant_id=console.tenant.id)
    return console.render("console/orders_import.html", "orders", recent=recent, mappings=mappings, **_import_context())


@router.post("/orders/import", response_class=HTMLResponse)
async def upload(request: Request, console: ConsoleContext, session: DbSession) -> HTMLResponse:
    """htmx target: the upload answers with the import's live card, or the refusal (with a mapping form)."""
    console.require("orders.import")
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
    try:
        async with session.begin_nested():
            row = await start_import(session, request, console.principal, file, platform, force=bool(form.get("force")))
    except AppError as error:
        headers = list(error.detail.get("headers", [])) if error.code == "unknown_layout" else []
        return console.render(
            "console/_import_refused.html",
            "orders",
            status_code=error.status,
            message=error.message,
            code=error.code,
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
    try:
        async with session.begin_nested():
            await service.save_mapping(
                session,
                actor=console.principal,
                headers=headers,
                name=text(form, "name") or "自定义格式",
                platform=text(form, "platform"),
                columns=columns,
            )
    except AppError as error:
        return console.render(
            "console/_import_refused.html",
            "orders",
            status_code=error.status,
            message=error.message,
            code=error.code,
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


@router.get("/orders", response_class=HTMLResponse)
async def orders_page(
    console: ConsoleContext,
    session: DbSession,
    q: Annotated[str | None, Query(max_length=100)] = None,
    platform: Annotated[str | None, Query(max_length=16)] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    paid_from: Annotated[str | None, Query(max_length=10)] = None,
    paid_to: Annotated[str | None, Query(max_length=10)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    console.require("orders.read")
    timezone = console.tenant.timezone
    result = await service.search_orders(
        session,
        tenant_id=console.tenant.id,
        page=PageRequest(page=page, size=50),
        query=q,
        platform=platform if platform in PLATFORM_LABELS else None,
        status=status if status in STATUS_LABELS else None,
        paid_from=_day(paid_from, timezone),
        paid_to=_day(paid_to, timezone, end=True),
    )
    filters = {
        "q": q or "",
        "platform": platform or "",
        "status": status or "",
        "paid_from": paid_from or "",
        "paid_to": paid_to or "",
    }
    return console.render(
        "console/orders.html",
        "orders",
        result=result,
        filters=filters,
        platforms=PLATFORM_LABELS,
        statuses=STATUS_LABELS,
    )


@router.get("/orders/export.csv")
async def export_orders(request: Request, console: ConsoleContext) -> StreamingResponse:
    """All orders as CSV (UTF-8 with BOM for Excel), streamed chunk by chunk from a session of its own."""
    console.require("orders.read")
    timezone = console.tenant.timezone
    tenant_id = console.tenant.id
    sessionmaker = request.app.state.sessionmaker

    async def rows() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        yield "\ufeff" + buffer.getvalue()
        async with sessionmaker() as session:
            async for chunk in service.stream_orders(session, tenant_id=tenant_id):
                buffer.seek(0)
                buffer.truncate()
                for order in chunk:
                    writer.writerow(export_row(order, timezone))
                yield buffer.getvalue()

    stamp = format_local(utcnow(), timezone, "%Y%m%d%H%M")
    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="orders-{stamp}.csv"'},
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
