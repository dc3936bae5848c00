"""RFM against members computed by hand, the edges of each score, and the snapshot: a refresh after random
changes gives what a full build from the database gives."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.analytics import rfm, service, snapshot
from siyu.analytics.periods import Period
from siyu.fans import service as fans_service
from siyu.kit.time import utcnow
from siyu.ledger import service as ledger
from tests.analytics.support import credit, order
from tests.support import factories

EDGES = {"r": [7, 30, 90, 180], "f": [1, 2, 3, 5], "m": [10000, 50000, 100000, 500000]}


def table(rows: list[tuple[int, str, str, str, int, int, object]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    snapshot.create_tables(con)
    if rows:
        con.executemany(
            """INSERT INTO orders (member_id, platform, order_id, status, paid_fen, refund_fen, paid_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            rows,
        )
    return con


@pytest.mark.parametrize(
    ("days", "score"), [(0, 5), (7, 5), (8, 4), (30, 4), (31, 3), (90, 3), (91, 2), (180, 2), (181, 1), (-3, 5)]
)
def test_recency_edges(days: int, score: int) -> None:
    now = utcnow().replace(tzinfo=None, microsecond=0)
    con = table([(1, "taobao", "a", "paid", 100, 0, now - timedelta(days=days, hours=1 if days >= 0 else 0))])
    result = rfm.compute(con, now=now, own_edges=EDGES)
    assert [r for r in range(5) if any(n for n, _ in result.grid[r])] == [score - 1]


@pytest.mark.parametrize(("orders", "score"), [(1, 1), (2, 2), (3, 3), (4, 4), (5, 4), (6, 5)])
def test_frequency_edges(orders: int, score: int) -> None:
    now = utcnow().replace(tzinfo=None)
    con = table([(1, "taobao", f"o{n}", "paid", 100, 0, now - timedelta(days=1)) for n in range(orders)])
    result = rfm.compute(con, now=now, own_edges=EDGES)
    assert [f for f in range(5) if result.grid[4][f][0]] == [score - 1]


def test_members_computed_by_hand() -> None:
    now = utcnow().replace(tzinfo=None)
    day = timedelta(days=1)
    rows = [
        # 1: recent, frequent, rich -> 重要价值 (120 days of history over 6 orders: usual gap 24 days)
        *[(1, "taobao", f"a{n}", "completed", 200000, 0, now - day * (1 + 24 * n)) for n in range(6)],
        # 2: used to buy much, not for 200 days -> 重要挽留, at risk
        *[(2, "taobao", f"b{n}", "completed", 300000, 0, now - day * (200 + 10 * n)) for n in range(4)],
        # 3: one order yesterday -> 新客
        (3, "douyin", "c0", "paid", 5000, 0, now - day),
        # 4: two recent large orders -> 高潜
        (4, "douyin", "d0", "paid", 300000, 0, now - day * 2),
        (4, "douyin", "d1", "paid", 300000, 0, now - day * 3),
        # 5: one small old order, refunded more than paid on another, a closed one -> 沉睡, M 0 for the refund
        (5, "taobao", "e0", "paid", 1000, 0, now - day * 400),
        (5, "taobao", "e1", "refunding", 3000, 5000, now - day * 400),
        (5, "taobao", "e2", "closed", 9000, 0, now - day * 10),
        # 6: merged into 3: her order counts as 3's (a second order, so 3 is no longer new)
        (6, "taobao", "f0", "paid", 0, 0, now - day * 5),
        # 7: an order dated in the future: 0 days, not negative
        (7, "kuaishou", "g0", "paid", 20000, 0, now + day * 10),
    ]
    con = table(rows)
    con.execute("INSERT INTO merges VALUES (6, 3)")
    result = rfm.compute(con, now=now, own_edges=EDGES)
    assert result.members == 6
    segments = {key: (n, fen) for key, _, n, fen in result.segments}
    assert segments["top"] == (1, 1200000)
    assert segments["win_back"] == (1, 1200000)
    assert segments["potential"] == (1, 600000)
    assert segments["sleeping"] == (1, 1000)
    assert segments["new"] == (1, 20000)  # member 7
    assert segments["other"] == (1, 5000)  # member 3: two orders, little money
    assert result.monetary_fen == 1200000 * 2 + 600000 + 1000 + 20000 + 5000
    # 2: 200 days against a usual 10; 5: two orders the same day (a usual gap of 0 counts as 7 days), 400 days
    # ago; 4: two orders a day apart, the last 2 days ago, is not at risk
    assert result.at_risk == 2
    risk = rfm.at_risk_members(con, now=now, edges=result.edges)
    assert [(r["member_id"], r["recency_days"], r["frequency"]) for r in risk] == [(2, 200, 4), (5, 400, 2)]


