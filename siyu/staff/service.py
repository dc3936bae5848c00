"""Staff accounts, sign-in and console sessions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.kit.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound, RateLimited
from siyu.kit.ratelimit import RateLimiter
from siyu.kit.security import hash_password, hash_token, new_token, verify_password
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.staff import repository
from siyu.staff.models import Membership, Role, StaffSession, StaffUser
from siyu.staff.permissions import permissions_for


class LoginFailed(NotAuthenticated):
    code = "login_failed"
    message = "邮箱或密码不正确"


class LoginThrottled(RateLimited):
    code = "login_throttled"
    message = "登录失败次数过多，请几分钟后再试"


class StaffNotFound(NotFound):
    code = "staff_not_found"
    message = "找不到这位员工"


class LastOwner(Conflict):
    code = "last_owner"
    message = "店铺至少需要保留一位所有者"


@dataclass(frozen=True)
class SignedIn:
    token: str
    session: StaffSession
    user: StaffUser


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _check_role(role: str) -> None:
    if role not in set(Role):
        raise InvalidInput(f"未知角色：{role}", code="invalid_role")


async def add_staff(
    session: AsyncSession,
    *,
    tenant_id: int,
    email: str,
    role: str,
    password: str | None,
    name: str = "",
    actor: Principal | None = None,
) -> tuple[StaffUser, Membership]:
    """Give a person a role in a tenant, creating the account when the email is new."""
    _check_role(role)
    email = normalise_email(email)
    user = await repository.get_user_by_email(session, email)
    if user is None:
        if not password or len(password) < 8:
            raise InvalidInput("新员工需要设置至少 8 位的密码", code="password_required")
        user = StaffUser(
            email=email,
            name=name.strip() or email.split("@")[0],
            password_hash=hash_password(password),
            active=True,
        )
        repository.add(session, user)
        await session.flush()
    elif await repository.get_membership(session, tenant_id=tenant_id, staff_id=user.id):
        raise Conflict("这位员工已经在本店铺", code="staff_exists")
    membership = Membership(tenant_id=tenant_id, staff_id=user.id, role=role)
    repository.add(session, membership)
    await session.flush()
    if actor is not None:
        audit.record(
            session,
            actor=actor,
            action="staff.add",
            target_type="staff",
            target_id=user.id,
            after={"email": email, "role": role},
        )
    return user, membership


async def list_staff(session: AsyncSession, *, tenant_id: int) -> list[tuple[StaffUser, Membership]]:
    return await repository.list_staff(session, tenant_id=tenant_id)


async def _membership(session: AsyncSession, *, tenant_id: int, staff_id: int) -> Membership:
    membership = await repository.get_membership(session, tenant_id=tenant_id, staff_id=staff_id)
    if membership is None:
        raise StaffNotFound()
    return membership


async def get_staff(session: AsyncSession, *, tenant_id: int, staff_id: int) -> tuple[StaffUser, Membership]:
    membership = await _membership(session, tenant_id=tenant_id, staff_id=staff_id)
    user = await repository.get_user(session, staff_id)
    if user is None:
        raise StaffNotFound()
    return user, membership


async def change_role(session: AsyncSession, *, actor: Principal, staff_id: int, role: str) -> Membership:
    membership = await _membership(session, tenant_id=actor.tenant_id, staff_id=staff_id)
    _check_role(role)
    before = membership.role
    if (
        before == Role.owner
        and role != Role.owner
        and await repository.count_owners(session, tenant_id=actor.tenant_id) <= 1
    ):
        raise LastOwner()
    membership.role = role
    if before != role:
        # A role change takes effect at once: her console sessions end and her API keys narrow to the new role.
        await repository.delete_sessions_of(session, staff_id=staff_id, tenant_id=actor.tenant_id)
        await follow_staff_change(session, actor=actor, staff_id=staff_id, role=role)
        audit.record(
            session,
            actor=actor,
            action="staff.update",
            target_type="staff",
            target_id=staff_id,
            before={"role": before},
            after={"role": role},
        )
    await session.flush()
    return membership


async def remove_staff(session: AsyncSession, *, actor: Principal, staff_id: int) -> None:
    membership = await _membership(session, tenant_id=actor.tenant_id, staff_id=staff_id)
    if membership.role == Role.owner and await repository.count_owners(session, tenant_id=actor.tenant_id) <= 1:
        raise LastOwner()
    await repository.delete_sessions_of(session, staff_id=staff_id, tenant_id=actor.tenant_id)
    await follow_staff_change(session, actor=actor, staff_id=staff_id, role=None)
    await repository.delete_membership(session, membership)
    audit.record(
        session,
        actor=actor,
        action="staff.remove",
        target_type="staff",
        target_id=staff_id,
        before={"role": membership.role},
    )
    await session.flush()


async def follow_staff_change(session: AsyncSession, *, actor: Principal, staff_id: int, role: str | None) -> None:
    """Bring the keys a staff member created in line with her new role (None: she left the tenant).

    Removed: every key of hers is revoked. Demoted: each key keeps only what the new role allows, and a
    key left with nothing is revoked.
    """
    allowed = permissions_for(role) if role is not None else frozenset()
    for key in await repository.live_api_keys_of(session, tenant_id=actor.tenant_id, staff_id=staff_id):
        held = list((key.scopes or {}).get("permissions", []))
        kept = sorted(p for p in held if p in allowed)
        if not kept:
            key.revoked_at = utcnow()
            audit.record(
                session,
                actor=actor,
                action="api_key.revoke",
                target_type="api_key",
                target_id=key.id,
                before={"name": key.name, "prefix": key.prefix},
                after={"原因": "创建人已离开本店铺" if role is None else "创建人的新角色不再拥有这个密钥的任何权限"},
            )
        elif kept != sorted(held):
            key.scopes = {"permissions": kept}
            audit.record(
                session,
                actor=actor,
                action="api_key.narrow",
                target_type="api_key",
                target_id=key.id,
                before={"permissions": sorted(held)},
                after={"permissions": kept},
            )
    await session.flush()


async def log_in(
    session: AsyncSession,
    *,
    limiter: RateLimiter,
    email: str,
    password: str,
    ip: str,
    hours: int,
    per_account_limit: str,
    per_ip_limit: str,
) -> SignedIn:
    """Check the password and open a console session in the person's first tenant.

    Unknown email and wrong password give the same answer in the same time. Every attempt is counted
    against the account and the address *before* the password is looked at, in one atomic step each: of
    many parallel attempts only as many as the limits allow are checked at all, and once either limit is
    used up even a right password waits. A successful sign-in clears the account's count.
    """
    email = normalise_email(email)
    if not await limiter.hit(per_account_limit, "login", email) or not await limiter.hit(per_ip_limit, "login-ip", ip):
        raise LoginThrottled()
    user = await repository.get_user_by_email(session, email)
    valid = verify_password(user.password_hash if user else None, password)
    memberships = await repository.memberships_of(session, user.id) if user and valid else []
    if user is None or not valid or not user.active or not memberships:
        raise LoginFailed()
    await limiter.clear(per_account_limit, "login", email)
    membership = min(memberships, key=lambda m: m.created_at)
    signed_in = await open_session(session, user=user, tenant_id=membership.tenant_id, ip=ip, hours=hours)
    audit.record(
        session,
        actor=principal_for(user, membership, ip=ip, csrf_token=signed_in.session.csrf_token),
        action="auth.login",
        target_type="staff",
        target_id=user.id,
    )
    return signed_in


async def open_session(
    session: AsyncSession, *, user: StaffUser, tenant_id: int, ip: str | None, hours: int
) -> SignedIn:
    token = new_token()
    row = StaffSession(
        token_hash=hash_token(token),
        staff_id=user.id,
        tenant_id=tenant_id,
        csrf_token=new_token(24),
        ip=ip,
        expires_at=utcnow() + timedelta(hours=hours),
    )
    repository.add(session, row)
    await session.flush()
    return SignedIn(token=token, session=row, user=user)


def principal_for(
    user: StaffUser, membership: Membership, *, ip: str | None = None, csrf_token: str | None = None
) -> Principal:
    return Principal(
        tenant_id=membership.tenant_id,
        kind="staff",
        actor_id=user.id,
        label=f"{user.name} <{user.email}>",
        permissions=permissions_for(membership.role),
        role=membership.role,
        ip=ip,
        csrf_token=csrf_token,
        staff_id=user.id,
    )


async def resolve_session(session: AsyncSession, token: str) -> Principal | None:
    row = await repository.get_session(session, hash_token(token))
    if row is None or row.expires_at <= utcnow():
        return None
    user = await repository.get_user(session, row.staff_id)
    if user is None or not user.active:
        return None
    membership = await repository.get_membership(session, tenant_id=row.tenant_id, staff_id=user.id)
    if membership is None:
        return None
    return principal_for(user, membership, ip=row.ip, csrf_token=row.csrf_token)


async def tenants_of(session: AsyncSession, staff_id: int) -> list[int]:
    return [m.tenant_id for m in await repository.memberships_of(session, staff_id)]


async def switch_tenant(session: AsyncSession, *, token: str, tenant_id: int) -> None:
    row = await repository.get_session(session, hash_token(token))
    if row is None:
        raise NotAuthenticated()
    if await repository.get_membership(session, tenant_id=tenant_id, staff_id=row.staff_id) is None:
        raise Forbidden("你不是这个店铺的员工", code="not_a_member")
    row.tenant_id = tenant_id
    await session.flush()


async def log_out(session: AsyncSession, *, token: str, actor: Principal | None) -> None:
    await repository.delete_session(session, hash_token(token))
    if actor is not None:
        audit.record(session, actor=actor, action="auth.logout", target_type="staff", target_id=actor.actor_id)


async def purge_expired_sessions(session: AsyncSession) -> int:
    return await repository.purge_sessions(session, before=utcnow())


def staff_view(user: StaffUser, membership: Membership) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": membership.role,
        "active": user.active,
    }
