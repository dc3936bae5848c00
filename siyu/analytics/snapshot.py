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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

COLUMNS = (
    "member_id",
    "platform",
    "order_id",
    "status",
    "paid_fen",
    "refund_fen",
    "paid_at",
    "accounts",
    "claimed_at",
)
# `claimed_at`: when the claim that credited the order to `member_id` was made.
ORDERS_DDL = """CREATE TABLE IF NOT EXISTS orders (member_id BIGINT, platform VARCHAR, order_id VARCHAR,
    status VARCHAR, paid_fen BIGINT, refund_fen BIGINT, paid_at TIMESTAMP, accounts VARCHAR[], claimed_at TIMESTAMP)"""
MERGES_DDL = "CREATE TABLE IF NOT EXISTS merges (member_id BIGINT, into_id BIGINT)"
# Buyer accounts members bound ("kind:value", as an order's `accounts` names them), all of them at each refresh.
BINDINGS_DDL = "CREATE TABLE IF NOT EXISTS bindings (member_id BIGINT, account VARCHAR)"
# Each member's last visit (at most one row per member).
VISITS_DDL = "CREATE TABLE IF NOT EXISTS visits (member_id BIGINT, visited_at TIMESTAMP)"
# Every member (merged ones too: `merges` says which) and when she joined.
MEMBERS_DDL = "CREATE TABLE IF NOT EXISTS members (id BIGINT, joined_at TIMESTAMP)"
MEMBER_SCHEMA = {"id": pl.Int64, "joined_at": pl.Datetime("us")}
# Each member's available points (at most one row per member; none: 0).
BALANCES_DDL = "CREATE TABLE IF NOT EXISTS balances (member_id BIGINT, available BIGINT)"
BALANCE_SCHEMA = {"member_id": pl.Int64, "available": pl.Int64}
# Sums per quarter of an hour (UTC), rebuilt from `orders` and `entries` whenever they change: any range of
# tenant-local days starts and ends on a quarter hour, so the dashboard reads a few thousand rows, not millions.
BUCKET = "INTERVAL 15 MINUTE"
ORDER_BUCKETS_DDL = """CREATE TABLE IF NOT EXISTS order_buckets (bucket TIMESTAMP, platform VARCHAR, orders BIGINT,
    paid_fen BIGINT, claimed BIGINT, claimed_fen BIGINT)"""
ENTRY_BUCKETS_DDL = """CREATE TABLE IF NOT EXISTS entry_buckets (bucket TIMESTAMP, kind VARCHAR, amount BIGINT,
    pending_amount BIGINT, added BIGINT)"""
# Per member with orders credited to her: her last claim and the platforms of those orders (rebuilt with the sums).
CLAIMERS_DDL = "CREATE TABLE IF NOT EXISTS claimers (member_id BIGINT, last_claimed_at TIMESTAMP, platforms VARCHAR[])"
META_DDL = "CREATE TABLE IF NOT EXISTS meta (version INTEGER)"
# A file written by an older version lacks what this one reads (buyer accounts, bindings, visits, claim times,
# members, sums): the next refresh builds it again in full.
VERSION = 3
ENTRIES_DDL = """CREATE TABLE IF NOT EXISTS entries (id BIGINT, kind VARCHAR, amount BIGINT, pending_amount BIGINT,
    created_at TIMESTAMP)"""
