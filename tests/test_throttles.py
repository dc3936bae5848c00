"""Throttles hold when the attempts come all at once: each is counted, atomically, before it is checked.

The attempts run concurrently (asyncio.gather), each in a session and transaction of its own on a database of
this module's own, against the memory storage and against Redis (a key space of their own, cleared after)."""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from siyu.db import create_engine, create_sessionmaker
from siyu.fans import service as fans
from siyu.fans.sms import provider_for
from siyu.kit.errors import AppError
from siyu.kit.ratelimit import RateLimiter
from siyu.staff import service as staff
from siyu.staff.models import StaffSession
from siyu.tenants import service as tenants
from tests.support.databases import fresh_database

REDIS_URL = os.environ.get("SIYU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
PASSWORD = "correct-horse-42"
SECRET = "throttle-tests-secret-0123456789abcdef"
LOGIN_LIMIT, LOGIN_IP_LIMIT = "5/5minutes", "30/5minutes"


@pytest.fixture(scope="module")
def throttle_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("throttle-db"), "throttle") as url:
        yield url


@pytest.fixture(scope="module")
async def throttle_engine(throttle_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(throttle_database_url, pool_size=10)
    yield engine
    await engine.dispose()


@pytest.fixture
def db(throttle_engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return create_sessionmaker(throttle_engine)


@pytest.fixture(params=["memory", "redis"])
async def limiter(request: pytest.FixtureRequest) -> AsyncIterator[RateLimiter]:
    if request.param == "memory":
        yield RateLimiter()
        return
    limiter = RateLimiter(REDIS_URL)
    try:
        await limiter.allowed("1/second", "probe", secrets.token_hex(4))
    except Exception as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI=true: {error}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    limiter.used = []  # type: ignore[attr-defined]
    yield limiter
    for rule, *keys in limiter.used:  # type: ignore[attr-defined]
        await limiter.clear(rule, *keys)


def _remember(limiter: RateLimiter, rule: str, *keys: str) -> None:
    if hasattr(limiter, "used"):
        limiter.used.append((rule, *keys))


async def _each(
    db: async_sessionmaker[AsyncSession], attempts: list[Callable[[AsyncSession], Awaitable[Any]]]
) -> Counter[str]:
    """Run every attempt at once, each in its own transaction; count the outcomes by error code ("ok" for none)."""

    async def one(attempt: Callable[[AsyncSession], Awaitable[Any]]) -> str:
        try:
            async with db() as session, session.begin():
                await attempt(session)
        except AppError as error:
            return error.code
        return "ok"

    return Counter(await asyncio.gather(*(one(a) for a in attempts)))


async def _owner(db: async_sessionmaker[AsyncSession]) -> tuple[int, str]:
    email = f"boss-{secrets.token_hex(4)}@example.com"
    async with db() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug=f"t-{secrets.token_hex(4)}", name="星河直播间")
        await staff.add_staff(session, tenant_id=tenant.id, email=email, role="owner", password=PASSWORD)
        return tenant.id, email


def _login(
    limiter: RateLimiter, email: str, password: str, ip: str, ip_limit: str = LOGIN_IP_LIMIT
) -> Callable[[AsyncSession], Awaitable[Any]]:
    async def attempt(session: AsyncSession) -> Any:
        return await staff.log_in(
            session,
            limiter=limiter,
            email=email,
            password=password,
            ip=ip,
            hours=1,
            per_account_limit=LOGIN_LIMIT,
            per_ip_limit=ip_limit,
        )

    return attempt


async def test_parallel_wrong_passwords_get_five_checks(
    db: async_sessionmaker[AsyncSession], limiter: RateLimiter
) -> None:
    _tenant, email = await _owner(db)
    ip = f"10.0.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    _remember(limiter, LOGIN_LIMIT, "login", email)
    _remember(limiter, LOGIN_IP_LIMIT, "login-ip", ip)
    outcomes = await _each(db, [_login(limiter, email, f"wrong-{n}", ip) for n in range(40)])
    assert outcomes == Counter({"login_failed": 5, "login_throttled": 35})


async def test_fifty_nine_wrong_and_one_right_get_five_checks_between_them(
    db: async_sessionmaker[AsyncSession], limiter: RateLimiter
) -> None:
    """Which five of the sixty are checked is up to the race; that no more than five are is not. Once they are
    used up, the right password waits like any other."""
    _tenant, email = await _owner(db)
    ip = f"10.1.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    _remember(limiter, LOGIN_LIMIT, "login", email)
    _remember(limiter, LOGIN_IP_LIMIT, "login-ip", ip)
    attempts = [_login(limiter, email, f"wrong-{n}", ip) for n in range(59)] + [_login(limiter, email, PASSWORD, ip)]
    outcomes = await _each(db, attempts)
    assert outcomes["login_failed"] + outcomes["ok"] == 5 and outcomes["login_throttled"] == 55
    if outcomes["ok"] == 0:
        assert await _each(db, [_login(limiter, email, PASSWORD, ip)]) == Counter({"login_throttled": 1})
    async with db() as session:
        user = await staff.repository.get_user_by_email(session, email)
        assert user is not None
        sessions = await session.scalar(select(func.count()).where(StaffSession.staff_id == user.id))
    assert sessions == outcomes["ok"]


async def test_one_address_gets_its_checks_across_accounts(
    db: async_sessionmaker[AsyncSession], limiter: RateLimiter
) -> None:
    ip, ip_limit = f"10.2.{secrets.randbelow(250)}.{secrets.randbelow(250)}", "8/5minutes"
    emails = [f"nobody-{secrets.token_hex(4)}@example.com" for _ in range(20)]
    _remember(limiter, ip_limit, "login-ip", ip)
    for email in emails:
        _remember(limiter, LOGIN_LIMIT, "login", email)
    outcomes = await _each(db, [_login(limiter, email, "guess", ip, ip_limit) for email in emails])
    assert outcomes == Counter({"login_failed": 8, "login_throttled": 12})


def _phone() -> str:
    return f"139{secrets.randbelow(10**8):08d}"


def _sms_keys(limiter: RateLimiter, tenant_id: int, phone: str, ip: str) -> None:
    from siyu.kit.security import sign

    phone_hash = fans._phone_hash(SECRET, tenant_id, phone)
    for rule in fans.SEND_LIMITS:
        _remember(limiter, rule, "sms-send", phone_hash)
    _remember(limiter, fans.VERIFY_LIMIT, "sms-verify", phone_hash)
    _remember(limiter, fans.SEND_IP_LIMIT, "sms-send-ip", f"{tenant_id}:{sign(SECRET, ip)[:16]}")


def _send(limiter: RateLimiter, tenant_id: int, phone: str, ip: str) -> Callable[[AsyncSession], Awaitable[Any]]:
    sms = provider_for("log")

    async def attempt(session: AsyncSession) -> Any:
        return await fans.send_code(
            session, secret=SECRET, tenant_id=tenant_id, phone=phone, ip=ip, limiter=limiter, sms=sms
        )

    return attempt


async def test_fifty_parallel_sends_send_one_code(db: async_sessionmaker[AsyncSession], limiter: RateLimiter) -> None:
    tenant_id, _email = await _owner(db)
    phone, ip = _phone(), f"10.3.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    _sms_keys(limiter, tenant_id, phone, ip)
    outcomes = await _each(db, [_send(limiter, tenant_id, phone, ip) for _ in range(50)])
    assert outcomes == Counter({"ok": 1, "sms_too_often": 49})


async def test_parallel_guesses_get_five_checks(db: async_sessionmaker[AsyncSession], limiter: RateLimiter) -> None:
    tenant_id, _email = await _owner(db)
    phone, ip = _phone(), f"10.4.{secrets.randbelow(250)}.{secrets.randbelow(250)}"
    _sms_keys(limiter, tenant_id, phone, ip)
    assert await _each(db, [_send(limiter, tenant_id, phone, ip)]) == Counter({"ok": 1})

    def guess(n: int) -> Callable[[AsyncSession], Awaitable[Any]]:
        async def attempt(session: AsyncSession) -> Any:
            # (a 7-digit guess is never the 6-digit code)
            return await fans.sign_in_with_code(
                session, secret=SECRET, tenant_id=tenant_id, phone=phone, code=f"{n:07d}", limiter=limiter
            )

        return attempt

    # Twice the Redis pool's connections at once: enough to race, few enough that none waits out the pool's 2 s
    # when the machine is busy (350 did, in a full run beside the other database's).
    outcomes = await _each(db, [guess(n) for n in range(128)])
    assert outcomes == Counter({"sms_code_invalid": 5, "sms_code_locked": 123})


async def test_a_used_up_limit_says_when_it_has_room_again(limiter: RateLimiter) -> None:
    key = secrets.token_hex(4)
    rule = "3/30 minutes"
    _remember(limiter, rule, "free-again", key)
    started = time.time()
    for _ in range(2):
        await limiter.hit(rule, "free-again", key)
    assert await limiter.counted(rule, "free-again", key) == (2, None)
    assert await limiter.free_again([(rule, "free-again", key)]) is None
    await limiter.hit(rule, "free-again", key)
    used, end = await limiter.counted(rule, "free-again", key)
    assert used == 3 and end is not None and started + 1795 <= end <= time.time() + 1805
    assert await limiter.free_again([(rule, "free-again", key), ("3/minute", "free-again", "other")]) == end
    await limiter.clear(rule, "free-again", key)
    assert await limiter.counted(rule, "free-again", key) == (0, None)
