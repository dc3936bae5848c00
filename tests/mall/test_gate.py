"""The Redis flash gate: at an opening, members beyond the stock hear "sold out" from Redis; the database still
decides who gets one, and a failed try gives the admission back."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator

import pytest

from siyu.mall import redeem
from siyu.mall.gate import FlashGate
from tests.mall.conftest import Mall

REDIS_URL = os.environ.get("SIYU_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture
async def gate() -> AsyncIterator[FlashGate]:
    gate = FlashGate(REDIS_URL, prefix=f"siyu-test:{secrets.token_hex(4)}")
    try:
        await gate.redis.ping()
    except Exception as error:
        await gate.close()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI=true: {error}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}")
    try:
        yield gate
    finally:
        keys = [key async for key in gate.redis.scan_iter(f"{gate.prefix}:*")]
        if keys:
            await gate.redis.delete(*keys)
        await gate.close()


async def test_no_more_members_than_the_stock_are_admitted_and_each_once(gate: FlashGate) -> None:
    answers = await asyncio.gather(
        *(gate.admit(tenant_id=1, reward_id=7, member_id=m, stock=3) for m in range(20)),
        gate.admit(tenant_id=1, reward_id=7, member_id=0, stock=3),
    )
    assert sum(answers) == 3
    assert not await gate.admit(tenant_id=1, reward_id=7, member_id=0, stock=3)  # a second tap
    admitted = [m for m, ok in enumerate(answers[:20]) if ok]
    await gate.release(tenant_id=1, reward_id=7, member_id=admitted[0])  # her try failed
    await gate.release(tenant_id=1, reward_id=7, member_id=99)  # never admitted: nothing to give back
    assert await gate.admit(tenant_id=1, reward_id=7, member_id=50, stock=3)
    assert not await gate.admit(tenant_id=1, reward_id=7, member_id=51, stock=3)


async def test_reconcile_never_lets_the_counter_exceed_the_stock(gate: FlashGate) -> None:
    assert await gate.reconcile(tenant_id=1, reward_id=8, stock=5) == 0  # no counter yet
    assert await gate.admit(tenant_id=1, reward_id=8, member_id=1, stock=10)  # primed at 10, 9 left
    assert await gate.reconcile(tenant_id=1, reward_id=8, stock=4) == 5  # ops lowered the stock
    assert await gate.redis.get(f"{gate.prefix}:1:8:left") == b"4"
    assert await gate.reconcile(tenant_id=1, reward_id=8, stock=4) == 0


async def test_redeeming_through_the_gate(mall: Mall, gate: FlashGate) -> None:
    reward = await mall.reward(stock=1, limit_per_member=1)
    poor, rich, late = await mall.fan(points=10), await mall.fan(), await mall.fan()
    with pytest.raises(redeem.InsufficientPoints):
        await redeem.redeem(
            mall.session, tenant_id=mall.tenant_id, member_id=poor, reward_id=reward.id, gate=gate, now=mall.now
        )
    # Her failed try gave the one admission back: the next fan gets the reward.
    row = await redeem.redeem(
        mall.session, tenant_id=mall.tenant_id, member_id=rich, reward_id=reward.id, gate=gate, now=mall.now
    )
    assert row.points == 100
    with pytest.raises(redeem.SoldOut):
        await redeem.redeem(
            mall.session, tenant_id=mall.tenant_id, member_id=late, reward_id=reward.id, gate=gate, now=mall.now
        )
    assert await mall.available(late) == 1000  # nothing taken


async def test_a_sold_out_reward_primes_the_gate_again_once_its_counter_has_expired(gate: FlashGate) -> None:
    assert not await gate.sold_out(tenant_id=1, reward_id=9, member_id=1)  # nothing known: ask the database
    await gate.note_sold_out(tenant_id=1, reward_id=9)  # the database said none is left
    assert await gate.sold_out(tenant_id=1, reward_id=9, member_id=1)
    assert await gate.admit(tenant_id=1, reward_id=10, member_id=1, stock=2)
    await gate.note_sold_out(tenant_id=1, reward_id=10)  # a live counter is left alone
    assert not await gate.sold_out(tenant_id=1, reward_id=10, member_id=2)
    assert await gate.admit(tenant_id=1, reward_id=10, member_id=2, stock=2)
    assert await gate.sold_out(tenant_id=1, reward_id=10, member_id=3)
    assert not await gate.sold_out(tenant_id=1, reward_id=10, member_id=2)  # she holds one: her retry goes on
