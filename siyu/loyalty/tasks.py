"""Background work of the loyalty programme: the periodic sweep, reacting to order changes, expiry warnings.

What order changes do to points is the crediting module's (siyu.claims.crediting).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs.models import Job
from siyu.jobs.registry import handler
from siyu.loyalty import service

log = structlog.get_logger(__name__)


# (session, tenant_id, member_id, payload) -> True when the member was reached (e.g. a WeChat subscribe message)
Notifier = Callable[[AsyncSession, int, int, dict[str, Any]], Awaitable[bool]]
NOTIFIERS: dict[str, Notifier] = {}


def notify_with(name: str, notifier: Notifier) -> None:
    """A channel that can reach members (registered by the domain that owns it)."""
    NOTIFIERS[name] = notifier


@handler(service.WARNING_JOB)
async def warn_of_expiry(session: AsyncSession, job: Job) -> dict[str, Any]:
    """Tell a member that points are about to expire, through every channel that can reach her."""
    tenant_id, member_id = int(job.tenant_id or 0), int(job.payload["member_id"])
    reached = [name for name, notify in NOTIFIERS.items() if await notify(session, tenant_id, member_id, job.payload)]
    log.info(
        "points.expiry_warning",
        tenant_id=tenant_id,
        member_id=member_id,
        points=job.payload.get("points"),
        expires_at=job.payload.get("expires_at"),
        channels=reached,
    )
    return {"reached": reached}
