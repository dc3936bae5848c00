"""Test data built through the services, as the product builds it."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.web import Principal
from siyu.members import service as members
from siyu.members.models import Member
from siyu.orders.models import Order, OrderImport
from siyu.staff import api_keys
from siyu.staff import service as staff
from siyu.staff.models import StaffUser
from siyu.staff.permissions import PERMISSION_LABELS
from siyu.tenants import service as tenants
from siyu.tenants.models import Channel, Platform, Tenant
from siyu.tenants.schemas import ChannelIn

PASSWORD = "correct-horse-42"
_seq = itertools.count(1)


@dataclass
class StaffLogin:
    user: StaffUser
    principal: Principal
    token: str
    csrf: str

    @property
    def cookies(self) -> dict[str, str]:
        return {"siyu_session": self.token}

    @property
    def headers(self) -> dict[str, str]:
        return {"X-CSRF-Token": self.csrf}


async def tenant(session: AsyncSession, *, name: str | None = None) -> Tenant:
    n = next(_seq)
    return await tenants.create_tenant(session, slug=f"host-{n}-{id(session) % 9973}", name=name or f"测试主播{n}")


async def staff_login(
    session: AsyncSession, tenant_id: int, role: str = "owner", email: str | None = None
) -> StaffLogin:
    email = email or f"staff{next(_seq)}@example.com"
    user, membership = await staff.add_staff(
        session, tenant_id=tenant_id, email=email, role=role, password=PASSWORD, name=f"员工{role}"
    )
    signed_in = await staff.open_session(session, user=user, tenant_id=tenant_id, ip="127.0.0.1", hours=1)
    principal = staff.principal_for(user, membership, ip="127.0.0.1", csrf_token=signed_in.session.csrf_token)
    return StaffLogin(user=user, principal=principal, token=signed_in.token, csrf=signed_in.session.csrf_token)


async def api_key(session: AsyncSession, owner: Principal, permissions: list[str] | None = None) -> str:
    _key, secret = await api_keys.create(
        session,
        actor=owner,
        name=f"key{next(_seq)}",
        permissions=permissions or sorted(PERMISSION_LABELS),
        expires_at=None,
    )
    return secret


async def channel(session: AsyncSession, owner: Principal, platform: Platform = Platform.taobao) -> Channel:
    return await tenants.create_channel(
        session, actor=owner, data=ChannelIn(platform=platform, name=f"渠道{next(_seq)}")
    )


async def member(session: AsyncSession, tenant_id: int, nickname: str = "小鱼") -> Member:
    return await members.create_member(session, tenant_id=tenant_id, nickname=nickname)


async def order(
    session: AsyncSession,
    tenant_id: int,
    *,
    platform: str = "taobao",
    order_id: str | None = None,
    status: str = "paid",
    paid_fen: int = 12900,
) -> Order:
    from siyu.kit.time import utcnow
    from siyu.orders.models import STATUS_RANK

    now = utcnow()
    row = Order(
        tenant_id=tenant_id,
        platform=platform,
        order_id=order_id or f"19306798581{next(_seq):06d}",
        status=status,
        status_rank=STATUS_RANK[status],
        paid_fen=paid_fen,
        refund_fen=0,
        item_count=1,
        title="珀莱雅双抗精华液",
        first_seen_at=now,
        last_changed_at=now,
        paid_at=now,
    )
    session.add(row)
    await session.flush()
    return row


async def order_import(session: AsyncSession, tenant_id: int) -> OrderImport:
    row = OrderImport(
        tenant_id=tenant_id,
        id=next(_seq) + 1000,
        sha256="0" * 64,
        filename="x.csv",
        size=1,
        requested_platform="auto",
        status="done",
    )
    session.add(row)
    await session.flush()
    return row
