"""Every query of member tags and saved segments, scoped to a tenant."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnExpressionArgument, Exists, delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.db import of_tenant
from siyu.kit.ids import new_id
from siyu.segments.models import MemberTag, Segment, SegmentSend, Tag, TagSource


def add(session: AsyncSession, row: Any) -> None:
    session.add(row)


async def delete_row(session: AsyncSession, row: Any) -> None:
    await session.delete(row)


# Tags


async def get_tag(session: AsyncSession, *, tenant_id: int, tag_id: int) -> Tag | None:
    return await session.get(Tag, (tenant_id, tag_id))


async def tag_named(session: AsyncSession, *, tenant_id: int, name: str) -> Tag | None:
    return await session.scalar(select(Tag).where(of_tenant(Tag, tenant_id), Tag.name == name))


async def tags(session: AsyncSession, *, tenant_id: int) -> list[Tag]:
    return list(await session.scalars(select(Tag).where(of_tenant(Tag, tenant_id)).order_by(Tag.name, Tag.id)))


async def tags_with_rules(session: AsyncSession, *, tenant_id: int) -> list[Tag]:
    rows = await session.scalars(select(Tag).where(of_tenant(Tag, tenant_id), Tag.rule.is_not(None)).order_by(Tag.id))
    return [tag for tag in rows if tag.rule is not None]  # (a JSON null is not SQL NULL everywhere)


async def tag_counts(session: AsyncSession, *, tenant_id: int) -> dict[int, int]:
    rows = await session.execute(
        select(MemberTag.tag_id, func.count()).where(of_tenant(MemberTag, tenant_id)).group_by(MemberTag.tag_id)
    )
    return {tag_id: int(n) for tag_id, n in rows.tuples()}


async def tags_of_members(
    session: AsyncSession, *, tenant_id: int, member_ids: Collection[int]
) -> dict[int, list[tuple[Tag, str]]]:
    """Per member: her tags (by name) with how each came (manual / rule)."""
    if not member_ids:
        return {}
    rows = await session.execute(
        select(MemberTag.member_id, Tag, MemberTag.source)
        .join(Tag, (Tag.tenant_id == MemberTag.tenant_id) & (Tag.id == MemberTag.tag_id))
        .where(of_tenant(MemberTag, tenant_id), MemberTag.member_id.in_(sorted(set(member_ids))))
        .order_by(Tag.name)
    )
    found: dict[int, list[tuple[Tag, str]]] = {}
    for member_id, tag, source in rows.tuples():
        found.setdefault(member_id, []).append((tag, source))
    return found


async def tagged(session: AsyncSession, *, tenant_id: int, tag_id: int, member_ids: Collection[int]) -> dict[int, str]:
    """Of these members, those with the tag, and how it came."""
    if not member_ids:
        return {}
    rows = await session.execute(
        select(MemberTag.member_id, MemberTag.source).where(
            of_tenant(MemberTag, tenant_id), MemberTag.tag_id == tag_id, MemberTag.member_id.in_(sorted(member_ids))
        )
    )
    return {member_id: source for member_id, source in rows.tuples()}  # noqa: C416 (a Result has keys())


async def rule_tagged(session: AsyncSession, *, tenant_id: int, tag_id: int) -> set[int]:
    """The members the tag's rule put it on."""
    rows = await session.scalars(
        select(MemberTag.member_id).where(
            of_tenant(MemberTag, tenant_id), MemberTag.tag_id == tag_id, MemberTag.source == TagSource.rule
        )
    )
    return set(rows)


async def put_tags(
    session: AsyncSession, *, tenant_id: int, tag_id: int, member_ids: Collection[int], source: str, now: datetime
) -> None:
    """Tag these members (none of whom has the tag yet)."""
    rows = [
        {
            "tenant_id": tenant_id,
            "id": new_id(),
            "tag_id": tag_id,
            "member_id": member_id,
            "source": source,
            "created_at": now,
        }
        for member_id in sorted(member_ids)
    ]
    for start in range(0, len(rows), 1000):
        await session.execute(insert(MemberTag), rows[start : start + 1000])


