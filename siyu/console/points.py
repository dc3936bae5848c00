"""Points rules: the tenant's policy (rate, rounding, hold, expiry), tiers, campaigns and a preview."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from siyu.console.deps import Console, ConsoleContext, text
from siyu.kit.errors import AppError
from siyu.kit.time import to_local
from siyu.kit.web import DbSession, ResourceId
from siyu.loyalty import service as loyalty
from siyu.loyalty.models import Campaign
from siyu.loyalty.schemas import (
    EXPIRY_LABELS,
    HOLD_LABELS,
    ROUNDING_LABELS,
    CampaignIn,
    PointsPolicy,
    PreviewIn,
    TierIn,
)
from siyu.tenants import service as tenants
from siyu.tenants.models import PLATFORM_LABELS

router = APIRouter()

POLICY_FIELDS = (
    "fen_per_point",
    "rounding",
    "hold_mode",
    "hold_days",
    "expiry_mode",
    "expiry_days",
    "expiry_months",
    "expiry_years",
    "warn_days",
    "tier_window_days",
)
FIELD_LABELS = {
    "fen_per_point": "兑换比例",
    "hold_days": "入账等待天数",
    "expiry_days": "过期天数",
    "expiry_months": "延后月数",
    "expiry_years": "延后年数",
    "warn_days": "提前提醒天数",
    "tier_window_days": "成长值统计天数",
    "name": "名称",
    "threshold": "成长值门槛",
    "multiplier_pct": "倍数",
    "priority": "优先级",
    "starts_at": "开始时间",
    "ends_at": "结束时间",
    "bonus_points": "每单奖励",
    "first_claim_bonus": "首单奖励",
    "cap_per_member_day": "每人每天上限",
    "cap_total": "活动总上限",
    "paid_fen": "实付金额",
}


def _problem(error: ValidationError) -> str:
    first = error.errors()[0]
    field = str(first["loc"][0]) if first["loc"] else ""
    if field in FIELD_LABELS:
        return f"{FIELD_LABELS[field]}填写不正确"
    message = str(first.get("msg", ""))
    return message.removeprefix("Value error, ") or "请检查填写的内容"


def _yuan_to_fen(value: str) -> int | str:
    try:
        return round(float(value) * 100)
    except (ValueError, OverflowError):  # also "inf", "1e400": not an amount
        return value  # let validation say what is wrong


def _multiple_to_pct(value: str) -> int | str:
    try:
        return round(float(value or "1") * 100)
    except (ValueError, OverflowError):
        return value


async def _page(
    console: Console,
    session: DbSession,
    *,
    error: str | None = None,
    policy_values: dict[str, Any] | None = None,
    status_code: int = 200,
    saved: str | None = None,
) -> HTMLResponse:
    policy, _tz = await loyalty.policy_of(session, console.tenant.id)
    channels = await tenants.list_channels(session, tenant_id=console.tenant.id)
    values = policy_values or policy.model_dump(mode="json")
    return console.render(
        "console/points.html",
        "points",
        policy=values,
        channel_rates={str(k): v for k, v in (values.get("channel_fen_per_point") or {}).items()},
        channels=channels,
        platforms=PLATFORM_LABELS,
        tiers=await loyalty.list_tiers(session, tenant_id=console.tenant.id),
        campaigns=await loyalty.list_campaigns(session, tenant_id=console.tenant.id),
        rounding_labels=ROUNDING_LABELS,
        hold_labels=HOLD_LABELS,
        expiry_labels=EXPIRY_LABELS,
        now=datetime.now(ZoneInfo(console.tenant.timezone)),
        error=error,
        saved=saved,
        status_code=status_code,
    )


@router.get("/points", response_class=HTMLResponse)
async def points_page(console: ConsoleContext, session: DbSession, saved: str | None = None) -> HTMLResponse:
    console.require("tenant.read")
    return await _page(console, session, saved=saved)


@router.post("/points/policy")
async def save_policy(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("points.rules")
    form = await request.form()
    values: dict[str, Any] = {key: text(form, key) for key in POLICY_FIELDS}
    values["fen_per_point"] = _yuan_to_fen(values["fen_per_point"])
    rates = {}
    for channel in await tenants.list_channels(session, tenant_id=console.tenant.id):
        raw = text(form, f"channel_{channel.id}")
        if raw:
            rates[str(channel.id)] = _yuan_to_fen(raw)
    values["channel_fen_per_point"] = rates
    try:
        policy = PointsPolicy.model_validate(values)
        await loyalty.save_policy(session, actor=console.principal, policy=policy)
    except ValidationError as error:
        return await _page(console, session, error=_problem(error), policy_values=values, status_code=422)
    except AppError as error:
        return await _page(console, session, error=error.message, policy_values=values, status_code=error.status)
    return RedirectResponse("/console/points?saved=policy", status_code=303)


def _tier_in(form: FormData) -> TierIn:
    return TierIn.model_validate(
        {
            "name": text(form, "name"),
            "threshold": text(form, "threshold"),
            "multiplier_pct": _multiple_to_pct(text(form, "multiplier")),
        }
    )


@router.post("/points/tiers")
async def create_tier(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("points.rules")
    try:
        await loyalty.create_tier(session, actor=console.principal, data=_tier_in(await request.form()))
    except ValidationError as error:
        return await _page(console, session, error=_problem(error), status_code=422)
    except AppError as error:
        return await _page(console, session, error=error.message, status_code=error.status)
    return RedirectResponse("/console/points?saved=tier#tiers", status_code=303)


@router.post("/points/tiers/{tier_id}")
async def update_tier(tier_id: ResourceId, request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("points.rules")
    await loyalty.get_tier(session, tenant_id=console.tenant.id, tier_id=tier_id)  # not this tenant's: 404 page
    try:
        await loyalty.update_tier(
            session, actor=console.principal, tier_id=tier_id, data=_tier_in(await request.form())
        )
    except ValidationError as error:
        return await _page(console, session, error=_problem(error), status_code=422)
    except AppError as error:
        return await _page(console, session, error=error.message, status_code=error.status)
    return RedirectResponse("/console/points?saved=tier#tiers", status_code=303)


@router.post("/points/tiers/{tier_id}/delete")
async def delete_tier(tier_id: ResourceId, console: ConsoleContext, session: DbSession) -> Response:
    console.require("points.rules")
    await loyalty.delete_tier(session, actor=console.principal, tier_id=tier_id)
    return RedirectResponse("/console/points?saved=tier#tiers", status_code=303)


@router.post("/points/preview", response_class=HTMLResponse)
async def preview(request: Request, console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("tenant.read")
    form = await request.form()
    error = calc = None
    try:
        data = PreviewIn.model_validate(
            {
                "paid_fen": _yuan_to_fen(text(form, "paid")),
                "platform": text(form, "platform") or "taobao",
                "channel_id": text(form, "channel_id") or None,
                "live_room": text(form, "live_room") or None,
                "tier_id": text(form, "tier_id") or None,
                "first_claim": text(form, "first_claim") == "on",
            }
        )
        calc = await loyalty.preview(session, tenant_id=console.tenant.id, data=data)
    except ValidationError as problem:
        error = _problem(problem)
    except AppError as problem:
        error = problem.message
    return console.render("console/_points_preview.html", "points", calc=calc, error=error)


# Campaigns


def _local_input(value: datetime, timezone: str) -> str:
    return to_local(value, timezone).strftime("%Y-%m-%dT%H:%M")


def _campaign_values(campaign: Campaign | None, timezone: str) -> dict[str, Any]:
    if campaign is None:
        return {"priority": "0", "multiplier": "2", "channel_ids": [], "tier_ids": [], "active": True}
    return {
        "name": campaign.name,
        "priority": str(campaign.priority),
        "starts_at": _local_input(campaign.starts_at, timezone),
        "ends_at": _local_input(campaign.ends_at, timezone),
        "multiplier": f"{campaign.multiplier_pct / 100:g}",
        "bonus_points": str(campaign.bonus_points or ""),
        "first_claim_bonus": str(campaign.first_claim_bonus or ""),
        "cap_per_member_day": str(campaign.cap_per_member_day or ""),
        "cap_total": str(campaign.cap_total or ""),
        "live_room": campaign.live_room or "",
        "channel_ids": [int(c) for c in campaign.channel_ids or []],
        "tier_ids": [int(t) for t in campaign.tier_ids or []],
        "exclusive": campaign.exclusive,
        "active": campaign.active,
    }


def _parse_local(value: str, timezone: str) -> datetime | str:
    try:
        return datetime.fromisoformat(value).replace(tzinfo=ZoneInfo(timezone))
    except ValueError:
        return value


def _campaign_form(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {
        key: text(form, key)
        for key in (
            "name",
            "priority",
            "starts_at",
            "ends_at",
            "multiplier",
            "bonus_points",
            "first_claim_bonus",
            "cap_per_member_day",
            "cap_total",
            "live_room",
        )
    }
    values["channel_ids"] = [int(v) for v in form.getlist("channel_ids") if isinstance(v, str) and v.isdigit()]
    values["tier_ids"] = [int(v) for v in form.getlist("tier_ids") if isinstance(v, str) and v.isdigit()]
    values["exclusive"] = text(form, "exclusive") == "on"
    values["active"] = text(form, "active") == "on"
    return values


def _campaign_in(values: dict[str, Any], timezone: str) -> CampaignIn:
    return CampaignIn.model_validate(
        {
            "name": values["name"],
            "priority": values["priority"] or 0,
            "starts_at": _parse_local(values["starts_at"], timezone),
            "ends_at": _parse_local(values["ends_at"], timezone),
            "multiplier_pct": _multiple_to_pct(values["multiplier"]),
            "bonus_points": values["bonus_points"] or 0,
            "first_claim_bonus": values["first_claim_bonus"] or 0,
            "cap_per_member_day": values["cap_per_member_day"] or None,
            "cap_total": values["cap_total"] or None,
            "live_room": values["live_room"] or None,
            "channel_ids": values["channel_ids"],
            "tier_ids": values["tier_ids"],
            "exclusive": values["exclusive"],
            "active": values["active"],
        }
    )


async def _campaign_page(
    console: Console,
    session: DbSession,
    *,
    campaign: Campaign | None,
    values: dict[str, Any],
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return console.render(
        "console/campaign.html",
        "points",
        campaign=campaign,
        values=values,
        channels=await tenants.list_channels(session, tenant_id=console.tenant.id),
        platforms=PLATFORM_LABELS,
        tiers=await loyalty.list_tiers(session, tenant_id=console.tenant.id),
        error=error,
        status_code=status_code,
    )


@router.get("/points/campaigns/new", response_class=HTMLResponse)
async def new_campaign(console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("points.rules")
    return await _campaign_page(console, session, campaign=None, values=_campaign_values(None, console.tenant.timezone))


@router.get("/points/campaigns/{campaign_id}", response_class=HTMLResponse)
async def campaign_page(campaign_id: ResourceId, console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("tenant.read")
    campaign = await loyalty.get_campaign(session, tenant_id=console.tenant.id, campaign_id=campaign_id)
    values = _campaign_values(campaign, console.tenant.timezone)
    return await _campaign_page(console, session, campaign=campaign, values=values)


async def _save_campaign(request: Request, console: Console, session: DbSession, campaign_id: int | None) -> Response:
    console.require("points.rules")
    campaign = (
        None
        if campaign_id is None
        else await loyalty.get_campaign(session, tenant_id=console.tenant.id, campaign_id=campaign_id)
    )
    values = _campaign_form(await request.form())
    try:
        data = _campaign_in(values, console.tenant.timezone)
        if campaign_id is None:
            await loyalty.create_campaign(session, actor=console.principal, data=data)
        else:
            await loyalty.update_campaign(session, actor=console.principal, campaign_id=campaign_id, data=data)
    except ValidationError as error:
        return await _campaign_page(
            console, session, campaign=campaign, values=values, error=_problem(error), status_code=422
        )
    except AppError as error:
        return await _campaign_page(
            console, session, campaign=campaign, values=values, error=error.message, status_code=error.status
        )
    return RedirectResponse("/console/points?saved=campaign#campaigns", status_code=303)


@router.post("/points/campaigns")
async def create_campaign(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    return await _save_campaign(request, console, session, None)


@router.post("/points/campaigns/{campaign_id}")
async def update_campaign(
    campaign_id: ResourceId, request: Request, console: ConsoleContext, session: DbSession
) -> Response:
    return await _save_campaign(request, console, session, campaign_id)


@router.post("/points/campaigns/{campaign_id}/delete")
async def delete_campaign(campaign_id: ResourceId, console: ConsoleContext, session: DbSession) -> Response:
    console.require("points.rules")
    try:
        await loyalty.delete_campaign(session, actor=console.principal, campaign_id=campaign_id)
    except loyalty.CampaignInUse as error:
        return await _page(console, session, error=error.message, status_code=error.status)
    return RedirectResponse("/console/points?saved=campaign#campaigns", status_code=303)
