"""A tenant with an owner, tiers (银卡 < 金卡) and fans whose data each test sets: a tier, points through the ledger,
claims on a platform some days ago, bound accounts, addresses, live reservations, when they joined."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims.models import Claim, Outcome
from siyu.kit.ids import new_id
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.live.models import Reservation, Show
from siyu.loyalty import service as loyalty
from siyu.loyalty.models import MemberTier, Tier
from siyu.loyalty.schemas import TierIn
from siyu.mall.models import Address
from siyu.members import service as members
from siyu.segments import service
from siyu.segments.models import Segment, Tag
from siyu.segments.schemas import SegmentFilter, SegmentIn, TagIn
from siyu.tenants.models import Tenant
from tests.support import factories

_seq = itertools.count(1)


@dataclass
class World:
    session: AsyncSession
    tenant: Tenant
    owner: Principal
    tiers: dict[str, Tier]
    data_dir: Path

    @property
    def tenant_id(self) -> int:
        return self.tenant.id

    async def fan(
        self, nickname: str = "小鱼", *, tier: str | None = None, points: int = 0, joined: datetime | None = None
    ) -> int:
        member = await factories.member(self.session, self.tenant_id, nickname=nickname)
        if joined is not None:
            member.created_at = joined
        if tier is not None:
            self.session.add(MemberTier(tenant_id=self.tenant_id, member_id=member.id, tier_id=self.tiers[tier].id))
        await self.session.flush()
        if points:
            await ledger.earn(
                self.session,
                tenant_id=self.tenant_id,
                member_id=member.id,
                amount=points,
                source_ref=refs.order_ref("taobao", f"S{next(_seq):012d}"),
            )
        return member.id

    async def claim(
        self, member_id: int, *, platform: str = "taobao", at: datetime | None = None, outcome: str = Outcome.credited
    ) -> None:
        self.session.add(
            Claim(
                tenant_id=self.tenant_id,
                id=new_id(),
                member_id=member_id,
                platform=platform,
                order_id=f"88{next(_seq):010d}",
                outcome=outcome,
                message="已获得积分",
                points=10,
                created_at=at or utcnow(),
            )
        )
        await self.session.flush()

    async def bind(self, member_id: int, kind: str, value: str) -> None:
        member = await members.get_member(self.session, tenant_id=self.tenant_id, member_id=member_id)
        await members.bind_identity(self.session, tenant_id=self.tenant_id, member=member, kind=kind, value=value)

    async def address(self, member_id: int, region: str) -> None:
        self.session.add(
            Address(
                tenant_id=self.tenant_id,
                id=new_id(),
                member_id=member_id,
                name="林小鱼",
                phone="13800138000",
                region=region,
                detail="文三路 90 号",
            )
        )
        await self.session.flush()

    async def show(self, starts_at: datetime, title: str = "双11 专场") -> Show:
        show = Show(
            tenant_id=self.tenant_id,
            id=new_id(),
            platform="douyin",
            title=title,
            starts_at=starts_at,
            ends_at=starts_at + timedelta(hours=3),
        )
        self.session.add(show)
        await self.session.flush()
        return show

    async def reserve(self, member_id: int, show: Show, *, cancelled: bool = False) -> None:
        now = utcnow()
        self.session.add(
            Reservation(
                tenant_id=self.tenant_id,
                id=new_id(),
                show_id=show.id,
                member_id=member_id,
                reserved_at=now,
                cancelled_at=now if cancelled else None,
            )
        )
        await self.session.flush()

    async def tag(self, name: str = "高客单", color: str | None = None) -> Tag:
        return await service.create_tag(self.session, actor=self.owner, data=TagIn(name=name, color=color))

    async def segment(self, name: str = "金卡会员", **criteria: object) -> Segment:
        return await service.create_segment(
            self.session,
            actor=self.owner,
            data=SegmentIn(name=name, filter=SegmentFilter.model_validate(criteria)),
            data_dir=self.data_dir,
        )

    async def matching(self, **criteria: object) -> set[int]:
        """The members a filter matches now."""
        scope = await service.scope_of(self.session, tenant_id=self.tenant_id, data_dir=self.data_dir)
        found: set[int] = set()
        async for batch in service.matching_ids(self.session, scope, SegmentFilter.model_validate(criteria)):
            found.update(batch)
        count = await service.count_matching(self.session, scope, SegmentFilter.model_validate(criteria))
        assert count == len(found)
        return found


@pytest.fixture
async def world(session: AsyncSession, tmp_path: Path) -> World:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    tiers = {}
    for name, threshold in (("银卡", 100), ("金卡", 1000)):
        tiers[name] = await loyalty.create_tier(
            session, actor=owner.principal, data=TierIn(name=name, threshold=threshold)
        )
    return World(session=session, tenant=tenant, owner=owner.principal, tiers=tiers, data_dir=tmp_path)
