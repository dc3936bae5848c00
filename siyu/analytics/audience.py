"""Members picked out by what the snapshot knows, counted by DuckDB in one pass over the file's columns: the criteria
of a saved segment on RFM segments, platforms, claims, joining and points.

The same meaning as the database's conditions (siyu.segments): an order counts for the member whose claim credited
it (no merge moves it), an account for the member who bound it, and members merged into another are left out.
What the file knows is as of its last refresh.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import duckdb


@dataclass(frozen=True)
class Known:
    """Criteria the snapshot answers; each one given must hold (times are UTC, ranges are [from, before))."""

    rfm: tuple[str, ...] = ()  # in one of these RFM segments (keys of rfm.SEGMENTS)
    platforms: tuple[str, ...] = ()  # claimed an order of one of these platforms ...
    account_kinds: tuple[str, ...] = ()  # ... or bound a buyer account of one of these kinds
    claimed_from: datetime | None = None  # her last claim is in [claimed_from, claimed_before)
    claimed_before: datetime | None = None
    no_claim_since: datetime | None = None  # no claim at or after this
    joined_from: datetime | None = None
    joined_before: datetime | None = None
    points_min: int | None = None  # available points, both ends included
    points_max: int | None = None


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _within(
    column: str, name: str, start: datetime | None, before: datetime | None, params: dict[str, Any]
) -> list[str]:
    """Conditions that `column` falls in [start, before) (either end open when None), their values put in `params`."""
    found = []
    for bound, op, value in ((f"{name}_from", ">=", start), (f"{name}_before", "<", before)):
        if value is not None:
            found.append(f"{column} {op} ${bound}")
            params[bound] = _naive(value)
    return found


def count(
    con: duckdb.DuckDBPyConnection, known: Known, rfm_members: Collection[int] = (), among: list[str] | None = None
) -> int:
    """How many members meet every criterion of `known` (`rfm_members`: the members of its RFM segments), among
    the members listed in the Parquet files `among` (column `id`) when given."""
    if among is not None and not among:
        return 0  # (nobody meets the database's criteria)
    where = ["m.id NOT IN (SELECT member_id FROM merges)"]
    params: dict[str, Any] = {}
    if among is not None:
        where.append("m.id IN (SELECT id FROM read_parquet($among))")
        params["among"] = among
    if known.rfm:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE chosen AS SELECT unnest($ids::BIGINT[]) AS id", {"ids": sorted(rfm_members)}
        )
        where.append("m.id IN (SELECT id FROM chosen)")
    if known.platforms or known.account_kinds:
        either = []
        if known.platforms:
            either.append("SELECT member_id FROM claimers WHERE list_has_any(platforms, $platforms)")
            params["platforms"] = list(known.platforms)
        if known.account_kinds:
            either.append("SELECT member_id FROM bindings WHERE list_contains($kinds, split_part(account, ':', 1))")
            params["kinds"] = list(known.account_kinds)
        where.append(f"m.id IN ({' UNION ALL '.join(either)})")
    last = _within("last_claimed_at", "claimed", known.claimed_from, known.claimed_before, params)
    if last:
        where.append(f"m.id IN (SELECT member_id FROM claimers WHERE {' AND '.join(last)})")
    if known.no_claim_since is not None:
        where.append("m.id NOT IN (SELECT member_id FROM claimers WHERE last_claimed_at >= $no_claim_since)")
        params["no_claim_since"] = _naive(known.no_claim_since)
    where += _within("m.joined_at", "joined", known.joined_from, known.joined_before, params)
    if known.points_min:  # (at least 0: everyone)
        where.append("m.id IN (SELECT member_id FROM balances WHERE available >= $points_min)")
        params["points_min"] = known.points_min
    if known.points_max is not None:  # (without a balance she has 0)
        where.append("m.id NOT IN (SELECT member_id FROM balances WHERE available > $points_max)")
        params["points_max"] = known.points_max
    row = con.execute(f"SELECT count(*) FROM members m WHERE {' AND '.join(where)}", params).fetchone()
    return int(row[0]) if row else 0
