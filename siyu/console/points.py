"""Points rules: the tenant's policy (rate, rounding, hold, expiry), tiers, campaigns and a preview."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

from siyu.console.deps import Console, ConsoleContext, text
from siyu.console.forms import Refusal, attempt, problem
from siyu.console.listing import Listing, paged
from siyu.kit.errors import AppError
from siyu.kit.time import format_local, to_local
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
    "at": "下单时间",
}


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
    page: int = 1,
    sort: str | None = None,
) -> HTMLResponse:
    policy, _tz = await loyalty.policy_of(session, console.tenant.id)
    listing = Listing.of("/console/points", sort=sort, allowed=CAMPAIGN_SORTS, default="-starts_at", page=page)
    result = paged(await loyalty.list_campaigns(session, tenant_id=console.tenant.id), listing, CAMPAIGN_SORTS)
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
        campaigns=result.items,
        result=result,
        listing=listing,
        channel_names={c.id: f"{PLATFORM_LABELS.get(c.platform, '')} {c.name}".strip() for c in channels},
        tier_names={t.id: t.name for t in await loyalty.list_tiers(session, tenant_id=console.tenant.id)},
        rounding_labels=ROUNDING_LABELS,
        hold_labels=HOLD_LABELS,
        expiry_labels=EXPIRY_LABELS,
        now=datetime.now(ZoneInfo(console.tenant.timezone)),
        error=error,
        saved=saved,
        status_code=status_code,
    )


CAMPAIGN_SORTS: dict[str, Any] = {
    "starts_at": lambda c: c.starts_at,
    "name": lambda c: c.name,
    "priority": lambda c: c.priority,
    "awarded_total": lambda c: c.awarded_total,
}


@router.get("/points", response_class=HTMLResponse)
async def points_page(
    console: ConsoleContext,
    session: DbSession,
    saved: str | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    sort: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    console.require("tenant.read")
    return await _page(console, session, saved=saved, page=page, sort=sort)


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
    outcome = await attempt(
        session,
        lambda: loyalty.save_policy(session, actor=console.principal, policy=PointsPolicy.model_validate(values)),
        labels=FIELD_LABELS,
    )
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, policy_values=values, status_code=outcome.status)
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
    form = await request.form()
    outcome = await attempt(
        session, lambda: loyalty.create_tier(session, actor=console.principal, data=_tier_in(form)), labels=FIELD_LABELS
    )
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, status_code=outcome.status)
    return RedirectResponse("/console/points?saved=tier#tiers", status_code=303)


@router.post("/points/tiers/{tier_id}")
async def update_tier(tier_id: ResourceId, request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("points.rules")
    await loyalty.get_tier(session, tenant_id=console.tenant.id, tier_id=tier_id)  # not this tenant's: 404 page
    form = await request.form()
    outcome = await attempt(
        session,
        lambda: loyalty.update_tier(session, actor=console.principal, tier_id=tier_id, data=_tier_in(form)),
        labels=FIELD_LABELS,
    )
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, status_code=outcome.status)
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
    timezone = console.tenant.timezone
    at = _parse_local(text(form, "at"), timezone) if text(form, "at") else None
    try:
        data = PreviewIn.model_validate(
            {
                "paid_fen": _yuan_to_fen(text(form, "paid")),
                "platform": text(form, "platform") or "taobao",
                "channel_id": text(form, "channel_id") or None,
                "live_room": text(form, "live_room") or None,
                "tier_id": text(form, "tier_id") or None,
                "first_claim": text(form, "first_claim") == "on",
                "at": at,
            }
        )
        calc = await loyalty.preview(session, tenant_id=console.tenant.id, data=data)
    except ValidationError as invalid:
        error = problem(invalid, FIELD_LABELS)
    except AppError as refused:
        error = refused.message
    at_label = format_local(at, timezone) if isinstance(at, datetime) else None
    return console.render("console/_points_preview.html", "points", calc=calc, error=error, at_label=at_label)


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
    values["form_token"] = text(form, "form_token")[:64]
    values["allow_twin"] = text(form, "allow_twin") == "on"
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


SAVES_PER_FORM = "1/day"  # a new-campaign form (its token) creates at most one campaign


def _same_rules(campaign: Campaign, data: CampaignIn) -> bool:
    """Whether a campaign gives the same extra points to the same orders at the same time (names may differ):
    two of them would credit twice."""
    return (
        campaign.starts_at == data.starts_at
        and campaign.ends_at == data.ends_at
        and campaign.multiplier_pct == data.multiplier_pct
        and (campaign.bonus_points or 0) == data.bonus_points
        and (campaign.first_claim_bonus or 0) == data.first_claim_bonus
        and campaign.cap_per_member_day == data.cap_per_member_day
        and campaign.cap_total == data.cap_total
        and (campaign.live_room or None) == (data.live_room or None)
        and sorted(int(c) for c in campaign.channel_ids or []) == sorted(data.channel_ids)
        and sorted(int(t) for t in campaign.tier_ids or []) == sorted(data.tier_ids)
        and campaign.exclusive == data.exclusive
    )


async def _identical(
    session: DbSession, tenant_id: int, data: CampaignIn, *, other_than: int | None
) -> Campaign | None:
    """An active campaign with the same rules as `data`, other than the one being edited."""
    if not data.active:
        return None
    for campaign in await loyalty.list_campaigns(session, tenant_id=tenant_id):
        if campaign.active and campaign.id != other_than and _same_rules(campaign, data):
            return campaign
    return None


async def _campaign_page(
    console: Console,
    session: DbSession,
    *,
    campaign: Campaign | None,
    values: dict[str, Any],
    error: str | None = None,
    twin: Campaign | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return console.render(
        "console/campaign.html",
        "points",
        campaign=campaign,
        values=values,
        twin=twin,
        notice=notice,
        form_token=values.get("form_token") or secrets.token_urlsafe(16),
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
async def campaign_page(
    campaign_id: ResourceId, console: ConsoleContext, session: DbSession, saved: str = ""
) -> HTMLResponse:
    console.require("tenant.read")
    campaign = await loyalty.get_campaign(session, tenant_id=console.tenant.id, campaign_id=campaign_id)
    values = _campaign_values(campaign, console.tenant.timezone)
    notice = "这个表单已经保存过，活动只创建了一次。" if saved == "again" else None
    return await _campaign_page(console, session, campaign=campaign, values=values, notice=notice)


async def _save_campaign(request: Request, console: Console, session: DbSession, campaign_id: int | None) -> Response:
    """Create or update a campaign. Saving the same new-campaign form twice (a double click, the back button)
    creates it once: the form carries a token that is spent on the first save. A campaign with the same rules
    as another active one is saved only when ops confirm it: both would credit every matching order."""
    console.require("points.rules")
    tenant_id = console.tenant.id
    campaign = (
        None
        if campaign_id is None
        else await loyalty.get_campaign(session, tenant_id=tenant_id, campaign_id=campaign_id)
    )
    values = _campaign_form(await request.form())
    limiter = request.app.state.limiter
    token = values["form_token"]
    form_key = ("campaign-form", str(tenant_id), token)
    try:
        data = _campaign_in(values, console.tenant.timezone)
    except ValidationError as error:
        return await _campaign_page(
            console, session, campaign=campaign, values=values, error=problem(error, FIELD_LABELS), status_code=422
        )
    twin = await _identical(session, tenant_id, data, other_than=campaign_id)
    if campaign_id is None and token and not await limiter.allowed(SAVES_PER_FORM, *form_key):
        # already saved from this form: show what was saved instead of saving it again
        target = f"/console/points/campaigns/{twin.id}?saved=again" if twin else "/console/points?saved=campaign"
        return RedirectResponse(target, status_code=303)
    if twin is not None and not values["allow_twin"]:
        message = f"已有规则完全相同、正在启用的活动「{twin.name}」：两个活动会让同一笔订单重复加分。"
        return await _campaign_page(
            console, session, campaign=campaign, values=values, error=message, twin=twin, status_code=409
        )

    async def save() -> None:
        if campaign_id is None:
            if token:
                await limiter.hit(SAVES_PER_FORM, *form_key)
            await loyalty.create_campaign(session, actor=console.principal, data=data)
        else:
            await loyalty.update_campaign(session, actor=console.principal, campaign_id=campaign_id, data=data)

    outcome = await attempt(session, save)
    if isinstance(outcome, Refusal):
        if campaign_id is None and token:
            await limiter.clear(SAVES_PER_FORM, *form_key)  # nothing was saved from this form after all
        return await _campaign_page(
            console, session, campaign=campaign, values=values, error=outcome.message, status_code=outcome.status
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
