"""The snapshot's quarter-hour sums answer a range that starts and ends on quarter hours exactly as a scan of every
order and entry does (the dashboard's ranges are tenant-local days: always on quarter hours)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
from hypothesis import given, settings
from hypothesis import strategies as st

from siyu.analytics import snapshot

START = datetime(2026, 1, 1, tzinfo=UTC)
orders = st.lists(
    st.tuples(
        st.sampled_from(["taobao", "douyin"]),
        st.sampled_from(["unpaid", "paid", "closed", "refunded"]),
        st.integers(0, 100_000),  # paid fen
        st.integers(0, 3 * 24 * 60 - 1),  # minutes after START
        st.booleans(),  # credited to a member
    ),
    max_size=40,
)
entries = st.lists(
    st.tuples(
        st.sampled_from(["earn", "spend", "adjust", "earn_pending"]), st.integers(-500, 500), st.integers(0, 4320)
    ),
    max_size=40,
)
ranges = st.tuples(st.integers(0, 3 * 24 * 4), st.integers(0, 3 * 24 * 4))  # in quarter hours after START


@settings(max_examples=60, deadline=None)
@given(orders, entries, ranges)
def test_sums_answer_as_the_scan_does(
    rows: list[tuple[str, str, int, int, bool]], made: list[tuple[str, int, int]], quarters: tuple[int, int]
) -> None:
    con = duckdb.connect()
    snapshot.create_tables(con)
    for n, (platform, status, fen, minute, credited) in enumerate(rows):
        paid_at = (START + timedelta(minutes=minute)).replace(tzinfo=None)
        con.execute(
            "INSERT INTO orders VALUES ($m, $p, $o, $s, $f, 0, $t, [], NULL)",
            {"m": n + 1 if credited else None, "p": platform, "o": str(n), "s": status, "f": fen, "t": paid_at},
        )
    for n, (kind, amount, minute) in enumerate(made):
        at = (START + timedelta(minutes=minute)).replace(tzinfo=None)
        con.execute("INSERT INTO entries VALUES ($i, $k, $a, 0, $t)", {"i": n, "k": kind, "a": amount, "t": at})
    snapshot.summarise(con)
    first, last = sorted(quarters)
    start, end = START + timedelta(minutes=15 * first), START + timedelta(minutes=15 * last)
    assert snapshot.paid_and_claimed(con, start, end, from_sums=True) == snapshot.paid_and_claimed(
        con, start, end, from_sums=False
    )
    assert snapshot.points_totals(con, start, end, from_sums=True) == snapshot.points_totals(
        con, start, end, from_sums=False
    )
    # a range off the quarter hours is scanned
    off = start + timedelta(minutes=7)
    assert snapshot.paid_and_claimed(con, off, end + timedelta(hours=1)) == snapshot.paid_and_claimed(
        con, off, end + timedelta(hours=1), from_sums=False
    )
