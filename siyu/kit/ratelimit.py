"""Rate limits with the `limits` package: memory storage by default, Redis when configured.

Callers count an attempt with `hit` *before* checking it: `hit` adds the attempt and answers whether it was
within the limit in one atomic step (a lock in memory, a Lua script in Redis), so parallel attempts cannot all
pass a check before any of them is counted. `allowed` only looks, and is no guard on its own.
"""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

REDIS_CONNECTIONS = 64
REDIS_WAIT_S = 2


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
            self.storage = MemoryStorage()
        self._limiter = MovingWindowRateLimiter(self.storage)

    async def hit(self, rule: str, *keys: str) -> bool:
        """Count one attempt; False when the limit is already used up."""
        return await self._limiter.hit(parse(rule), *keys)

    async def allowed(self, rule: str, *keys: str) -> bool:
        """True while attempts remain, without counting one."""
        return await self._limiter.test(parse(rule), *keys)

    async def clear(self, rule: str, *keys: str) -> None:
        item: RateLimitItem = parse(rule)
        await self._limiter.clear(item, *keys)

    async def reset(self) -> None:
        await self.storage.reset()
