"""RFM from the snapshot's orders of members, computed by DuckDB in one pass.

Per member (merged members counted in the member they were merged into), over her orders that are paid and not
closed or fully refunded - the orders credited to her (claimed, or credited to a bound account), or in the
second view every imported order tied to her (see `ties`):
- R: whole days from her last order's payment to now (a payment dated in the future counts as 0 days);
- F: how many such orders;
- M: what they were paid, less refunds, each order at least 0 fen.
A score of 1..5 per letter: R scores 5 - (edges below her days), F and M score 1 + (edges below her value).
The four edges per letter are the tenant's own, or else the 20/40/60/80 % quantiles of the data.
At risk (churn): at least two orders, and both her last order and her last visit further back than her usual gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from siyu.analytics.ties import Reading, owned_sql

LETTERS = ("r", "f", "m")

# Named segments, first match wins (the order matters): (key, name, condition on the scores and frequency).
SEGMENTS: list[tuple[str, str, str]] = [
    ("top", "重要价值", "r_score >= 4 AND f_score >= 4 AND m_score >= 4"),
    ("win_back", "重要挽留", "r_score <= 2 AND (f_score >= 4 OR m_score >= 4)"),
    ("new", "新客", "frequency = 1 AND r_score >= 4"),
    ("potential", "高潜", "r_score >= 4 AND m_score >= 4"),
    ("sleeping", "沉睡", "r_score <= 2"),
]
OTHER = ("other", "一般")
# A usual gap between orders shorter than this counts as this long (two orders of one live show are no rhythm).
MIN_GAP_DAYS = 7
SEGMENT_NAMES = {key: name for key, name, _ in SEGMENTS} | {OTHER[0]: OTHER[1]}


# Per member: what her orders say (in one of the readings of `ties`), and her last visit. `$now` is a naive UTC
# timestamp.
def per_member_sql(reading: Reading) -> str:
    return f"""
WITH {owned_sql(reading, "paid_at IS NOT NULL AND status NOT IN ('unpaid', 'closed', 'refunded')")},
bought AS (
  SELECT c.owner AS member_id,
         greatest(floor((epoch($now) - epoch(max(c.paid_at))) / 86400), 0)::BIGINT AS recency_days,
         count(*) AS frequency,
         sum(greatest(c.paid_fen - least(c.refund_fen, c.paid_fen), 0))::BIGINT AS monetary_fen,
         (epoch(max(c.paid_at)) - epoch(min(c.paid_at))) / 86400.0 AS span_days
  FROM owned c WHERE c.owner IS NOT NULL
  GROUP BY 1
),
came AS (
  SELECT coalesce(g.into_id, v.member_id) AS member_id, max(v.visited_at) AS visited_at
  FROM visits v LEFT JOIN merges g ON g.member_id = v.member_id GROUP BY 1
)
SELECT b.*, CASE WHEN v.visited_at IS NOT NULL
                 THEN greatest(floor((epoch($now) - epoch(v.visited_at)) / 86400), 0)::BIGINT END AS visit_days
FROM bought b LEFT JOIN came v ON v.member_id = b.member_id
"""


@dataclass(frozen=True)
class Edges:
    r: tuple[float, ...]
    f: tuple[float, ...]
    m: tuple[float, ...]  # fen
    own: bool  # the tenant's own edges (else quantiles of the data)

    def as_dict(self) -> dict[str, list[float]]:
        return {"r": list(self.r), "f": list(self.f), "m": list(self.m)}


def valid_edges(raw: Any) -> dict[str, list[float]] | None:
    """The tenant's edges if they are four ascending non-negative numbers per letter, else None."""
    if not isinstance(raw, dict):
        return None
    out: dict[str, list[float]] = {}
    for letter in LETTERS:
        values = raw.get(letter)
        if not isinstance(values, list | tuple) or len(values) != 4:
            return None
        try:
            numbers = [float(v) for v in values]
        except (TypeError, ValueError):
            return None
        if any(n < 0 or n != n for n in numbers) or numbers != sorted(numbers):
            return None
        out[letter] = numbers
    return out


def _score_sql(letter: str, column: str, edges: tuple[float, ...]) -> str:
    below = " + ".join(f"({column} > {float(e)!r})::INT" for e in edges)
    return f"(5 - ({below}))" if letter == "r" else f"(1 + ({below}))"


@dataclass
class Rfm:
    """What the RFM page and API show."""

    as_of: datetime
    members: int  # members with at least one counted order
    edges: Edges
    grid: list[list[tuple[int, int]]]  # [r_score-1][f_score-1] -> (members, monetary fen)
    segments: list[tuple[str, str, int, int]]  # (key, name, members, monetary fen)
    monetary_fen: int
    at_risk: int
    extra: dict[str, Any] = field(default_factory=dict)


