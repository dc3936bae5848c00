"""Redis admission for flash openings (when SIYU_REDIS_URL is set): at 20:00 every fan taps at once, and all but
the stock's worth of them should hear "sold out" without touching the database.

One atomic script per attempt keeps, per reward, a counter of admissions left and the set of members admitted:
a member is admitted once, and no more members than the stock. Admission only lets her try: the database stays
the source of truth (its conditional stock update never oversells), and a refused or failed attempt gives the
admission back. The counter is primed from the database's stock and lives for a short while, so it re-reads the
stock after ops restock or cancel; `reconcile` compares the two and corrects the counter.
"""

from __future__ import annotations

from typing import Any

import structlog
from redis.asyncio import Redis

log = structlog.get_logger("siyu.mall.gate")

TTL_SECONDS = 30
# KEYS: counter, members; ARGV: member, stock to prime with, ttl. Returns 1 admitted, 0 sold out, -1 already in.
ADMIT = """
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return -1 end
redis.call('SET', KEYS[1], ARGV[2], 'NX', 'EX', ARGV[3])
local left = tonumber(redis.call('GET', KEYS[1]))
if left <= 0 then return 0 end
redis.call('DECR', KEYS[1])
redis.call('SADD', KEYS[2], ARGV[1])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return 1
"""
# KEYS: counter, members; ARGV: member. Returns 1 when the counter is primed and at 0 and she holds no admission
# (sold out, nothing else to know), 0 otherwise (not primed, not a gated reward, admissions left, or she is in).
SOLD_OUT = """
local left = redis.call('GET', KEYS[1])
if not left or tonumber(left) > 0 then return 0 end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 0 end
return 1
"""
# KEYS: counter, members; ARGV: member. Gives an admission back (only if she holds one).
RELEASE = """
if redis.call('SREM', KEYS[2], ARGV[1]) == 1 and redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('INCR', KEYS[1])
end
return 1
"""


class FlashGate:
    def __init__(self, redis_url: str, prefix: str = "siyu:flash") -> None:
        self.redis: Redis = Redis.from_url(redis_url)
        self.prefix = prefix
        self._admit: Any = self.redis.register_script(ADMIT)
        self._release: Any = self.redis.register_script(RELEASE)
        self._sold_out: Any = self.redis.register_script(SOLD_OUT)

    def _keys(self, tenant_id: int, reward_id: int) -> list[str]:
        base = f"{self.prefix}:{tenant_id}:{reward_id}"
        return [f"{base}:left", f"{base}:in"]

    async def admit(self, *, tenant_id: int, reward_id: int, member_id: int, stock: int) -> bool:
        """Whether she may try (a member already trying, or no admissions left: no)."""
        answer = await self._admit(keys=self._keys(tenant_id, reward_id), args=[member_id, stock, TTL_SECONDS])
        return int(answer) == 1

    async def sold_out(self, *, tenant_id: int, reward_id: int, member_id: int) -> bool:
        """Whether the gate already knows the answer is "sold out", with no stock to prime it: the fast answer to
        the crowd after the last admission, before anything reads the database. False: ask the database (the
        counter is not primed, the reward is not gated, admissions are left, or she holds one: her own retry)."""
        answer = await self._sold_out(keys=self._keys(tenant_id, reward_id), args=[member_id])
        return int(answer) == 1

    async def note_sold_out(self, *, tenant_id: int, reward_id: int) -> None:
        """The database says none is left: (re)prime the counter at 0 for its short life, so that the crowd hears
        "sold out" from the gate again once an earlier counter has expired. Never lowers a live counter (ops may
        have restocked since): only sets one that is missing."""
        left_key, _members = self._keys(tenant_id, reward_id)
        await self.redis.set(left_key, 0, nx=True, ex=TTL_SECONDS)

    async def release(self, *, tenant_id: int, reward_id: int, member_id: int) -> None:
        await self._release(keys=self._keys(tenant_id, reward_id), args=[member_id])

    async def reconcile(self, *, tenant_id: int, reward_id: int, stock: int) -> int:
        """The counter may run below the database's stock (members still trying, or a failed try not given
        back: the counter expires within TTL_SECONDS and is primed afresh) but never above it (ops lowered the
        stock). Corrects the counter; returns how many admissions too many it had (0: none, or no counter)."""
        left_key, _members = self._keys(tenant_id, reward_id)
        left = await self.redis.get(left_key)
        if left is None or int(left) <= stock:
            return 0
        await self.redis.set(left_key, stock, keepttl=True)
        log.warning("mall.gate_drift", tenant_id=tenant_id, reward_id=reward_id, drift=int(left) - stock)
        return int(left) - stock

    async def close(self) -> None:
        await self.redis.aclose()
