"""Tenant settings and sales channels."""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.kit.cache import tenant_configs
from siyu.kit.errors import Conflict, InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.time import DEFAULT_TIMEZONE, is_valid_timezone
from siyu.kit.web import Principal
from siyu.tenants import repository
from siyu.tenants.models import PLATFORM_LABELS, Channel, Tenant
from siyu.tenants.schemas import SLUG_PATTERN, ChannelIn, ChannelUpdate, TenantUpdate

SETTING_KEYS = ("brand_color", "welcome_text")


class TenantNotFound(NotFound):
    code = "tenant_not_found"
    message = "找不到这个店铺"


class ChannelNotFound(NotFound):
    code = "channel_not_found"
    message = "找不到这个渠道"


async def create_tenant(session: AsyncSession, *, slug: str, name: str, timezone: str = DEFAULT_TIMEZONE) -> Tenant:
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise InvalidInput("店铺标识只能包含小写字母、数字和短横线，长度 3-40", code="invalid_slug")
    if not is_valid_timezone(timezone):
        raise InvalidInput(f"未知时区：{timezone}", code="invalid_timezone")
    if await repository.get_by_slug(session, slug):
        raise Conflict(f"店铺标识 {slug} 已被使用", code="slug_taken")
    # The first version is unique to this tenant (an id that is never handed out again), so nothing a process kept
    # for another tenant that once had the same id can pass for its configuration.
    tenant = Tenant(slug=slug, name=name, timezone=timezone, settings={}, config_version=new_id())
    repository.add(session, tenant)
    await session.flush()
    return tenant


async def get_tenant(session: AsyncSession, tenant_id: int) -> Tenant:
    tenant = await repository.get(session, tenant_id)
    if tenant is None:
        raise TenantNotFound()
    return tenant


async def find_by_slug(session: AsyncSession, slug: str) -> Tenant | None:
    return await repository.get_by_slug(session, slug)


async def get_by_slug(session: AsyncSession, slug: str) -> Tenant:
    tenant = await repository.get_by_slug(session, slug)
    if tenant is None:
        raise TenantNotFound()
    return tenant


# The configuration a request works with, read once per process and version


@dataclass(frozen=True)
class ChannelView:
    id: int
    platform: str
    name: str
    shop_id: str | None
    active: bool


@dataclass(frozen=True)
class TenantConfig:
    """A tenant's settings and channels as of `version` (immutable: shared by every request of the process)."""

    id: int
    slug: str
    name: str
    timezone: str
    settings: Mapping[str, Any]
    version: int
    channels: tuple[ChannelView, ...]

    def section(self, key: str) -> Any:
        """One domain's section of the settings (e.g. "points"), as stored."""
        return self.settings.get(key)


_CONFIG = "tenant"


async def _load_config(session: AsyncSession, tenant_id: int, version: int) -> TenantConfig:
    tenant = await get_tenant(session, tenant_id)
    channels = await list_channels(session, tenant_id=tenant_id)
    config = TenantConfig(
        id=tenant.id,
        slug=tenant.slug,
        name=tenant.name,
        timezone=tenant.timezone,
        settings=MappingProxyType(dict(tenant.settings or {})),
        version=version,
        channels=tuple(ChannelView(c.id, c.platform, c.name, c.shop_id, c.active) for c in channels),
    )
    return tenant_configs.put(_CONFIG, tenant_id, version, config)


async def config_of(session: AsyncSession, tenant_id: int, *, version: int | None = None) -> TenantConfig:
    """The tenant's configuration; `version` when the caller has just read it (e.g. with the tenant's row)."""
    if version is None:
        version = await repository.version_of(session, tenant_id)
        if version is None:
            raise TenantNotFound()
    cached: TenantConfig | None = tenant_configs.get(_CONFIG, tenant_id, version)
    return cached or await _load_config(session, tenant_id, version)


# A fan's request names her tenant by slug. The (id, version) a slug was last read with is good for FRESH_S seconds
# in this process: a change made in this process is seen by its next request, one made in another process within
# FRESH_S, and a fan's every request is spared the read (one of its few statements). Kept per what the session is
# bound to (an engine, or a connection: a lane's, a test's); a change forgets the tenant in every one of them.
FRESH_S = 1.0
_SLUGS_KEPT = 4096
_slugs: WeakKeyDictionary[Any, OrderedDict[str, tuple[int, int, float]]] = WeakKeyDictionary()


def _slugs_of(session: AsyncSession) -> OrderedDict[str, tuple[int, int, float]] | None:
    engine = session.bind
    if engine is None:
        return None
    return _slugs.setdefault(engine, OrderedDict())


async def config_by_slug(session: AsyncSession, slug: str) -> TenantConfig:
    """The configuration of the tenant a fan's path names: no read at all when this process has read it less than
    FRESH_S ago, one small read otherwise."""
    known = _slugs_of(session)
    now = time.monotonic()
    if known is not None and (seen := known.get(slug)) is not None and now - seen[2] < FRESH_S:
        cached: TenantConfig | None = tenant_configs.get(_CONFIG, seen[0], seen[1])
        if cached is not None:
            return cached
    found = await repository.version_by_slug(session, slug)
    if found is None:
        raise TenantNotFound()
    if known is not None:
        known[slug] = (found[0], found[1], now)
        known.move_to_end(slug)
        if len(known) > _SLUGS_KEPT:
            known.popitem(last=False)
    return await config_of(session, found[0], version=found[1])


