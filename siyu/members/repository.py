from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.db import keep
from siyu.kit.pagination import Page, PageRequest
from siyu.members.models import Identity, Member


def add(session: AsyncSession, row: Member | Identity) -> None:
    session.add(row)


def _members(tenant_id: int):  # type: ignore[no-untyped-def]
    return select(Member).where(Member.tenant_id == tenant_id)


async def get(session: AsyncSession, *, tenant_id: int, member_id: int) -> Member | None:
    member = await session.get(Member, (tenant_id, member_id))
    return None if member is None else keep(session, member)  # read again by id, she comes from memory


async def get_many(session: AsyncSession, *, tenant_id: int, member_ids: list[int]) -> list[Member]:
    if not member_ids:
        return []
    return list(await session.scalars(select(Member).where(Member.tenant_id == tenant_id, Member.id.in_(member_ids))))


async def get_identity(session: AsyncSession, *, tenant_id: int, kind: str, value: str) -> Identity | None:
    return await session.get(Identity, (tenant_id, kind, value))


async def identities_of(session: AsyncSession, *, tenant_id: int, member_id: int) -> list[Identity]:
    rows = await session.scalars(
        select(Identity)
        .where(Identity.tenant_id == tenant_id, Identity.member_id == member_id)
        .order_by(Identity.kind, Identity.value)
    )
    return list(rows)


async def identities_of_many(session: AsyncSession, *, tenant_id: int, member_ids: list[int]) -> list[Identity]:
    if not member_ids:
        return []
    rows = await session.scalars(
        select(Identity)
        .where(Identity.tenant_id == tenant_id, Identity.member_id.in_(member_ids))
        .order_by(Identity.member_id, Identity.kind)
    )
    return list(rows)


MAX_MEMBER_ID = 2**63 - 1  # ids are 64-bit signed integers


async def search(session: AsyncSession, *, tenant_id: int, query: str | None, page: PageRequest) -> Page[Member]:
    statement = _members(tenant_id).where(Member.status == "active")
    if query:
        matching = select(Identity.member_id).where(
            Identity.tenant_id == tenant_id, Identity.value.contains(query, autoescape=True)
        )
        clauses = [Member.nickname.contains(query, autoescape=True), Member.id.in_(matching)]
        if query.isascii() and query.isdigit() and int(query) <= MAX_MEMBER_ID:  # (a longer number is no id)
            clauses.append(Member.id == int(query))
        statement = statement.where(or_(*clauses))
    total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = await session.scalars(
        statement.order_by(Member.created_at.desc(), Member.id.desc()).offset(page.offset).limit(page.size)
    )
    return Page(items=list(rows), total=total, request=page)


async def count(session: AsyncSession, *, tenant_id: int) -> int:
    return (
        await session.scalar(
            select(func.count()).select_from(Member).where(Member.tenant_id == tenant_id, Member.status == "active")
        )
        or 0
    )


async def count_created_between(session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(Member)
            .where(Member.tenant_id == tenant_id, Member.created_at >= start, Member.created_at < end)
        )
        or 0
    )


async def delete_identity(session: AsyncSession, *, tenant_id: int, member_id: int, kind: str, value: str) -> bool:
    result = await session.execute(
        delete(Identity).where(
            Identity.tenant_id == tenant_id,
            Identity.member_id == member_id,
            Identity.kind == kind,
            Identity.value == value,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def move_identities(session: AsyncSession, *, tenant_id: int, from_member_id: int, into_member_id: int) -> int:
    result = await session.execute(
        update(Identity)
        .where(Identity.tenant_id == tenant_id, Identity.member_id == from_member_id)
        .values(member_id=into_member_id)
    )
    return int(getattr(result, "rowcount", 0))


async def mark_merged(session: AsyncSession, *, tenant_id: int, member_id: int, into_member_id: int) -> None:
    await session.execute(
        update(Member)
        .where(Member.tenant_id == tenant_id, Member.id == member_id)
        .values(status="merged", merged_into=into_member_id)
    )
