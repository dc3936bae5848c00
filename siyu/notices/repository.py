"""Every query of the notices domain; rows of a tenant are chosen with `of_tenant`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.bulk import insert_ignoring_duplicates
from siyu.kit.db import of_tenant
from siyu.kit.pagination import Page, PageRequest
from siyu.notices.models import Consent, Delivery, Notice, NoticeStatus, OptOut, WebhookEndpoint


async def insert_notices(session: AsyncSession, rows: list[dict[str, Any]]) -> list[Notice]:
    """Insert notices whose idempotency key is new; returns those inserted (by the ids the caller generated)."""
    if not rows:
        return []
    await insert_ignoring_duplicates(session, Notice, rows)
    tenant_id = rows[0]["tenant_id"]
    ids = [row["id"] for row in rows]
    found: list[Notice] = []
    for start in range(0, len(ids), 5000):
        chunk = ids[start : start + 5000]
        found.extend(await session.scalars(select(Notice).where(of_tenant(Notice, tenant_id), Notice.id.in_(chunk))))
    return found


async def get_notice(session: AsyncSession, *, tenant_id: int, notice_id: int, lock: bool = False) -> Notice | None:
    statement = select(Notice).where(of_tenant(Notice, tenant_id), Notice.id == notice_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement.execution_options(populate_existing=True))


async def opted_out(session: AsyncSession, *, tenant_id: int, member_id: int) -> set[str]:
    rows = await session.scalars(select(OptOut.kind).where(of_tenant(OptOut, tenant_id), OptOut.member_id == member_id))
    return set(rows)


async def opted_out_members(session: AsyncSession, *, tenant_id: int, kind: str, member_ids: list[int]) -> set[int]:
    rows = await session.scalars(
        select(OptOut.member_id).where(
            of_tenant(OptOut, tenant_id), OptOut.kind == kind, OptOut.member_id.in_(member_ids)
        )
    )
    return set(rows)


async def set_opt_out(session: AsyncSession, *, tenant_id: int, member_id: int, kind: str, out: bool) -> None:
    if out:
        await insert_ignoring_duplicates(
            session, OptOut, [{"tenant_id": tenant_id, "member_id": member_id, "kind": kind}]
        )
    else:
        row = await session.get(OptOut, (tenant_id, member_id, kind))
        if row is not None:
            await session.delete(row)
    await session.flush()


async def sent_since(session: AsyncSession, *, tenant_id: int, member_id: int, since: datetime) -> int:
    statement = select(func.count()).where(
        of_tenant(Notice, tenant_id),
        Notice.member_id == member_id,
        Notice.status == NoticeStatus.sent,
        Notice.sent_at >= since,
    )
    return int(await session.scalar(statement) or 0)


async def deliveries_of(session: AsyncSession, *, tenant_id: int, notice_id: int) -> list[Delivery]:
    rows = await session.scalars(
        select(Delivery).where(of_tenant(Delivery, tenant_id), Delivery.notice_id == notice_id).order_by(Delivery.id)
    )
    return list(rows)


async def get_delivery(session: AsyncSession, *, tenant_id: int, delivery_id: int) -> Delivery | None:
    return await session.scalar(select(Delivery).where(of_tenant(Delivery, tenant_id), Delivery.id == delivery_id))


async def list_deliveries(
    session: AsyncSession, *, tenant_id: int, page: PageRequest, status: str | None, channel: str | None
) -> Page[tuple[Delivery, Notice]]:
    statement = (
        select(Delivery, Notice)
        .join(Notice, (Notice.tenant_id == Delivery.tenant_id) & (Notice.id == Delivery.notice_id))
        .where(of_tenant(Delivery, tenant_id))
    )
    if status:
        statement = statement.where(Delivery.status == status)
    if channel:
        statement = statement.where(Delivery.channel == channel)
    total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rows = await session.execute(statement.order_by(Delivery.id.desc()).offset(page.offset).limit(page.size))
    return Page(items=[(d, n) for d, n in rows.all()], total=total, request=page)


async def recent_notices(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int) -> list[Notice]:
    rows = await session.scalars(
        select(Notice)
        .where(of_tenant(Notice, tenant_id), Notice.member_id == member_id)
        .order_by(Notice.created_at.desc(), Notice.id.desc())
        .limit(limit)
    )
    return list(rows)


async def endpoints(session: AsyncSession, *, tenant_id: int, enabled_only: bool = False) -> list[WebhookEndpoint]:
    statement = select(WebhookEndpoint).where(of_tenant(WebhookEndpoint, tenant_id))
    if enabled_only:
        statement = statement.where(WebhookEndpoint.enabled.is_(True))
    return list(await session.scalars(statement.order_by(WebhookEndpoint.id)))


async def get_endpoint(session: AsyncSession, *, tenant_id: int, endpoint_id: int) -> WebhookEndpoint | None:
    return await session.scalar(
        select(WebhookEndpoint).where(of_tenant(WebhookEndpoint, tenant_id), WebhookEndpoint.id == endpoint_id)
    )


async def add_consents(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Record consents; one whose tap was recorded before for the template is not recorded again. Returns how
    many are new (by the ids the caller generated)."""
    if not rows:
        return 0
    await insert_ignoring_duplicates(session, Consent, rows)
    tenant_id = rows[0]["tenant_id"]
    found = await session.scalar(
        select(func.count()).where(of_tenant(Consent, tenant_id), Consent.id.in_([row["id"] for row in rows]))
    )
    return int(found or 0)


