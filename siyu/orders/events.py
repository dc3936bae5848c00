"""Who wants to hear that orders changed (points post, void or claw back) or arrived (waiting claims settle).

Lower domains cannot import higher ones, so listeners register here and the orders domain calls them
from its outbox job, inside that job's transaction.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

# (session, tenant_id, import_id) -> number of orders acted on
Listener = Callable[[AsyncSession, int, int], Awaitable[int]]
LISTENERS: dict[str, Listener] = {}  # an import changed the status or refund of orders
ARRIVALS: dict[str, Listener] = {}  # an import brought orders never seen before


def listen(name: str, listener: Listener) -> None:
    LISTENERS[name] = listener


def listen_for_arrivals(name: str, listener: Listener) -> None:
    ARRIVALS[name] = listener
