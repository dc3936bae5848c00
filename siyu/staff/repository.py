from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.db import of_tenant
from siyu.staff.models import ApiKey, Membership, StaffSession, StaffUser


def add(session: AsyncSession, row: StaffUser | Membership | StaffSession | ApiKey) -> None:
    session.add(row)


async def get_user(session: AsyncSession, staff_id: int) -> StaffUser | None:
    return await session.get(StaffUser, staff_id)


async def get_user_by_email(session: AsyncSession, email: str) -> StaffUser | None:
    return await session.scalar(select(StaffUser).where(StaffUser.email == email))


async def get_membership(session: AsyncSession, *, tenant_id: int, staff_id: int) -> Membership | None:
    return await session.get(Membership, (tenant_id, staff_id))


async def memberships_of(session: AsyncSession, staff_id: int) -> list[Membership]:
    rows = await session.scalars(select(Membership).where(Membership.staff_id == staff_id))
    return list(rows)


async def list_staff(session: AsyncSession, *, tenant_id: int) -> list[tuple[StaffUser, Membership]]:
    rows = await session.execute(
        select(StaffUser, Membership)
        .join(Membership, Membership.staff_id == StaffUser.id)
        .where(of_tenant(Membership, tenant_id))
        .order_by(StaffUser.email)
    )
    return [(user, membership) for user, membership in rows.tuples()]


async def count_owners(session: AsyncSession, *, tenant_id: int) -> int:
    rows = await session.scalars(
        select(Membership.staff_id).where(of_tenant(Membership, tenant_id), Membership.role == "owner")
    )
    return len(list(rows))


async def delete_membership(session: AsyncSession, membership: Membership) -> None:
    await session.delete(membership)


async def get_session(session: AsyncSession, token_hash: str) -> StaffSession | None:
    return await session.get(StaffSession, token_hash)


async def delete_session(session: AsyncSession, token_hash: str) -> None:
    await session.execute(delete(StaffSession).where(StaffSession.token_hash == token_hash))


async def delete_sessions_of(session: AsyncSession, *, staff_id: int, tenant_id: int) -> None:
    await session.execute(
        delete(StaffSession).where(StaffSession.staff_id == staff_id, of_tenant(StaffSession, tenant_id))
    )


async def purge_sessions(session: AsyncSession, *, before: datetime) -> int:
    result = await session.execute(delete(StaffSession).where(StaffSession.expires_at < before))
    return int(getattr(result, "rowcount", 0) or 0)


def _api_keys(tenant_id: int):  # type: ignore[no-untyped-def]
    return select(ApiKey).where(of_tenant(ApiKey, tenant_id))


async def list_api_keys(session: AsyncSession, *, tenant_id: int) -> list[tuple[ApiKey, StaffUser | None]]:
    """The tenant's keys, newest first, each with the staff member who answers for it (None once gone)."""
    rows = await session.execute(
        select(ApiKey, StaffUser)
        .outerjoin(StaffUser, StaffUser.id == ApiKey.created_by)
        .where(of_tenant(ApiKey, tenant_id))
        .order_by(ApiKey.created_at.desc(), ApiKey.id.desc())
    )
    return [(key, user) for key, user in rows.tuples()]


async def live_api_keys_of(session: AsyncSession, *, tenant_id: int, staff_id: int) -> list[ApiKey]:
    rows = await session.scalars(
        _api_keys(tenant_id).where(ApiKey.created_by == staff_id, ApiKey.revoked_at.is_(None)).order_by(ApiKey.id)
    )
    return list(rows)


async def get_api_key(session: AsyncSession, *, tenant_id: int, api_key_id: int) -> ApiKey | None:
    return await session.scalar(_api_keys(tenant_id).where(ApiKey.id == api_key_id))


async def get_api_key_by_prefix(session: AsyncSession, prefix: str) -> ApiKey | None:
    return await session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))


async def creator_role(session: AsyncSession, key: ApiKey) -> str | None:
    """The current role, in the key's tenant, of the active staff member who created the key (None if none)."""
    if key.created_by is None:
        return None
    return await session.scalar(
        select(Membership.role)
        .join(StaffUser, StaffUser.id == Membership.staff_id)
        .where(
            of_tenant(Membership, key.tenant_id),
            Membership.staff_id == key.created_by,
            StaffUser.active.is_(True),
        )
    )


async def touch_api_key(session: AsyncSession, key: ApiKey, when: datetime) -> None:
    await session.execute(
        update(ApiKey).where(of_tenant(ApiKey, key.tenant_id), ApiKey.id == key.id).values(last_used_at=when)
    )
