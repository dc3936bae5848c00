"""Who the fan is on the H5: a signed cookie per tenant naming her member id and her session (which the server
can end: signing out, a merge; see siyu.fans.service for how soon every process refuses it).

Fans sign in through the tenant's own entry points (WeChat, a phone code); on a demo server anyone can look
around as a demo fan. Pages that need a fan send others to the sign-in page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.fans import service as fans
from siyu.kit.errors import AppError
from siyu.kit.security import same, sign
from siyu.kit.web import DbSession
from siyu.members import service as members
from siyu.members.models import Member
from siyu.tenants import service as tenants
from siyu.tenants.models import Tenant

SESSION_DAYS = 30


class FanSignInRequired(AppError):
    status = 401
    code = "fan_sign_in_required"
    message = "请先登录会员中心"


def cookie_name(slug: str) -> str:
    return f"siyu_fan_{slug}"


def _payload(tenant_id: int, member_id: int, session_id: int, issued: int) -> str:
    return f"{tenant_id}.{member_id}.{session_id}.{issued}"


def cookie_value(secret: str, *, tenant_id: int, member_id: int, session_id: int, issued: int | None = None) -> str:
    payload = _payload(tenant_id, member_id, session_id, int(time.time()) if issued is None else issued)
    return f"{payload}.{sign(secret, payload)}"


async def sign_in(request: Request, response: Response, session: AsyncSession, tenant: Tenant, member_id: int) -> None:
    settings = request.app.state.settings
    session_id = await fans.open_h5_session(session, tenant_id=tenant.id, member_id=member_id, days=SESSION_DAYS)
    response.set_cookie(
        cookie_name(tenant.slug),
        cookie_value(settings.secret_key, tenant_id=tenant.id, member_id=member_id, session_id=session_id),
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        # Behind a proxy the scheme is https only when the proxy is trusted (SIYU_TRUSTED_PROXIES); in production
        # the cookie is Secure whatever the scheme looks like.
        secure=settings.cookie_secure or request.url.scheme == "https",
        path=f"/h5/{tenant.slug}/",
    )


async def sign_out(request: Request, response: Response, session: AsyncSession, tenant: Tenant) -> None:
    """End her session (a copied cookie stops working too) and drop the cookie."""
    found = _signed(request, tenant.slug)
    if found is not None and found[0] == tenant.id:
        await fans.end_session(session, tenant_id=tenant.id, session_id=found[2])
    response.delete_cookie(cookie_name(tenant.slug), path=f"/h5/{tenant.slug}/")


def official_cookie_name(slug: str) -> str:
    return f"siyu_oa_{slug}"


def remember_official_account(
    request: Request, response: Response, tenant: Tenant, member_id: int, openid: str
) -> None:
    """The official account's openid she signed in with: her H5 subscribe consents are that account's."""
    settings = request.app.state.settings
    payload = f"{member_id}.{openid}"
    response.set_cookie(
        official_cookie_name(tenant.slug),
        f"{payload}.{sign(settings.secret_key, payload)}",
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure or request.url.scheme == "https",
        path=f"/h5/{tenant.slug}/",
    )


def official_account(request: Request, slug: str, member_id: int) -> str | None:
    """Her official-account openid when she signed in here through the official account (as this member)."""
    member, _, rest = request.cookies.get(official_cookie_name(slug), "").partition(".")
    openid, _, signature = rest.rpartition(".")
    if member != str(member_id) or not openid or not signature:
        return None
    secret = request.app.state.settings.secret_key
    return openid if same(signature, sign(secret, f"{member}.{openid}")) else None


def _signed(request: Request, slug: str) -> tuple[int, int, int] | None:
    raw = request.cookies.get(cookie_name(slug), "")
    parts = raw.split(".")
    if len(parts) != 5 or not all(p.isdigit() and len(p) < 20 for p in parts[:4]):
        return None
    tenant_id, member_id, session_id, issued = (int(p) for p in parts[:4])
    if issued + SESSION_DAYS * 86400 < time.time():
        return None
    payload = _payload(tenant_id, member_id, session_id, issued)
    if not same(parts[4], sign(request.app.state.settings.secret_key, payload)) or fans.ended_here(session_id):
        return None
    return tenant_id, member_id, session_id


def signed_fan(request: Request, slug: str) -> tuple[int, int] | None:
    """(tenant, member) her cookie for this slug names, when it is ours, not expired and its session not ended in
    this process; read without the database (the session may since have been ended elsewhere, the member merged
    or blocked: fan_page looks them up)."""
    found = _signed(request, slug)
    return None if found is None else (found[0], found[1])


async def _member_id(request: Request, session: AsyncSession, tenant: Tenant) -> int | None:
    found = _signed(request, tenant.slug)
    if found is None or found[0] != tenant.id:
        return None
    if not await fans.session_alive(session, tenant_id=tenant.id, session_id=found[2]):
        return None
    return found[1]


@dataclass(frozen=True)
class FanPage:
    tenant: Tenant
    member: Member | None

    @property
    def brand_color(self) -> str:
        return str((self.tenant.settings or {}).get("brand_color", "#e8336d"))


async def fan_page(slug: str, request: Request, session: DbSession) -> FanPage:
    tenant = await tenants.get_by_slug(session, slug)
    member_id = await _member_id(request, session, tenant)
    member = None
    if member_id is not None:
        member = await members.current(session, tenant_id=tenant.id, member_id=member_id)  # merged: the other one
        if member is not None and member.status != "active":
            member = None
    if member is not None:
        request.app.state.visits.note(member, timezone=tenant.timezone)  # written a few seconds later, set-wise
    return FanPage(tenant, member)


Fan = Annotated[FanPage, Depends(fan_page)]


def to_sign_in(page: FanPage, next_path: str) -> RedirectResponse:
    return RedirectResponse(f"/h5/{page.tenant.slug}/login?next={next_path}", status_code=303)
