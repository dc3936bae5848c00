"""The demo tenant's invitations: rules, members who joined through friends' links (loaded before the demo's
orders are claimed, so they are new members then), two suspicious invitations in the review queue, an open share
leaderboard for this week's live shows and a settled one from last week; after the claims, the invitations whose
friends' first order points posted are paid. All through the services the product uses."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.referrals import service
from siyu.engagement.referrals.schemas import BoardIn, RulesIn
from siyu.kit.pagination import PageRequest
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.members import service as members
from siyu.tenants import service as tenants

INVITERS = 5


def _system(tenant_id: int) -> Principal:
    return Principal(
        tenant_id=tenant_id, kind="system", actor_id=None, label="演示数据", permissions=frozenset({"points.rules"})
    )


async def load(session: AsyncSession, *, slug: str, seed: int = 16, now: datetime | None = None) -> int:
    """Rules, boards and invitations (call before the demo's claims). Returns the invitations made; nothing happens
    when the tenant has leaderboards already."""
    now = now or utcnow()
    rng = random.Random(seed)
    tenant = await tenants.get_by_slug(session, slug)
    actor = _system(tenant.id)
    if await service.boards(session, tenant_id=tenant.id):
        return 0
    await service.save_rules(session, actor=actor, data=RulesIn(inviter_points=100, invitee_points=50, cap=20))
    last_week = await service.create_board(
        session,
        actor=actor,
        data=BoardIn(
            title="上周直播间邀请榜",
            starts_at=now - timedelta(days=14),
            ends_at=now - timedelta(days=7),
            prizes=[300, 200, 100],
        ),
    )
    await service.create_board(
        session,
        actor=actor,
        data=BoardIn(
            title="本周直播邀请榜",
            starts_at=now - timedelta(days=6),
            ends_at=now + timedelta(days=3),
            prizes=[500, 300, 100],
        ),
    )
    found = (await members.search(session, tenant_id=tenant.id, query=None, page=PageRequest(size=200))).items
    inviters, friends = found[:INVITERS], found[INVITERS:]
    rng.shuffle(friends)
    made = 0
    for rank, inviter in enumerate(inviters):
        code = await service.invite_code(session, tenant_id=tenant.id, member_id=inviter.id, ip_hash=f"home-{rank}")
        for n in range(INVITERS - rank):
            if len(friends) <= 2:
                break
            days_ago = 10 if n == 0 and rank < 3 else rng.randint(0, 5)
            at = now - timedelta(days=days_ago, hours=rng.randint(0, 20), minutes=rank * 7 + n)
            row = await service.joined(
                session, tenant_id=tenant.id, invitee=friends.pop(), code=code.code, ip_hash=f"net-{rank}-{n}", now=at
            )
            made += row is not None
    # Two friends joining from one phone: the second waits for review.
    if inviters and len(friends) >= 2:
        code = await service.invite_code(session, tenant_id=tenant.id, member_id=inviters[-1].id)
        for friend in friends[:2]:
            row = await service.joined(
                session, tenant_id=tenant.id, invitee=friend, code=code.code, device_hash="demo-shared-phone", now=now
            )
            made += row is not None
    await service.request_settle(session, actor=actor, board_id=last_week.id, now=now)
    await service.settle(session, tenant_id=tenant.id, board_id=last_week.id, now=now)
    return made


async def pay(session: AsyncSession, *, slug: str, now: datetime | None = None) -> int:
    """After the demo's claims: pay the invitations whose friends' first order points posted (what the periodic job
    does). Returns how many were paid."""
    tenant = await tenants.get_by_slug(session, slug)
    return await service.reward_due(session, tenant_id=tenant.id, now=now)