async def use_consent(
    session: AsyncSession, *, tenant_id: int, member_id: int, template_id: str, now: datetime
) -> str | None:
    """Spend her oldest unused consent for the template (a conditional UPDATE: two senders cannot spend the same
    one). The WeChat account that gave it ("" when not known), or None when she has none left."""
    for _ in range(3):  # another sender may take the oldest between the look and the update: look again
        oldest = (
            await session.execute(
                select(Consent.id, Consent.openid)
                .where(
                    of_tenant(Consent, tenant_id),
                    Consent.member_id == member_id,
                    Consent.template_id == template_id,
                    Consent.used_at.is_(None),
                )
                .order_by(Consent.id)
                .limit(1)
            )
        ).first()
        if oldest is None:
            return None
        result = await session.execute(
            update(Consent)
            .where(of_tenant(Consent, tenant_id), Consent.id == oldest.id, Consent.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0):
            return str(oldest.openid or "")
    return None


async def last_spent_openid(session: AsyncSession, *, tenant_id: int, member_id: int, template_id: str) -> str:
    """The WeChat account of her most recently spent consent for the template ("" when not known)."""
    found = await session.scalar(
        select(Consent.openid)
        .where(
            of_tenant(Consent, tenant_id),
            Consent.member_id == member_id,
            Consent.template_id == template_id,
            Consent.used_at.is_not(None),
        )
        .order_by(Consent.used_at.desc(), Consent.id.desc())
        .limit(1)
    )
    return str(found or "")


async def give_back_consent(session: AsyncSession, *, tenant_id: int, member_id: int, template_id: str) -> None:
    """A message that WeChat did not take (busy) did not use her consent up."""
    newest = (
        select(func.max(Consent.id))
        .where(
            of_tenant(Consent, tenant_id),
            Consent.member_id == member_id,
            Consent.template_id == template_id,
            Consent.used_at.is_not(None),
        )
        .scalar_subquery()
    )
    await session.execute(
        update(Consent)
        .where(of_tenant(Consent, tenant_id), Consent.id == newest)
        .values(used_at=None)
        .execution_options(synchronize_session=False)
    )


async def drop_consents(
    session: AsyncSession, *, tenant_id: int, member_id: int, template_id: str, now: datetime
) -> None:
    """She refused (43101): what we thought she allowed is gone."""
    await session.execute(
        update(Consent)
        .where(
            of_tenant(Consent, tenant_id),
            Consent.member_id == member_id,
            Consent.template_id == template_id,
            Consent.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )


async def unused_consents(session: AsyncSession, *, tenant_id: int, member_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(Consent.template_id, func.count())
        .where(of_tenant(Consent, tenant_id), Consent.member_id == member_id, Consent.used_at.is_(None))
        .group_by(Consent.template_id)
    )
    return {str(t): int(n) for t, n in rows.all()}
