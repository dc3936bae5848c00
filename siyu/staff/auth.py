"""Who is calling: a console session cookie or an API key (Authorization: Bearer / X-API-Key)."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.web import Principal, bearer_token, client_ip
from siyu.staff import api_keys, service

SESSION_COOKIE = "siyu_session"


def bearer_key(request: Request) -> str | None:
    return bearer_token(request.headers.get("authorization")) or request.headers.get("x-api-key") or None


async def authenticate(request: Request, session: AsyncSession) -> Principal | None:
    key = bearer_key(request)
    if key is not None:
        # A presented key that does not resolve is an error, never a fallback to the cookie.
        return await api_keys.resolve(session, key, ip=client_ip(request))
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        return await service.resolve_session(session, token)
    return None
