"""HTTP API of the check-in: for fans (their month, check in, make up a day, the reminder) under
/fan/{slug}/checkin with their bearer tokens, and for staff (the rules with a 30-day preview, statistics)."""

from __future__ import annotations

from datetime import date
from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request

from siyu.engagement.checkin import rules, service
from siyu.engagement.checkin.schemas import (
    CheckinOut,
    CheckinRules,
    MakeUpIn,
    ReminderIn,
    ReminderOut,
    RulesOut,
    StatsOut,
    StatusOut,
)
from siyu.fans.api import CurrentFan, FanCaller, Slug, current_fan
from siyu.kit.web import DbSession, Principal, request_transaction, require

TAGS: list[str | Enum] = ["每日签到"]
router = APIRouter(tags=TAGS)


def joined_day(fan: FanCaller) -> date:
    """The local day she became a member (no make-up before it)."""
    return rules.local_day(fan.member.created_at, fan.tenant.timezone)


@router.get(
    "/fan/{slug}/checkin",
    response_model=StatusOut,
    summary="我的签到：今天是否已签、连续天数、明天能得多少、一个月的日历",
)
async def my_checkin(
    fan: CurrentFan,
    session: DbSession,
    month: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM，默认本月")] = None,
) -> StatusOut:
    return await service.status(
        session, tenant=fan.tenant, member_id=fan.member.id, joined=joined_day(fan), month=month
    )


# Mounted on the app itself (siyu.app), ahead of the routers, like the claim route: every fan's daily tap.
CHECKIN_PATH = "/api/v1/fan/{slug}/checkin"
CHECKIN_SUMMARY = "签到（按店铺所在时区的日期，一天一次；重复提交返回当天那次，不会重复得积分）"


async def check_in(
    slug: Slug,
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> CheckinOut:
    # Like the claim route, the transaction is opened here rather than through the DbSession dependency.
    async with request_transaction(request) as session:
        fan = await current_fan(slug, request, session, authorization)
        return await service.check_in(session, tenant=fan.tenant, member_id=fan.member.id)


@router.post(
    "/fan/{slug}/checkin/make-up",
    response_model=CheckinOut,
    summary="补签一天（消耗积分；只接上连续天数，这一天不发签到积分）",
)
async def make_up(body: MakeUpIn, fan: CurrentFan, session: DbSession) -> CheckinOut:
    return await service.make_up(
        session, tenant=fan.tenant, member_id=fan.member.id, joined=joined_day(fan), day=body.day
    )


@router.put("/fan/{slug}/checkin/reminder", response_model=ReminderOut, summary="开启或关闭签到提醒")
async def reminder(body: ReminderIn, fan: CurrentFan, session: DbSession) -> ReminderOut:
    enabled = await service.set_reminder(
        session, tenant_id=fan.tenant.id, member_id=fan.member.id, enabled=body.enabled
    )
    return ReminderOut(enabled=enabled, hour=service.setup_of(fan.tenant).rules.reminder_hour)


# Staff


@router.get("/checkin/rules", response_model=RulesOut, summary="签到规则，以及连续签到 30 天每天得多少积分")
async def get_rules(session: DbSession, principal: Annotated[Principal, require("tenant.read")]) -> RulesOut:
    return service.rules_out(await service.rules_of(session, principal.tenant_id))


@router.put("/checkin/rules", response_model=RulesOut, summary="修改签到规则（记入操作日志）")
async def put_rules(
    body: CheckinRules, session: DbSession, principal: Annotated[Principal, require("points.rules")]
) -> RulesOut:
    return service.rules_out(await service.save_rules(session, actor=principal, value=body))


@router.post("/checkin/rules/preview", response_model=RulesOut, summary="试算：按这套规则连续签到 30 天（不保存）")
async def preview_rules(body: CheckinRules, principal: Annotated[Principal, require("tenant.read")]) -> RulesOut:
    return service.rules_out(body)


@router.get("/checkin/stats", response_model=StatsOut, summary="签到统计：每天签到人数、补签、发出积分，连续天数分布")
async def get_stats(
    session: DbSession,
    principal: Annotated[Principal, require("tenant.read")],
    days: Annotated[int, Query(ge=7, le=90)] = 30,
) -> StatsOut:
    return await service.stats(session, tenant_id=principal.tenant_id, days=days)
