"""A tenant with a points programme, on the ledger tests' book (rolled back after each test)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.web import Principal
from siyu.loyalty.rules import OrderFacts
from tests.ledger.conftest import Book
from tests.support import factories

T0 = datetime(2030, 3, 1, 12, 0, tzinfo=UTC)


def owner(tenant_id: int) -> Principal:
    return Principal(
        tenant_id=tenant_id, kind="staff", actor_id=7, label="店主", permissions=frozenset({"points.rules"})
    )


_sequence = iter(range(10**6))


def an_order(paid_yuan: float, **kw: object) -> OrderFacts:
    number = next(_sequence)
    return OrderFacts(platform="taobao", order_id=f"19306798581706{number:05d}", paid_fen=round(paid_yuan * 100), **kw)  # type: ignore[arg-type]


@pytest.fixture
async def book(session: AsyncSession) -> Book:
    tenant = await factories.tenant(session)
    return Book(session=session, tenant_id=tenant.id, now=T0)
