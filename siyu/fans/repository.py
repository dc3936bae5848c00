"""Every query of fan sessions and sign-in codes, scoped to a tenant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.fans.models import RefreshToken, SmsCode
from siyu.kit.db import of_tenant


def add(session: AsyncSession, row: RefreshToken | SmsCode) -> None:
    session.add(row)


async def latest_code(session: AsyncSession, *, tenant_id: int, phone_hash: str) -> SmsCode | None:
    return await session.scalar(
        select(SmsCode)
        .where(of_tenant(SmsCode, tenant_id), SmsCode.phone_hash == phone_hash)
        .order_by(SmsCode.created_at.desc(), SmsCode.id.desc())
        .limit(1)
        .with_for_update()
    )


async def use_code(session: AsyncSession, *, tenant_id: int, code_id: int, now: datetime) -> bool:
    """Mark the code used; False when another request used it first."""
    result = await session.execute(
        update(SmsCode)
        .where(of_tenant(SmsCode, tenant_id), SmsCode.id == code_id, SmsCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def refresh_token(session: AsyncSession, *, token_hash: str) -> RefreshToken | None:
    return await session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash).with_for_update())


async def use_refresh_token(session: AsyncSession, *, tenant_id: int, token_id: int, now: datetime) -> bool:
    result = await session.execute(
        update(RefreshToken)
        .where(of_tenant(RefreshToken, tenant_id), RefreshToken.id == token_id, RefreshToken.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def revoke_family(session: AsyncSession, *, tenant_id: int, family_id: int, now: datetime) -> None:
    await session.execute(
        update(RefreshToken)
        .where(
            of_tenant(RefreshToken, tenant_id), RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None)
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )


async def revoke_member(session: AsyncSession, *, tenant_id: int, member_id: int, now: datetime) -> list[int]:
    """Revoke every session of the member; the ids of the sessions ended."""
    families = list(
        await session.scalars(
            select(RefreshToken.family_id)
            .where(
                of_tenant(RefreshToken, tenant_id),
                RefreshToken.member_id == member_id,
                RefreshToken.revoked_at.is_(None),
            )
            .distinct()
        )
    )
    await session.execute(
        update(RefreshToken)
        .where(
            of_tenant(RefreshToken, tenant_id), RefreshToken.member_id == member_id, RefreshToken.revoked_at.is_(None)
        )
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    return families


async def family_alive(session: AsyncSession, *, tenant_id: int, family_id: int, now: datetime) -> bool:
    """A session is alive while one of its tokens is neither revoked nor expired (used ones count: the API's
    current token is the last of its family, the H5's one token is never used)."""
    found = await session.scalar(
        select(RefreshToken.id)
        .where(
            of_tenant(RefreshToken, tenant_id),
            RefreshToken.family_id == family_id,
            RefreshToken.revoked_at.is_(None),
            RefreshToken.expires_at > now,
        )
        .limit(1)
    )
    return found is not None


async def delete_expired(session: AsyncSession, *, now: datetime) -> int:
    codes = await session.execute(delete(SmsCode).where(SmsCode.expires_at < now))
    tokens = await session.execute(delete(RefreshToken).where(RefreshToken.expires_at < now))
    return int(codes.rowcount or 0) + int(tokens.rowcount or 0)  # type: ignore[attr-defined]
