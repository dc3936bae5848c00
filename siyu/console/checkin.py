"""每日签到 in the console: the rules (with what a 30-day streak gives, tried out before saving) and the statistics
(check-ins a day, make-ups, points given, how long the live streaks are) as ECharts."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from siyu.console.deps import Console, ConsoleContext, text
from siyu.console.forms import Refusal, attempt
from siyu.engagement.checkin import service
from siyu.engagement.checkin.schemas import CheckinRules, DayReward
from siyu.kit.web import DbSession
from siyu.mall import lottery
from siyu.mall import service as mall

router = APIRouter()

REWARD_ROWS = 5
NUMBERS = ("base_points", "cycle_days", "makeup_cost", "makeup_days_back", "makeup_monthly_cap", "reminder_hour")
FIELD_WORDS = {
    "base_points": "每天基础积分请填 0 到 100000 的整数",
    "cycle_days": "几天一轮请填 0 到 365 的整数",
    "makeup_cost": "补签消耗积分请填 1 到 100000 的整数",
    "makeup_days_back": "最多补签几天前请填 1 到 60 的整数",
    "makeup_monthly_cap": "每月补签次数请填 0 到 31 的整数",
    "reminder_hour": "提醒时间请填 0 到 23 点",
    "rewards": "连续第 N 天奖励：天数 1 到 365，积分 0 到 100000",
}
FIELD_WORDS["day"] = FIELD_WORDS["points"] = FIELD_WORDS["rewards"]  # a reward row's own fields


def _values(rules: CheckinRules) -> dict[str, Any]:
    """The form's fields as the rules fill them (reward rows padded with empty ones)."""
    values: dict[str, Any] = {name: str(getattr(rules, name)) for name in NUMBERS}
    values["enabled"] = rules.enabled
    values["makeup_enabled"] = rules.makeup_enabled
    rows = [(str(r.day), str(r.points), str(r.reward_id or ""), str(r.lottery_id or "")) for r in rules.rewards]
    values["rewards"] = rows + [("", "", "", "")] * max(0, REWARD_ROWS - len(rows))
    return values


def _form_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {name: text(form, name) for name in NUMBERS}
    values["enabled"] = text(form, "enabled") == "1"
    values["makeup_enabled"] = text(form, "makeup_enabled") == "1"
    values["rewards"] = [
        (
            text(form, f"reward_day_{n}"),
            text(form, f"reward_points_{n}"),
            text(form, f"reward_gift_{n}"),
            text(form, f"reward_lottery_{n}"),
        )
        for n in range(REWARD_ROWS)
    ]
    return values


def _rules_of(values: dict[str, Any]) -> CheckinRules:
    rewards = [
        DayReward(
            day=int(day),
            points=int(points),
            reward_id=int(gift) if gift else None,
            lottery_id=int(chance) if chance else None,
        )
        for day, points, gift, chance in values["rewards"]
        if day or points or gift or chance
    ]
    numbers = {name: values[name] for name in NUMBERS}
    return CheckinRules(enabled=values["enabled"], makeup_enabled=values["makeup_enabled"], rewards=rewards, **numbers)


async def _render(
    console: Console,
    session: DbSession,
    *,
    rules: CheckinRules,
    values: dict[str, Any],
    error: str | None = None,
    saved: bool = False,
    trial: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    shown = service.rules_out(rules)
    return console.render(
        "console/checkin.html",
        "checkin",
        status_code=status_code,
        values=values,
        preview=shown.preview,
        preview_total=shown.preview_total,
        stats=await service.stats(session, tenant_id=console.tenant.id),
        gifts=await mall.list_rewards(session, tenant_id=console.tenant.id),
        lotteries=await lottery.list_lotteries(session, tenant_id=console.tenant.id),
        error=error,
        saved=saved,
        trial=trial,
        can_edit=console.can("points.rules"),
    )


@router.get("/checkin", response_class=HTMLResponse)
async def checkin_page(console: ConsoleContext, session: DbSession, saved: int = 0) -> HTMLResponse:
    console.require("tenant.read")
    rules = await service.rules_of(session, console.tenant.id)
    return await _render(console, session, rules=rules, values=_values(rules), saved=bool(saved))


@router.post("/checkin", response_class=HTMLResponse)
async def save_rules(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    """Save the rules, or (the 试算 button) only show what they would give."""
    console.require("tenant.read")
    form = await request.form()
    values = _form_values(form)
    trial = text(form, "action") == "preview"
    if not trial:
        console.require("points.rules")
    outcome = await attempt(
        session,
        lambda: _apply(console, session, values, save=not trial),
        check=FIELD_WORDS,
        invalid=FIELD_WORDS["rewards"],
    )
    if isinstance(outcome, Refusal):
        current = await service.rules_of(session, console.tenant.id)
        return await _render(
            console, session, rules=current, values=values, error=outcome.message, status_code=outcome.status
        )
    rules = outcome
    if trial:
        return await _render(console, session, rules=rules, values=values, trial=True)
    return RedirectResponse("/console/checkin?saved=1", status_code=303)


async def _apply(console: Console, session: DbSession, values: dict[str, Any], *, save: bool) -> CheckinRules:
    """The rules the form describes, saved (and audited) unless only tried out."""
    rules = await service.name_gifts(session, tenant_id=console.tenant.id, value=_rules_of(values))
    if save:
        await service.save_rules(session, actor=console.principal, value=rules)
    return rules