ENTRY_COLUMNS = ("id", "kind", "amount", "pending_amount", "created_at")
_ENTRY_SCHEMA = {
    "id": pl.Int64,
    "kind": pl.String,
    "amount": pl.Int64,
    "pending_amount": pl.Int64,
    "created_at": pl.Datetime("us"),
}
_SCHEMA = {
    "member_id": pl.Int64,
    "platform": pl.String,
    "order_id": pl.String,
    "status": pl.String,
    "paid_fen": pl.Int64,
    "refund_fen": pl.Int64,
    "paid_at": pl.Datetime("us"),
    "accounts": pl.List(pl.String),
    "claimed_at": pl.Datetime("us"),
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


def create_tables(con: duckdb.DuckDBPyConnection) -> None:
    """Every table of the file, and the columns an older file lacks (empty until the next full build)."""
    for ddl in (
        ORDERS_DDL,
        MERGES_DDL,
        ENTRIES_DDL,
        BINDINGS_DDL,
        VISITS_DDL,
        MEMBERS_DDL,
        ORDER_BUCKETS_DDL,
        ENTRY_BUCKETS_DDL,
        CLAIMERS_DDL,
        BALANCES_DDL,
        META_DDL,
    ):
        con.execute(ddl)
    con.execute("ALTER TABLE orders ADD COLUMN IF NOT EXISTS accounts VARCHAR[]")
    con.execute("ALTER TABLE orders ADD COLUMN IF NOT EXISTS claimed_at TIMESTAMP")


def current(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the open file was written by this version (an older one lacks tables this one reads)."""
    row = con.execute("SELECT max(version) FROM meta").fetchone()
    return row is not None and row[0] is not None and int(row[0]) >= VERSION


def outdated(path: Path) -> bool:
    """Whether the file is missing or was written by an older version (then only a full build will do)."""
    if not path.exists():
        return True
    with opened(path) as con:
        return not current(con)


@contextmanager
def opened(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """The snapshot file, for one question or one change at a time in this process (an empty one if missing)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with _lock(path):
        con = _connect(path)
        try:
            create_tables(con)
            yield con
        finally:
            con.close()


async def _to_parquet(
    chunks: AsyncIterator[pl.DataFrame],
    workdir: Path,
    *,
    columns: tuple[str, ...] = COLUMNS,
    schema: dict[str, Any] = _SCHEMA,
) -> list[str]:
    """Each frame, in the file's columns and types, as a Parquet file in `workdir`."""
    files: list[str] = []
    async for frame in chunks:
        if frame.height == 0:
            continue
        target = workdir / f"{'-'.join(columns[:2])}-{len(files):05d}.parquet"  # (unique per kind of rows)
        frame.select(columns).cast(schema).write_parquet(target, compression="lz4")  # type: ignore[arg-type]
        files.append(str(target))
    return files


async def _files_of(frames: AsyncIterator[pl.DataFrame] | None, workdir: Path, schema: dict[str, Any]) -> list[str]:
    """Frames with these columns (none given: no files) as Parquet files in `workdir`."""
    if frames is None:
        return []
    return await _to_parquet(frames, workdir, columns=tuple(schema), schema=schema)


async def id_files(ids: AsyncIterator[pl.DataFrame], workdir: Path) -> list[str]:
    """Frames of member ids (column `id`) as Parquet files in `workdir`, for DuckDB to read."""
    return await _files_of(ids, workdir, {"id": pl.Int64})


def _replace(con: duckdb.DuckDBPyConnection, table: str, files: list[str], key: str, rest: str) -> None:
    """The rows of `files` (one kept per `key`, `rest` choosing its other columns), replacing what the table held
    of those keys."""
    if not files:
        return
    _load(con, f"new_{table}", files)
    con.execute(f"DELETE FROM {table} WHERE {key} IN (SELECT {key} FROM new_{table})")
    con.execute(f"INSERT INTO {table} SELECT {key}, {rest} FROM new_{table} GROUP BY {key}")


def _load(con: duckdb.DuckDBPyConnection, table: str, files: list[str]) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM read_parquet($files)", {"files": files})


def _insert_frame(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> None:
    if frame.height == 0:
        return
    with tempfile.TemporaryDirectory() as workdir:
        target = Path(workdir) / f"{table}.parquet"
        frame.write_parquet(target)
        con.execute(f"INSERT INTO {table} SELECT * FROM read_parquet($f)", {"f": str(target)})


def _write_bindings(con: duckdb.DuckDBPyConnection, bindings: list[tuple[int, str]]) -> None:
    """Every bound buyer account, replacing the ones before (an account unbound since is gone)."""
    con.execute("DELETE FROM bindings")
    frame = pl.DataFrame(
        {"member_id": [m for m, _ in bindings], "account": [a for _, a in bindings]},
        schema={"member_id": pl.Int64, "account": pl.String},
    )
    _insert_frame(con, "bindings", frame)


def _write_visits(con: duckdb.DuckDBPyConnection, visits: list[tuple[int, datetime]]) -> None:
    """These members' last visits, replacing what the file held of them."""
    if not visits:
        return
    frame = pl.DataFrame(
        {"member_id": [m for m, _ in visits], "visited_at": [_naive_utc(at) for _, at in visits]},
        schema={"member_id": pl.Int64, "visited_at": pl.Datetime("us")},
    )
    with tempfile.TemporaryDirectory() as workdir:
        target = Path(workdir) / "visits.parquet"
        frame.write_parquet(target)
        con.execute("CREATE OR REPLACE TEMP TABLE new_visits AS SELECT * FROM read_parquet($f)", {"f": str(target)})
    con.execute("DELETE FROM visits WHERE member_id IN (SELECT member_id FROM new_visits)")
    con.execute("INSERT INTO visits SELECT member_id, max(visited_at) FROM new_visits GROUP BY member_id")


def visit_mark(path: Path, overlap: timedelta) -> datetime | None:
    """A time after which every visit not in the file was written: the newest visit it holds, less `overlap` (a
    visit written by a transaction that committed late); None when it holds none."""
    with opened(path) as con:
        row = con.execute("SELECT max(visited_at) FROM visits").fetchone()
    if row is None or row[0] is None:
        return None
    return row[0].replace(tzinfo=UTC) - overlap


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


def summarise(con: duckdb.DuckDBPyConnection) -> None:
    """The quarter-hour sums and the claimers, again from every order and entry the file holds (a column scan
    each)."""
    con.execute("DELETE FROM order_buckets")
    con.execute(
        f"""INSERT INTO order_buckets
            SELECT time_bucket({BUCKET}, paid_at), platform, count(*), sum(paid_fen), count(member_id),
                   coalesce(sum(paid_fen) FILTER (WHERE member_id IS NOT NULL), 0)
            FROM orders WHERE paid_at IS NOT NULL AND status <> 'unpaid' GROUP BY ALL"""
    )
    con.execute("DELETE FROM entry_buckets")
    con.execute(
        f"""INSERT INTO entry_buckets
            SELECT time_bucket({BUCKET}, created_at), kind, sum(amount), sum(pending_amount),
                   coalesce(sum(amount) FILTER (WHERE amount > 0), 0)
            FROM entries GROUP BY ALL"""
    )
    con.execute("DELETE FROM claimers")
    con.execute(
        """INSERT INTO claimers
           SELECT member_id, max(claimed_at), list_distinct(list(platform)) FROM orders
           WHERE member_id IS NOT NULL GROUP BY member_id"""
    )


async def build(
    path: Path,
    chunks: AsyncIterator[pl.DataFrame],
    merges: list[tuple[int, int]],
    entries: AsyncIterator[pl.DataFrame],
    bindings: list[tuple[int, str]] | None = None,
    visits: list[tuple[int, datetime]] | None = None,
    joined: AsyncIterator[pl.DataFrame] | None = None,
    balances: AsyncIterator[pl.DataFrame] | None = None,
) -> int:
    """A new file with every order, swapped in for the old one. Returns the rows it holds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as workdir:
        files = await _to_parquet(chunks, Path(workdir))
        entry_files = await _to_parquet(entries, Path(workdir), columns=ENTRY_COLUMNS, schema=_ENTRY_SCHEMA)
        member_files = await _files_of(joined, Path(workdir), MEMBER_SCHEMA)
        held = await _files_of(balances, Path(workdir), BALANCE_SCHEMA)
        fresh = Path(workdir) / "fresh.duckdb"
        con = duckdb.connect(str(fresh))
        try:
            create_tables(con)
            con.execute("INSERT INTO meta VALUES ($v)", {"v": VERSION})
            if entry_files:
                con.execute("INSERT INTO entries SELECT * FROM read_parquet($files)", {"files": entry_files})
            if files:
                con.execute(
                    """INSERT INTO orders SELECT * FROM read_parquet($files)
                       QUALIFY row_number() OVER (PARTITION BY platform, order_id ORDER BY member_id NULLS LAST) = 1""",
                    {"files": files},
                )
            _write_merges(con, merges)
            _write_bindings(con, bindings or [])
            _write_visits(con, visits or [])
            _replace(con, "members", member_files, "id", "min(joined_at)")
            _replace(con, "balances", held, "member_id", "any_value(available)")
            summarise(con)
            rows = con.execute("SELECT count(*) FROM orders").fetchone()
            con.execute("CHECKPOINT")
        finally:
            con.close()
        with _lock(path):
            os.replace(fresh, path)
            Path(f"{path}.wal").unlink(missing_ok=True)
    return int(rows[0]) if rows else 0


async def apply_changes(
    path: Path,
    chunks: AsyncIterator[pl.DataFrame],
    merges: list[tuple[int, int]],
    entries: AsyncIterator[pl.DataFrame],
    bindings: list[tuple[int, str]] | None = None,
    visits: list[tuple[int, datetime]] | None = None,
    joined: AsyncIterator[pl.DataFrame] | None = None,
    balances: AsyncIterator[pl.DataFrame] | None = None,
) -> tuple[int, int]:
    """Replace the orders that changed (one row per order, the new one) in the file, add the members who joined
    since. Returns (rows read, rows now in the file)."""
    with tempfile.TemporaryDirectory(dir=path.parent if path.parent.exists() else None) as workdir:
        files = await _to_parquet(chunks, Path(workdir))
        entry_files = await _to_parquet(entries, Path(workdir), columns=ENTRY_COLUMNS, schema=_ENTRY_SCHEMA)
        member_files = await _files_of(joined, Path(workdir), MEMBER_SCHEMA)
        held = await _files_of(balances, Path(workdir), BALANCE_SCHEMA)
        with opened(path) as con:
            con.execute("BEGIN")
            if entry_files:  # entries never change: those read again replace themselves
                _load(con, "new_entries", entry_files)
                con.execute("DELETE FROM entries WHERE id IN (SELECT id FROM new_entries)")
                con.execute("INSERT INTO entries SELECT * FROM new_entries")
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
            if bindings is not None:
                _write_bindings(con, bindings)
            _write_visits(con, visits or [])
            _replace(con, "members", member_files, "id", "min(joined_at)")
            _replace(con, "balances", held, "member_id", "any_value(available)")
            if files or entry_files:
                summarise(con)
            con.execute("COMMIT")
            total = con.execute("SELECT count(*) FROM orders").fetchone()
    return read, int(total[0]) if total else 0


def paid_and_claimed(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, *, from_sums: bool | None = None
) -> tuple[dict[str, tuple[int, int]], dict[str, tuple[int, int]]]:
    """Per platform, of the orders paid in [start, end) (any status but unpaid): (orders, paid fen), and the same
    of those credited to a member. From the quarter-hour sums when the range allows (`from_sums` None), or as told."""
    if _on_quarter_hours(start, end) if from_sums is None else from_sums:
        statement = """SELECT platform, sum(orders), sum(paid_fen), sum(claimed), sum(claimed_fen)
           FROM order_buckets WHERE bucket >= $start AND bucket < $end GROUP BY platform"""
    else:
        statement = """SELECT platform, count(*), sum(paid_fen), count(member_id),
                  coalesce(sum(paid_fen) FILTER (WHERE member_id IS NOT NULL), 0)
           FROM orders WHERE paid_at >= $start AND paid_at < $end AND status <> 'unpaid' GROUP BY platform"""
    rows = con.execute(statement, {"start": _naive_utc(start), "end": _naive_utc(end)}).fetchall()
    paid = {p: (int(n), int(fen or 0)) for p, n, fen, _, _ in rows}
    claimed = {p: (int(n), int(fen or 0)) for p, _, _, n, fen in rows if n}
    return paid, claimed


def points_totals(
    con: duckdb.DuckDBPyConnection, start: datetime, end: datetime, *, from_sums: bool | None = None
) -> tuple[dict[str, tuple[int, int]], int]:
    """Per entry kind of the entries made in [start, end): (change to available, change to pending); and the
    points staff added by hand."""
    if _on_quarter_hours(start, end) if from_sums is None else from_sums:
        statement = """SELECT kind, sum(amount), sum(pending_amount), sum(added)
           FROM entry_buckets WHERE bucket >= $start AND bucket < $end GROUP BY kind"""
    else:
        statement = """SELECT kind, sum(amount), sum(pending_amount), coalesce(sum(amount) FILTER (WHERE amount > 0), 0)
           FROM entries WHERE created_at >= $start AND created_at < $end GROUP BY kind"""
    rows = con.execute(statement, {"start": _naive_utc(start), "end": _naive_utc(end)}).fetchall()
    kinds = {kind: (int(a or 0), int(p or 0)) for kind, a, p, _ in rows}
    added = sum(int(plus or 0) for kind, _, _, plus in rows if kind == "adjust")
    return kinds, added


def _on_quarter_hours(*moments: datetime) -> bool:
    """Whether each moment starts a quarter hour (UTC): then the quarter-hour sums answer for the range."""
    return all(m.astimezone(UTC).minute % 15 == 0 and not m.second and not m.microsecond for m in moments)


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def entry_mark(path: Path, overlap_ms: int) -> int:
    """An entry id below which every entry is in the file: the newest id it holds, less `overlap_ms` of ids (ids
    grow with time, and an entry committed late may carry an id a little older than the newest one read)."""
    with opened(path) as con:
        row = con.execute("SELECT max(id) FROM entries").fetchone()
    newest = int(row[0]) if row and row[0] is not None else 0
    return max(newest - (overlap_ms << 22), 0)
