"""Background work of invitations: pay both sides once the invitee's first order is credited (a periodic sweep),
and settle a share leaderboard (one job per board). Both are idempotent: the ledger's unique references and the
prizes' (board, rank) key decide "exactly once"."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.referrals import service
from siyu.jobs.models import Job
from siyu.jobs.registry import every, handler
from siyu.kit.time import utcnow
from siyu.members.models import Member
from siyu.tenants import service as tenants

REWARD_EVERY_S = 300


@handler(service.REWARD_JOB)
async def reward(session: AsyncSession, job: Job) -> dict[str, Any]:
    now = utcnow()
    tenant_ids = [job.tenant_id] if job.tenant_id else await tenants.tenant_ids(session)
    paid: dict[str, int] = {}
    for tenant_id in tenant_ids:
        n = await service.reward_due(session, tenant_id=tenant_id, now=now)
        if n:
            paid[str(tenant_id)] = n
    return {"paid": paid}


every(REWARD_EVERY_S, service.REWARD_JOB)


@handler(service.SETTLE_JOB)
async def settle(session: AsyncSession, job: Job) -> dict[str, Any]:
    assert job.tenant_id is not None
    written = await service.settle(session, tenant_id=job.tenant_id, board_id=int(job.payload["board_id"]))
    return {"prizes": written}


async def on_joined(
    session: AsyncSession,
    tenant_id: int,
    member: Member,
    invite: str | None,
    device_hash: str | None,
    ip_hash: str | None,
) -> None:
    """A new member signed up (fan API or H5) carrying an invite code."""
    await service.joined(
        session, tenant_id=tenant_id, invitee=member, code=invite, device_hash=device_hash, ip_hash=ip_hash
    )
    if invite:
        await service.visited(session, tenant_id=tenant_id, visitor_id=member.id, code=invite)


async def on_returned(session: AsyncSession, tenant_id: int, member: Member, invite: str) -> None:
    """A member who existed signed in through a friend's link: a share that led to a sign-in."""
    await service.visited(session, tenant_id=tenant_id, visitor_id=member.id, code=invite)
