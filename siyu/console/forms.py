"""A console form's action: it runs in a savepoint, so a refused step leaves nothing half-done, and a refusal
comes back in words for the page to show beside what was typed.

    outcome = await attempt(session, lambda: loyalty.create_tier(session, actor=..., data=...))
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, status_code=outcome.status)

The services audit what they change; a refused action leaves no audit entry either (it is rolled back with the
rest).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.errors import AppError

T = TypeVar("T")

CHECK_FORM = "请检查填写的内容"
BAD_TIME = "时间格式不正确"


@dataclass(frozen=True)
class Refusal:
    """Why a form's action was refused, for the page (the message is Chinese, never a code)."""

    message: str
    status: int = 422
    code: str = "invalid_input"  # for a page that shows more than the message (an import's unknown layout)
    detail: Mapping[str, Any] = field(default_factory=dict)


def problem(error: ValidationError, labels: Mapping[str, str] | None = None) -> str:
    """The first thing wrong with a form: '<field label>：<what is wrong>' when a rule of ours said what (our
    validators speak Chinese), else '<field label>填写不正确' (Pydantic's own words are English)."""
    problems = error.errors()
    if not problems:
        return CHECK_FORM
    first = problems[0]
    loc = [str(part) for part in first["loc"]]
    label = (labels or {}).get(".".join(loc)) or (labels or {}).get(loc[0]) if loc else None
    if label and len(loc) >= 2 and loc[1].isdigit():  # one of a list: "第 2 个奖项"
        label = f"第 {int(loc[1]) + 1} 个{label}"
    if first["type"] != "value_error":
        return f"{label}填写不正确" if label else CHECK_FORM
    message = str(first.get("msg", "")).removeprefix("Value error, ") or CHECK_FORM
    return f"{label}：{message}" if label else message


async def attempt(
    session: AsyncSession,
    step: Callable[[], Awaitable[T]],
    *,
    labels: Mapping[str, str] | None = None,
    check: str | Mapping[str, str] | None = None,
    invalid: str | None = None,
    not_found_page: bool = False,
) -> T | Refusal:
    """Run `step` in a savepoint: its result, or a Refusal with everything it wrote undone.

    `labels` name the fields of a form's Pydantic model (or `check` says in one sentence what to check, for
    the whole form or by field);
    `invalid` is the message for a value the form could
    not parse (a ValueError before validation; without it such an error is a bug and propagates).
    With `not_found_page`, something that does not exist is the 404 page rather than a message."""
    try:
        async with session.begin_nested():
            return await step()
    except ValidationError as error:  # before ValueError: Pydantic's errors are ValueErrors too
        return Refusal(_checked(error, check) if check is not None else problem(error, labels), 422)
    except AppError as error:
        if not_found_page and error.status == 404:
            raise
        return Refusal(error.message, error.status, error.code, error.detail)
    except ValueError:
        if invalid is None:
            raise
        return Refusal(invalid, 422)


def _checked(error: ValidationError, check: str | Mapping[str, str]) -> str:
    if isinstance(check, str):
        return check
    problems = error.errors()
    field = str(problems[0]["loc"][0]) if problems and problems[0]["loc"] else ""
    return check.get(field, CHECK_FORM)
