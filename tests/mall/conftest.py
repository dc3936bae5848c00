"""A tenant with an owner and fans holding points, and rewards to redeem, inside the rolled-back test transaction."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.mall import service
from siyu.mall.models import Reward, RewardKind
from siyu.mall.schemas import AddressIn, RewardIn
from siyu.tenants.models import Tenant
from tests.support import factories

T0 = datetime(2030, 3, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
ADDRESS = AddressIn(name="林小鱼", phone="13800138000", region="浙江省 杭州市 西湖区", detail="文三路 90 号 3 幢 501")
_refs = itertools.count(1)


@dataclass
class Mall:
    session: AsyncSession
    tenant: Tenant
    owner: Principal
    now: datetime = T0

    @property
    def tenant_id(self) -> int:
        return self.tenant.id

    async def fan(self, points: int = 1000, *, expires_at: datetime | None = None) -> int:
        member = await factories.member(self.session, self.tenant.id)
        if points:
            await self.give(member.id, points, expires_at=expires_at)
        return member.id

    async def give(self, member_id: int, points: int, *, expires_at: datetime | None = None) -> None:
        await ledger.earn(
            self.session,
            tenant_id=self.tenant.id,
            member_id=member_id,
            amount=points,
            source_ref=f"order:taobao:{next(_refs):019d}",
            expires_at=expires_at,
            now=self.now - timedelta(days=1),
        )

    async def reward(self, **values: Any) -> Reward:
        data: dict[str, Any] = {"kind": RewardKind.coupon, "title": "满 100 减 20 券", "points_price": 100, "stock": 10}
        data.update(values)
        return await service.create_reward(self.session, actor=self.owner, data=RewardIn(**data))

    async def available(self, member_id: int) -> int:
        return (await ledger.balance(self.session, tenant_id=self.tenant.id, member_id=member_id)).available


@pytest.fixture
async def mall(session: AsyncSession) -> Mall:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    return Mall(session=session, tenant=tenant, owner=owner.principal)
