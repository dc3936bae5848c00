from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit.models import AuditEntry
from siyu.kit.db import of_tenant
from siyu.kit.pagination import Page, PageRequest, Sort, paginate


def add(session: AsyncSession, entry: AuditEntry) -> None:
    session.add(entry)


async def list_entries(
    session: AsyncSession,
    *,
    tenant_id: int,
    page: PageRequest,
    action: str | None = None,
    exclude_actor_kinds: Collection[str] = (),
    sort: Sort | None = None,
) -> Page[AuditEntry]:
    query = select(AuditEntry).where(of_tenant(AuditEntry, tenant_id))
    if action:
        query = query.where(AuditEntry.action.startswith(action))
    if exclude_actor_kinds:
        query = query.where(AuditEntry.actor_kind.not_in(list(exclude_actor_kinds)))
    order_by = (sort or Sort("created_at", descending=True)).order_by(ENTRY_SORTS, AuditEntry.id)
    return await paginate(session, query, page, order_by)


ENTRY_SORTS: dict[str, Any] = {"created_at": AuditEntry.created_at, "action": AuditEntry.action}


async def about_member(session: AsyncSession, *, tenant_id: int, member_id: int, page: PageRequest) -> Page[AuditEntry]:
    """What a member did herself (a lottery draw) and what was done to her (points adjusted, accounts bound)."""
    query = select(AuditEntry).where(
        of_tenant(AuditEntry, tenant_id),
        or_(
            and_(AuditEntry.actor_kind == "member", AuditEntry.actor_id == member_id),
            and_(AuditEntry.target_type == "member", AuditEntry.target_id == str(member_id)),
        ),
    )
    return await paginate(session, query, page, [AuditEntry.created_at.desc(), AuditEntry.id.desc()])
