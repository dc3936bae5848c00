"""A tenant with an owner, a Douyin channel and fans, inside the rolled-back test transaction; an aired show with
featured products (a past show is made by moving a planned one back, as time would)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.live import service as live
from siyu.live.models import Product, Show
from siyu.live.schemas import ProductIn, ShowIn
from siyu.tenants.models import Channel, Platform, Tenant
from tests.support import factories

TZ = "Asia/Shanghai"
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"
    b"\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


@dataclass
class Voice:
    session: AsyncSession
    tenant: Tenant
    owner: Principal
    channel: Channel

    @property
    def tenant_id(self) -> int:
        return self.tenant.id

    async def fan(self, nickname: str = "小鱼") -> int:
        return (await factories.member(self.session, self.tenant.id, nickname=nickname)).id

    async def aired(self, *titles: str, ended_hours_ago: float = 2) -> tuple[Show, list[Product]]:
        """A show that has aired, featuring `titles`."""
        starts = utcnow() + timedelta(hours=24)
        show = await live.create_show(
            self.session,
            actor=self.owner,
            data=ShowIn(
                channel_id=self.channel.id, title="双12 护肤专场", starts_at=starts, ends_at=starts + timedelta(hours=2)
            ),
        )
        products = [
            await live.add_product(
                self.session, actor=self.owner, show_id=show.id, data=ProductIn(title=t, price_fen=9900)
            )
            for t in titles
        ]
        show.starts_at = utcnow() - timedelta(hours=ended_hours_ago + 2)
        show.ends_at = utcnow() - timedelta(hours=ended_hours_ago)
        await self.session.flush()
        return show, products


@pytest.fixture
async def voice(session: AsyncSession) -> Voice:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    channel = await factories.channel(session, owner.principal, Platform.douyin)
    return Voice(session=session, tenant=tenant, owner=owner.principal, channel=channel)
