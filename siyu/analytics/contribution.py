"""What the private domain contributes, per month, from the snapshot's orders (DuckDB).

An order counts in the month (tenant-local) it was paid in, when it is not unpaid; what it is worth is what was
paid less what was refunded, at least 0 fen. It belongs to a member when it was credited to her or carries a buyer
account she bound (the `members` reading of `ties`); among members, those who reserved a live show that started
in the month are counted apart. Everyone else is a buyer unknown to siyu.

Repeat purchase over the whole period: a buyer is a member, or else a buyer account (the first the order carries);
her orders are those paid and not closed or fully refunded; a repeat buyer has at least two. Orders of unknown
buyers that carry no usable account cannot be told apart and are left out of the rate (and counted).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

from siyu.analytics.ties import owned_sql

COUNTED = "status NOT IN ('closed', 'refunded')"


@dataclass(frozen=True)
class MonthFigures:
    orders: int = 0
    gmv_fen: int = 0
    member_orders: int = 0
    member_gmv_fen: int = 0
    reserved_orders: int = 0
    reserved_gmv_fen: int = 0

    @property
    def unknown_orders(self) -> int:
        return self.orders - self.member_orders

    @property
    def unknown_gmv_fen(self) -> int:
        return self.gmv_fen - self.member_gmv_fen

    @property
    def share(self) -> float | None:
        """The members' share of the month's GMV (None when nothing sold)."""
        return self.member_gmv_fen / self.gmv_fen if self.gmv_fen > 0 else None


@dataclass(frozen=True)
class Repeat:
    buyers: int
    repeat_buyers: int

    @property
    def rate(self) -> float | None:
        return self.repeat_buyers / self.buyers if self.buyers else None


@dataclass(frozen=True)
class Figures:
    months: list[MonthFigures]  # in the order of the bounds asked for
    members: Repeat
    others: Repeat
    unidentified_orders: int  # counted orders of unknown buyers with no usable account


def naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo is not None else value


def _temp_table(con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame, select: str) -> None:
    """A temporary table `name` of `select` over the frame (read as `read_parquet($f)`)."""
    with tempfile.TemporaryDirectory() as workdir:
        target = Path(workdir) / f"{name}.parquet"
        frame.write_parquet(target)
        con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}", {"f": str(target)})


def _load_months(con: duckdb.DuckDBPyConnection, bounds: list[tuple[datetime, datetime]]) -> None:
    frame = pl.DataFrame(
        {
            "idx": list(range(len(bounds))),
            "start": [naive_utc(s) for s, _ in bounds],
            "stop": [naive_utc(e) for _, e in bounds],
        },
        schema={"idx": pl.Int64, "start": pl.Datetime("us"), "stop": pl.Datetime("us")},
    )
    _temp_table(con, "months", frame, "SELECT * FROM read_parquet($f)")


def _load_reserved(con: duckdb.DuckDBPyConnection, reserved: list[tuple[int, int]]) -> None:
    frame = pl.DataFrame(
        {"member_id": [m for m, _ in reserved], "idx": [i for _, i in reserved]},
        schema={"member_id": pl.Int64, "idx": pl.Int64},
    )
    _temp_table(
        con,
        "reserved",
        frame,
        """SELECT DISTINCT coalesce(g.into_id, r.member_id) AS member_id, r.idx
           FROM read_parquet($f) r LEFT JOIN merges g ON g.member_id = r.member_id""",
    )


def compute(
    con: duckdb.DuckDBPyConnection, bounds: list[tuple[datetime, datetime]], reserved: list[tuple[int, int]]
) -> Figures:
    """`bounds`: each month's [start, end), contiguous and ascending; `reserved`: (member, index of
    the month) of the members who reserved a show that started in it."""
    if not bounds:
        return Figures([], Repeat(0, 0), Repeat(0, 0), 0)
    _load_months(con, bounds)
    _load_reserved(con, reserved)
    start, end = naive_utc(bounds[0][0]), naive_utc(bounds[-1][1])
    where = "status <> 'unpaid' AND paid_at >= $start AND paid_at < $end"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE period_orders AS
            WITH {owned_sql("members", where)}
            SELECT m.idx, o.owner, o.accounts, o.status,
                   greatest(o.paid_fen - least(o.refund_fen, o.paid_fen), 0)::BIGINT AS gmv,
                   r.member_id IS NOT NULL AS reserved
            FROM owned o JOIN months m ON o.paid_at >= m.start AND o.paid_at < m.stop
            LEFT JOIN reserved r ON r.member_id = o.owner AND r.idx = m.idx""",
        {"start": start, "end": end},
    )
    rows = con.execute(
        """SELECT idx, count(*), coalesce(sum(gmv), 0),
                  count(owner), coalesce(sum(gmv) FILTER (WHERE owner IS NOT NULL), 0),
                  count(*) FILTER (WHERE reserved), coalesce(sum(gmv) FILTER (WHERE reserved), 0)
           FROM period_orders GROUP BY idx"""
    ).fetchall()
    by_month = {int(r[0]): MonthFigures(*(int(v) for v in r[1:])) for r in rows}
    repeat = con.execute(
        f"""SELECT owner IS NOT NULL, count(*), count(*) FILTER (WHERE n >= 2) FROM (
              SELECT owner, CASE WHEN owner IS NULL THEN accounts[1] END AS account, count(*) AS n
              FROM period_orders WHERE {COUNTED} AND (owner IS NOT NULL OR len(accounts) > 0)
              GROUP BY owner, account
            ) GROUP BY 1"""
    ).fetchall()
    groups = {bool(member): Repeat(int(n), int(again)) for member, n, again in repeat}
    lost = con.execute(
        f"SELECT count(*) FROM period_orders WHERE {COUNTED} AND owner IS NULL AND coalesce(len(accounts), 0) = 0"
    ).fetchone()
    return Figures(
        months=[by_month.get(i, MonthFigures()) for i in range(len(bounds))],
        members=groups.get(True, Repeat(0, 0)),
        others=groups.get(False, Repeat(0, 0)),
        unidentified_orders=int(lost[0]) if lost else 0,
    )
