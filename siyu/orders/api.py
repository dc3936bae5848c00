from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import StreamingResponse

from siyu.kit.pagination import PageRequest
from siyu.kit.web import DbSession, Principal, ResourceId, require
from siyu.orders import exporting, service
from siyu.orders.models import OrderImport, OrderStatus
from siyu.orders.schemas import (
    ChangeOut,
    ImportOut,
    ImportPage,
    MappingIn,
    MappingOut,
    OrderDetailOut,
    OrderOut,
    OrderPage,
    RejectedRow,
    SubOrderOut,
)
from siyu.orders.uploads import start_import
from siyu.tenants import service as tenants

router = APIRouter(tags=["订单"])

PlatformParam = Annotated[str, PathParam(pattern=r"^(taobao|douyin|kuaishou|channels|jd|pdd)$")]
OrderIdParam = Annotated[str, PathParam(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z-]+$")]


def _import_out(row: OrderImport) -> ImportOut:
    out = ImportOut.model_validate(row)
    if row.error and row.error.startswith("与导入 "):
        out.duplicate_of = int(row.error.split()[1])
    return out


@router.post(
    "/order-imports",
    response_model=ImportOut,
    status_code=202,
    summary="上传平台导出的订单文件（CSV/XLSX），后台导入",
)
async def upload_orders(
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require("orders.import")],
    file: Annotated[UploadFile, File(description="淘宝/天猫、抖店、快手、视频号、拼多多导出的订单文件")],
    platform: Annotated[str, Form(pattern=r"^(auto|taobao|douyin|kuaishou|channels|jd|pdd)$")] = "auto",
    force: Annotated[bool, Form(description="同一文件已导入过时仍重新导入")] = False,
) -> ImportOut:
    return _import_out(await start_import(session, request, principal, file, platform, force))


@router.get("/order-imports", response_model=ImportPage, summary="导入记录")
async def list_imports(
    session: DbSession,
    principal: Annotated[Principal, require("orders.read")],
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> ImportPage:
    result = await service.list_imports(session, tenant_id=principal.tenant_id, page=PageRequest(page, size))
    return ImportPage(items=[_import_out(r) for r in result.items], total=result.total, page=page, pages=result.pages)


@router.get("/order-imports/{import_id}", response_model=ImportOut, summary="一次导入的进度与结果")
async def get_import(
    import_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("orders.read")]
) -> ImportOut:
    return _import_out(await service.get_import(session, tenant_id=principal.tenant_id, import_id=import_id))


@router.get("/order-imports/{import_id}/rejections", response_model=list[RejectedRow], summary="被拒绝的行")
async def import_rejections(
    import_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("orders.read")]
) -> list[RejectedRow]:
    rows = await service.rejections(session, tenant_id=principal.tenant_id, import_id=import_id)
    return [RejectedRow(**r) for r in rows]


@router.get("/orders", response_model=OrderPage, summary="订单列表与搜索（订单号、买家、手机尾号）")
async def list_orders(
    session: DbSession,
    principal: Annotated[Principal, require("orders.read")],
    q: Annotated[str | None, Query(max_length=100)] = None,
    platform: Annotated[str | None, Query(pattern=r"^(taobao|douyin|kuaishou|channels|jd|pdd)$")] = None,
    status: OrderStatus | None = None,
    paid_from: datetime | None = None,
    paid_to: datetime | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> OrderPage:
    result = await service.search_orders(
        session,
        tenant_id=principal.tenant_id,
        page=PageRequest(page, size),
        query=q,
        platform=platform,
        status=status,
        paid_from=paid_from,
        paid_to=paid_to,
    )
    return OrderPage(
        items=[OrderOut.model_validate(o) for o in result.items],
        total=result.total,
        page=page,
        pages=result.pages,
    )


@router.get("/orders/{platform}/{order_id}", response_model=OrderDetailOut, summary="订单详情与状态变化历史")
async def get_order(
    platform: PlatformParam,
    order_id: OrderIdParam,
    session: DbSession,
    principal: Annotated[Principal, require("orders.read")],
) -> OrderDetailOut:
    detail = await service.order_detail(session, tenant_id=principal.tenant_id, platform=platform, order_id=order_id)
    return OrderDetailOut(
        **OrderOut.model_validate(detail.order).model_dump(),
        first_import_id=detail.order.first_import_id,
        last_import_id=detail.order.last_import_id,
        items=[SubOrderOut.model_validate(i) for i in detail.items],
        changes=[ChangeOut.model_validate(c) for c in detail.changes],
    )


@router.get("/order-mappings", response_model=list[MappingOut], summary="已保存的列映射")
async def list_mappings(
    session: DbSession, principal: Annotated[Principal, require("orders.read")]
) -> list[MappingOut]:
    return [MappingOut.model_validate(m) for m in await service.list_mappings(session, tenant_id=principal.tenant_id)]


@router.post(
    "/order-mappings",
    response_model=MappingOut,
    status_code=201,
    summary="为一种表头保存列映射，以后同样表头的文件自动使用",
)
async def save_mapping(
    body: MappingIn, session: DbSession, principal: Annotated[Principal, require("orders.import")]
) -> MappingOut:
    mapping = await service.save_mapping(
        session,
        actor=principal,
        headers=body.headers,
        name=body.name,
        platform=body.platform,
        columns=body.columns,
    )
    return MappingOut.model_validate(mapping)


@router.get(
    "/orders/export.csv",
    summary="导出全部订单（CSV：英文列名、金额为分、状态代码，给程序用）",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}, "description": "UTF-8（带 BOM）的 CSV，列见 EXPORT_COLUMNS"}},
)
async def export_orders(request: Request, principal: Annotated[Principal, require("orders.read")]) -> StreamingResponse:
    """The machine-readable order table, the same as `siyu orders export`; ops download theirs from the console."""
    sessionmaker = request.app.state.sessionmaker
    tenant_id = principal.tenant_id

    async def rows() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(exporting.EXPORT_COLUMNS)
        yield "\ufeff" + buffer.getvalue()
        async with sessionmaker() as session:
            timezone = (await tenants.get_tenant(session, tenant_id)).timezone
            async for chunk in service.stream_orders(session, tenant_id=tenant_id):
                buffer.seek(0)
                buffer.truncate()
                for order in chunk:
                    writer.writerow(exporting.export_row(order, timezone))
                yield buffer.getvalue()

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="orders.csv"'},
    )