async def config_changed(session: AsyncSession, tenant_id: int) -> None:
    """Call in the transaction of any change to what TenantConfig or a domain's cached derivation holds."""
    await repository.bump_version(session, tenant_id)
    for known in list(_slugs.values()):  # this process's next request reads the new version, whatever its binding
        for slug in [slug for slug, seen in known.items() if seen[0] == tenant_id]:
            del known[slug]


async def tenant_ids(session: AsyncSession) -> list[int]:
    """Every tenant, for sweeps over all of them."""
    return await repository.all_ids(session)


async def tenants_by_id(session: AsyncSession, tenant_ids: list[int]) -> list[Tenant]:
    return await repository.get_many(session, tenant_ids)


def _tenant_view(tenant: Tenant) -> dict[str, Any]:
    return {"name": tenant.name, "timezone": tenant.timezone, **dict(tenant.settings or {})}


async def update_tenant(session: AsyncSession, *, actor: Principal, changes: TenantUpdate) -> Tenant:
    tenant = await get_tenant(session, actor.tenant_id)
    before = _tenant_view(tenant)
    if changes.timezone is not None and not is_valid_timezone(changes.timezone):
        raise InvalidInput(f"未知时区：{changes.timezone}", code="invalid_timezone")
    if changes.name is not None:
        tenant.name = changes.name.strip()
    if changes.timezone is not None:
        tenant.timezone = changes.timezone
    settings = dict(tenant.settings or {})
    for key in SETTING_KEYS:
        value = getattr(changes, key)
        if value is not None:
            settings[key] = value
    tenant.settings = settings
    after = _tenant_view(tenant)
    if after != before:
        await config_changed(session, tenant.id)
    audit.record_change(
        session,
        actor=actor,
        action="tenant.update",
        target_type="tenant",
        target_id=tenant.id,
        before=before,
        after=after,
    )
    await session.flush()
    return tenant


async def put_setting(session: AsyncSession, *, tenant_id: int, key: str, value: Any) -> Any:
    """Store one section of the tenant's settings owned by another domain (e.g. "points"); returns what it was.
    The caller validates the value and records the change in the audit log."""
    tenant = await get_tenant(session, tenant_id)
    settings = dict(tenant.settings or {})
    before = settings.get(key)
    settings[key] = value
    tenant.settings = settings
    await session.flush()
    await config_changed(session, tenant_id)
    return before


async def list_channels(session: AsyncSession, *, tenant_id: int) -> list[Channel]:
    """Channels in the platform order people expect (淘宝/天猫, 抖音, 快手, 视频号, ...), then by name."""
    order = list(PLATFORM_LABELS)
    channels = await repository.list_channels(session, tenant_id=tenant_id)
    return sorted(channels, key=lambda c: (order.index(c.platform) if c.platform in order else 99, c.name))


async def get_channel(session: AsyncSession, *, tenant_id: int, channel_id: int) -> Channel:
    channel = await repository.get_channel(session, tenant_id=tenant_id, channel_id=channel_id)
    if channel is None:
        raise ChannelNotFound()
    return channel


def _channel_view(channel: Channel) -> dict[str, Any]:
    return {
        "platform": channel.platform,
        "name": channel.name,
        "shop_id": channel.shop_id,
        "active": channel.active,
    }


async def create_channel(session: AsyncSession, *, actor: Principal, data: ChannelIn) -> Channel:
    name = data.name.strip()
    if await repository.find_channel(session, tenant_id=actor.tenant_id, platform=data.platform, name=name):
        raise Conflict("同一平台下已有同名渠道", code="channel_exists")
    channel = Channel(
        tenant_id=actor.tenant_id,
        id=new_id(),
        platform=data.platform.value,
        name=name,
        shop_id=(data.shop_id or "").strip() or None,
        active=True,
    )
    repository.add(session, channel)
    await session.flush()
    await config_changed(session, actor.tenant_id)
    audit.record(
        session,
        actor=actor,
        action="channel.create",
        target_type="channel",
        target_id=channel.id,
        after=_channel_view(channel),
    )
    return channel


async def update_channel(
    session: AsyncSession, *, actor: Principal, channel_id: int, changes: ChannelUpdate
) -> Channel:
    channel = await get_channel(session, tenant_id=actor.tenant_id, channel_id=channel_id)
    before = _channel_view(channel)
    if changes.name is not None and changes.name.strip() != channel.name:
        name = changes.name.strip()
        if await repository.find_channel(session, tenant_id=actor.tenant_id, platform=channel.platform, name=name):
            raise Conflict("同一平台下已有同名渠道", code="channel_exists")
        channel.name = name
    if changes.shop_id is not None:
        channel.shop_id = changes.shop_id.strip() or None
    if changes.active is not None:
        channel.active = changes.active
    after = _channel_view(channel)
    if after != before:
        await config_changed(session, actor.tenant_id)
    audit.record_change(
        session,
        actor=actor,
        action="channel.update",
        target_type="channel",
        target_id=channel.id,
        before=before,
        after=after,
    )
    await session.flush()
    return channel
