"""A tenant with an owner, members and their order credits, inside the rolled-back test transaction."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.referrals import service
from siyu.engagement.referrals.models import Referral
from siyu.kit.web import Principal
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.members import service as members
from siyu.members.models import Member
from siyu.tenants.models import Tenant
from tests.support import factories

T0 = datetime(2030, 3, 1, 4, 0, tzinfo=UTC)
_orders = itertools.count(1)


@dataclass
class Invites:
    session: AsyncSession
    tenant: Tenant
    owner: Principal
    now: datetime = T0

    @property
    def tenant_id(self) -> int:
        return self.tenant.id

    async def member(self, nickname: str = "小鱼", phone: str | None = None) -> Member:
        member = await factories.member(self.session, self.tenant_id, nickname=nickname)
        if phone:
            await members.bind_identity(
                self.session, tenant_id=self.tenant_id, member=member, kind="phone", value=phone
            )
        return member

    async def code(self, member: Member, *, device: str | None = "dev-inviter", ip: str | None = "ip-inviter") -> str:
        row = await service.invite_code(
            self.session, tenant_id=self.tenant_id, member_id=member.id, device_hash=device, ip_hash=ip
        )
        return row.code

    async def join(
        self, code: str | None, *, nickname: str = "新朋友", device: str | None = None, ip: str | None = None
    ) -> tuple[Member, Referral | None]:
        invitee = await self.member(nickname)
        n = next(_orders)
        row = await service.joined(
            self.session,
            tenant_id=self.tenant_id,
            invitee=invitee,
            code=code,
            device_hash=device or f"dev-{n}",
            ip_hash=ip or f"ip-{n}",
            now=self.now,
        )
        return invitee, row

    async def first_order(self, member_id: int, points: int = 30) -> None:
        await ledger.earn(
            self.session,
            tenant_id=self.tenant_id,
            member_id=member_id,
            amount=points,
            source_ref=refs.order_ref("taobao", f"{next(_orders):019d}"),
            now=self.now,
        )

    async def available(self, member_id: int) -> int:
        return (await ledger.balance(self.session, tenant_id=self.tenant_id, member_id=member_id)).available

    def later(self, minutes: int) -> datetime:
        return self.now + timedelta(minutes=minutes)


@pytest.fixture
async def invites(session: AsyncSession) -> Invites:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    return Invites(session, tenant, owner.principal)