async def take_tags(
    session: AsyncSession, *, tenant_id: int, tag_id: int, member_ids: Collection[int], source: str | None = None
) -> int:
    """Take the tag off these members (only where it came from `source`, when given); how many lost it."""
    ids = sorted(member_ids)
    removed = 0
    for start in range(0, len(ids), 1000):
        statement = delete(MemberTag).where(
            of_tenant(MemberTag, tenant_id),
            MemberTag.tag_id == tag_id,
            MemberTag.member_id.in_(ids[start : start + 1000]),
        )
        if source is not None:
            statement = statement.where(MemberTag.source == source)
        removed += int(getattr(await session.execute(statement), "rowcount", 0) or 0)
    return removed


async def mark_manual(session: AsyncSession, *, tenant_id: int, tag_id: int, member_ids: Collection[int]) -> None:
    """A tag the rule put on, now put on by hand too: the rule no longer takes it off."""
    ids = sorted(member_ids)
    for start in range(0, len(ids), 1000):
        await session.execute(
            update(MemberTag)
            .where(
                of_tenant(MemberTag, tenant_id),
                MemberTag.tag_id == tag_id,
                MemberTag.member_id.in_(ids[start : start + 1000]),
            )
            .values(source=TagSource.manual)
        )


async def move_tags(session: AsyncSession, *, tenant_id: int, from_member_id: int, into_member_id: int) -> int:
    """A merged member's tags go to the member she was merged into (those she has already stay hers)."""
    theirs = select(MemberTag.tag_id).where(of_tenant(MemberTag, tenant_id), MemberTag.member_id == into_member_id)
    await session.execute(
        delete(MemberTag).where(
            of_tenant(MemberTag, tenant_id), MemberTag.member_id == from_member_id, MemberTag.tag_id.in_(theirs)
        )
    )
    moved = await session.execute(
        update(MemberTag)
        .where(of_tenant(MemberTag, tenant_id), MemberTag.member_id == from_member_id)
        .values(member_id=into_member_id)
    )
    return int(getattr(moved, "rowcount", 0) or 0)


def has_tags(
    tag_ids: Collection[int], tenant_id: ColumnExpressionArgument[int], member_id: ColumnExpressionArgument[int]
) -> Exists:
    """In SQL: whether the member named by these columns has any of these tags."""
    return exists(
        select(MemberTag.id).where(
            of_tenant(MemberTag, tenant_id), MemberTag.member_id == member_id, MemberTag.tag_id.in_(sorted(tag_ids))
        )
    )


# Segments


async def get_segment(session: AsyncSession, *, tenant_id: int, segment_id: int) -> Segment | None:
    return await session.get(Segment, (tenant_id, segment_id))


async def segment_named(session: AsyncSession, *, tenant_id: int, name: str) -> Segment | None:
    return await session.scalar(select(Segment).where(of_tenant(Segment, tenant_id), Segment.name == name))


async def segments(session: AsyncSession, *, tenant_id: int) -> list[Segment]:
    return list(
        await session.scalars(
            select(Segment).where(of_tenant(Segment, tenant_id)).order_by(Segment.created_at.desc(), Segment.id.desc())
        )
    )


async def tenants_with_work(session: AsyncSession) -> list[int]:
    """Tenants with a saved segment or a tag rule (what the scheduled refresh goes through)."""
    with_segments = select(Segment.tenant_id).distinct()
    with_rules = select(Tag.tenant_id).where(Tag.rule.is_not(None)).distinct()
    rows = await session.scalars(with_segments.union(with_rules))
    return sorted(set(rows))


# Sends


async def send_of(session: AsyncSession, *, tenant_id: int, segment_id: int, key: str) -> SegmentSend | None:
    return await session.scalar(
        select(SegmentSend).where(
            of_tenant(SegmentSend, tenant_id), SegmentSend.segment_id == segment_id, SegmentSend.key == key
        )
    )


async def get_send(session: AsyncSession, *, tenant_id: int, send_id: int) -> SegmentSend | None:
    return await session.get(SegmentSend, (tenant_id, send_id))


async def sends_of(session: AsyncSession, *, tenant_id: int, segment_id: int, limit: int = 20) -> list[SegmentSend]:
    return list(
        await session.scalars(
            select(SegmentSend)
            .where(of_tenant(SegmentSend, tenant_id), SegmentSend.segment_id == segment_id)
            .order_by(SegmentSend.created_at.desc(), SegmentSend.id.desc())
            .limit(limit)
        )
    )
