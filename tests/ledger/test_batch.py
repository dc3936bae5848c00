"""The batch path writes the same books as the service, one operation after another: two tenants start from the
same history (built through the service), one takes a batch, the other the same credits or posts one by one;
balances, lots, entries and allocations must then be the same, and the invariants hold in both."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.db import create_engine, create_sessionmaker
from siyu.kit.errors import AppError
from siyu.ledger import batch, service
from siyu.ledger.audit import check_invariants
from siyu.ledger.batch import Credit, EarnResult
from siyu.ledger.models import Allocation, Balance, Entry, Lot, LotStatus
from siyu.members import service as members
from siyu.tenants import service as tenants
from tests.ledger.conftest import T0, Book
from tests.support import factories
from tests.support.databases import backend, fresh_database

FANS = 8


@dataclass
class Side:
    """One tenant of the pair: its fans by index, and a clock shared with the other side."""

    session: AsyncSession
    tenant_id: int
    fans: list[int]
    now: datetime = T0
    _n: int = field(default=0)

    async def earn(self, fan: int, amount: int, ref: str, **options: Any) -> None:
        await service.earn(
            self.session,
            tenant_id=self.tenant_id,
            member_id=self.fans[fan],
            amount=amount,
            source_ref=ref,
            now=self.now,
            **options,
        )

    async def spend(self, fan: int, amount: int) -> None:
        self._n += 1
        await service.spend(
            self.session,
            tenant_id=self.tenant_id,
            member_id=self.fans[fan],
            amount=amount,
            source_ref=f"redemption:{self._n}",
            now=self.now,
        )

    async def clawback(self, ref: str, numerator: int = 1, denominator: int = 1) -> None:
        await service.clawback(
            self.session,
            tenant_id=self.tenant_id,
            source_ref=ref,
            numerator=numerator,
            denominator=denominator,
            now=self.now,
        )

    def credits(self, plan: Sequence[tuple[int, str, int, bool, float | None, float | None]]) -> list[Credit]:
        """(fan, ref, amount, pending, post after (days from now), expires in (days)) as credits."""
        return [
            Credit(
                member_id=self.fans[fan] if fan >= 0 else -fan,
                source_ref=ref,
                amount=amount,
                explanation="订单积分",
                pending=pending,
                post_after=None if post is None else self.now + timedelta(days=post),
                expires_at=None if expires is None else self.now + timedelta(days=expires),
            )
            for fan, ref, amount, pending, post, expires in plan
        ]

    async def snapshot(self) -> dict[str, Any]:
        """Everything the ledger holds for this tenant, with ids replaced by what they stand for."""
        who = {member_id: n for n, member_id in enumerate(self.fans)}
        lots = (
            await self.session.execute(
                select(
                    Lot.id,
                    Lot.source_ref,
                    Lot.member_id,
                    Lot.amount,
                    Lot.remaining,
                    Lot.status,
                    Lot.post_after,
                    Lot.expires_at,
                    Lot.created_at,
                ).where(Lot.tenant_id == self.tenant_id)
            )
        ).all()
        lot_ref = {lot.id: lot.source_ref for lot in lots}

        def ref(source_ref: str) -> str:
            if source_ref.startswith("lot:"):
                return f"lot:{lot_ref[int(source_ref[4:])]}"
            if source_ref.startswith("merge:"):
                return f"merge:{who[int(source_ref[6:])]}"
            return source_ref

        entries = (
            await self.session.execute(
                select(
                    Entry.id,
                    Entry.member_id,
                    Entry.kind,
                    Entry.amount,
                    Entry.pending_amount,
                    Entry.source_ref,
                    Entry.lot_id,
                    Entry.explanation,
                    Entry.created_by,
                    Entry.created_at,
                ).where(Entry.tenant_id == self.tenant_id)
            )
        ).all()
        entry_ref = {e.id: (e.kind, ref(e.source_ref)) for e in entries}
        allocations = (
            await self.session.execute(
                select(Allocation.entry_id, Allocation.lot_id, Allocation.amount).where(
                    Allocation.tenant_id == self.tenant_id
                )
            )
        ).all()
        balances = {}
        for n, member_id in enumerate(self.fans):
            points = await service.balance(self.session, tenant_id=self.tenant_id, member_id=member_id)
            balances[n] = (points.available, points.pending, points.debt)
        return {
            "balances": balances,
            "lots": {
                lot.source_ref: (
                    who[lot.member_id],
                    lot.amount,
                    lot.remaining,
                    lot.status,
                    lot.post_after,
                    lot.expires_at,
                    lot.created_at,
                )
                for lot in lots
            },
            "entries": Counter(
                (
                    who[e.member_id],
                    e.kind,
                    e.amount,
                    e.pending_amount,
                    ref(e.source_ref),
                    None if e.lot_id is None else lot_ref[e.lot_id],
                    e.explanation,
                    e.created_by,
                    e.created_at,
                )
                for e in entries
            ),
            "allocations": Counter((entry_ref[a.entry_id], lot_ref[a.lot_id], a.amount) for a in allocations),
            "problems": await check_invariants(self.session, self.tenant_id),
        }


@pytest.fixture
async def pair(session: AsyncSession) -> tuple[Side, Side]:
    """Two tenants with the same number of fans: the batch side and the one-by-one side."""
    sides = []
    for _ in range(2):
        tenant = await factories.tenant(session)
        fans = [(await factories.member(session, tenant.id, f"粉丝{n}")).id for n in range(FANS)]
        sides.append(Side(session=session, tenant_id=tenant.id, fans=fans))
    return sides[0], sides[1]


async def both(pair: tuple[Side, Side], step: Callable[[Side], Awaitable[object]]) -> None:
    for side in pair:
        await step(side)


def tick(pair: tuple[Side, Side], **delta: float) -> None:
    for side in pair:
        side.now += timedelta(**delta)


async def history(side: Side) -> None:
    """Fan 1 holds points about to expire, fan 2 owes points, fan 3 is merged into fan 4, fan 5 has been
    credited for order:taobao:1, fan 6 holds points that never expire; fans 0 and 7 have nothing yet."""
    await side.earn(1, 100, "order:taobao:old-1", expires_at=side.now + timedelta(days=1))
    await side.earn(1, 40, "order:taobao:old-2", expires_at=side.now + timedelta(days=30))
    await side.earn(2, 80, "order:douyin:debt")
    await side.spend(2, 80)
    await side.clawback("order:douyin:debt")  # spent already: 80 becomes debt
    await side.earn(3, 25, "order:kuaishou:merged", pending=True)
    await service.merge(
        side.session, tenant_id=side.tenant_id, from_member_id=side.fans[3], into_member_id=side.fans[4], now=side.now
    )
    await side.earn(5, 60, "order:taobao:1", pending=True)
    await side.earn(6, 70, "order:taobao:keep")


async def one_by_one(side: Side, credits: Sequence[Credit], *, created_by: str | None = None) -> EarnResult:
    """What service.earn makes of the credits, one after another, each in a savepoint as a request would."""
    counts: Counter[str] = Counter()
    for credit in credits:
        try:
            async with side.session.begin_nested():
                await service.earn(
                    side.session,
                    tenant_id=side.tenant_id,
                    member_id=credit.member_id,
                    amount=credit.amount,
                    source_ref=credit.source_ref,
                    explanation=credit.explanation,
                    pending=credit.pending,
                    post_after=credit.post_after,
                    expires_at=credit.expires_at,
                    created_by=created_by,
                    now=side.now,
                )
        except service.AlreadyCredited:
            counts["already_credited"] += 1
        except service.MemberMerged:
            counts["refused"] += 1
        else:
            counts["credited"] += 1
            counts["points"] += credit.amount
    return EarnResult(**counts)


def assert_same(got: dict[str, Any], want: dict[str, Any]) -> None:
    """Snapshots equal; otherwise say what only one side holds."""
    for key, value in got.items():
        if isinstance(value, Counter):
            assert value == want[key], (key, "batch only:", value - want[key], "one by one only:", want[key] - value)
        else:
            assert value == want[key], (key, value, want[key])


async def post_one_by_one(side: Side) -> int:
    """service.post for every held lot whose hold has ended, the longest due first."""
    due = await side.session.scalars(
        select(Lot.source_ref)
        .where(Lot.tenant_id == side.tenant_id, Lot.status == LotStatus.pending, Lot.post_after <= side.now)
        .order_by(Lot.post_after, Lot.id)
    )
    posted = 0
    for ref in list(due):
        posted += await service.post(side.session, tenant_id=side.tenant_id, source_ref=ref, now=side.now) is not None
    return posted


# Credits


STORY = [  # (fan, ref, amount, pending, post after, expires in)
    (0, "order:taobao:a", 30, True, 7, 365),
    (0, "order:taobao:b", 20, False, None, 10),
    (1, "order:taobao:c", 10, False, None, None),  # fan 1's expired lot goes first
    (2, "order:douyin:d", 50, False, None, None),  # repays 50 of the debt of 80
    (2, "order:douyin:e", 40, True, 3, None),  # held: the debt waits for it
    (3, "order:kuaishou:f", 10, True, None, None),  # merged away: refused
    (4, "order:taobao:dup", 9, True, None, None),
    (0, "order:taobao:dup", 9, True, None, None),  # the same order again in the batch: skipped
    (2, "order:taobao:dup", 9, False, None, None),  # and by a member in debt: skipped
    (0, "order:taobao:1", 12, True, None, None),  # credited before (to fan 5): skipped
    (3, "order:taobao:g", 5, True, None, None),  # refused (merged) ...
    (4, "order:taobao:g", 5, False, None, 2),  # ... so this one is credited
    (7, "order:taobao:h", 1, False, None, None),
    (7, "order:taobao:i", 1_000_000_000, True, None, None),
]


async def test_a_batch_of_credits_writes_what_service_earn_writes_one_by_one(pair: tuple[Side, Side]) -> None:
    await both(pair, history)
    tick(pair, days=2)  # fan 1's first lot has expired (not swept yet)
    batched, single = pair
    result = await batch.earn_many(
        batched.session,
        tenant_id=batched.tenant_id,
        credits=batched.credits(STORY),
        now=batched.now,
        created_by="import:7",
    )
    expected = await one_by_one(single, single.credits(STORY), created_by="import:7")
    assert (
        result
        == expected
        == EarnResult(
            credited=9, already_credited=3, refused=2, points=30 + 20 + 10 + 50 + 40 + 9 + 5 + 1 + 1_000_000_000
        )
    )
    got, want = await batched.snapshot(), await single.snapshot()
    assert_same(got, want)
    assert got["problems"] == []
    assert got["balances"][1] == (40 + 10, 0, 0)  # 100 expired first
    assert got["balances"][2] == (-30, 40, 30)  # 50 of the debt repaid
    assert got["balances"][4] == (5, 25 + 9, 0)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
async def test_random_batches_write_what_service_earn_writes(pair: tuple[Side, Side], seed: int) -> None:
    rng = random.Random(seed)
    await both(pair, history)
    refs = [f"order:taobao:{n}" for n in range(40)] + ["order:taobao:1", "order:douyin:debt"]
    for _round in range(3):
        tick(pair, hours=rng.choice([1, 20, 30]))
        plan = [
            (
                rng.randrange(FANS),
                rng.choice(refs),
                rng.choice([1, 5, 30, 199]),
                pending := rng.random() < 0.5,
                rng.choice([None, -1, 2]) if pending else None,
                rng.choice([None, 1, 1.5, 40]),
            )
            for _ in range(rng.randrange(1, 30))
        ]
        batched, single = pair
        result = await batch.earn_many(
            batched.session, tenant_id=batched.tenant_id, credits=batched.credits(plan), now=batched.now
        )
        assert result == await one_by_one(single, single.credits(plan))
        if rng.random() < 0.5:
            await both(pair, lambda side: side.spend(6, 1))  # moves points between lots' remainders
        if rng.random() < 0.5:
            assert await batch.post_due(batched.session, tenant_id=batched.tenant_id, now=batched.now) == (
                await post_one_by_one(single)
            )
    got, want = await batched.snapshot(), await single.snapshot()
    assert_same(got, want)
    assert got["problems"] == []


async def test_a_source_is_credited_once_inside_a_batch_and_across_batches(book: Book) -> None:
    fan, other = await book.member(), await book.member("别人")
    credits = [Credit(fan, "order:taobao:1", 10, "订单积分"), Credit(other, "order:taobao:1", 20, "订单积分")]
    result = await batch.earn_many(book.session, tenant_id=book.tenant_id, credits=credits, now=book.now)
    assert result == EarnResult(credited=1, already_credited=1, points=10)
    again = await batch.earn_many(book.session, tenant_id=book.tenant_id, credits=credits, now=book.now)
    assert again == EarnResult(already_credited=2)
    assert await book.points(fan) == (0, 10, 0) and await book.points(other) == (0, 0, 0)
    (lot,) = await book.session.scalars(select(Lot).where(Lot.tenant_id == book.tenant_id))
    (entry,) = await book.entries()
    assert (entry.kind, entry.pending_amount, entry.lot_id, lot.entry_id) == ("earn_pending", 10, lot.id, entry.id)
    assert await batch.earn_many(book.session, tenant_id=book.tenant_id, credits=[], now=book.now) == EarnResult()
    await book.check()


async def test_new_points_of_a_member_in_debt_repay_it_first(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 100)
    await service.spend(book.session, tenant_id=book.tenant_id, member_id=fan, amount=90, source_ref="r:1")
    await service.clawback(book.session, tenant_id=book.tenant_id, source_ref=ref, numerator=1, denominator=1)
    assert await book.points(fan) == (-90, 0, 90)
    credits = [Credit(fan, "order:taobao:2", 60, "订单积分", pending=False), Credit(fan, "order:taobao:3", 50, "奖励")]
    result = await batch.earn_many(book.session, tenant_id=book.tenant_id, credits=credits, now=book.now)
    assert result == EarnResult(credited=2, points=110)
    assert await book.points(fan) == (-30, 50, 30)
    earned = [e for e in await book.entries(fan) if e.source_ref == "order:taobao:2"]
    assert earned[0].explanation == "订单积分（其中 60 积分抵扣了之前退款扣回的欠分）"
    await book.check()


async def written(book: Book) -> tuple[int, int, int, int]:
    counts = []
    for model in (Entry, Lot, Allocation, Balance):
        counts.append(
            await book.session.scalar(select(func.count()).select_from(model).where(model.tenant_id == book.tenant_id))
        )
    return counts[0], counts[1], counts[2], counts[3]


@pytest.mark.parametrize("amount", [0, -5, service.MAX_POINTS + 1])
async def test_one_bad_amount_refuses_the_whole_batch(book: Book, amount: int) -> None:
    fan = await book.member()
    await book.earn(fan, 10)
    before = await written(book)
    credits = [Credit(fan, "order:taobao:ok", 10, "订单积分"), Credit(fan, "order:taobao:bad", amount, "订单积分")]
    with pytest.raises(service.InvalidAmount):
        await batch.earn_many(book.session, tenant_id=book.tenant_id, credits=credits, now=book.now)
    assert await written(book) == before
    assert await book.points(fan) == (10, 0, 0)


async def test_other_refusals_of_service_earn_refuse_the_whole_batch(book: Book) -> None:
    fan = await book.member()
    before = await written(book)
    past = Credit(fan, "order:taobao:1", 10, "订单积分", expires_at=book.days(-1))
    held_until = Credit(fan, "order:taobao:2", 10, "订单积分", pending=False, post_after=book.days(1))
    for bad, code in ((past, "invalid_expiry"), (held_until, "invalid_post_after")):
        with pytest.raises(AppError) as caught:
            await batch.earn_many(book.session, tenant_id=book.tenant_id, credits=[bad], now=book.now)
        assert caught.value.code == code
    assert await written(book) == before


async def test_an_unknown_member_refuses_the_whole_batch(book: Book) -> None:
    fan = await book.member()
    elsewhere = await factories.member(book.session, (await factories.tenant(book.session)).id)
    before = await written(book)
    for stranger in (elsewhere.id, 4242):
        credits = [Credit(fan, "order:taobao:1", 10, "订单积分"), Credit(stranger, "order:taobao:2", 10, "订单积分")]
        with pytest.raises(members.MemberNotFound):
            await batch.earn_many(book.session, tenant_id=book.tenant_id, credits=credits, now=book.now)
    assert await written(book) == before


async def test_credits_of_a_merged_member_are_refused_and_the_rest_written(book: Book) -> None:
    gone, kept = await book.member(), await book.member("留下的")
    await service.merge(book.session, tenant_id=book.tenant_id, from_member_id=gone, into_member_id=kept)
    credits = [Credit(gone, "order:taobao:1", 10, "订单积分"), Credit(kept, "order:taobao:2", 5, "订单积分")]
    result = await batch.earn_many(book.session, tenant_id=book.tenant_id, credits=credits, now=book.now)
    assert result == EarnResult(credited=1, refused=1, points=5)
    assert await book.points(kept) == (0, 5, 0) and await book.points(gone) == (0, 0, 0)
    await book.check()


# Posting


async def held_history(side: Side) -> None:
    """Held lots in every state: due, not yet due, without a hold end, voided, fully clawed back, expired
    while held, of a member in debt, of a member merged into another; and posted points past their expiry."""
    week, day = timedelta(days=7), timedelta(days=1)
    await side.earn(0, 30, "order:a:due", pending=True, post_after=side.now + day, expires_at=side.now + week * 52)
    await side.earn(0, 15, "order:a:due-2", pending=True, post_after=side.now + day / 2)
    await side.earn(0, 20, "order:a:expires-held", pending=True, post_after=side.now + day, expires_at=side.now + day)
    await side.earn(0, 12, "order:a:posted-expiring", expires_at=side.now + day)  # expires when fan 0 is posted
    await side.earn(1, 40, "order:b:later", pending=True, post_after=side.now + week)
    await side.earn(1, 40, "order:b:no-hold-end", pending=True)
    await side.earn(2, 80, "order:c:debt")
    await side.spend(2, 80)
    await side.clawback("order:c:debt")
    await side.earn(2, 50, "order:c:due", pending=True, post_after=side.now + day)
    await side.earn(2, 70, "order:c:due-2", pending=True, post_after=side.now + day, expires_at=side.now + week)
    await side.earn(3, 25, "order:d:voided", pending=True, post_after=side.now + day)
    await service.void(side.session, tenant_id=side.tenant_id, source_ref="order:d:voided", now=side.now)
    await side.earn(3, 9, "order:d:clawed", pending=True, post_after=side.now + day)
    await side.clawback("order:d:clawed")  # nothing left to post: it posts 0
    await side.earn(4, 33, "order:e:merged", pending=True, post_after=side.now + day)
    await service.merge(
        side.session, tenant_id=side.tenant_id, from_member_id=side.fans[4], into_member_id=side.fans[5], now=side.now
    )
    await side.earn(6, 44, "order:g:due", pending=True, post_after=side.now + day)


async def test_post_due_writes_what_service_post_writes_one_by_one(pair: tuple[Side, Side]) -> None:
    await both(pair, held_history)
    tick(pair, days=2)
    batched, single = pair
    posted = await batch.post_due(batched.session, tenant_id=batched.tenant_id, now=batched.now, created_by=None)
    assert posted == await post_one_by_one(single) == 8
    got, want = await batched.snapshot(), await single.snapshot()
    assert_same(got, want)
    assert got["problems"] == []
    assert got["balances"][0] == (30 + 15, 0, 0)  # 20 expired while held, 12 expired posted
    assert got["balances"][2] == (40, 0, 0)  # 80 of debt repaid from 120 posted
    assert got["lots"]["order:b:later"][3] == got["lots"]["order:b:no-hold-end"][3] == "pending"
    assert got["lots"]["order:d:voided"][3] == "voided"
    assert got["lots"]["order:d:clawed"][3] == "posted"
    assert got["balances"][5] == (33, 0, 0)


async def test_post_due_again_changes_nothing(pair: tuple[Side, Side]) -> None:
    await both(pair, held_history)
    tick(pair, days=2)
    batched = pair[0]
    assert await batch.post_due(batched.session, tenant_id=batched.tenant_id, now=batched.now) == 8
    before = await batched.snapshot()
    assert await batch.post_due(batched.session, tenant_id=batched.tenant_id, now=batched.now) == 0
    assert await batched.snapshot() == before


async def test_post_due_in_small_steps_ends_where_one_sweep_ends(pair: tuple[Side, Side]) -> None:
    await both(pair, held_history)
    tick(pair, days=2)
    batched, single = pair
    steps = []
    while (n := await batch.post_due(batched.session, tenant_id=batched.tenant_id, now=batched.now, limit=3)) > 0:
        steps.append(n)
    assert steps == [3, 3, 2]
    await post_one_by_one(single)
    assert await batched.snapshot() == await single.snapshot()


async def test_a_post_sweep_leaves_other_tenants_alone(pair: tuple[Side, Side]) -> None:
    await both(pair, held_history)
    tick(pair, days=2)
    batched, other = pair
    before = await other.snapshot()
    await batch.post_due(batched.session, tenant_id=batched.tenant_id, now=batched.now)
    assert await other.snapshot() == before


# Concurrent writers (PostgreSQL)


@pytest.fixture(scope="module")
def ledger_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("ledger-batch-db"), "ledger_batch") as url:
        yield url


@pytest.fixture
async def db(ledger_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(ledger_database_url, pool_size=12)
    yield create_sessionmaker(engine)
    await engine.dispose()


postgres_only = pytest.mark.skipif(backend() != "postgres", reason="concurrent writers need PostgreSQL")


async def _setup(db: async_sessionmaker[AsyncSession], count: int) -> tuple[int, list[int]]:
    async with db() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug=f"shop-{secrets.token_hex(5)}", name="星河直播间")
        fans = [(await members.create_member(session, tenant_id=tenant.id)).id for _ in range(count)]
        return tenant.id, fans


@postgres_only
async def test_batches_and_single_credits_at_the_same_time_credit_each_order_once(
    db: async_sessionmaker[AsyncSession],
) -> None:
    tenant_id, fans = await _setup(db, 16)
    rng = random.Random(5)

    async def earn_many(credits: list[Credit]) -> EarnResult:
        async with db() as session, session.begin():
            return await batch.earn_many(session, tenant_id=tenant_id, credits=credits)

    async def earn(fan: int, ref: str) -> bool:
        async with db() as session, session.begin():
            try:
                await service.earn(session, tenant_id=tenant_id, member_id=fan, amount=3, source_ref=ref)
            except service.AlreadyCredited:
                return False
            return True

    # Each batch has members of its own (they do not wait for each other's locks) and the same orders as the others:
    # the database decides who credits an order; a batch that lost a race looks again and skips it.
    refs = [f"order:taobao:{n}" for n in range(60)]
    batches = [
        [Credit(rng.choice(fans[3 * k : 3 * k + 3]), ref, 3, "订单积分") for ref in rng.sample(refs, 30)]
        for k in range(4)
    ]
    singles = [(rng.choice(fans[12:]), rng.choice(refs)) for _ in range(20)]
    results = await asyncio.gather(
        *(earn_many(credits) for credits in batches), *(earn(fan, ref) for fan, ref in singles)
    )
    credited = sum(r.credited for r in results[:4] if isinstance(r, EarnResult)) + sum(r is True for r in results[4:])
    async with db() as session:
        lots = await session.scalar(select(func.count()).select_from(Lot).where(Lot.tenant_id == tenant_id))
        held = await session.scalar(select(func.sum(Balance.pending)).where(Balance.tenant_id == tenant_id))
        available = await session.scalar(select(func.sum(Balance.available)).where(Balance.tenant_id == tenant_id))
        assert await check_invariants(session, tenant_id) == []
    assert (
        lots
        == credited
        == len({ref for credits in batches for ref in (c.source_ref for c in credits)} | {ref for _, ref in singles})
    )
    assert (held or 0) + (available or 0) == 3 * credited


@postgres_only
async def test_two_post_sweeps_at_the_same_time_post_each_lot_once(db: async_sessionmaker[AsyncSession]) -> None:
    tenant_id, fans = await _setup(db, 10)
    now = T0 + timedelta(days=1)
    async with db() as session, session.begin():
        credits = [
            Credit(fans[n % 10], f"order:douyin:{n}", 1 + n % 7, "订单积分", post_after=now - timedelta(hours=n))
            for n in range(200)
        ]
        assert (await batch.earn_many(session, tenant_id=tenant_id, credits=credits, now=T0)).credited == 200

    async def sweep() -> int:
        async with db() as session, session.begin():
            return await batch.post_due(session, tenant_id=tenant_id, now=now, limit=150)

    async def single(ref: str) -> object:
        async with db() as session, session.begin():
            return await service.post(session, tenant_id=tenant_id, source_ref=ref, now=now)

    results = await asyncio.gather(sweep(), sweep(), single("order:douyin:7"), single("order:douyin:190"))
    assert isinstance(results[0], int) and isinstance(results[1], int)
    posted = results[0] + results[1] + sum(r is not None for r in results[2:])
    posted += await sweep()
    assert posted == 200
    async with db() as session:
        assert await check_invariants(session, tenant_id) == []
        pending = await session.scalar(select(func.sum(Balance.pending)).where(Balance.tenant_id == tenant_id))
        assert pending == 0
