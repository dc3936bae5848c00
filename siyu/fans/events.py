"""Who wants to hear of fans' lifecycle: a new member signed up (an invitation may be hers), or two members became
one (a merge), for what the domains above fans keep per member.

Higher domains cannot be imported by fans, so listeners register here (from siyu.tasks.connect).
- Joins: the sign-in routes call `joined` in the sign-in's transaction. A member who existed before the sign-in
  is not new: only when she came through a friend's link are the return listeners called (a share that led to a
  sign-in).
- Merges: the merge moves points, identities and claims itself, and queues a job in its own transaction that
  calls every merge listener in turn (siyu.fans.tasks). A listener must be idempotent: a retried job calls it
  again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.members.models import Member

# (session, tenant_id, member, invite code or None, device hash, network address hash)
Listener = Callable[[AsyncSession, int, Member, str | None, str | None, str | None], Awaitable[None]]
JOINED: dict[str, Listener] = {}

# (session, tenant_id, member, invite code): a member who existed signed in through a friend's link
ReturnListener = Callable[[AsyncSession, int, Member, str], Awaitable[None]]
RETURNED: dict[str, ReturnListener] = {}

# (session, tenant_id, from_member_id, into_member_id) -> rows moved
MergeListener = Callable[[AsyncSession, int, int, int], Awaitable[int]]
MERGE_LISTENERS: dict[str, MergeListener] = {}


def listen_for_joins(name: str, listener: Listener) -> None:
    JOINED[name] = listener


def listen_for_returns(name: str, listener: ReturnListener) -> None:
    RETURNED[name] = listener


def on_merge(name: str, listener: MergeListener) -> None:
    MERGE_LISTENERS[name] = listener


async def joined(
    session: AsyncSession,
    *,
    tenant_id: int,
    member: Member,
    since: datetime,
    invite: str | None,
    device_hash: str | None,
    ip_hash: str | None,
) -> None:
    """Tell the join listeners when `member` was created by the sign-in that started at `since`; a member who
    existed and came through a friend's link is told to the return listeners."""
    if member.created_at < since:
        if invite:
            for returned in RETURNED.values():
                await returned(session, tenant_id, member, invite)
        return
    for listener in JOINED.values():
        await listener(session, tenant_id, member, invite, device_hash, ip_hash)
