"""Pure decisions of points tasks: which period a moment falls in (tenant-local day or ISO week), whether a task is
open, and whether a survey's answers fit its questions. No database, no clock of its own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from siyu.engagement.missions.models import Period
from siyu.kit.time import to_local

ONCE = "once"
MAX_TEXT_ANSWER = 200


def period_key(period: str, now: datetime, timezone: str) -> str:
    """The period `now` falls in, by the tenant's clock: "once", "2026-12-04" or "2026-W49" (ISO week)."""
    if period == Period.one_time:
        return ONCE
    local = to_local(now, timezone).date()
    if period == Period.daily:
        return local.isoformat()
    year, week, _ = local.isocalendar()
    return f"{year}-W{week:02d}"


def period_start(period: str, now: datetime, timezone: str) -> datetime | None:
    """When the period `now` falls in began (tenant-local midnight, or Monday's); None for a one-time task."""
    if period == Period.one_time:
        return None
    local = to_local(now, timezone).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == Period.weekly:
        local -= timedelta(days=local.weekday())
    return local


def is_open(*, enabled: bool, starts_at: datetime | None, ends_at: datetime | None, now: datetime) -> bool:
    return enabled and (starts_at is None or starts_at <= now) and (ends_at is None or now < ends_at)


@dataclass(frozen=True)
class BadAnswers(Exception):
    """Why a survey's answers do not fit (in the fan's words)."""

    message: str


def check_answers(questions: list[dict[str, Any]], answers: dict[str, Any]) -> dict[str, str]:
    """The answers to keep, one per question (keyed by its position "1", "2", ...); refuses a missing answer or a
    choice that is not one of the question's options."""
    kept: dict[str, str] = {}
    for n, question in enumerate(questions, start=1):
        key = str(n)
        value = str(answers.get(key) or "").strip()
        if not value:
            raise BadAnswers(f"请回答第 {n} 题")
        if question.get("kind") == "choice":
            if value not in [str(o) for o in question.get("options") or []]:
                raise BadAnswers(f"第 {n} 题请从选项中选择")
        elif len(value) > MAX_TEXT_ANSWER:
            raise BadAnswers(f"第 {n} 题的回答不能超过 {MAX_TEXT_ANSWER} 字")
        kept[key] = value
    return kept
