"""A tenant with an owner, tiers (银卡 < 金卡 < 黑钻) and fans whose standing each test sets: a tier, points through
the ledger, claimed orders paid some days ago."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims.models import Claim, Outcome
from siyu.groups import service
from siyu.groups.models import FanGroup
from siyu.groups.schemas import GroupIn
from siyu.kit.ids import new_id
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.loyalty.models import MemberTier, Tier
from siyu.loyalty.schemas import TierIn
from siyu.orders.models import STATUS_RANK, Order
from siyu.tenants.models import Tenant
from tests.support import factories

_seq = itertools.count(1)

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@dataclass
class Groups:
    session: AsyncSession
    tenant: Tenant
    owner: Principal
    tiers: dict[str, Tier]

    @property
    def tenant_id(self) -> int:
        return self.tenant.id

    async def fan(self, nickname: str = "小鱼", *, tier: str | None = None, points: int = 0) -> int:
        member = await factories.member(self.session, self.tenant_id, nickname=nickname)
        if tier is not None:
            self.session.add(MemberTier(tenant_id=self.tenant_id, member_id=member.id, tier_id=self.tiers[tier].id))
            await self.session.flush()
        if points:
            await self.points(member.id, points)
        return member.id

    async def points(self, member_id: int, amount: int) -> None:
        await ledger.earn(
            self.session,
            tenant_id=self.tenant_id,
            member_id=member_id,
            amount=amount,
            source_ref=refs.order_ref("taobao", f"P{next(_seq):012d}"),
        )

    async def order(
        self, member_id: int, *, days_ago: float = 1, paid_fen: int = 10000, status: str = "paid", refund_fen: int = 0
    ) -> Order:
        """An order paid `days_ago` days ago, claimed by her (credited)."""
        now = utcnow()
        paid_at = now - timedelta(days=days_ago)
        row = Order(
            tenant_id=self.tenant_id,
            platform="taobao",
            order_id=f"19306798{next(_seq):09d}",
            status=status,
            status_rank=STATUS_RANK[status],
            paid_fen=paid_fen,
            refund_fen=refund_fen,
            item_count=1,
            title="精华液",
            first_seen_at=now,
            last_changed_at=now,
            paid_at=paid_at,
            placed_at=paid_at,
        )
        self.session.add(row)
        self.session.add(
            Claim(
                tenant_id=self.tenant_id,
                id=new_id(),
                member_id=member_id,
                platform="taobao",
                order_id=row.order_id,
                outcome=Outcome.credited,
                message="已领取",
                points=10,
            )
        )
        await self.session.flush()
        return row

    async def group(self, name: str = "金卡群", **values: Any) -> FanGroup:
        return await service.create_group(self.session, actor=self.owner, data=GroupIn(name=name, **values))

    async def qr(self, group: FanGroup, data_dir: Any, data: bytes = PNG) -> FanGroup:
        return await service.set_qr(self.session, actor=self.owner, group_id=group.id, data=data, data_dir=data_dir)


@pytest.fixture
async def groups(session: AsyncSession) -> Groups:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    tiers = {}
    for name, threshold in (("银卡", 100), ("金卡", 1000), ("黑钻", 5000)):
        tiers[name] = await loyalty.create_tier(
            session, actor=owner.principal, data=TierIn(name=name, threshold=threshold)
        )
    return Groups(session=session, tenant=tenant, owner=owner.principal, tiers=tiers)
