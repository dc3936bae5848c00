from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import (
    ColumnElement,
    ColumnExpressionArgument,
    Exists,
    Table,
    bindparam,
    delete,
    exists,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.util import identity_key

from siyu.kit import bulk
from siyu.kit.db import adopt_new, in_memory, keep, of_tenant
from siyu.kit.fast import Fast
from siyu.kit.pagination import Page, PageRequest, Sort, paginate
from siyu.members.models import Identity, Member


def add(session: AsyncSession, row: Member | Identity) -> None:
    session.add(row)


def _members(tenant_id: int):  # type: ignore[no-untyped-def]
    return select(Member).where(of_tenant(Member, tenant_id))


_COLUMNS = [column.key for column in Member.__table__.c]
_BY_ID = Fast(
    select(*Member.__table__.c).where(of_tenant(Member, bindparam("tenant_id")), Member.id == bindparam("id"))
)


async def get(session: AsyncSession, *, tenant_id: int, member_id: int) -> Member | None:
    """A member by id: from the session when it has her, else one plain read (every fan request makes one)."""
    held = in_memory(session, Member, (tenant_id, member_id))
    if held is not None:
        return keep(session, held)
    if session.identity_map.get(identity_key(Member, (tenant_id, member_id))) is None:
        row = await _BY_ID.one_or_none(session, {"tenant_id": tenant_id, "id": member_id})
        if row is None:
            return None
        found = adopt_new(session, Member, dict(zip(_COLUMNS, row, strict=True)))
        return keep(session, found)  # read again by id, she comes from memory
    member = await session.get(Member, (tenant_id, member_id))  # held, but not whole
    return None if member is None else keep(session, member)


async def get_many(session: AsyncSession, *, tenant_id: int, member_ids: list[int]) -> list[Member]:
    if not member_ids:
        return []
    return list(await session.scalars(select(Member).where(of_tenant(Member, tenant_id), Member.id.in_(member_ids))))


async def get_identity(session: AsyncSession, *, tenant_id: int, kind: str, value: str) -> Identity | None:
    return await session.get(Identity, (tenant_id, kind, value))


async def identities_of(session: AsyncSession, *, tenant_id: int, member_id: int) -> list[Identity]:
    rows = await session.scalars(
        select(Identity)
        .where(of_tenant(Identity, tenant_id), Identity.member_id == member_id)
        .order_by(Identity.kind, Identity.value)
    )
    return list(rows)


async def identities_of_many(session: AsyncSession, *, tenant_id: int, member_ids: list[int]) -> list[Identity]:
    if not member_ids:
        return []
    rows = await session.scalars(
        select(Identity)
        .where(of_tenant(Identity, tenant_id), Identity.member_id.in_(member_ids))
        .order_by(Identity.member_id, Identity.kind)
    )
    return list(rows)


MAX_MEMBER_ID = 2**63 - 1  # ids are 64-bit signed integers
MEMBER_SORTS: dict[str, Any] = {"created_at": Member.created_at, "nickname": Member.nickname}


async def search(
    session: AsyncSession,
    *,
    tenant_id: int,
    query: str | None,
    page: PageRequest,
    sort: Sort | None = None,
    where: Sequence[ColumnElement[bool]] = (),
    sort_columns: Mapping[str, Any] | None = None,
) -> Page[Member]:
    statement = _members(tenant_id).where(Member.status == "active")
    if query:
        matching = select(Identity.member_id).where(
            of_tenant(Identity, tenant_id), Identity.value.contains(query, autoescape=True)
        )
        clauses = [Member.nickname.contains(query, autoescape=True), Member.id.in_(matching)]
        if query.isascii() and query.isdigit() and int(query) <= MAX_MEMBER_ID:  # (a longer number is no id)
            clauses.append(Member.id == int(query))
        statement = statement.where(or_(*clauses))
    if where:
        statement = statement.where(*where)
    columns = {**MEMBER_SORTS, **(sort_columns or {})}
    order_by = (sort or Sort("created_at", descending=True)).order_by(columns, Member.id)
    return await paginate(session, statement, page, order_by)


async def count(session: AsyncSession, *, tenant_id: int) -> int:
    return (
        await session.scalar(
            select(func.count()).select_from(Member).where(of_tenant(Member, tenant_id), Member.status == "active")
        )
        or 0
    )


async def count_created_between(session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime) -> int:
    return (
        await session.scalar(
            select(func.count())
            .select_from(Member)
            .where(of_tenant(Member, tenant_id), Member.created_at >= start, Member.created_at < end)
        )
        or 0
    )


async def delete_identity(session: AsyncSession, *, tenant_id: int, member_id: int, kind: str, value: str) -> bool:
    result = await session.execute(
        delete(Identity).where(
            of_tenant(Identity, tenant_id),
            Identity.member_id == member_id,
            Identity.kind == kind,
            Identity.value == value,
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def move_identities(session: AsyncSession, *, tenant_id: int, from_member_id: int, into_member_id: int) -> int:
    result = await session.execute(
        update(Identity)
        .where(of_tenant(Identity, tenant_id), Identity.member_id == from_member_id)
        .values(member_id=into_member_id)
    )
    return int(getattr(result, "rowcount", 0))


async def mark_merged(session: AsyncSession, *, tenant_id: int, member_id: int, into_member_id: int) -> None:
    await session.execute(
        update(Member)
        .where(of_tenant(Member, tenant_id), Member.id == member_id)
        .values(status="merged", merged_into=into_member_id)
    )


async def merged(session: AsyncSession, *, tenant_id: int) -> list[tuple[int, int]]:
    """(member, the member she was merged into) for every merged member of the tenant."""
    rows = await session.execute(
        select(Member.id, Member.merged_into).where(
            of_tenant(Member, tenant_id), Member.status == "merged", Member.merged_into.is_not(None)
        )
    )
    return [(int(a), int(b)) for a, b in rows.tuples() if b is not None]


async def note_visits(session: AsyncSession, visits: Sequence[tuple[int, int, datetime]]) -> None:
    """Her last visit is `at`, for each (tenant, member, at), unless a later one is stored already: one statement
    run for all of them, in the order given (callers sort by member, the order rows of several members are locked)."""
    if not visits:
        return
    table = Member.__table__
    assert isinstance(table, Table)
    statement = (
        update(table)
        .where(
            of_tenant(table.c, bindparam("t")),
            table.c.id == bindparam("m"),
            or_(table.c.last_visit_at.is_(None), table.c.last_visit_at < bindparam("at")),
        )
        .values(last_visit_at=bindparam("at"))
    )
    await session.execute(statement, [{"t": t, "m": m, "at": at} for t, m, at in visits])


async def visits_since(session: AsyncSession, *, tenant_id: int, since: datetime | None) -> list[tuple[int, datetime]]:
    """(member, her last visit) of the members who visited at or after `since` (None: every member who ever did)."""
    statement = select(Member.id, Member.last_visit_at).where(
        of_tenant(Member, tenant_id), Member.last_visit_at.is_not(None)
    )
    if since is not None:
        statement = statement.where(Member.last_visit_at >= since)
    rows = await session.execute(statement)
    return [(int(m), at) for m, at in rows.tuples() if at is not None]


async def identities_of_kinds(
    session: AsyncSession, *, tenant_id: int, kinds: Sequence[str]
) -> list[tuple[int, str, str]]:
    """(member, kind, value) of every identity of these kinds."""
    if not kinds:
        return []
    rows = await session.execute(
        select(Identity.member_id, Identity.kind, Identity.value).where(
            of_tenant(Identity, tenant_id), Identity.kind.in_(list(kinds))
        )
    )
    return [(int(m), str(k), str(v)) for m, k, v in rows.tuples()]


# Members by conditions a higher domain supplies (saved segments): counted, or read id by id in order


async def count_where(session: AsyncSession, *, tenant_id: int, where: Sequence[ColumnElement[bool]]) -> int:
    """Active members meeting every condition in `where`."""
    statement = (
        select(func.count()).select_from(Member).where(of_tenant(Member, tenant_id), Member.status == "active", *where)
    )
    return int(await session.scalar(statement) or 0)


async def ids_where(
    session: AsyncSession, *, tenant_id: int, where: Sequence[ColumnElement[bool]], after: int = 0, size: int = 1000
) -> list[int]:
    """The next `size` active members (by id, above `after`) meeting every condition in `where`."""
    rows = await session.scalars(
        select(Member.id)
        .where(of_tenant(Member, tenant_id), Member.status == "active", Member.id > after, *where)
        .order_by(Member.id)
        .limit(size)
    )
    return list(rows)


async def id_frames_where(
    session: AsyncSession, *, tenant_id: int, where: Sequence[ColumnElement[bool]]
) -> AsyncIterator[pl.DataFrame]:
    """Frames of `id` of every active member meeting every condition in `where` (in one pass, for a set-wise
    reader)."""
    statement = select(Member.id).where(of_tenant(Member, tenant_id), Member.status == "active", *where)
    async for frame in bulk.frames_of(session, statement):
        yield frame


async def joined_since(session: AsyncSession, *, tenant_id: int, since: datetime | None) -> AsyncIterator[pl.DataFrame]:
    """Frames of (id, joined_at: naive UTC) of every member who joined at or after `since` (None: all of them)."""
    statement = select(Member.id, Member.created_at.label("joined_at")).where(of_tenant(Member, tenant_id))
    if since is not None:
        statement = statement.where(Member.created_at >= since)
    async for frame in bulk.frames_of(session, statement):
        yield frame


def joined_within(start: datetime | None, end: datetime | None) -> list[ColumnElement[bool]]:
    """In SQL: the member (of the statement these go into) joined in [start, end)."""
    found: list[ColumnElement[bool]] = []
    if start is not None:
        found.append(Member.created_at >= start)
    if end is not None:
        found.append(Member.created_at < end)
    return found


def has_identity(
    kinds: Collection[str], tenant_id: ColumnExpressionArgument[int], member_id: ColumnExpressionArgument[int]
) -> Exists:
    """In SQL: whether the member named by these columns has an account of one of these kinds bound."""
    return exists(
        select(Identity.member_id).where(
            of_tenant(Identity, tenant_id), Identity.member_id == member_id, Identity.kind.in_(sorted(kinds))
        )
    )
