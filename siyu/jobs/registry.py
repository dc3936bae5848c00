"""Job handlers by kind. Each domain's tasks.py registers its own; every handler must be idempotent."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.jobs.models import Job

Handler = Callable[[AsyncSession, Job], Awaitable[dict[str, Any] | None]]

HANDLERS: dict[str, Handler] = {}


def handler(kind: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[kind] = fn
        return fn

    return register


PeriodicJob = tuple[str, int]  # (kind, every N seconds)
PERIODIC: list[PeriodicJob] = []


def every(seconds: int, kind: str) -> None:
    """Ask the worker to enqueue `kind` once per `seconds` (deduplicated across workers)."""
    if (kind, seconds) not in PERIODIC:
        PERIODIC.append((kind, seconds))


LongHandler = Callable[[async_sessionmaker[AsyncSession], Job], Awaitable[dict[str, Any] | None]]
LONG_HANDLERS: dict[str, LongHandler] = {}


def long_handler(kind: str) -> Callable[[LongHandler], LongHandler]:
    """Register a handler that runs its own transactions (a long import committing batch by batch).

    The job is marked done only after the handler returns; a crash re-runs the handler from the
    start, so it must be idempotent as a whole.
    """

    def register(fn: LongHandler) -> LongHandler:
        LONG_HANDLERS[kind] = fn
        return fn

    return register
