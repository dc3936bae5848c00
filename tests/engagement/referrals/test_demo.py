"""The demo tenant gets invitations, a review queue, an open leaderboard with the demo fan on it and a settled one."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.demo import data, engagement_referrals
from siyu.engagement.referrals import service
from siyu.engagement.referrals.models import State
from siyu.kit.pagination import PageRequest
from siyu.ledger import service as ledger
from siyu.members import service as members
from siyu.tenants import service as tenants


async def test_the_demo_has_a_leaderboard_with_the_demo_fan_and_a_settled_one(session: AsyncSession) -> None:
    summary = await data.load(session, members_count=12)
    tenant = await tenants.get_by_slug(session, summary.tenant_slug)
    fan = await ledger.earn(
        session,
        tenant_id=tenant.id,
        member_id=(await _any_member(session, tenant.id)),
        amount=5,
        source_ref="adjust:demo-fan",
    )
    made = await engagement_referrals.load(session, slug=summary.tenant_slug)
    assert made >= 10
    assert await engagement_referrals.load(session, slug=summary.tenant_slug) == 0  # loaded once
    boards = {b.title: b for b in await service.boards(session, tenant_id=tenant.id)}
    assert boards["上周直播间邀请榜"].status == "settled" and boards["本周直播邀请榜"].status == "open"
    this_week = boards["本周直播邀请榜"]
    assert await service.standing_of(session, board=this_week, member_id=fan.member_id) is not None
    assert len(await service.listing(session, tenant_id=tenant.id, state=State.suspected)) == 1


async def _any_member(session: AsyncSession, tenant_id: int) -> int:
    return (await members.search(session, tenant_id=tenant_id, query=None, page=PageRequest(size=1))).items[0].id
