"""FastAPI glue with no domain knowledge: the per-request transaction, the caller, permission checks.

The request owns the transaction: one session per request, committed when the endpoint returns
normally, rolled back when it raises. Services never commit.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Annotated, Any
from weakref import WeakKeyDictionary

from fastapi import Depends, Path, Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import FormData

from siyu.kit.errors import Forbidden, NotAuthenticated
from siyu.kit.lane import Lane
from siyu.kit.security import same, sign


@dataclass(frozen=True)
class Principal:
    """Who is calling: a staff member in one tenant, or an API key of one tenant."""

    tenant_id: int
    kind: str  # "staff" | "api_key" | "system"
    actor_id: int | None
    label: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    role: str | None = None
    ip: str | None = None
    csrf_token: str | None = None
    # The staff member who answers for this caller: herself, or the creator of the API key.
    staff_id: int | None = None

    def can(self, permission: str) -> bool:
        return permission in self.permissions


Authenticator = Callable[[Request, AsyncSession], Awaitable[Principal | None]]


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with request.app.state.sessionmaker() as session, session.begin():
        yield session


# Sessions a hot route has finished with, by the sessionmaker that made them: a closed session holds nothing of
# its last request (no rows, no connection, its info cleared) and costs less to reuse than a new one to set up.
_SPARE: WeakKeyDictionary[Any, list[AsyncSession]] = WeakKeyDictionary()
SPARE_SESSIONS = 32


@asynccontextmanager
async def request_transaction(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's transaction opened by the endpoint itself (a hot path): committed when the block ends,
    rolled back when it raises. On PostgreSQL it runs on one of the process's lane connections (siyu.kit.lane)
    when one is free."""
    lane: Lane | None = getattr(request.app.state, "lane", None)
    if lane is not None:
        async with lane.transaction() as session:
            if session is not None:
                yield session
                return
    async with _pooled_transaction(request) as session:
        yield session


@asynccontextmanager
async def _pooled_transaction(request: Request) -> AsyncIterator[AsyncSession]:
    maker = request.app.state.sessionmaker
    spare = _SPARE.setdefault(maker, [])
    session: AsyncSession = spare.pop() if spare else maker()
    done = False
    try:
        async with session.begin():
            yield session
        done = True
    finally:
        await session.close()
        if done and len(spare) < SPARE_SESSIONS:
            session.info.clear()
            spare.append(session)


# scope="function": commit (or rollback) happens when the endpoint returns, before the response is sent,
# so a failed commit is an error response, never a success that did not happen.
DbSession = Annotated[AsyncSession, Depends(db_session, scope="function")]


async def optional_principal(request: Request, session: DbSession) -> Principal | None:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    authenticate: Authenticator = request.app.state.authenticate
    principal = await authenticate(request, session)
    request.state.principal = principal
    return principal


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class CsrfFailed(Forbidden):
    code = "csrf_failed"
    message = "页面已过期，请刷新后重试"


async def check_csrf(request: Request, principal: Principal) -> None:
    """A cookie-authenticated change must echo the session's CSRF token (header or form field)."""
    if request.method in SAFE_METHODS or principal.csrf_token is None:
        return
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        sent = value if isinstance(value, str) else None
    if not sent or not same(sent, principal.csrf_token):
        raise CsrfFailed()


async def current_principal(
    request: Request, principal: Annotated[Principal | None, Depends(optional_principal)]
) -> Principal:
    if principal is None:
        raise NotAuthenticated()
    await check_csrf(request, principal)
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]

MAX_ID = 2**63 - 1
# A resource id in a path: a positive 64-bit integer (anything else is 422, not a database error).
ResourceId = Annotated[int, Path(ge=1, le=MAX_ID)]


def require(permission: str) -> Any:
    """A dependency that lets the call through only when the caller holds `permission`."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.can(permission):
            raise Forbidden(required=permission)
        return principal

    check.required_permission = permission  # type: ignore[attr-defined]
    return Depends(check)


def form_text(form: FormData, name: str) -> str:
    """A form field as trimmed text ("" when missing, or when it is a file), without NUL characters (no
    column can hold one; a multipart form is not checked for them before it gets here)."""
    value = form.get(name)
    return value.replace("\x00", "").strip() if isinstance(value, str) else ""


def bearer_token(authorization: str | None) -> str | None:
    """The credential of an `Authorization: Bearer <token>` header, for staff API keys and fan tokens alike: the
    scheme in any case, spaces around the token ignored; None for another scheme or an empty token."""
    scheme, _, value = (authorization or "").strip().partition(" ")
    value = value.strip()
    return value if scheme.lower() == "bearer" and value else None


def client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


DEVICE_COOKIE = "siyu_device"


def device_id(request: Request) -> str | None:
    """The id a fan's device sends (an app's X-Device-Id header, or the H5's long-lived cookie), if any."""
    value = request.headers.get("x-device-id") or request.cookies.get(DEVICE_COOKIE)
    return value[:128] if value else None


def hashed(request: Request, value: str) -> str:
    """A keyed hash of an IP or a device id: counted and compared without being stored."""
    return _hashed(request.app.state.settings.secret_key, value)


@lru_cache(maxsize=8192)  # the same fans' addresses and devices come back request after request
def _hashed(secret: str, value: str) -> str:
    return sign(secret, value)[:16]


def ip_hash(request: Request) -> str:
    return hashed(request, client_ip(request))


def device_hash(request: Request) -> str | None:
    device = device_id(request)
    return hashed(request, device) if device else None
