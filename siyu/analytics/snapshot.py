"""The columnar snapshot of one tenant: a DuckDB file of its orders (with the member each is credited to, if
any), fed from the database.

A full build reads every order; a refresh reads only the orders that imports wrote since the last refresh and
the orders claimed since, and replaces those orders in the file. Reports open the file, ask, and
close it, so a full build can swap in a new file underneath them.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import polars as pl

COLUMNS = ("member_id", "platform", "order_id", "status", "paid_fen", "refund_fen", "paid_at")
ORDERS_DDL = """CREATE TABLE IF NOT EXISTS orders (member_id BIGINT, platform VARCHAR, order_id VARCHAR,
    status VARCHAR, paid_fen BIGINT, refund_fen BIGINT, paid_at TIMESTAMP)"""
MERGES_DDL = "CREATE TABLE IF NOT EXISTS merges (member_id BIGINT, into_id BIGINT)"
_SCHEMA = {
    "member_id": pl.Int64,
    "platform": pl.String,
    "order_id": pl.String,
    "status": pl.String,
    "paid_fen": pl.Int64,
    "refund_fen": pl.Int64,
    "paid_at": pl.Datetime("us"),
}

LOCK_WAIT_S = 30.0
_locks: dict[Path, threading.Lock] = {}
_locks_guard = threading.Lock()


def path_of(directory: Path, tenant_id: int) -> Path:
    return directory / f"tenant-{int(tenant_id)}.duckdb"


def _lock(path: Path) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(path, threading.Lock())


def _connect(path: Path) -> duckdb.DuckDBPyConnection:
    """The file, waiting up to `LOCK_WAIT_S` while another process (a worker refreshing it) holds it."""
    deadline = time.monotonic() + LOCK_WAIT_S
    while True:
        try:
            return duckdb.connect(str(path))
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def opened(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The snapshot file, for one question or one change at a time in this process (an empty one if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock(path):
        con = _connect(path)
        try:
            con.execute(ORDERS_DDL)
            con.execute(MERGES_DDL)
            yield con
        finally:
            con.close()


def _normalised(frame: pl.DataFrame) -> pl.DataFrame:
    """The columns the file stores, in its order and types (an empty frame from the database has no types)."""
    return frame.select(COLUMNS).cast(_SCHEMA)  # type: ignore[arg-type]


async def _to_parquet(chunks: AsyncIterator[pl.DataFrame], workdir: Path) -> list[str]:
    files: list[str] = []
    async for frame in chunks:
        if frame.height == 0:
            continue
        target = workdir / f"part-{len(files):05d}.parquet"
        _normalised(frame).write_parquet(target, compression="lz4")
        files.append(str(target))
    return files


def _load(con: duckdb.DuckDBPyConnection, table: str, files: list[str]) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_parquet($files)", {"files": files})


def _write_merges(con: duckdb.DuckDBPyConnection, merges: list[tuple[int, int]]) -> None:
    """Each merged member points at the member she is in now (chains of merges followed to their end)."""
    into = dict(merges)

    def end(member: int) -> int:
        seen = {member}
        while member in into and into[member] not in seen:
            member = into[member]
            seen.add(member)
        return member

    con.execute("DELETE FROM merges")
    if into:
        frame = pl.DataFrame({"member_id": list(into), "into_id": [end(m) for m in into]})
        with tempfile.TemporaryDirectory() as workdir:
            target = Path(workdir) / "merges.parquet"
            frame.write_parquet(target)
            con.execute("INSERT INTO merges SELECT member_id, into_id FROM read_parquet($f)", {"f": str(target)})


async def build(path: Path, chunks: AsyncIterator[pl.DataFrame], merges: list[tuple[int, int]]) -> int:
    """A new file with every credited order, swapped in for the old one. Returns the rows it holds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as workdir:
        files = await _to_parquet(chunks, Path(workdir))
        fresh = Path(workdir) / "fresh.duckdb"
        con = duckdb.connect(str(fresh))
        try:
            con.execute(ORDERS_DDL)
            con.execute(MERGES_DDL)
            if files:
                con.execute(
                    """INSERT INTO orders SELECT * FROM read_parquet($files)
                       QUALIFY row_number() OVER (PARTITION BY platform, order_id ORDER BY member_id NULLS LAST) = 1""",
                    {"files": files},
                )
            _write_merges(con, merges)
            rows = con.execute("SELECT count(*) FROM orders").fetchone()
            con.execute("CHECKPOINT")
        finally:
            con.close()
        with _lock(path):
            os.replace(fresh, path)
            Path(f"{path}.wal").unlink(missing_ok=True)
    return int(rows[0]) if rows else 0


async def apply_changes(
    path: Path, chunks: AsyncIterator[pl.DataFrame], merges: list[tuple[int, int]]
) -> tuple[int, int]:
    """Replace the orders that changed (one row per order, the new one) in the file. Returns (rows read, rows now
    in the file)."""
    with tempfile.TemporaryDirectory(dir=path.parent if path.parent.exists() else None) as workdir:
        files = await _to_parquet(chunks, Path(workdir))
        with opened(path) as con:
            con.execute("BEGIN")
            read = 0
            if files:
                _load(con, "changed", files)
                con.execute(
                    """CREATE OR REPLACE TEMP TABLE changed_once AS SELECT * FROM changed
                       QUALIFY row_number() OVER (PARTITION BY platform, order_id ORDER BY member_id NULLS LAST) = 1"""
                )
                counted = con.execute("SELECT count(*) FROM changed").fetchone()
                read = int(counted[0]) if counted else 0
                con.execute(
                    """DELETE FROM orders c USING changed_once d
                       WHERE c.platform = d.platform AND c.order_id = d.order_id"""
                )
                con.execute("INSERT INTO orders SELECT * FROM changed_once")
            _write_merges(con, merges)
            con.execute("COMMIT")
            total = con.execute("SELECT count(*) FROM orders").fetchone()
    return read, int(total[0]) if total else 0


def paid_and_claimed(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime
) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """Per platform, of the orders paid in [start, end) (any status but unpaid): (orders, paid fen), and the same
    of those credited to a member."""
    rows = con.execute(
        """SELECT platform, count(*), sum(paid_fen), count(member_id),
                  coalesce(sum(paid_fen) FILTER (WHERE member_id IS NOT NULL), 0)
           FROM orders WHERE paid_at >= $start AND paid_at < $end AND status <> 'unpaid' GROUP BY platform""",
        {"start": _naive_utc(start), "end": _naive_utc(end)},
    ).fetchall()
    paid = {p: (int(n), int(fen or 0)) for p, n, fen, _, _ in rows}
    claimed = {p: (int(n), int(fen or 0)) for p, _, _, n, fen in rows if n}
    return paid, claimed


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)
