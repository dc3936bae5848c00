"""The demo tenant gets invitations (made before its orders are claimed), a review queue, an open leaderboard and a
settled one; after the claims, invitations whose friends' first order points posted are paid."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.demo import data, engagement_referrals
from siyu.engagement.referrals import service
from siyu.engagement.referrals.models import State
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.tenants import service as tenants


async def test_the_demo_has_invitations_a_review_queue_and_two_leaderboards(session: AsyncSession) -> None:
    summary = await data.load(session, members_count=30)
    tenant = await tenants.get_by_slug(session, summary.tenant_slug)
    assert await engagement_referrals.load(session, slug=summary.tenant_slug) == 17
    assert await engagement_referrals.load(session, slug=summary.tenant_slug) == 0  # loaded once
    boards = {b.title: b for b in await service.boards(session, tenant_id=tenant.id)}
    assert boards["上周直播间邀请榜"].status == "settled" and boards["本周直播邀请榜"].status == "open"
    assert len(await service.standings(session, board=boards["本周直播邀请榜"])) == 5
    assert len(await service.listing(session, tenant_id=tenant.id, state=State.suspected)) == 1

    friend = (await service.listing(session, tenant_id=tenant.id, state=State.signed_up))[0]
    ref = refs.order_ref("taobao", "4012345678901234567")
    await ledger.earn(session, tenant_id=tenant.id, member_id=friend.invitee_id, amount=20, source_ref=ref)
    assert await engagement_referrals.pay(session, slug=summary.tenant_slug) == 1
