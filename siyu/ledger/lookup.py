"""Balances of many members at once, for the console's member list (read-only; rules live in service.py)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import ColumnExpressionArgument, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.ledger.models import Balance
from siyu.ledger.service import Points


async def balances(session: AsyncSession, *, tenant_id: int, member_ids: Collection[int]) -> dict[int, Points]:
    """Each member's balance; members who never had points are missing (read them as zeros)."""
    if not member_ids:
        return {}
    rows = await session.scalars(
        select(Balance).where(Balance.tenant_id == tenant_id, Balance.member_id.in_(list(member_ids)))
    )
    return {row.member_id: Points(row.available, row.pending, row.debt) for row in rows}


def available_of(tenant_id: ColumnExpressionArgument[int], member_id: ColumnExpressionArgument[int]) -> Any:
    """In SQL: the available points of the member named by these columns (0 without a balance), to sort or
    filter a list of members by."""
    return func.coalesce(
        select(Balance.available)
        .where(Balance.tenant_id == tenant_id, Balance.member_id == member_id)
        .scalar_subquery(),
        0,
    )
