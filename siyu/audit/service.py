"""Record what staff and API keys did. Called inside the same transaction as the change itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import labels, repository
from siyu.audit.labels import FAN_ACTOR_KINDS
from siyu.audit.models import AuditEntry
from siyu.kit.ids import new_id
from siyu.kit.pagination import Page, PageRequest, Sort
from siyu.kit.web import Principal

ACTION_LABELS = labels.ACTION_LABELS  # kept for callers that read it from here


def record(
    session: AsyncSession,
    *,
    actor: Principal,
    action: str,
    target_type: str,
    target_id: str | int | None = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEntry:
    entry = AuditEntry(
        tenant_id=actor.tenant_id,
        id=new_id(),
        actor_kind=actor.kind,
        actor_id=actor.actor_id,
        actor_label=actor.label,
        action=action,
        target_type=target_type,
        target_id=None if target_id is None else str(target_id),
        before=before,
        after=after,
        ip=actor.ip,
    )
    repository.add(session, entry)
    return entry


def record_change(
    session: AsyncSession,
    *,
    actor: Principal,
    action: str,
    target_type: str,
    target_id: str | int | None,
    before: dict[str, Any],
    after: dict[str, Any],
) -> AuditEntry | None:
    """Record an update only when it changed something (saving a form unchanged leaves no entry)."""
    if before == after:
        return None
    return record(
        session, actor=actor, action=action, target_type=target_type, target_id=target_id, before=before, after=after
    )


async def list_entries(
    session: AsyncSession,
    *,
    tenant_id: int,
    page: PageRequest,
    action: str | None = None,
    staff_only: bool = False,
    sort: Sort | None = None,
) -> Page[AuditEntry]:
    """The log, newest first. `staff_only`: without what fans did themselves (their lottery draws), which
    belongs on their member page."""
    return await repository.list_entries(
        session,
        tenant_id=tenant_id,
        page=page,
        action=action,
        exclude_actor_kinds=FAN_ACTOR_KINDS if staff_only else (),
        sort=sort,
    )


ENTRY_SORTS = tuple(repository.ENTRY_SORTS)


async def about_member(session: AsyncSession, *, tenant_id: int, member_id: int, page: PageRequest) -> Page[AuditEntry]:
    return await repository.about_member(session, tenant_id=tenant_id, member_id=member_id, page=page)
