from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit.models import AuditEntry
from siyu.kit.pagination import Page, PageRequest


def add(session: AsyncSession, entry: AuditEntry) -> None:
    session.add(entry)


async def list_entries(
    session: AsyncSession, *, tenant_id: int, page: PageRequest, action: str | None = None
) -> Page[AuditEntry]:
    query = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
    if action:
        query = query.where(AuditEntry.action.startswith(action))
    total = await session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = await session.scalars(
        query.order_by(AuditEntry.created_at.desc(), AuditEntry.id.desc()).offset(page.offset).limit(page.size)
    )
    return Page(items=list(rows), total=total, request=page)
