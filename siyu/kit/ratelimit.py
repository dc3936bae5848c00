"""Rate limits with the `limits` package: memory storage by default, Redis when configured.

Callers count an attempt with `hit` *before* checking it: `hit` adds the attempt and answers whether it was
within the limit in one atomic step (a lock in memory, a Lua script in Redis), so parallel attempts cannot all
pass a check before any of them is counted. `allowed` only looks, and is no guard on its own.
"""

from __future__ import annotations

import time
from functools import lru_cache
from typing import Any

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

REDIS_CONNECTIONS = 64
# A rule such as "5/30 minutes" is parsed once (with a regular expression) rather than at every attempt.
rule_of = lru_cache(maxsize=1024)(parse)
REDIS_WAIT_S = 2


class _MemoryStorage(MemoryStorage):
    """The package's memory storage, its clean-up of expired entries started at most once a second. After every
    hit it would start another pass over every key (a thread hop per key), about a twentieth of a claim's CPU; the
    counts never depend on it (a window is counted from its entries' times), only the memory they hold does."""

    _swept = 0.0

    async def _MemoryStorage__schedule_expiry(self) -> None:
        now = time.monotonic()
        if now - self._swept >= SWEEP_EVERY_S:
            self._swept = now
            await super()._MemoryStorage__schedule_expiry()  # type: ignore[misc]


SWEEP_EVERY_S = 1.0


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self.storage: Storage
        if redis_url:
            # The client is redis-py (a dependency already); the storage's default client would be coredis.
            # Callers beyond the pool's connections wait for one (up to REDIS_WAIT_S) instead of failing at once.
            from redis.asyncio import BlockingConnectionPool

            pool = BlockingConnectionPool.from_url(redis_url, max_connections=REDIS_CONNECTIONS, timeout=REDIS_WAIT_S)
            storage = storage_from_string(
                "async+" + redis_url,
                implementation="redispy",
                connection_pool=pool,  # type: ignore[arg-type]  # (typed as scalars only; passed through)
            )
            assert isinstance(storage, Storage)
            self.storage = storage
        else:
            self.storage = _MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self.storage)

    async def hit(self, rule: str, *keys: str) -> bool:
        """Count one attempt; False when the limit is already used up."""
        return await self._limiter.hit(rule_of(rule), *keys)

    async def allowed(self, rule: str, *keys: str) -> bool:
        """True while attempts remain, without counting one."""
        return await self._limiter.test(rule_of(rule), *keys)

    async def attempt(
        self, counted: list[tuple[str, str, str]], looked_at: list[tuple[str, str, str]]
    ) -> tuple[bool, bool]:
        """One attempt against several limits at once: each (rule, *keys) of `counted` gets a hit, each of
        `looked_at` is only tested. Returns (every hit was within its limit, every test passed). With Redis this
        is one round trip (the hits and tests pipelined), however many limits there are."""
        if not isinstance(self.storage, RedisStorage):
            hits = [await self.hit(*limit) for limit in counted]
            looks = [await self.allowed(*limit) for limit in looked_at]
            return all(hits), all(looks)
        bridge: Any = self.storage.bridge  # its registered scripts, queued on a pipeline of its client
        now = time.time()
        async with bridge.get_connection().pipeline(transaction=False) as pipeline:
            for rule, *keys in counted:
                item = rule_of(rule)
                key = bridge.prefixed_key(item.key_for(*keys))
                await bridge.lua_acquire_moving_window([key], [now, item.amount, item.get_expiry(), 1], pipeline)
            for rule, *keys in looked_at:
                item = rule_of(rule)
                key = bridge.prefixed_key(item.key_for(*keys))
                await bridge.lua_moving_window([key], [now - item.get_expiry(), item.amount], pipeline)
            results = await pipeline.execute()
        hits, windows = results[: len(counted)], results[len(counted) :]
        limits = [rule_of(rule).amount for rule, *_keys in looked_at]
        # A window is [its start, entries in it] (or empty): the test passes while entries < the limit.
        looks = [not window or int(window[1]) < limit for window, limit in zip(windows, limits, strict=True)]
        return all(bool(hit) for hit in hits), all(looks)

    async def counted(self, rule: str, *keys: str) -> tuple[int, float | None]:
        """(attempts counted in the window now, when the limit has room again if it is used up, epoch seconds)."""
        item = rule_of(rule)
        stats = await self._limiter.get_window_stats(item, *keys)
        used = item.amount - stats.remaining
        return used, (stats.reset_time if stats.remaining <= 0 else None)

    async def free_again(self, limits: list[tuple[str, str, str]]) -> float | None:
        """When every used-up limit among `limits` has room again (epoch seconds); None when none is used up.
        A few reads: for a refusal or a staff page, not for the path of every attempt."""
        ends = [end for rule, *keys in limits if (end := (await self.counted(rule, *keys))[1]) is not None]
        return max(ends) if ends else None

    async def clear(self, rule: str, *keys: str) -> None:
        item: RateLimitItem = rule_of(rule)
        await self._limiter.clear(item, *keys)

    async def reset(self) -> None:
        await self.storage.reset()
