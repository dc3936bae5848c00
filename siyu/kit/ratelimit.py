"""Rate limits with the `limits` package: memory storage by default, Redis when configured."""

from __future__ import annotations

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string


class RateLimiter:
    def __init__(self, redis_url: str | None = None) -> None:
        self.storage: Storage
        if redis_url:
            # The client is redis-py (a dependency already); the storage's default client would be coredis.
            storage = storage_from_string("async+" + redis_url, implementation="redispy")
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
