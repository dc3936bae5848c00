"""Random sequences of every ledger operation against the database, checked after every step against the
invariants (computed in SQL) and against a pure-Python model of what each balance and lot should be.

Hypothesis drives a synchronous state machine; the async services run on an event loop of their own in a
helper thread, with an engine of their own. Each example works in one transaction that is rolled back at
the end; each operation runs in a savepoint, so a refused operation leaves nothing, as a request would.
"""

from __future__ import annotations

import asyncio
import copy
import secrets
import threading
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from siyu.db import create_engine
from siyu.kit.errors import AppError
from siyu.kit.web import Principal
from siyu.ledger import service
from siyu.ledger.audit import check_invariants
from siyu.ledger.models import Lot
from siyu.members import service as members
from siyu.tenants import service as tenants
from tests.ledger.model import MAccount, Model, Refused

T = TypeVar("T")
T0 = datetime(2030, 6, 1, tzinfo=UTC)
MEMBERS = 4


class LoopThread:
    """An event loop running in a daemon thread; `run` blocks until a coroutine finishes there."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="ledger-machine-loop", daemon=True)
        self.thread.start()

    def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=120)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


@pytest.fixture
def machine_runtime(database_url: str) -> Iterator[tuple[LoopThread, AsyncEngine]]:
    runner = LoopThread()
    engine = create_engine(database_url)
    try:
        yield runner, engine
    finally:
        runner.run(engine.dispose())
        runner.close()


class LedgerMachine(RuleBasedStateMachine):
    runner: ClassVar[LoopThread]
    engine: ClassVar[AsyncEngine]

    credits = Bundle("credits")
    spends = Bundle("spends")

    def __init__(self) -> None:
        super().__init__()
        self.n = 0
        self.merges_tried = 0
        self.session, self.tenant_id, self.members = self.runner.run(self._open())
        self.model = Model(now=T0, accounts={member_id: MAccount() for member_id in self.members})
        self.actor = Principal(
            tenant_id=self.tenant_id, kind="staff", actor_id=1, label="运营", permissions=frozenset()
        )

    async def _open(self) -> tuple[AsyncSession, int, list[int]]:
        session = AsyncSession(self.engine, expire_on_commit=False)
        await session.begin()
        tenant = await tenants.create_tenant(session, slug=f"machine-{secrets.token_hex(5)}", name="状态机直播间")
        ids = [(await members.create_member(session, tenant_id=tenant.id)).id for _ in range(MEMBERS)]
        return session, tenant.id, ids

    def teardown(self) -> None:
        async def close() -> None:
            await self.session.rollback()
            await self.session.close()

        self.runner.run(close())

    # Running one operation on both sides

    def _ref(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}:{self.n}"

    def act(self, expected: Callable[[], T], actual: Callable[[], Awaitable[Any]]) -> tuple[T | None, Any]:
        """Run the model's and the service's version; both must succeed, or both refuse with the same code."""
        saved = copy.deepcopy(self.model)
        try:
            want: T | None = expected()
            want_code = None
        except Refused as refusal:
            self.model = saved
            want, want_code = None, refusal.code

        async def call() -> tuple[Any, str | None]:
            try:
                async with self.session.begin_nested():
                    return await actual(), None
            except AppError as error:
                return None, error.code

        got, got_code = self.runner.run(call())
        assert got_code == want_code, f"service said {got_code!r}, model said {want_code!r}"
        return want, got

    def who(self, index: int) -> int:
        return self.members[index]

    # Rules

    @initialize(target=credits)
    def everyone_has_points(self) -> Any:
        """Each member starts with 100 points (half of them expiring within a day) and 60 held ones."""
        refs = []
        for i, who in enumerate(self.members):
            for amount, pending, hours in ((100, False, 24 if i % 2 == 0 else None), (60, True, 48)):
                ref, now = self._ref("order:douyin"), self.model.now
                expires_at = None if hours is None else now + timedelta(hours=hours)
                self.act(
                    lambda who=who, ref=ref, amount=amount, pending=pending, expires_at=expires_at: self.model.earn(
                        who, amount, ref, pending, expires_at
                    ),
                    lambda who=who, ref=ref, amount=amount, pending=pending, expires_at=expires_at, now=now: (
                        service.earn(
                            self.session,
                            tenant_id=self.tenant_id,
                            member_id=who,
                            amount=amount,
                            source_ref=ref,
                            pending=pending,
                            expires_at=expires_at,
                            now=now,
                        )
                    ),
                )
                refs.append(ref)
        return multiple(*refs)

    @rule(
        target=credits,
        member=st.integers(0, MEMBERS - 1),
        amount=st.integers(1, 300),
        pending=st.booleans(),
        expires_in=st.none() | st.integers(1, 72),
    )
    def earn(self, member: int, amount: int, pending: bool, expires_in: int | None) -> Any:
        ref, who = self._ref("order:taobao"), self.who(member)
        expires_at = None if expires_in is None else self.model.now + timedelta(hours=expires_in)
        now = self.model.now
        self.act(
            lambda: self.model.earn(who, amount, ref, pending, expires_at),
            lambda: service.earn(
                self.session,
                tenant_id=self.tenant_id,
                member_id=who,
                amount=amount,
                source_ref=ref,
                pending=pending,
                expires_at=expires_at,
                now=now,
            ),
        )
        return ref if ref in self.model.lots else multiple()

    @rule(ref=credits, member=st.integers(0, MEMBERS - 1), pending=st.booleans())
    def earn_the_same_source_again(self, ref: str, member: int, pending: bool) -> None:
        who, now = self.who(member), self.model.now
        self.act(
            lambda: self.model.earn(who, 5, ref, pending, None),
            lambda: service.earn(
                self.session,
                tenant_id=self.tenant_id,
                member_id=who,
                amount=5,
                source_ref=ref,
                pending=pending,
                now=now,
            ),
        )

    @rule(ref=credits)
    def post(self, ref: str) -> None:
        now = self.model.now
        want, got = self.act(
            lambda: self.model.post(ref),
            lambda: service.post(self.session, tenant_id=self.tenant_id, source_ref=ref, now=now),
        )
        assert (got is not None) == bool(want)

    @rule(ref=credits)
    def void(self, ref: str) -> None:
        now = self.model.now
        want, got = self.act(
            lambda: self.model.void(ref),
            lambda: service.void(self.session, tenant_id=self.tenant_id, source_ref=ref, now=now),
        )
        assert (got is not None) == bool(want)

    @rule(target=spends, member=st.integers(0, MEMBERS - 1), amount=st.integers(1, 200))
    def spend(self, member: int, amount: int) -> Any:
        return self._spend(member, amount)

    @rule(target=spends, member=st.integers(0, MEMBERS - 1))
    def spend_everything(self, member: int) -> Any:
        """Spend all that is available (so that a later clawback meets spent points)."""
        return self._spend(member, max(1, self.model.accounts[self.who(member)].available))

    def _spend(self, member: int, amount: int) -> Any:
        ref, who, now = self._ref("redemption"), self.who(member), self.model.now
        want, got = self.act(
            lambda: self.model.spend(who, amount, ref),
            lambda: service.spend(
                self.session, tenant_id=self.tenant_id, member_id=who, amount=amount, source_ref=ref, now=now
            ),
        )
        if want is None:
            return multiple()
        lot_ids = self.runner.run(self._lot_ids())
        assert [(lot_ids[r], n) for r, n in want] == [(a.lot_id, a.amount) for a in got.allocations]
        return ref

    @rule(ref=spends)
    def refund(self, ref: str) -> None:
        now = self.model.now
        want, got = self.act(
            lambda: self.model.refund(ref),
            lambda: service.refund_spend(self.session, tenant_id=self.tenant_id, source_ref=ref, now=now),
        )
        assert (None if got is None else got.amount) == want

    @rule(ref=credits, numerator=st.integers(0, 12), denominator=st.integers(1, 10))
    def clawback(self, ref: str, numerator: int, denominator: int) -> None:
        now = self.model.now
        want, got = self.act(
            lambda: self.model.clawback(ref, numerator, denominator),
            lambda: service.clawback(
                self.session,
                tenant_id=self.tenant_id,
                source_ref=ref,
                numerator=numerator,
                denominator=denominator,
                now=now,
            ),
        )
        assert (None if got is None else -(got.amount + got.pending_amount)) == want

    @rule(hours=st.integers(1, 48))
    def time_passes(self, hours: int) -> None:
        self.model.now += timedelta(hours=hours)

    @rule()
    def expire(self) -> None:
        now = self.model.now
        want, got = self.act(self.model.expire, lambda: service.expire(self.session, tenant_id=self.tenant_id, now=now))
        assert got == want

    @rule(member=st.integers(0, MEMBERS - 1), amount=st.integers(-200, 200).filter(lambda n: n != 0))
    def adjust(self, member: int, amount: int) -> None:
        ref, who, now = self._ref("adjust"), self.who(member), self.model.now
        self.act(
            lambda: self.model.adjust(who, amount, ref),
            lambda: service.adjust(
                self.session,
                tenant_id=self.tenant_id,
                member_id=who,
                amount=amount,
                reason="状态机调整",
                actor=self.actor,
                source_ref=ref,
                now=now,
            ),
        )

    @precondition(lambda self: self.merges_tried < 2)  # more would soon leave nobody to earn or spend
    @rule(pair=st.permutations(range(MEMBERS)))
    def merge(self, pair: list[int]) -> None:
        self.merges_tried += 1
        a, b, now = self.who(pair[0]), self.who(pair[1]), self.model.now
        want, got = self.act(
            lambda: self.model.merge(a, b),
            lambda: service.merge(self.session, tenant_id=self.tenant_id, from_member_id=a, into_member_id=b, now=now),
        )
        assert (got is not None) == bool(want)

    # After every step

    async def _lot_ids(self) -> dict[str, int]:
        rows = await self.session.execute(select(Lot.source_ref, Lot.id).where(Lot.tenant_id == self.tenant_id))
        return {row.source_ref: row.id for row in rows}

    async def _state(self) -> tuple[list[str], dict[int, tuple[int, int, int]], dict[str, tuple[int, int, str]]]:
        problems = await check_invariants(self.session, self.tenant_id)
        balances = {}
        for member_id in self.members:
            points = await service.balance(self.session, tenant_id=self.tenant_id, member_id=member_id)
            balances[member_id] = (points.available, points.pending, points.debt)
        rows = await self.session.execute(
            select(Lot.source_ref, Lot.member_id, Lot.remaining, Lot.status).where(Lot.tenant_id == self.tenant_id)
        )
        lots = {ref: (member_id, remaining, status) for ref, member_id, remaining, status in rows}
        return problems, balances, lots

    @invariant()
    def books_balance_and_match_the_model(self) -> None:
        problems, balances, lots = self.runner.run(self._state())
        assert problems == []
        assert balances == {m: (a.available, a.pending, a.debt) for m, a in self.model.accounts.items()}
        assert lots == {ref: (lot.owner, lot.remaining, lot.status) for ref, lot in self.model.lots.items()}


def test_random_ledger_histories_keep_the_books_balanced(machine_runtime: tuple[LoopThread, AsyncEngine]) -> None:
    runner, engine = machine_runtime
    LedgerMachine.runner, LedgerMachine.engine = runner, engine
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
