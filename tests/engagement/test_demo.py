"""The demo's check-in: rules set, a month of history written through the service (streaks agree with a fresh
count, the ledger balances), and the demo fan has a streak to yesterday and a missed day she can make up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.demo import data, engagement_checkin
from siyu.engagement.checkin import rules, service
from siyu.engagement.checkin.models import Checkin
from siyu.kit.pagination import PageRequest
from siyu.kit.time import utcnow
from siyu.ledger import service as ledger
from siyu.ledger.audit import check_invariants
from siyu.members import service as members
from siyu.tenants import service as tenants


async def test_the_demo_tenant_gets_rules_and_a_month_of_history(session: AsyncSession) -> None:
    summary = await data.load(session, members_count=12)
    tenant = await tenants.get_by_slug(session, summary.tenant_slug)
    fan = (await members.search(session, tenant_id=tenant.id, query=None, page=PageRequest(size=1))).items[0]
    await ledger.earn(session, tenant_id=tenant.id, member_id=fan.id, amount=500, source_ref="seed:demo")
    written = await engagement_checkin.load(session, slug=summary.tenant_slug)
    assert written > 20
    assert (await service.rules_of(session, tenant.id)).rewards[-1].points == 20
    rows = (await session.scalars(select(Checkin).where(Checkin.tenant_id == tenant.id))).all()
    by_member: dict[int, set] = {}
    for row in rows:
        by_member.setdefault(row.member_id, set()).add(row.day)
    for member_id, days in by_member.items():
        counted = rules.streaks(days)
        assert {r.day: r.streak for r in rows if r.member_id == member_id} == counted
    config = await tenants.config_of(session, tenant.id)
    status = await service.status(session, tenant=config, member_id=fan.id, joined=None)
    today = rules.local_day(utcnow(), config.timezone)
    assert not status.checked_in_today and status.streak == 3 and status.reminder
    makeable = {d.day for d in status.days if d.can_make_up}
    assert today - timedelta(days=4) in makeable or (today - timedelta(days=4)).month != today.month
    assert await check_invariants(session, tenant.id) == []
