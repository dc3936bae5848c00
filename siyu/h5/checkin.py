"""每日签到 on the H5: the month's calendar (done, made up, missed, today), the big 签到 button, what tomorrow
gives, make-ups of missed days within the window with their cost, and the reminder switch."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.engagement.checkin import rules, service
from siyu.h5.fans import Fan, FanPage, to_sign_in
from siyu.kit.errors import AppError
from siyu.kit.web import DbSession, form_text
from siyu.templating import templates
from siyu.tenants import service as tenants

router = APIRouter()

WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")
Month = Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")]


def _shift(month: date, months: int) -> str:
    index = month.year * 12 + month.month - 1 + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


async def _page(
    fan: FanPage,
    request: Request,
    session: DbSession,
    *,
    month: str | None = None,
    done: bool = False,
    gift: bool = False,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    assert fan.member is not None
    config = await tenants.config_of(session, fan.tenant.id)
    joined = rules.local_day(fan.member.created_at, config.timezone)
    status = await service.status(session, tenant=config, member_id=fan.member.id, joined=joined, month=month)
    value = service.setup_of(config).rules
    first = status.days[0].day
    this_month = status.today.replace(day=1)
    context: dict[str, Any] = {
        "tenant": fan.tenant,
        "brand_color": fan.brand_color,
        "status": status,
        "rules": value,
        "rewards": [r for r in value.rewards if r.points != value.base_points or rules.gift_words(r)],
        "gift": (rules.day_gift(value, status.streak) if gift and status.checked_in_today else None),
        "lead": first.weekday(),  # empty cells before the 1st (weeks start on Monday)
        "weekdays": WEEKDAYS,
        "title": f"{first.year}年{first.month}月",
        "earlier": _shift(first, -1)
        if (this_month.year - first.year) * 12 + this_month.month - first.month < 12
        else None,
        "later": _shift(first, 1) if first < this_month else None,
        "makeable": [d for d in status.days if d.can_make_up],
        "done": done,
        "error": error,
    }
    return templates.TemplateResponse(request, "h5/checkin.html", context, status_code=status_code)


@router.get("/{slug}/checkin", response_class=HTMLResponse)
async def checkin_page(
    fan: Fan, request: Request, session: DbSession, month: Month = None, done: int = 0, gift: int = 0
) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/checkin")
    try:
        return await _page(fan, request, session, month=month, done=bool(done), gift=bool(gift))
    except service.MonthOutOfRange as refused:
        return await _page(fan, request, session, error=refused.message, status_code=refused.status)


@router.post("/{slug}/checkin")
async def check_in(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/checkin")
    config = await tenants.config_of(session, fan.tenant.id)
    try:
        result = await service.check_in(session, tenant=config, member_id=fan.member.id)
    except AppError as refused:
        return await _page(fan, request, session, error=refused.message, status_code=refused.status)
    if result.created and (result.gift or result.free_draw_lottery_id):  # the page says where she finds it
        return RedirectResponse(f"/h5/{fan.tenant.slug}/checkin?done=1&gift=1", status_code=303)
    return RedirectResponse(f"/h5/{fan.tenant.slug}/checkin?done=1", status_code=303)


@router.post("/{slug}/checkin/make-up")
async def make_up(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/checkin")
    config = await tenants.config_of(session, fan.tenant.id)
    form = await request.form()
    try:
        day = date.fromisoformat(form_text(form, "day"))
    except ValueError:
        return await _page(fan, request, session, error="请选择要补签的日子", status_code=422)
    try:
        await service.make_up(
            session,
            tenant=config,
            member_id=fan.member.id,
            joined=rules.local_day(fan.member.created_at, config.timezone),
            day=day,
        )
    except AppError as refused:
        return await _page(fan, request, session, error=refused.message, status_code=refused.status)
    return RedirectResponse(f"/h5/{fan.tenant.slug}/checkin?month={day.strftime('%Y-%m')}", status_code=303)


@router.post("/{slug}/checkin/reminder")
async def reminder(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/checkin")
    form = await request.form()
    await service.set_reminder(
        session, tenant_id=fan.tenant.id, member_id=fan.member.id, enabled=form_text(form, "enabled") == "1"
    )
    return RedirectResponse(f"/h5/{fan.tenant.slug}/checkin", status_code=303)
