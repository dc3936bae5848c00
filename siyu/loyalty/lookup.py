"""Tiers of many members at once, for the console's member list (read-only; rules live in service.py)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import ColumnExpressionArgument, Exists, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.loyalty.models import MemberTier, Tier


async def tiers_of(session: AsyncSession, *, tenant_id: int, member_ids: Collection[int]) -> dict[int, Tier]:
    """The tier each member holds now; members without a tier are missing."""
    if not member_ids:
        return {}
    rows = await session.execute(
        select(MemberTier.member_id, Tier)
        .join(Tier, (Tier.tenant_id == MemberTier.tenant_id) & (Tier.id == MemberTier.tier_id))
        .where(MemberTier.tenant_id == tenant_id, MemberTier.member_id.in_(list(member_ids)))
    )
    return {key: value for key, value in rows.tuples()}  # noqa: C416 (a Result has keys(): dict() would misread it)


def holds_tier(
    tier_id: int | None, tenant_id: ColumnExpressionArgument[int], member_id: ColumnExpressionArgument[int]
) -> Exists:
    """In SQL: whether the member named by these columns holds this tier (`None`: any tier)."""
    statement = select(MemberTier.member_id).where(
        MemberTier.tenant_id == tenant_id, MemberTier.member_id == member_id, MemberTier.tier_id.is_not(None)
    )
    if tier_id is not None:
        statement = statement.where(MemberTier.tier_id == tier_id)
    return exists(statement)