def test_no_orders_at_all() -> None:
    result = rfm.compute(table([]), now=utcnow(), own_edges=None)
    assert result.members == 0 and result.monetary_fen == 0 and all(n == 0 for _, _, n, _ in result.segments)


def test_quintiles_of_the_data_when_the_tenant_has_no_edges() -> None:
    now = utcnow().replace(tzinfo=None)
    con = table([(m, "taobao", f"o{m}", "paid", m * 1000, 0, now - timedelta(days=m)) for m in range(1, 101)])
    result = rfm.compute(con, now=now, own_edges=None)
    assert not result.edges.own and result.edges.r == (20.0, 40.0, 60.0, 80.0)
    assert [sum(n for n, _ in row) for row in result.grid] == [20, 20, 20, 20, 20]


@pytest.mark.parametrize(
    "raw",
    [None, {}, {"r": [1, 2, 3]}, {**EDGES, "f": [3, 2, 1, 0]}, {**EDGES, "m": [-1, 0, 1, 2]}, {**EDGES, "r": "a"}],
)
def test_edges_that_are_not_edges(raw: object) -> None:
    assert rfm.valid_edges(raw) is None


async def _figures(session: AsyncSession, shop: int, directory: Path) -> tuple[object, ...]:
    now = utcnow()
    result = await service.rfm_of(session, tenant_id=shop, directory=directory, now=now)
    _, risk = await service.at_risk(session, tenant_id=shop, directory=directory, now=now, limit=None)
    return result.grid, result.segments, result.edges, [(r["member_id"], r["monetary_fen"]) for r in risk]


change = st.tuples(
    st.sampled_from(["refund", "close", "new_order", "new_claim", "merge", "future", "points"]),
    st.integers(0, 9),
    st.integers(0, 500000),
)


