"""Sales channels: the shops and live accounts of this tenant on each platform."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.console.deps import ConsoleContext, text
from siyu.console.forms import Refusal, attempt
from siyu.console.listing import Listing, paged
from siyu.kit.web import DbSession, ResourceId
from siyu.tenants import service as tenants
from siyu.tenants.models import PLATFORM_LABELS
from siyu.tenants.schemas import ChannelIn, ChannelUpdate

router = APIRouter()


CHANNEL_SORTS: dict[str, Any] = {
    "platform": lambda c: list(PLATFORM_LABELS).index(c.platform) if c.platform in PLATFORM_LABELS else 99,
    "name": lambda c: c.name,
    "created_at": lambda c: c.created_at,
}


async def _page(
    console: ConsoleContext,
    session: DbSession,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
    page: int = 1,
    sort: str | None = None,
) -> HTMLResponse:
    listing = Listing.of("/console/channels", sort=sort, allowed=CHANNEL_SORTS, default="platform", page=page)
    result = paged(await tenants.list_channels(session, tenant_id=console.tenant.id), listing, CHANNEL_SORTS)
    return console.render(
        "console/channels.html",
        "channels",
        channels=result.items,
        result=result,
        listing=listing,
        platforms=PLATFORM_LABELS,
        error=error,
        values=values or {},
        status_code=status_code,
    )


@router.get("/channels", response_class=HTMLResponse)
async def channels_page(
    console: ConsoleContext,
    session: DbSession,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    sort: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    console.require("channels.read")
    return await _page(console, session, page=page, sort=sort)


@router.post("/channels")
async def create_channel(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("channels.write")
    form = await request.form()
    values = {key: text(form, key) for key in ("platform", "name", "shop_id")}
    outcome = await attempt(
        session,
        lambda: tenants.create_channel(
            session,
            actor=console.principal,
            data=ChannelIn(platform=values["platform"], name=values["name"], shop_id=values["shop_id"] or None),
        ),
        check="请选择平台并填写渠道名称",
    )
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, values=values, status_code=outcome.status)
    return RedirectResponse("/console/channels", status_code=303)


@router.post("/channels/{channel_id}/toggle")
async def toggle_channel(channel_id: ResourceId, console: ConsoleContext, session: DbSession) -> Response:
    console.require("channels.write")
    channel = await tenants.get_channel(session, tenant_id=console.tenant.id, channel_id=channel_id)
    await tenants.update_channel(
        session,
        actor=console.principal,
        channel_id=channel_id,
        changes=ChannelUpdate(active=not channel.active),
    )
    return RedirectResponse("/console/channels", status_code=303)
