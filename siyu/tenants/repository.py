from __future__ import annotations

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.db import keep, of_tenant
from siyu.kit.fast import Fast
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


_VERSION_BY_SLUG = Fast(select(Tenant.id, Tenant.config_version).where(Tenant.slug == bindparam("slug")))
_VERSION_BY_ID = select(Tenant.config_version).where(Tenant.id == bindparam("tenant_id"))
_BUMP = (
    update(Tenant)
    .where(Tenant.id == bindparam("tenant_id"))
    .values(config_version=Tenant.config_version + 1)
    .execution_options(synchronize_session=False)
)


async def version_by_slug(session: AsyncSession, slug: str) -> tuple[int, int] | None:
    """(id, config_version) of the tenant with this slug: what a fan request reads before its cached config."""
    row = await _VERSION_BY_SLUG.one_or_none(session, {"slug": slug})
    return None if row is None else (int(row[0]), int(row[1]))


async def version_of(session: AsyncSession, tenant_id: int) -> int | None:
    version = await session.scalar(_VERSION_BY_ID, {"tenant_id": tenant_id})
    return None if version is None else int(version)


async def bump_version(session: AsyncSession, tenant_id: int) -> None:
    """One more change to the configuration (an increment in SQL: two concurrent edits give two numbers)."""
    await session.execute(_BUMP, {"tenant_id": tenant_id})
    tenant = session.identity_map.get(session.identity_key(Tenant, (tenant_id,)))
    if tenant is not None:
        session.expire(tenant, ["config_version"])


async def all_ids(session: AsyncSession) -> list[int]:
    return list(await session.scalars(select(Tenant.id).order_by(Tenant.id)))


async def get_many(session: AsyncSession, tenant_ids: list[int]) -> list[Tenant]:
    rows = await session.scalars(select(Tenant).where(Tenant.id.in_(tenant_ids)).order_by(Tenant.name))
    return list(rows)


def add(session: AsyncSession, row: Tenant | Channel) -> None:
    session.add(row)


def _channels(tenant_id: int):  # type: ignore[no-untyped-def]
    return select(Channel).where(of_tenant(Channel, tenant_id))


_CHANNELS = select(Channel).where(of_tenant(Channel, bindparam("tenant_id"))).order_by(Channel.platform, Channel.name)


async def list_channels(session: AsyncSession, *, tenant_id: int) -> list[Channel]:
    rows = await session.scalars(_CHANNELS, {"tenant_id": tenant_id})
    return list(rows)


async def get_channel(session: AsyncSession, *, tenant_id: int, channel_id: int) -> Channel | None:
    return await session.scalar(_channels(tenant_id).where(Channel.id == channel_id))


async def find_channel(session: AsyncSession, *, tenant_id: int, platform: str, name: str) -> Channel | None:
    return await session.scalar(_channels(tenant_id).where(Channel.platform == platform, Channel.name == name))
