"""The registry of channels that can reach members, neutral ground below every domain that has news for a fan.

A domain with news (points about to expire, a reward shipped, a claim decided) enqueues a job of its own kind in
the transaction that made the news; the job's handler calls `notify`, which hands the notice to every registered
notifier. The notices domain registers one (from the wiring) that files the notice for delivery through the
channels the tenant chose.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

# (session, tenant_id, member_id, payload) -> True when the notice was accepted for delivery to the member.
# The payload carries "kind" (what happened: "points_expiring", "shipped", ...) and "subject" (which thing it is
# about, so the same news about the same thing is filed once).
Notifier = Callable[[AsyncSession, int, int, dict[str, Any]], Awaitable[bool]]
NOTIFIERS: dict[str, Notifier] = {}


def notify_with(name: str, notifier: Notifier) -> None:
    """A channel that can reach members (registered by the domain that owns it, from the wiring)."""
    NOTIFIERS[name] = notifier


async def notify(session: AsyncSession, *, tenant_id: int, member_id: int, payload: dict[str, Any]) -> list[str]:
    """Hand one notice to every notifier; returns the names of those that accepted it."""
    return [name for name, send in NOTIFIERS.items() if await send(session, tenant_id, member_id, payload)]
