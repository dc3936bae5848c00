"""Who wants to hear that two members became one (a merge), for what they keep per member.

The merge itself moves points, identities and claims in its own transaction. Domains above fans (engagement's
task completions and check-ins, invitations) cannot be called from here: they register a listener (from
siyu/tasks.py) and a job queued by the merge, in the merge's transaction, calls each of them in turn.
Every listener must be idempotent: a retried job calls it again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

# (session, tenant_id, from_member_id, into_member_id) -> rows moved
MergeListener = Callable[[AsyncSession, int, int, int], Awaitable[int]]
MERGE_LISTENERS: dict[str, MergeListener] = {}


def on_merge(name: str, listener: MergeListener) -> None:
    MERGE_LISTENERS[name] = listener
