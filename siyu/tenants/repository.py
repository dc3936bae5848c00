from __future__ import annotations

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.db import keep
from siyu.tenants.models import Channel, Tenant


async def get(session: AsyncSession, tenant_id: int) -> Tenant | None:
    tenant = await session.get(Tenant, tenant_id)
    return None if tenant is None else keep(session, tenant)  # read again by id, it comes from memory


# Statements every fan request runs are built once, with bound parameters: building one and computing its cache key
# costs more CPU than executing it.
_BY_SLUG = select(Tenant).where(Tenant.slug == bindparam("slug"))


async def get_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    tenant = await session.scalar(_BY_SLUG, {"slug": slug})
    return None if tenant is None else keep(session, tenant)


async def get_many(session: AsyncSession, tenant_ids: list[int]) -> list[Tenant]:
    rows = await session.scalars(select(Tenant).where(Tenant.id.in_(tenant_ids)).order_by(Tenant.name))
    return list(rows)


def add(session: AsyncSession, row: Tenant | Channel) -> None:
    session.add(row)


def _channels(tenant_id: int):  # type: ignore[no-untyped-def]
    return select(Channel).where(Channel.tenant_id == tenant_id)


_CHANNELS = select(Channel).where(Channel.tenant_id == bindparam("tenant_id")).order_by(Channel.platform, Channel.name)


async def list_channels(session: AsyncSession, *, tenant_id: int) -> list[Channel]:
    rows = await session.scalars(_CHANNELS, {"tenant_id": tenant_id})
    return list(rows)


async def get_channel(session: AsyncSession, *, tenant_id: int, channel_id: int) -> Channel | None:
    return await session.scalar(_channels(tenant_id).where(Channel.id == channel_id))


async def find_channel(session: AsyncSession, *, tenant_id: int, platform: str, name: str) -> Channel | None:
    return await session.scalar(_channels(tenant_id).where(Channel.platform == platform, Channel.name == name))
