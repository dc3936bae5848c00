"""API keys: shown once, stored as a prefix plus the SHA-256 of the whole key, scoped and revocable.

A key answers to the staff member who created it (a key made with another key answers to that key's
creator). It acts with the permissions granted to it *and* held by her current role: demoting her narrows
the key at once, removing or deactivating her kills it. `service.follow_staff_change`, run with every
role change, also writes that down on the key itself (narrowed scopes, or revoked), so the key list shows
what a key can really do.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.kit.errors import Forbidden, InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.security import hash_token, same
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.staff import repository
from siyu.staff.models import ApiKey, StaffUser
from siyu.staff.permissions import PERMISSION_LABELS, permissions_for

KEY_PREFIX = "sk_"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    message = "找不到这个 API 密钥"


def permissions_of(key: ApiKey) -> list[str]:
    return list((key.scopes or {}).get("permissions", []))


async def create(
    session: AsyncSession, *, actor: Principal, name: str, permissions: list[str], expires_at: datetime | None
) -> tuple[ApiKey, str]:
    if actor.staff_id is None:
        raise Forbidden("只有员工（或员工创建的密钥）可以创建 API 密钥", code="key_needs_staff")
    wanted = sorted(set(permissions))
    unknown = [p for p in wanted if p not in PERMISSION_LABELS]
    if unknown:
        raise InvalidInput(f"未知权限：{', '.join(unknown)}", code="unknown_permission")
    beyond = [p for p in wanted if not actor.can(p)]
    if beyond:
        raise InvalidInput(f"不能授予自己没有的权限：{', '.join(beyond)}", code="permission_beyond_own")
    if expires_at is not None and (expires_at.tzinfo is None or expires_at <= utcnow()):
        raise InvalidInput("过期时间必须是带时区的未来时间", code="invalid_expiry")
    prefix = KEY_PREFIX + secrets.token_hex(6)
    secret = f"{prefix}.{secrets.token_urlsafe(32)}"
    key = ApiKey(
        tenant_id=actor.tenant_id,
        id=new_id(),
        name=name.strip(),
        prefix=prefix,
        key_hash=hash_token(secret),
        scopes={"permissions": wanted},
        created_by=actor.staff_id,
        expires_at=expires_at,
    )
    repository.add(session, key)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="api_key.create",
        target_type="api_key",
        target_id=key.id,
        after={"name": key.name, "prefix": prefix, "permissions": wanted},
    )
    return key, secret


async def list_keys(session: AsyncSession, *, tenant_id: int) -> list[tuple[ApiKey, StaffUser | None]]:
    """Every key of the tenant with the staff member who answers for it."""
    return await repository.list_api_keys(session, tenant_id=tenant_id)


async def creator_of(session: AsyncSession, key: ApiKey) -> StaffUser | None:
    return await repository.get_user(session, key.created_by) if key.created_by is not None else None


async def get(session: AsyncSession, *, tenant_id: int, api_key_id: int) -> ApiKey:
    key = await repository.get_api_key(session, tenant_id=tenant_id, api_key_id=api_key_id)
    if key is None:
        raise ApiKeyNotFound()
    return key


async def revoke(session: AsyncSession, *, actor: Principal, api_key_id: int) -> ApiKey:
    key = await get(session, tenant_id=actor.tenant_id, api_key_id=api_key_id)
    if key.revoked_at is None:
        _revoke(session, key, actor=actor)
        await session.flush()
    return key


def _revoke(session: AsyncSession, key: ApiKey, *, actor: Principal) -> None:
    key.revoked_at = utcnow()
    audit.record(
        session,
        actor=actor,
        action="api_key.revoke",
        target_type="api_key",
        target_id=key.id,
        before={"name": key.name, "prefix": key.prefix},
    )


async def resolve(session: AsyncSession, secret: str, *, ip: str | None) -> Principal | None:
    prefix, _, _rest = secret.partition(".")
    if not prefix.startswith(KEY_PREFIX):
        return None
    key = await repository.get_api_key_by_prefix(session, prefix)
    if key is None or not same(key.key_hash, hash_token(secret)):
        return None
    now = utcnow()
    if key.revoked_at is not None or (key.expires_at is not None and key.expires_at <= now):
        return None
    role = await repository.creator_role(session, key)
    if role is None:  # her account is gone, deactivated, or no longer in this tenant
        return None
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        await repository.touch_api_key(session, key, now)
    return Principal(
        tenant_id=key.tenant_id,
        kind="api_key",
        actor_id=key.id,
        label=f"API 密钥 {key.name} ({key.prefix})",
        permissions=frozenset(permissions_of(key)) & permissions_for(role),
        ip=ip,
        staff_id=key.created_by,
    )
