"""积分商城 in the console: the catalogue (with images and code pools), the fulfilment queue (ship one by one or
by file, pick list, cancel), and redemption statistics."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from siyu.console.deps import Console, ConsoleContext, text
from siyu.console.forms import BAD_TIME, Refusal, attempt
from siyu.console.listing import Listing, paged
from siyu.kit.errors import AppError
from siyu.kit.time import to_local
from siyu.kit.web import DbSession, ResourceId
from siyu.loyalty import service as loyalty
from siyu.mall import fulfil, images, service
from siyu.mall.models import KIND_LABELS, STATUS_LABELS, Reward
from siyu.mall.schemas import ImportReport, RewardIn, ShipIn
from siyu.members import service as members

router = APIRouter()
FIELDS = ("kind", "title", "description", "category", "sort_order", "points_price", "stock")
LIMITS = ("limit_per_member", "limit_per_day")
WINDOWS = ("visible_from", "visible_until", "redeem_from", "redeem_until")
MAX_FILE = 20 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _local_input(value: datetime | None, timezone: str) -> str:
    return to_local(value, timezone).strftime("%Y-%m-%dT%H:%M") if value else ""


def _values(reward: Reward | None, timezone: str) -> dict[str, Any]:
    if reward is None:
        return {"kind": "physical", "sort_order": "0", "tier_ids": [], "enabled": True}
    values: dict[str, Any] = {f: "" if getattr(reward, f) is None else str(getattr(reward, f)) for f in FIELDS + LIMITS}
    values.update({w: _local_input(getattr(reward, w), timezone) for w in WINDOWS})
    values.update(tier_ids=[int(t) for t in reward.tier_ids or []], enabled=reward.enabled)
    return values


def _form(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {k: text(form, k) for k in FIELDS + LIMITS + WINDOWS}
    values["tier_ids"] = [int(v) for v in form.getlist("tier_ids") if isinstance(v, str) and v.isdigit()]
    values["enabled"] = bool(form.get("enabled"))
    return values


def _reward_in(values: dict[str, Any], timezone: str) -> RewardIn:
    data: dict[str, Any] = {k: values[k] for k in ("kind", "title", "description", "category", "points_price")}
    data["sort_order"] = values["sort_order"] or 0
    for key in ("stock", *LIMITS):
        data[key] = values[key] or None
    for key in WINDOWS:
        raw = values[key]
        data[key] = datetime.fromisoformat(raw).replace(tzinfo=ZoneInfo(timezone)) if raw else None
    data.update(tier_ids=values["tier_ids"], enabled=values["enabled"])
    return RewardIn.model_validate(data)


REWARD_LABELS = {"title": "名称", "points_price": "所需积分", "stock": "库存", "kind": "类型", "sort_order": "排序"}


async def _upload(form: FormData, name: str, limit: int) -> tuple[bytes, str] | None:
    upload = form.get(name)
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise (images.ImageTooLarge() if limit == images.MAX_BYTES else AppError("文件太大", code="file_too_large"))
    return data, upload.filename


REWARD_SORTS: dict[str, Any] = {
    "sort_order": lambda r: r.sort_order,
    "title": lambda r: r.title,
    "points_price": lambda r: r.points_price,
    "stock": lambda r: r.stock,
    "redeem_from": lambda r: r.redeem_from,
}


@router.get("/mall", response_class=HTMLResponse)
async def catalogue(
    console: ConsoleContext,
    session: DbSession,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    sort: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    console.require("mall.read")
    tenant_id = console.tenant.id
    listing = Listing.of("/console/mall", sort=sort, allowed=REWARD_SORTS, default="-sort_order", page=page)
    result = paged(await service.list_rewards(session, tenant_id=tenant_id), listing, REWARD_SORTS)
    return console.render(
        "console/mall.html",
        "mall",
        rewards=result.items,
        result=result,
        listing=listing,
        stats=await service.stats(session, tenant_id=tenant_id),
        kinds=KIND_LABELS,
        status_labels=STATUS_LABELS,
    )


async def _reward_page(
    console: Console,
    session: DbSession,
    reward: Reward | None,
    *,
    values: dict[str, Any] | None = None,
    error: str | None = None,
    report: ImportReport | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    return console.render(
        "console/reward.html",
        "mall",
        status_code=status_code,
        reward=reward,
        values=values or _values(reward, console.tenant.timezone),
        tiers=await loyalty.list_tiers(session, tenant_id=tenant_id),
        kinds=KIND_LABELS,
        unclaimed=None
        if reward is None or reward.kind != "virtual_code"
        else await service.unclaimed_codes(session, tenant_id=tenant_id, reward_id=reward.id),
        error=error,
        report=report,
    )


@router.get("/mall/rewards/new", response_class=HTMLResponse)
async def new_reward(console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("mall.manage")
    return await _reward_page(console, session, None)


@router.get("/mall/rewards/{reward_id}", response_class=HTMLResponse)
async def edit_reward(console: ConsoleContext, session: DbSession, reward_id: ResourceId) -> HTMLResponse:
    console.require("mall.read")
    reward = await service.get_reward(session, tenant_id=console.tenant.id, reward_id=reward_id)
    return await _reward_page(console, session, reward)


async def _save(request: Request, console: Console, session: DbSession, reward_id: int | None) -> Response:
    console.require("mall.manage")
    reward = (
        None
        if reward_id is None
        else await service.get_reward(session, tenant_id=console.tenant.id, reward_id=reward_id)
    )
    form = await request.form()
    values = _form(form)

    async def save() -> Reward:
        data = _reward_in(values, console.tenant.timezone)
        image = await _upload(form, "image", images.MAX_BYTES)
        if image is not None:
            images.store(request.app.state.settings.data_dir, console.tenant.id, image[0])  # refuse before saving
        if reward is None:
            saved = await service.create_reward(session, actor=console.principal, data=data)
        else:
            saved = await service.update_reward(session, actor=console.principal, reward_id=reward.id, data=data)
        if image is not None:
            await service.set_image(
                session,
                actor=console.principal,
                reward_id=saved.id,
                data=image[0],
                data_dir=request.app.state.settings.data_dir,
            )
        return saved

    outcome = await attempt(session, save, labels=REWARD_LABELS, invalid=BAD_TIME)
    if isinstance(outcome, Refusal):
        return await _reward_page(
            console, session, reward, values=values, error=outcome.message, status_code=outcome.status
        )
    return RedirectResponse(f"/console/mall/rewards/{outcome.id}?saved=1", status_code=303)


@router.post("/mall/rewards")
async def create_reward(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    return await _save(request, console, session, None)


@router.post("/mall/rewards/{reward_id}")
async def update_reward(
    request: Request, console: ConsoleContext, session: DbSession, reward_id: ResourceId
) -> Response:
    return await _save(request, console, session, reward_id)


@router.post("/mall/rewards/{reward_id}/codes", response_class=HTMLResponse)
async def import_codes(
    request: Request, console: ConsoleContext, session: DbSession, reward_id: ResourceId
) -> Response:
    console.require("mall.manage")
    reward = await service.get_reward(session, tenant_id=console.tenant.id, reward_id=reward_id)
    form = await request.form()

    async def load() -> ImportReport | None:
        upload = await _upload(form, "file", MAX_FILE)
        if upload is None:
            return None
        return await service.import_codes(
            session, actor=console.principal, reward_id=reward_id, data=upload[0], filename=upload[1]
        )

    report = await attempt(session, load)
    if report is None:
        return await _reward_page(console, session, reward, error="请选择兑换码文件", status_code=422)
    if isinstance(report, Refusal):
        return await _reward_page(console, session, reward, error=report.message, status_code=report.status)
    await session.refresh(reward)
    return await _reward_page(console, session, reward, report=report)


# Fulfilment


async def _queue(
    console: Console,
    session: DbSession,
    *,
    status: str = "pending_shipment",
    page: int = 1,
    sort: str | None = None,
    report: ImportReport | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    listing = Listing.of(
        "/console/mall/redemptions",
        sort=sort,
        allowed=service.REDEMPTION_SORTS,
        default="created_at",
        page=page,
        status=status or "all",
    )
    result = await service.search(
        session, tenant_id=tenant_id, status=status or None, page=listing.request, sort=listing.sort
    )
    return console.render(
        "console/redemptions.html",
        "fulfilment",
        status_code=status_code,
        result=result,
        listing=listing,
        status=status,
        status_labels=STATUS_LABELS,
        counts=(await service.stats(session, tenant_id=tenant_id)).by_status,
        nicknames=await members.nicknames(session, tenant_id=tenant_id, member_ids=[r.member_id for r in result.items]),
        report=report,
        error=error,
    )


@router.get("/mall/redemptions", response_class=HTMLResponse)
async def redemptions(
    console: ConsoleContext,
    session: DbSession,
    status: Annotated[str, Query(max_length=20)] = "pending_shipment",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    sort: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    console.require("mall.read")
    if status and status not in STATUS_LABELS:
        status = ""
    return await _queue(console, session, status=status, page=page, sort=sort)


@router.get("/mall/pick-list.xlsx")
async def pick_list(console: ConsoleContext, session: DbSession) -> Response:
    console.require("mall.read")
    data = await fulfil.pick_list(session, tenant_id=console.tenant.id)
    return Response(data, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="pick-list.xlsx"'})


@router.post("/mall/tracking", response_class=HTMLResponse)
async def import_tracking(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("mall.fulfil")
    form = await request.form()

    async def load() -> ImportReport | None:
        upload = await _upload(form, "file", MAX_FILE)
        if upload is None:
            return None
        return await fulfil.import_tracking(session, actor=console.principal, data=upload[0], filename=upload[1])

    report = await attempt(session, load)
    if report is None:
        return await _queue(console, session, error="请选择运单文件", status_code=422)
    if isinstance(report, Refusal):
        return await _queue(console, session, error=report.message, status_code=report.status)
    return await _queue(console, session, report=report)


def _back(status: str) -> RedirectResponse:
    return RedirectResponse(f"/console/mall/redemptions?status={status}", status_code=303)


@router.post("/mall/redemptions/{redemption_id}/ship")
async def ship(request: Request, console: ConsoleContext, session: DbSession, redemption_id: ResourceId) -> Response:
    console.require("mall.fulfil")
    await service.get_redemption(session, tenant_id=console.tenant.id, redemption_id=redemption_id)
    form = await request.form()
    outcome = await attempt(
        session,
        lambda: fulfil.ship(
            session,
            actor=console.principal,
            redemption_id=redemption_id,
            data=ShipIn(carrier=text(form, "carrier"), tracking_no=text(form, "tracking_no")),
        ),
        check="请填写快递公司和运单号（4-40 位字母、数字或 -）",
        not_found_page=True,
    )
    if isinstance(outcome, Refusal):
        return await _queue(console, session, error=outcome.message, status_code=outcome.status)
    return _back(text(form, "back") or "pending_shipment")


@router.post("/mall/redemptions/{redemption_id}/deliver")
async def deliver(request: Request, console: ConsoleContext, session: DbSession, redemption_id: ResourceId) -> Response:
    console.require("mall.fulfil")
    await fulfil.deliver(session, actor=console.principal, redemption_id=redemption_id)
    return _back(text(await request.form(), "back") or "shipped")


@router.post("/mall/redemptions/{redemption_id}/cancel")
async def cancel(request: Request, console: ConsoleContext, session: DbSession, redemption_id: ResourceId) -> Response:
    console.require("mall.fulfil")
    form = await request.form()
    reason = text(form, "reason") or "运营取消"
    await fulfil.cancel(session, actor=console.principal, redemption_id=redemption_id, reason=reason)
    return _back(text(form, "back") or "pending_shipment")
