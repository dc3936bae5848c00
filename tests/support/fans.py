"""A signed-in fan's H5 cookie, as signing in writes it (her session opened in the database)."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.fans import service as fans
from siyu.h5.fans import SESSION_DAYS, cookie_name, cookie_value
from siyu.tenants.models import Tenant


async def h5_cookies(app: FastAPI, session: AsyncSession, tenant: Tenant, member_id: int) -> dict[str, str]:
    session_id = await fans.open_h5_session(session, tenant_id=tenant.id, member_id=member_id, days=SESSION_DAYS)
    value = cookie_value(app.state.settings.secret_key, tenant_id=tenant.id, member_id=member_id, session_id=session_id)
    return {cookie_name(tenant.slug): value}