def _edges(con: duckdb.DuckDBPyConnection, now: datetime, own: dict[str, list[float]] | None) -> Edges:
    if own is not None:
        return Edges(tuple(own["r"]), tuple(own["f"]), tuple(own["m"]), own=True)
    row = con.execute(
        """SELECT quantile_disc(recency_days, [0.2, 0.4, 0.6, 0.8]), quantile_disc(frequency, [0.2, 0.4, 0.6, 0.8]),
                  quantile_disc(monetary_fen, [0.2, 0.4, 0.6, 0.8]) FROM per_member"""
    ).fetchone()
    if row is None or row[0] is None:
        zero = (0.0, 0.0, 0.0, 0.0)
        return Edges(zero, zero, zero, own=False)
    r, f, m = (tuple(float(v) for v in values) for values in row)
    return Edges(r, f, m, own=False)


def scored_sql(edges: Edges) -> str:
    """Per member (from `per_member`): days, orders, fen, her usual gap, the three scores, her segment and whether
    she is at risk."""
    segment = "CASE " + " ".join(f"WHEN {cond} THEN '{key}'" for key, _, cond in SEGMENTS) + f" ELSE '{OTHER[0]}' END"
    return f"""
    WITH s AS (
      SELECT *, {_score_sql("r", "recency_days", edges.r)} AS r_score,
                {_score_sql("f", "frequency", edges.f)} AS f_score,
                {_score_sql("m", "monetary_fen", edges.m)} AS m_score,
                CASE WHEN frequency >= 2 THEN span_days / (frequency - 1) END AS usual_gap_days
      FROM per_member
    )
    SELECT *, {segment} AS segment,
           (frequency >= 2 AND least(recency_days, coalesce(visit_days, recency_days))
                               > greatest(usual_gap_days, $min_gap)) AS at_risk
    FROM s
    """


def compute(
    con: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    own_edges: dict[str, list[float]] | None,
    reading: Reading = "claimed",
) -> Rfm:
    """Every member's scores, summed into the 5x5 grid (recency by frequency) and the named segments. Leaves the
    per-member figures in the connection's temporary table `per_member` (for `at_risk_members`)."""
    now = now.replace(tzinfo=None)
    con.execute(f"CREATE OR REPLACE TEMP TABLE per_member AS {per_member_sql(reading)}", {"now": now})
    edges = _edges(con, now, own_edges)
    rows = con.execute(
        f"""SELECT r_score, f_score, segment, count(*), sum(monetary_fen), sum(at_risk::INT)
            FROM ({scored_sql(edges)}) GROUP BY ALL""",
        {"min_gap": MIN_GAP_DAYS},
    ).fetchall()
    grid = [[(0, 0) for _ in range(5)] for _ in range(5)]
    by_segment: dict[str, tuple[int, int]] = {}
    members = fen_total = at_risk = 0
    for r, f, segment, n, fen, risk in rows:
        cell = grid[int(r) - 1][int(f) - 1]
        grid[int(r) - 1][int(f) - 1] = (cell[0] + int(n), cell[1] + int(fen or 0))
        seen = by_segment.get(segment, (0, 0))
        by_segment[segment] = (seen[0] + int(n), seen[1] + int(fen or 0))
        members += int(n)
        fen_total += int(fen or 0)
        at_risk += int(risk or 0)
    segments = [(key, name, *by_segment.get(key, (0, 0))) for key, name, _ in SEGMENTS]
    segments.append((OTHER[0], OTHER[1], *by_segment.get(OTHER[0], (0, 0))))
    return Rfm(
        as_of=now, members=members, edges=edges, grid=grid, segments=segments, monetary_fen=fen_total, at_risk=at_risk
    )


def at_risk_members(
    con: duckdb.DuckDBPyConnection,
    *,
    now: datetime,
    edges: Edges,
    limit: int | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """The members at risk, most valuable first (after `compute` on the same connection)."""
    now = now.replace(tzinfo=None)
    page = f" LIMIT {int(limit)} OFFSET {int(offset)}" if limit is not None else ""
    rows = con.execute(
        f"""SELECT member_id, recency_days, visit_days, frequency, monetary_fen, usual_gap_days, segment
            FROM ({scored_sql(edges)}) WHERE at_risk ORDER BY monetary_fen DESC, member_id{page}""",
        {"min_gap": MIN_GAP_DAYS},
    ).fetchall()
    return [
        {
            "member_id": int(m),
            "recency_days": int(r),
            "visit_days": None if v is None else int(v),
            "frequency": int(f),
            "monetary_fen": int(fen),
            "usual_gap_days": float(gap),
            "segment": segment,
        }
        for m, r, v, f, fen, gap, segment in rows
    ]


def segment_members(con: duckdb.DuckDBPyConnection, *, edges: Edges, keys: list[str]) -> list[int]:
    """The members in any of these named segments (after `compute` on the same connection), by id."""
    wanted = [key for key in keys if key in SEGMENT_NAMES]
    if not wanted:
        return []
    rows = con.execute(
        f"SELECT member_id FROM ({scored_sql(edges)}) WHERE list_contains($keys, segment) ORDER BY member_id",
        {"min_gap": MIN_GAP_DAYS, "keys": wanted},
    ).fetchall()
    return [int(m) for (m,) in rows]
