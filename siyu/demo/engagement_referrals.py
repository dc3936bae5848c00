"""The demo tenant's invitations: rules, a few members who invited friends (the demo fan among them), two
suspicious invitations waiting in the review queue, an open share leaderboard for this week's live shows and a
settled one from last week, all through the services the product uses."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.referrals import service
from siyu.engagement.referrals.schemas import BoardIn, RulesIn
from siyu.kit.pagination import PageRequest
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.members import service as members
from siyu.tenants import service as tenants

FRIENDS = ["小鹿", "糖糖", "阿紫", "木木", "可乐", "小雨", "七七", "安安", "果果", "桃子", "芒果", "豆豆"]


def _system(tenant_id: int) -> Principal:
    return Principal(
        tenant_id=tenant_id, kind="system", actor_id=None, label="演示数据", permissions=frozenset({"points.rules"})
    )


async def load(session: AsyncSession, *, slug: str, seed: int = 16, now: datetime | None = None) -> int:
    """Returns the invitations made; nothing happens when the tenant has leaderboards already."""
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
    demo_fan = await ledger.richest_member(session, tenant_id=tenant.id)
    found = await members.search(session, tenant_id=tenant.id, query=None, page=PageRequest(size=8))
    inviters = [m.id for m in found.items if m.id != demo_fan][:5]
    if demo_fan is not None:
        inviters.insert(1, demo_fan)
    made = 0
    for rank, inviter_id in enumerate(inviters):
        code = await service.invite_code(session, tenant_id=tenant.id, member_id=inviter_id, ip_hash=f"home-{rank}")
        for n in range(max(1, 6 - rank)):
            friend = await members.create_member(session, tenant_id=tenant.id, nickname=rng.choice(FRIENDS))
            days_ago = 10 if n == 0 and rank < 3 else rng.randint(0, 5)
            at = now - timedelta(days=days_ago, hours=rng.randint(0, 20), minutes=rank * 7 + n)
            row = await service.joined(
                session, tenant_id=tenant.id, invitee=friend, code=code.code, ip_hash=f"net-{rank}-{n}", now=at
            )
            made += row is not None
    # Two friends joining from one phone: the second waits for review.
    code = await service.invite_code(session, tenant_id=tenant.id, member_id=inviters[-1])
    for _ in range(2):
        friend = await members.create_member(session, tenant_id=tenant.id, nickname=rng.choice(FRIENDS))
        made += (
            await service.joined(
                session, tenant_id=tenant.id, invitee=friend, code=code.code, device_hash="demo-shared-phone", now=now
            )
            is not None
        )
    await service.request_settle(session, actor=actor, board_id=last_week.id, now=now)
    await service.settle(session, tenant_id=tenant.id, board_id=last_week.id, now=now)
    return made
