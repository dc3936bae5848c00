"""A tenant with members and a clock of its own, for ledger tests inside the rolled-back test transaction."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.web import Principal
from siyu.ledger import service
from siyu.ledger.audit import check_invariants
from siyu.ledger.models import Entry, Lot
from tests.support import factories

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class Book:
    session: AsyncSession
    tenant_id: int
    now: datetime = T0
    _orders: int = field(default=0)

    def tick(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def days(self, n: float) -> datetime:
        return self.now + timedelta(days=n)

    def order(self) -> str:
        self._orders += 1
        return f"order:taobao:19306798581706{self._orders:05d}"

    async def member(self, nickname: str = "小鱼") -> int:
        return (await factories.member(self.session, self.tenant_id, nickname)).id

    async def points(self, member_id: int) -> tuple[int, int, int]:
        """(available, pending, debt)"""
        p = await service.balance(self.session, tenant_id=self.tenant_id, member_id=member_id)
        return p.available, p.pending, p.debt

    async def earn(self, member_id: int, amount: int, *, pending: bool = False, expires_in: float | None = None) -> str:
        ref = self.order()
        await service.earn(
            self.session,
            tenant_id=self.tenant_id,
            member_id=member_id,
            amount=amount,
            source_ref=ref,
            pending=pending,
            expires_at=None if expires_in is None else self.days(expires_in),
            now=self.now,
        )
        return ref

    async def lot(self, source_ref: str) -> Lot:
        lot = await self.session.scalar(
            select(Lot)
            .where(Lot.tenant_id == self.tenant_id, Lot.source_ref == source_ref)
            .execution_options(populate_existing=True)
        )
        assert lot is not None
        return lot

    async def entries(self, member_id: int | None = None) -> list[Entry]:
        query = select(Entry).where(Entry.tenant_id == self.tenant_id).order_by(Entry.created_at, Entry.id)
        if member_id is not None:
            query = query.where(Entry.member_id == member_id)
        return list(await self.session.scalars(query))

    async def check(self) -> None:
        assert await check_invariants(self.session, self.tenant_id) == []


@pytest.fixture
async def book(session: AsyncSession) -> Book:
    tenant = await factories.tenant(session)
    return Book(session=session, tenant_id=tenant.id)


def staff(tenant_id: int, label: str = "运营小王") -> Principal:
    return Principal(
        tenant_id=tenant_id, kind="staff", actor_id=7, label=label, permissions=frozenset({"members.write"})
    )
