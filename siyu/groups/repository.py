"""Every query of the fan groups, scoped to a tenant."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnExpressionArgument, Exists, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.groups.models import FanGroup, GroupMember
from siyu.kit.db import of_tenant
from siyu.kit.pagination import Page, PageRequest, paginate


def add(session: AsyncSession, row: Any) -> None:
    session.add(row)


async def delete(session: AsyncSession, row: Any) -> None:
    await session.delete(row)


# Groups


async def get_group(session: AsyncSession, *, tenant_id: int, group_id: int, lock: bool = False) -> FanGroup | None:
    if lock:
        return await session.scalar(
            select(FanGroup)
            .where(of_tenant(FanGroup, tenant_id), FanGroup.id == group_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    return await session.get(FanGroup, (tenant_id, group_id))


async def groups(session: AsyncSession, *, tenant_id: int) -> list[FanGroup]:
    """Every group of the tenant, overflow groups after their main group in order."""
    rows = await session.scalars(
        select(FanGroup).where(of_tenant(FanGroup, tenant_id)).order_by(FanGroup.family_id, FanGroup.seq)
    )
    return list(rows)


async def family(session: AsyncSession, *, tenant_id: int, family_id: int) -> list[FanGroup]:
    rows = await session.scalars(
        select(FanGroup).where(of_tenant(FanGroup, tenant_id), FanGroup.family_id == family_id).order_by(FanGroup.seq)
    )
    return list(rows)


async def last_seq(session: AsyncSession, *, tenant_id: int, family_id: int) -> int:
    found = await session.scalar(
        select(func.max(FanGroup.seq)).where(of_tenant(FanGroup, tenant_id), FanGroup.family_id == family_id)
    )
    return int(found or 0)


# Members


async def member_counts(session: AsyncSession, *, tenant_id: int) -> dict[int, int]:
    """Confirmed members per group (groups without any are missing)."""
    rows = await session.execute(
        select(GroupMember.group_id, func.count())
        .where(of_tenant(GroupMember, tenant_id))
        .group_by(GroupMember.group_id)
    )
    return {group_id: int(n) for group_id, n in rows.tuples()}


async def count_in_group(session: AsyncSession, *, tenant_id: int, group_id: int) -> int:
    found = await session.scalar(
        select(func.count())
        .select_from(GroupMember)
        .where(of_tenant(GroupMember, tenant_id), GroupMember.group_id == group_id)
    )
    return int(found or 0)


async def membership(session: AsyncSession, *, tenant_id: int, family_id: int, member_id: int) -> GroupMember | None:
    return await session.scalar(
        select(GroupMember).where(
            of_tenant(GroupMember, tenant_id), GroupMember.family_id == family_id, GroupMember.member_id == member_id
        )
    )


async def memberships_of(session: AsyncSession, *, tenant_id: int, member_id: int) -> list[GroupMember]:
    rows = await session.scalars(
        select(GroupMember).where(of_tenant(GroupMember, tenant_id), GroupMember.member_id == member_id)
    )
    return list(rows)


async def members_page(
    session: AsyncSession, *, tenant_id: int, family_id: int, page: PageRequest
) -> Page[GroupMember]:
    statement = select(GroupMember).where(of_tenant(GroupMember, tenant_id), GroupMember.family_id == family_id)
    return await paginate(session, statement, page, [GroupMember.joined_at.desc(), GroupMember.id.desc()])


def joined_family(
    family_id: int, tenant_id: ColumnExpressionArgument[int], member_id: ColumnExpressionArgument[int]
) -> Exists:
    """In SQL: whether the member named by these columns confirmed she joined a group of this family."""
    return exists(
        select(GroupMember.id).where(
            of_tenant(GroupMember, tenant_id), GroupMember.family_id == family_id, GroupMember.member_id == member_id
        )
    )
