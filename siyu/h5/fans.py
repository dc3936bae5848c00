"""Who the fan is on the H5: a signed cookie per tenant naming her member id.

Fans sign in through the tenant's own entry points (WeChat, a phone code); on a demo server anyone can look
around as a demo fan. Pages that need a fan send others to the sign-in page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.responses import RedirectResponse, Response

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


def _payload(tenant_id: int, member_id: int, issued: int) -> str:
    return f"{tenant_id}.{member_id}.{issued}"


def sign_in(request: Request, response: Response, tenant: Tenant, member_id: int) -> None:
    issued = int(time.time())
    payload = _payload(tenant.id, member_id, issued)
    value = f"{payload}.{sign(request.app.state.settings.secret_key, payload)}"
    response.set_cookie(
        cookie_name(tenant.slug),
        value,
        max_age=SESSION_DAYS * 86400,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=f"/h5/{tenant.slug}/",
    )


def sign_out(response: Response, tenant: Tenant) -> None:
    response.delete_cookie(cookie_name(tenant.slug), path=f"/h5/{tenant.slug}/")


def signed_fan(request: Request, slug: str) -> tuple[int, int] | None:
    """(tenant, member) her cookie for this slug names, when it is ours and not expired; read without the database
    (the member may since have been merged or blocked: fan_page looks her up)."""
    raw = request.cookies.get(cookie_name(slug), "")
    parts = raw.split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts[:3]):
        return None
    tenant_id, member_id, issued = (int(p) for p in parts[:3])
    if issued + SESSION_DAYS * 86400 < time.time():
        return None
    if not same(parts[3], sign(request.app.state.settings.secret_key, _payload(tenant_id, member_id, issued))):
        return None
    return tenant_id, member_id


def _member_id(request: Request, tenant: Tenant) -> int | None:
    found = signed_fan(request, tenant.slug)
    return found[1] if found is not None and found[0] == tenant.id else None


@dataclass(frozen=True)
class FanPage:
    tenant: Tenant
    member: Member | None

    @property
    def brand_color(self) -> str:
        return str((self.tenant.settings or {}).get("brand_color", "#e8336d"))


async def fan_page(slug: str, request: Request, session: DbSession) -> FanPage:
    tenant = await tenants.get_by_slug(session, slug)
    member_id = _member_id(request, tenant)
    member = None
    if member_id is not None:
        member = await members.current(session, tenant_id=tenant.id, member_id=member_id)  # merged: the other one
        if member is not None and member.status != "active":
            member = None
    return FanPage(tenant, member)


Fan = Annotated[FanPage, Depends(fan_page)]


def to_sign_in(page: FanPage, next_path: str) -> RedirectResponse:
    return RedirectResponse(f"/h5/{page.tenant.slug}/login?next={next_path}", status_code=303)
