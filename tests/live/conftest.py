"""A tenant with an owner, a Douyin channel and fans, inside the rolled-back test transaction; shows planned in the
future (a past show is made by moving a planned one back, as time would)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.live import service
from siyu.live.models import Show
from siyu.live.schemas import ShowIn
from siyu.orders.models import STATUS_RANK, Order
from siyu.tenants.models import Channel, Platform, Tenant
from tests.support import factories

_orders = itertools.count(1)


@dataclass
class Live:
    session: AsyncSession
    tenant: Tenant
    owner: Principal
    channel: Channel

    @property
    def tenant_id(self) -> int:
        return self.tenant.id

    async def fan(self, nickname: str = "小鱼") -> int:
        return (await factories.member(self.session, self.tenant.id, nickname=nickname)).id

    async def show(self, *, in_hours: float = 24, hours: float = 2, **values: Any) -> Show:
        starts = utcnow() + timedelta(hours=in_hours)
        data: dict[str, Any] = {
            "channel_id": self.channel.id,
            "title": "双12 护肤专场",
            "starts_at": starts,
            "ends_at": starts + timedelta(hours=hours),
            "benefits": ["预约抽 100 份小样"],
        }
        data.update(values)
        return await service.create_show(self.session, actor=self.owner, data=ShowIn(**data))

    async def move(self, show: Show, starts_at: datetime, ends_at: datetime) -> Show:
        """As if time had passed: the show's window moved (the service refuses a start in the past)."""
        show.starts_at, show.ends_at = starts_at, ends_at
        await self.session.flush()
        return show

    async def order(
        self,
        *,
        placed_at: datetime | None,
        paid_at: datetime | None = None,
        platform: str = "douyin",
        paid_fen: int = 10000,
        status: str = "paid",
        refund_fen: int = 0,
        shop: str | None = None,
        author: str | None = None,
        live_room: str | None = None,
        member_id: int | None = None,
    ) -> Order:
        now = utcnow()
        row = Order(
            tenant_id=self.tenant_id,
            platform=platform,
            order_id=f"69{next(_orders):017d}",
            status=status,
            status_rank=STATUS_RANK[status],
            paid_fen=paid_fen,
            refund_fen=refund_fen,
            item_count=1,
            title="精华液",
            shop=shop,
            author=author,
            live_room=live_room,
            placed_at=placed_at,
            paid_at=paid_at or placed_at,
            first_seen_at=now,
            last_changed_at=now,
        )
        self.session.add(row)
        await self.session.flush()
        if member_id is not None:  # credited to her, as a claim would
            await ledger.earn(
                self.session,
                tenant_id=self.tenant_id,
                member_id=member_id,
                amount=10,
                source_ref=refs.order_ref(platform, row.order_id),
                now=now,
            )
        return row


@pytest.fixture
async def live(session: AsyncSession) -> Live:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    channel = await factories.channel(session, owner.principal, Platform.douyin)
    return Live(session=session, tenant=tenant, owner=owner.principal, channel=channel)