@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck))
@given(changes=st.lists(change, min_size=1, max_size=8))
async def test_a_refresh_gives_what_a_full_build_gives(
    session: AsyncSession, tmp_path_factory: pytest.TempPathFactory, changes: list[tuple[str, int, int]]
) -> None:
    directory = tmp_path_factory.mktemp("snap")
    shop = (await factories.tenant(session)).id
    now = utcnow()
    fans = [await factories.member(session, shop, f"粉丝{n}") for n in range(5)]
    first = await factories.order_import(session, shop)
    placed = []
    claimed: set[str] = set()
    merged: set[int] = set()
    for n in range(10):
        row = await order(
            session, shop, paid_at=now - timedelta(days=n * 13), paid_fen=1000 * (n + 1), import_id=first.id
        )
        if n % 3:
            await credit(session, row, fans[n % 5].id)
            claimed.add(row.order_id)
        placed.append(row)
    await ledger.earn(session, tenant_id=shop, member_id=fans[0].id, amount=50, source_ref="order:taobao:first")
    await service.refresh(session, tenant_id=shop, directory=directory)

    later = await factories.order_import(session, shop)
    for kind, pick, amount in changes:
        target = placed[pick]
        if kind == "refund":
            target.refund_fen, target.last_import_id = amount, later.id
        elif kind == "close":
            target.status, target.last_import_id = "closed", later.id
        elif kind == "future":
            target.paid_at, target.last_import_id = now + timedelta(days=3), later.id
        elif kind == "new_order":
            fresh = await order(session, shop, paid_at=now - timedelta(days=pick), paid_fen=amount, import_id=later.id)
            await credit(session, fresh, fans[pick % 5].id)
            claimed.add(fresh.order_id)
            placed.append(fresh)
        elif kind == "points" and fans[pick % 5].id not in merged:
            await ledger.earn(
                session,
                tenant_id=shop,
                member_id=fans[pick % 5].id,
                amount=amount % 1000 + 1,
                source_ref=f"order:taobao:p{len(placed)}-{amount}-{pick}",
                pending=amount % 2 == 0,
                now=now - timedelta(days=pick * 20),
            )
        elif kind == "new_claim" and target.order_id not in claimed:
            await credit(session, target, fans[amount % 5].id)
            claimed.add(target.order_id)
        elif kind == "merge" and pick % 5 != amount % 5:
            gone, into = fans[pick % 5].id, fans[amount % 5].id
            if gone not in merged and into not in merged:
                await fans_service.merge_members(
                    session, tenant_id=shop, from_member_id=gone, into_member_id=into, reason="同一个人"
                )
                merged.add(gone)
    await session.flush()

    refreshed = await service.refresh(session, tenant_id=shop, directory=directory)
    assert not refreshed.full
    by_refresh = await _figures(session, shop, directory)
    # The dashboard's orders figures from the refreshed snapshot are the database's
    today = utcnow().date()
    for period in (Period(today - timedelta(days=200), today + timedelta(days=5)), Period(today, today)):
        by_snapshot = await service.dashboard(
            session, tenant_id=shop, timezone="Asia/Shanghai", period=period, directory=directory
        )
        by_database = await service.dashboard(session, tenant_id=shop, timezone="Asia/Shanghai", period=period)
        assert by_snapshot.orders_as_of is not None and by_database.orders_as_of is None
        assert (by_snapshot.platforms, by_snapshot.total) == (by_database.platforms, by_database.total)
        assert (by_snapshot.issued, by_snapshot.spent, by_snapshot.expired) == (
            by_database.issued,
            by_database.spent,
            by_database.expired,
        )
    rebuilt = await service.refresh(session, tenant_id=shop, directory=directory, full=True)
    assert rebuilt.full and rebuilt.rows == refreshed.rows
    assert await _figures(session, shop, directory) == by_refresh


async def test_the_scheduled_refresh_reads_what_changed_in_tenants_with_a_snapshot(
    session: AsyncSession, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from siyu.analytics import tasks
    from siyu.jobs.models import Job

    monkeypatch.setattr(tasks, "snapshot_dir", lambda: tmp_path)
    shop = (await factories.tenant(session)).id
    untouched = (await factories.tenant(session)).id
    fan = await factories.member(session, shop)
    first = await factories.order_import(session, shop)
    await credit(session, await order(session, shop, paid_at=utcnow(), import_id=first.id), fan.id)
    await credit(
        session, await order(session, untouched, paid_at=utcnow()), (await factories.member(session, untouched)).id
    )
    await service.refresh(session, tenant_id=shop, directory=tmp_path)
    later = await factories.order_import(session, shop)
    await credit(session, await order(session, shop, paid_at=utcnow(), paid_fen=5000, import_id=later.id), fan.id)

    done = await tasks.refresh_snapshots(session, Job(tenant_id=None, kind=tasks.REFRESH_JOB))
    # (claims of the last minutes are read again: one made while the last refresh ran is not missed)
    assert done["read"].get(str(shop), 0) >= 1 and str(untouched) not in done["read"]
    result = await service.rfm_of(session, tenant_id=shop, directory=tmp_path)
    assert result.members == 1 and result.monetary_fen == 15000
