"""A tenant with an owner and fans, and how to check them in at a chosen instant, inside the rolled-back test
transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.checkin import service
from siyu.engagement.checkin.models import Checkin
from siyu.engagement.checkin.schemas import CheckinOut, CheckinRules
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.tenants import service as tenants
from siyu.tenants.models import Tenant
from siyu.tenants.service import TenantConfig
from tests.support import factories

JOINED = datetime(2030, 2, 1, 4, 0, tzinfo=UTC)


@dataclass
class Desk:
    session: AsyncSession
    tenant: Tenant
    owner: Principal

    async def config(self) -> TenantConfig:
        return await tenants.config_of(self.session, self.tenant.id)

    async def fan(self, points: int = 0, joined: datetime = JOINED) -> int:
        member = await factories.member(self.session, self.tenant.id)
        member.created_at = joined
        await self.session.flush()
        if points:
            await ledger.earn(
                self.session,
                tenant_id=self.tenant.id,
                member_id=member.id,
                amount=points,
                source_ref=f"seed:{member.id}",
                now=joined,
            )
        return member.id

    def local(self, day: date, hour: int = 12, minute: int = 0, second: int = 0, micro: int = 0) -> datetime:
        """An instant given in the tenant's local time."""
        zone = ZoneInfo(self.tenant.timezone)
        return datetime(day.year, day.month, day.day, hour, minute, second, micro, tzinfo=zone).astimezone(UTC)

    async def check_in(self, member_id: int, at: datetime) -> CheckinOut:
        return await service.check_in(self.session, tenant=await self.config(), member_id=member_id, now=at)

    async def make_up(self, member_id: int, day: date, at: datetime) -> CheckinOut:
        return await service.make_up(
            self.session, tenant=await self.config(), member_id=member_id, joined=JOINED.date(), day=day, now=at
        )

    async def rules(self, **changes: object) -> CheckinRules:
        value = CheckinRules(**changes)  # type: ignore[arg-type]
        return await service.save_rules(self.session, actor=self.owner, value=value)

    async def rows(self, member_id: int) -> dict[date, Checkin]:
        result = await self.session.scalars(
            select(Checkin)
            .where(Checkin.tenant_id == self.tenant.id, Checkin.member_id == member_id)
            .execution_options(populate_existing=True)
        )
        return {row.day: row for row in result}

    async def available(self, member_id: int) -> int:
        return (await ledger.balance(self.session, tenant_id=self.tenant.id, member_id=member_id)).available


def days(start: date, count: int) -> list[date]:
    return [start + timedelta(days=n) for n in range(count)]


@pytest.fixture
async def desk(session: AsyncSession) -> Desk:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    return Desk(session=session, tenant=tenant, owner=owner.principal)
