"""Two overlapping files imported at the same time (PostgreSQL: real concurrent transactions)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.util import await_only

from tests.orders import exports
from tests.orders.conftest import Shop
from tests.support.databases import backend

pytestmark = pytest.mark.skipif(backend() != "postgres", reason="concurrent writers need PostgreSQL")

PAID = ("买家已付款，等待卖家发货", "0.00")
SHIPPED = ("卖家已发货，等待买家确认", "0.00")
COMPLETED = ("交易成功", "0.00")
REFUNDED = ("交易关闭", "10.00")
CANONICAL = {PAID: ("paid", 0), SHIPPED: ("shipped", 0), COMPLETED: ("completed", 0), REFUNDED: ("refunded", 1000)}


def oid(n: int) -> str:
    return f"19306798581709{n:05d}"


def export(states: dict[int, tuple[str, str]]) -> bytes:
    return exports.taobao_new_csv(
        [exports.taobao_new_row(oid(n), paid="10.00", status=s, refund=r) for n, (s, r) in sorted(states.items())]
    )


async def test_overlapping_imports_at_once_keep_the_forward_most_state_of_every_order(shop: Shop) -> None:
    base = dict.fromkeys(range(200), PAID)  # orders 0-199 exist before
    a = {n: SHIPPED if n < 150 else COMPLETED for n in range(300)}
    b = {n: PAID if n < 200 else REFUNDED if n < 350 else COMPLETED for n in range(100, 400)}
    expected = {
        **dict.fromkeys(range(150), (CANONICAL[SHIPPED], "a")),
        **dict.fromkeys(range(150, 200), (CANONICAL[COMPLETED], "a")),
        **dict.fromkeys(range(200, 350), (CANONICAL[REFUNDED], "b")),
        **dict.fromkeys(range(350, 400), (CANONICAL[COMPLETED], "b")),
    }
    first = await shop.load("base.csv", export(base))
    ids = {"a": await shop.create_import("a.csv", export(a)), "b": await shop.create_import("b.csv", export(b))}

    totals = dict(zip(ids, await asyncio.gather(shop.run(ids["a"]), shop.run(ids["b"])), strict=True))

    orders = await shop.orders()
    assert len(orders) == 400  # no duplicate, none lost
    got = {n: ((orders[oid(n)].status, orders[oid(n)].refund_fen), orders[oid(n)].last_import_id) for n in range(400)}
    assert got == {n: (state, ids[source]) for n, (state, source) in expected.items()}
    assert all(o.paid_fen == 1000 for o in orders.values())
    for name, total in totals.items():
        assert total.rows == 300 and total.rejected == 0
        assert total.inserted + total.updated + total.unchanged == 300, name
        row = await shop.import_row(ids[name])
        assert (row.status, row.inserted, row.updated, row.unchanged) == (
            "done",
            total.inserted,
            total.updated,
            total.unchanged,
        )
    # Orders that existed before were locked: their history is exact (only A moved them; B was older).
    history = {(c.order_id, c.import_id): (c.from_status, c.to_status) for c in await shop.changes()}
    for n in range(200):
        assert history.get((oid(n), ids["a"])) == ("paid", CANONICAL[a[n]][0]), n
        assert (oid(n), ids["b"]) not in history
    assert all(orders[oid(n)].first_import_id == first.import_id for n in range(200))


async def test_two_imports_inserting_the_same_new_orders_count_and_record_them_once(
    shop: Shop, orders_engine: AsyncEngine
) -> None:
    # Both transactions classify their batch before either writes it (as two workers starting together can):
    # each waits for the other just before recording history, i.e. after its counting query.
    barrier = asyncio.Barrier(2)

    def wait_for_the_other(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().startswith("INSERT INTO order_changes"):
            with contextlib.suppress(TimeoutError):  # a fixed importer may serialise the two: then just go on
                await_only(asyncio.wait_for(barrier.wait(), timeout=5))

    event.listen(orders_engine.sync_engine, "before_cursor_execute", wait_for_the_other)
    try:
        await _import_both(shop)
    finally:
        event.remove(orders_engine.sync_engine, "before_cursor_execute", wait_for_the_other)


async def _import_both(shop: Shop) -> None:
    a = dict.fromkeys(range(300), PAID)
    b = dict.fromkeys(range(100, 400), REFUNDED)
    ids = [await shop.create_import("a.csv", export(a)), await shop.create_import("b.csv", export(b))]

    totals = await asyncio.gather(*(shop.run(i) for i in ids))

    orders = await shop.orders()
    assert len(orders) == 400
    assert all((o.status, o.refund_fen) == ("refunded", 1000) for n, o in orders.items() if int(n[-5:]) >= 100)
    assert sum(t.inserted for t in totals) == 400
    assert len(await shop.changes()) == sum(t.updated for t in totals)
