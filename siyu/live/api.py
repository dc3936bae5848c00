"""The API of the live calendar (直播预告与预约).

- Fans (their own bearer tokens, paths under /fan/{slug}/live): upcoming shows, one show with her reservation,
  reserve, cancel her reservation, her reservations.
- Staff (sessions or API keys): shows (create, edit, cancel, cover), featured products, reservation counts over
  time, the attribution report per show and per month, the reminder setting.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile

from siyu.fans.api import CurrentFan
from siyu.kit import images
from siyu.kit.time import utcnow
from siyu.kit.web import DbSession, Principal, ResourceId, require
from siyu.live import attribution, service
from siyu.live.models import STATUS_LABELS, Product, Show, ShowStatus
from siyu.live.schemas import (
    BucketOut,
    CountPoint,
    FanProductOut,
    FanShowOut,
    LiveSettings,
    MonthReportOut,
    ProductIn,
    ProductOut,
    ReportOut,
    ReservationOut,
    ShowIn,
    ShowOut,
)
from siyu.tenants import service as tenants
from siyu.tenants.models import PLATFORM_LABELS

fan_router = APIRouter(tags=["粉丝：直播预约"])
router = APIRouter(tags=["直播预告"])
MONTH = re.compile(r"^20\d{2}-(0[1-9]|1[0-2])$")


def product_out(row: Product) -> ProductOut:
    out = ProductOut.model_validate(row)
    out.has_image = bool(row.image)
    return out


def show_out(row: Show, products: list[Product] | None = None, reservations: int = 0) -> ShowOut:
    out = ShowOut.model_validate(row)
    status = service.status_of(row)
    out.status, out.status_label = status.value, STATUS_LABELS[status]
    out.has_cover = bool(row.cover)
    out.reservations = reservations
    out.products = [product_out(p) for p in products or []]
    return out


def fan_show(slug: str, row: Show, products: list[Product], reserved: bool) -> FanShowOut:
    status = service.status_of(row)
    return FanShowOut(
        id=row.id,
        title=row.title,
        platform=row.platform,
        platform_label=PLATFORM_LABELS.get(row.platform, ""),
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        status=status.value,
        status_label=STATUS_LABELS[status],
        benefits=list(row.benefits or []),
        cover_url=f"/h5/{slug}/live/{row.id}/cover" if row.cover else None,
        notice=row.notice,
        reserved=reserved,
        can_reserve=status in (ShowStatus.planned, ShowStatus.live),
        products=[
            FanProductOut(
                title=p.title,
                price_fen=p.price_fen,
                image_url=f"/h5/{slug}/live/{row.id}/products/{p.id}/image" if p.image else None,
            )
            for p in products
        ],
    )


# Fans


@fan_router.get("/fan/{slug}/live", response_model=list[FanShowOut], summary="即将开播和正在直播的场次")
async def fan_upcoming(fan: CurrentFan, session: DbSession) -> list[FanShowOut]:
    tenant_id = fan.tenant.id
    shows = await service.upcoming(session, tenant_id=tenant_id)
    ids = [s.id for s in shows]
    products = await service.products_of(session, tenant_id=tenant_id, show_ids=ids)
    mine = await service.reserved_shows(session, tenant_id=tenant_id, member_id=fan.member.id, show_ids=ids)
    return [fan_show(fan.tenant.slug, s, products[s.id], s.id in mine) for s in shows]


@fan_router.get("/fan/{slug}/live/mine", response_model=list[FanShowOut], summary="我预约的直播")
async def fan_mine(fan: CurrentFan, session: DbSession) -> list[FanShowOut]:
    tenant_id = fan.tenant.id
    shows = await service.my_reservations(session, tenant_id=tenant_id, member_id=fan.member.id)
    products = await service.products_of(session, tenant_id=tenant_id, show_ids=[s.id for s in shows])
    return [fan_show(fan.tenant.slug, s, products[s.id], True) for s in shows]


@fan_router.get("/fan/{slug}/live/{show_id}", response_model=FanShowOut, summary="一场直播（含我是否已预约）")
async def fan_get_show(show_id: ResourceId, fan: CurrentFan, session: DbSession) -> FanShowOut:
    tenant_id = fan.tenant.id
    show = await service.get_show(session, tenant_id=tenant_id, show_id=show_id)
    products = await service.products_of(session, tenant_id=tenant_id, show_ids=[show.id])
    mine = await service.reserved_shows(session, tenant_id=tenant_id, member_id=fan.member.id, show_ids=[show.id])
    return fan_show(fan.tenant.slug, show, products[show.id], show.id in mine)


@fan_router.post(
    "/fan/{slug}/live/{show_id}/reservation", response_model=ReservationOut, summary="预约直播（重复预约不会重复记）"
)
async def fan_reserve(show_id: ResourceId, fan: CurrentFan, session: DbSession) -> ReservationOut:
    await service.reserve(session, tenant_id=fan.tenant.id, member_id=fan.member.id, show_id=show_id)
    return ReservationOut(show_id=show_id, reserved=True, message="预约成功")


@fan_router.delete(
    "/fan/{slug}/live/{show_id}/reservation", response_model=ReservationOut, summary="取消预约（没有预约时也成功）"
)
async def fan_cancel(show_id: ResourceId, fan: CurrentFan, session: DbSession) -> ReservationOut:
    await service.cancel_reservation(session, tenant_id=fan.tenant.id, member_id=fan.member.id, show_id=show_id)
    return ReservationOut(show_id=show_id, reserved=False, message="已取消预约")


# Staff


@router.get("/live/shows", response_model=list[ShowOut], summary="直播场次（按开播时间；默认从今天起 60 天）")
async def list_shows(
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
    month: Annotated[str | None, Query(pattern=MONTH.pattern, description="只看这个月，如 2026-12")] = None,
) -> list[ShowOut]:
    tenant_id = principal.tenant_id
    if month:
        tenant = await tenants.get_tenant(session, tenant_id)
        start, end = attribution.month_bounds(month, tenant.timezone)
    else:
        start = utcnow() - timedelta(days=1)
        end = start + timedelta(days=61)
    shows = await service.calendar(session, tenant_id=tenant_id, start=start, end=end)
    ids = [s.id for s in shows]
    products = await service.products_of(session, tenant_id=tenant_id, show_ids=ids)
    counts = await service.reservation_counts(session, tenant_id=tenant_id, show_ids=ids)
    return [show_out(s, products[s.id], counts.get(s.id, 0)) for s in shows]


@router.post("/live/shows", response_model=ShowOut, status_code=201, summary="新建直播场次（记入操作日志）")
async def create_show(
    body: ShowIn, session: DbSession, principal: Annotated[Principal, require("channels.write")]
) -> ShowOut:
    return show_out(await service.create_show(session, actor=principal, data=body))


@router.get("/live/settings", response_model=LiveSettings, summary="直播提醒设置")
async def get_settings(session: DbSession, principal: Annotated[Principal, require("tenant.read")]) -> LiveSettings:
    return service.settings_of(await tenants.config_of(session, principal.tenant_id))


@router.put("/live/settings", response_model=LiveSettings, summary="修改直播提醒设置（记入操作日志）")
async def put_settings(
    body: LiveSettings, session: DbSession, principal: Annotated[Principal, require("channels.write")]
) -> LiveSettings:
    return await service.save_settings(session, actor=principal, data=body)


@router.get("/live/report", response_model=MonthReportOut, summary="一个月的直播归因汇总（按店铺时区）")
async def month_report(
    session: DbSession,
    principal: Annotated[Principal, require("orders.read")],
    month: Annotated[str, Query(pattern=MONTH.pattern, description="月份，如 2026-12")],
) -> MonthReportOut:
    tenant = await tenants.get_tenant(session, principal.tenant_id)
    found = await attribution.month_report(
        session, tenant_id=principal.tenant_id, month=month, timezone=tenant.timezone
    )
    return MonthReportOut(
        month=month,
        shows=[report_out(r) for r in found.shows],
        orders=found.orders,
        gmv_fen=found.gmv_fen,
        private_gmv_fen=found.private_gmv_fen,
        private_share=round(found.private_share, 4),
    )


def report_out(found: attribution.ShowReport) -> ReportOut:
    s = found.split
    return ReportOut(
        show_id=found.show.id,
        title=found.show.title,
        starts_at=found.show.starts_at,
        ends_at=found.show.ends_at,
        reservations=found.reservations,
        reserved_buyers=BucketOut(orders=s.reserved.orders, gmv_fen=s.reserved.gmv_fen),
        other_members=BucketOut(orders=s.members.orders, gmv_fen=s.members.gmv_fen),
        non_members=BucketOut(orders=s.others.orders, gmv_fen=s.others.gmv_fen),
        orders=s.orders,
        gmv_fen=s.gmv_fen,
        claimed_orders=s.claimed,
        claim_rate=round(s.claim_rate, 4),
        new_members=found.new_members,
        private_share=round(s.private_share, 4),
    )


@router.get("/live/shows/{show_id}", response_model=ShowOut, summary="一场直播（含商品和预约人数）")
async def get_show(
    show_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.read")]
) -> ShowOut:
    tenant_id = principal.tenant_id
    show = await service.get_show(session, tenant_id=tenant_id, show_id=show_id)
    products = await service.products_of(session, tenant_id=tenant_id, show_ids=[show.id])
    counts = await service.reservation_counts(session, tenant_id=tenant_id, show_ids=[show.id])
    return show_out(show, products[show.id], counts.get(show.id, 0))


@router.put("/live/shows/{show_id}", response_model=ShowOut, summary="修改直播（改时间会通知已预约的粉丝）")
async def update_show(
    show_id: ResourceId, body: ShowIn, session: DbSession, principal: Annotated[Principal, require("channels.write")]
) -> ShowOut:
    return show_out(await service.update_show(session, actor=principal, show_id=show_id, data=body))


@router.post("/live/shows/{show_id}/cancel", response_model=ShowOut, summary="取消直播（通知已预约的粉丝）")
async def cancel_show(
    show_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("channels.write")]
) -> ShowOut:
    return show_out(await service.cancel_show(session, actor=principal, show_id=show_id))


async def _read_image(file: UploadFile) -> bytes:
    data = await file.read(images.MAX_BYTES + 1)
    if len(data) > images.MAX_BYTES:
        raise images.ImageTooLarge()
    return data


@router.put("/live/shows/{show_id}/cover", response_model=ShowOut, summary="上传直播封面（JPG/PNG/GIF/WebP，≤ 2 MB）")
async def put_cover(
    show_id: ResourceId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require("channels.write")],
    file: Annotated[UploadFile, File(description="封面图片")],
) -> ShowOut:
    data = await _read_image(file)
    row = await service.set_cover(
        session, actor=principal, show_id=show_id, data=data, data_dir=request.app.state.settings.data_dir
    )
    return show_out(row)


@router.post(
    "/live/shows/{show_id}/products", response_model=ProductOut, status_code=201, summary="添加直播商品（须有价格）"
)
async def add_product(
    show_id: ResourceId, body: ProductIn, session: DbSession, principal: Annotated[Principal, require("channels.write")]
) -> ProductOut:
    return product_out(await service.add_product(session, actor=principal, show_id=show_id, data=body))


@router.delete("/live/shows/{show_id}/products/{product_id}", status_code=204, summary="移除直播商品")
async def remove_product(
    show_id: ResourceId,
    product_id: ResourceId,
    session: DbSession,
    principal: Annotated[Principal, require("channels.write")],
) -> Response:
    await service.remove_product(session, actor=principal, show_id=show_id, product_id=product_id)
    return Response(status_code=204)


@router.get(
    "/live/shows/{show_id}/reservations", response_model=list[CountPoint], summary="预约人数变化（按店铺时区每天）"
)
async def reservation_counts(
    show_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.read")]
) -> list[CountPoint]:
    show = await service.get_show(session, tenant_id=principal.tenant_id, show_id=show_id)
    tenant = await tenants.get_tenant(session, principal.tenant_id)
    series = await service.reservation_series(session, show=show, timezone=tenant.timezone)
    return [CountPoint(day=d, reservations=n) for d, n in zip(series.days, series.counts, strict=True)]


@router.get("/live/shows/{show_id}/report", response_model=ReportOut, summary="一场直播的订单归因")
async def show_report(
    show_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("orders.read")]
) -> ReportOut:
    show = await service.get_show(session, tenant_id=principal.tenant_id, show_id=show_id)
    return report_out(await attribution.report(session, show=show))
