"""Rate limits count in memory by default and in Redis when SIYU_REDIS_URL is set (shared by every process)."""

from __future__ import annotations

import asyncio
import os
import secrets

import pytest

from siyu.kit import ratelimit
from siyu.kit.ratelimit import RateLimiter

REDIS_URL = os.environ.get("SIYU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


async def _counts(limiter: RateLimiter, key: str) -> list[bool]:
    return [await limiter.hit("3/minute", "test", key) for _ in range(4)]


async def test_memory_limits_count_and_clear() -> None:
    limiter = RateLimiter()
    assert await _counts(limiter, "a") == [True, True, True, False]
    assert not await limiter.allowed("3/minute", "test", "a")
    await limiter.clear("3/minute", "test", "a")
    assert await limiter.allowed("3/minute", "test", "a")


async def test_memory_entries_past_their_window_are_swept_and_no_longer_count(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1_000_000.0]
    monkeypatch.setattr("time.time", lambda: clock[0])
    limiter = RateLimiter()
    assert await _counts(limiter, "b") == [True, True, True, False]  # the clean-up runs at most once a second
    await asyncio.sleep(0.05)  # the pass the first hit started is over
    clock[0] += 61  # the window has passed: counted from the entries' times, swept or not
    assert await limiter.hit("3/minute", "test", "b")
    clock[0] += 61
    monkeypatch.setattr(ratelimit, "SWEEP_EVERY_S", 0.0)
    await limiter.hit("3/minute", "test", "c")  # starts a clean-up pass
    events = limiter.storage.events  # type: ignore[attr-defined]
    assert "LIMITER/test/b/3/1/minute" in events
    for _ in range(100):
        await asyncio.sleep(0.01)
        if "LIMITER/test/b/3/1/minute" not in events:
            break
    assert "LIMITER/test/b/3/1/minute" not in events and "LIMITER/test/c/3/1/minute" in events


async def test_redis_limits_are_shared_between_limiters() -> None:
    first, second = RateLimiter(REDIS_URL), RateLimiter(REDIS_URL)
    key = secrets.token_hex(6)
    try:
        await first.hit("3/minute", "test", key)
    except Exception as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI=true: {error}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    assert [await second.hit("3/minute", "test", key) for _ in range(3)] == [True, True, False]
    await first.clear("3/minute", "test", key)


@pytest.mark.parametrize("storage", ["memory", "redis"])
async def test_one_attempt_counts_some_limits_and_looks_at_others_in_one_go(storage: str) -> None:
    limiter = RateLimiter(REDIS_URL if storage == "redis" else None)
    key = secrets.token_hex(6)
    counted = [("3/minute", "attempt", key), ("10/minute", "attempt-ip", key)]
    looked_at = [("2/minute", "attempt-failures", key)]
    try:
        try:
            first = await limiter.attempt(counted, looked_at)
        except Exception as error:  # no Redis on this machine
            if os.environ.get("CI") == "true":
                pytest.fail(f"Redis is required under CI=true: {error}")
            pytest.skip(f"Redis not reachable at {REDIS_URL}")
        answers = [first, await limiter.attempt(counted, looked_at)]
        for _ in range(2):  # two failures: the lock shows at the next look
            await limiter.hit("2/minute", "attempt-failures", key)
        answers += [await limiter.attempt(counted, looked_at), await limiter.attempt(counted, looked_at)]
        assert answers == [(True, True), (True, True), (True, False), (False, False)]
        assert await limiter.allowed("10/minute", "attempt-ip", key)  # 4 of 10 used: looking counts nothing
    finally:
        for rule, *keys in (*counted, *looked_at):
            await limiter.clear(rule, *keys)
