"""Ledger benchmark: a tenant with 1M ledger entries built through the batch path, then the audit and balance reads.

    .venv/bin/python benchmarks/ledger.py --database-url URL [--entries 1000000] [--members 100000]

What it does (see benchmarks/README.md):
1. Creates a throw-away database (PostgreSQL: CREATE DATABASE via the URL's own database; SQLite: a temp file),
   migrates it, creates one tenant and its members (one COPY / executemany).
2. Builds the books on a simulated clock, each batch in a transaction of its own:
   day 0, held order points for 40% of the entries through `siyu.ledger.batch.earn_many` (varied expiry);
   day 2, `siyu.ledger.batch.post_due` posts them; day 5, service spends (some refunded), partial and full
   clawbacks (the full ones of spent points leave debt) and merges, one at a time; day 10, points available at
   once through `earn_many` until the tenant has `--entries` entries (crediting a member expires her lots that
   ran out on day 3; members in debt repay it, merged ones are refused).
   After day 2 and after the build: VACUUM ANALYZE (PostgreSQL) / ANALYZE (SQLite), as autovacuum would have.
3. Times `siyu.ledger.audit.check_invariants` over the tenant (median of 3; it must find nothing), and for 1,000
   random members (median, inside one transaction as in a request) `siyu.ledger.repository.get_balance` (the
   balance read) and `siyu.ledger.service.balance` (the member checked first, what the API calls).
4. Measures the machine's limit in the same run, through the driver: one aggregate over all the tenant's entries
   (SELECT member_id, SUM(amount) ... GROUP BY member_id) and a primary-key read of one balance row.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sqlite3
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchdb import asyncpg_dsn, backend_name, bench_database, say

TENANT_SLUG = "bench-ledger"
DAY0 = datetime(2026, 11, 11, 20, 0, tzinfo=UTC)  # Double 11, a show's end: orders credited, held
POST_DAY, SHORT_EXPIRY, SERVICE_DAY, SECOND_DAY = 2, 3, 5, 10  # days after DAY0
HELD_SHARE = 0.4  # of the entries: held credits (each also gets a post entry: 80% of the entries)
SPENDS, REFUNDS, CLAWBACKS, DEBTORS, MERGES = 2_000, 200, 500, 300, 50
BALANCE_READS = 1_000
AUDIT_RUNS = 3
RAW_SCAN = "SELECT member_id, SUM(amount) FROM ledger_entries WHERE tenant_id = {t} GROUP BY member_id"
RAW_READ = "SELECT available, pending, debt FROM ledger_balances WHERE tenant_id = {t} AND member_id = {m}"


# Building the books --------------------------------------------------------------------------------------


class Builder:
    """Writes the tenant's books batch by batch, remembering which orders each member was credited for."""

    def __init__(self, database_url: str, *, entries: int, members: int, batch: int, seed: int) -> None:
        from siyu.db import create_engine, create_sessionmaker

        self.database_url = database_url
        self.engine = create_engine(database_url)
        self.sessions = create_sessionmaker(self.engine)
        self.target, self.member_count, self.batch = entries, members, batch
        self.rng = random.Random(seed)
        self.tenant_id = 0
        self.members: list[int] = []
        self.orders = 0
        self.credited: dict[int, list[str]] = defaultdict(list)  # member -> held orders of day 0
        self.counts: dict[str, int] = defaultdict(int)

    async def close(self) -> None:
        await self.engine.dispose()

    async def entries(self) -> int:
        from sqlalchemy import text

        async with self.sessions() as session:
            query = text("SELECT count(*) FROM ledger_entries WHERE tenant_id = :t")
            return int((await session.execute(query, {"t": self.tenant_id})).scalar_one())

    async def create_members(self) -> None:
        """The tenant and its members, written set-wise (one COPY / executemany)."""
        import polars as pl

        from siyu.kit import bulk
        from siyu.kit.ids import new_id
        from siyu.tenants import service as tenants

        async with self.sessions() as session, session.begin():
            tenant = await tenants.create_tenant(session, slug=TENANT_SLUG, name="压测直播间")
            self.tenant_id = tenant.id
            self.members = [new_id() for _ in range(self.member_count)]
            frame = pl.DataFrame(
                {"id": self.members, "nickname": [f"粉丝{n}" for n in range(self.member_count)]},
                schema={"id": pl.Int64, "nickname": pl.String},
            )
            constants: dict[str, int | str | datetime] = {
                "tenant_id": self.tenant_id,
                "status": "active",
                "created_at": DAY0 - timedelta(days=30),
            }
            written = await bulk.insert_new(session, "members", [("id", "int"), ("nickname", "text")], frame, constants)
            assert written

    def _order(self) -> str:
        self.orders += 1
        return f"order:taobao:{3_580_000_000_000_000 + self.orders * 7919}"

    def _held_credit(self, now: datetime) -> Any:
        from siyu.ledger.batch import Credit

        member = self.rng.choice(self.members)
        roll = self.rng.random()
        if roll < 0.25:
            expires = None
        elif roll < 0.60:
            expires = DAY0 + timedelta(days=SHORT_EXPIRY, minutes=self.rng.randrange(600))  # gone by day 10
        else:
            expires = DAY0 + timedelta(days=self.rng.randrange(30, 400))
        ref = self._order()
        self.credited[member].append(ref)
        return Credit(
            member_id=member,
            source_ref=ref,
            amount=self.rng.choice([1, 2, 5, 9, 13, 26, 39, 69, 129, 299]),
            explanation="订单积分（直播间下单）",
            pending=True,
            post_after=now + timedelta(days=1, minutes=self.rng.randrange(600)),
            expires_at=expires,
        )

    def _available_credit(self) -> Any:
        from siyu.ledger.batch import Credit

        return Credit(
            member_id=self.rng.choice(self.members),
            source_ref=self._order(),
            amount=self.rng.choice([3, 8, 15, 40, 99]),
            explanation="订单积分",
            pending=False,
            expires_at=None if self.rng.random() < 0.3 else DAY0 + timedelta(days=SECOND_DAY + 365),
        )

    async def _earn(self, credits: Sequence[Any], now: datetime) -> Any:
        from siyu.ledger import batch

        async with self.sessions() as session, session.begin():
            result = await batch.earn_many(session, tenant_id=self.tenant_id, credits=credits, now=now)
        for name in ("credited", "already_credited", "refused"):
            self.counts[name] += getattr(result, name)
        return result

    async def held_credits(self) -> None:
        held = int(self.target * HELD_SHARE)
        started, done = time.perf_counter(), 0
        while done < held:
            credits = [self._held_credit(DAY0) for _ in range(min(self.batch, held - done))]
            await self._earn(credits, DAY0)
            done += len(credits)
            elapsed = time.perf_counter() - started
            say(f"  day 0 earn_many: {done:>9,} / {held:,} held credits  {elapsed:6.1f} s  {done / elapsed:,.0f}/s")

    async def post(self) -> None:
        from siyu.ledger import batch

        now = DAY0 + timedelta(days=POST_DAY)
        started, done = time.perf_counter(), 0
        while True:
            async with self.sessions() as session, session.begin():
                posted = await batch.post_due(session, tenant_id=self.tenant_id, now=now, limit=self.batch)
            done += posted
            elapsed = time.perf_counter() - started
            say(f"  day 2 post_due: {done:>9,} lots posted  {elapsed:6.1f} s  {done / max(elapsed, 1e-9):,.0f}/s")
            if posted < self.batch:
                break
        self.counts["posted"] = done

    async def service_operations(self) -> None:
        """Spends (some refunded), clawbacks (of spent points: debt) and merges, one service call at a time."""
        from siyu.ledger import service

        now = DAY0 + timedelta(days=SERVICE_DAY)
        started = time.perf_counter()
        with_points = [member for member in self.members if self.credited.get(member)]
        chosen = self.rng.sample(with_points, SPENDS + DEBTORS + CLAWBACKS + 2 * MERGES)
        spenders = set(chosen[:SPENDS])
        debtors = set(chosen[SPENDS : SPENDS + DEBTORS])
        clawed = set(chosen[SPENDS + DEBTORS : SPENDS + DEBTORS + CLAWBACKS])
        merging = chosen[SPENDS + DEBTORS + CLAWBACKS :]

        async def spend(session: Any, member: int, ref: str) -> bool:
            """Half of her points (spenders) or all of them (debtors); what she has once her due lots expired."""
            points = (await service.balance(session, tenant_id=self.tenant_id, member_id=member)).available
            for _attempt in range(2):
                wanted = max(1, points // 2) if member in spenders else points
                if wanted <= 0:
                    return False
                try:
                    await service.spend(
                        session, tenant_id=self.tenant_id, member_id=member, amount=wanted, source_ref=ref, now=now
                    )
                    return True
                except service.InsufficientPoints as refused:  # some of them expired as the spend opened
                    points = refused.detail["available"]
            return False

        for chunk in range(0, len(chosen), 250):
            async with self.sessions() as session, session.begin():
                for member in chosen[chunk : chunk + 250]:
                    ref = f"redemption:{member}"
                    if (member in spenders or member in debtors) and await spend(session, member, ref):
                        self.counts["spends"] += 1
                        if member in spenders and self.counts["refunds"] < REFUNDS:
                            await service.refund_spend(session, tenant_id=self.tenant_id, source_ref=ref, now=now)
                            self.counts["refunds"] += 1
                    if member in debtors or member in clawed:
                        share = (1, 1) if member in debtors else (1, 3)
                        entry = await service.clawback(
                            session,
                            tenant_id=self.tenant_id,
                            source_ref=self.credited[member][0],
                            numerator=share[0],
                            denominator=share[1],
                            now=now,
                        )
                        self.counts["clawbacks"] += entry is not None
            say(f"  day 5 service: {min(chunk + 250, len(chosen)):>6,} / {len(chosen):,} members")
        async with self.sessions() as session, session.begin():
            for source, target in zip(merging[::2], merging[1::2], strict=True):
                await service.merge(
                    session, tenant_id=self.tenant_id, from_member_id=source, into_member_id=target, now=now
                )
                self.counts["merges"] += 1
        say(f"  day 5 service operations done in {time.perf_counter() - started:.1f} s: {dict(self.counts)}")

    async def available_credits(self) -> None:
        now = DAY0 + timedelta(days=SECOND_DAY)
        started = time.perf_counter()
        have = await self.entries()
        while have < self.target:
            # Each credit writes one entry, plus one per lot of its member that ran out (expired on day 3).
            size = max(1_000, min(self.batch, (self.target - have) // 2))
            await self._earn([self._available_credit() for _ in range(size)], now)
            have = await self.entries()
            elapsed = time.perf_counter() - started
            say(f"  day 10 earn_many: {have:>9,} / {self.target:,} entries  {elapsed:6.1f} s")

    async def build(self) -> float:
        started = time.perf_counter()
        await self.held_credits()
        await self.post()
        # By now autovacuum would have analysed the tables (PostgreSQL); SQLite needs it from a maintenance job:
        # without statistics its planner finds a member's due lots through the tenant-wide expiry index.
        await analyze(self.database_url)
        await self.service_operations()
        await self.available_credits()
        return time.perf_counter() - started


async def analyze(database_url: str) -> None:
    """Statistics (and, on PostgreSQL, the visibility map) as autovacuum would have them after the build."""
    if backend_name(database_url) == "postgresql":
        import asyncpg

        connection = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            for table in ("ledger_entries", "ledger_lots", "ledger_allocations", "ledger_balances", "members"):
                await connection.execute(f"VACUUM ANALYZE {table}")
        finally:
            await connection.close()
        return
    connection = sqlite3.connect(_sqlite_path(database_url), isolation_level=None)
    try:
        connection.execute("ANALYZE")
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        connection.close()


def _sqlite_path(database_url: str) -> str:
    from sqlalchemy.engine import make_url

    return str(make_url(database_url).database)


# Measuring ---------------------------------------------------------------------------------------------------


async def audit(builder: Builder) -> tuple[float, list[str], list[float]]:
    """Median seconds of check_invariants over the tenant, the problems it found, and every run's time."""
    from siyu.ledger.audit import check_invariants

    times, problems = [], []
    for _ in range(AUDIT_RUNS):
        async with builder.sessions() as session:
            started = time.perf_counter()
            problems = await check_invariants(session, builder.tenant_id)
            times.append(time.perf_counter() - started)
    return statistics.median(times), problems, times


async def balance_reads(builder: Builder, members: Sequence[int]) -> tuple[float, float]:
    """Median milliseconds of repository.get_balance (the balance row, by primary key) and of service.balance (the
    member checked first, what the API calls) for each of `members`, inside one transaction as in a request."""
    from siyu.ledger import repository, service

    async with builder.sessions() as session:
        for member in members[:50]:  # warm the connection and the statement caches
            await service.balance(session, tenant_id=builder.tenant_id, member_id=member)
        reads, calls = [], []
        for member in members:
            started = time.perf_counter()
            await repository.get_balance(session, tenant_id=builder.tenant_id, member_id=member)
            reads.append(time.perf_counter() - started)
            started = time.perf_counter()
            await service.balance(session, tenant_id=builder.tenant_id, member_id=member)
            calls.append(time.perf_counter() - started)
    return statistics.median(reads) * 1000, statistics.median(calls) * 1000


async def raw_postgresql(database_url: str, tenant_id: int, members: Sequence[int]) -> tuple[float, float]:
    """(median seconds of the raw aggregate scan, median milliseconds of a raw primary-key read), via asyncpg."""
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        scans = []
        for _ in range(AUDIT_RUNS):
            started = time.perf_counter()
            await connection.fetch(RAW_SCAN.format(t="$1"), tenant_id)
            scans.append(time.perf_counter() - started)
        read = await connection.prepare(RAW_READ.format(t="$1", m="$2"))
        for member in members[:50]:
            await read.fetchrow(tenant_id, member)
        reads = []
        for member in members:
            started = time.perf_counter()
            await read.fetchrow(tenant_id, member)
            reads.append(time.perf_counter() - started)
    finally:
        await connection.close()
    return statistics.median(scans), statistics.median(reads) * 1000


def raw_sqlite(database_url: str, tenant_id: int, members: Sequence[int]) -> tuple[float, float]:
    """The same through the sqlite3 module (same pragmas as the app)."""
    from siyu.db import SQLITE_PRAGMAS

    connection = sqlite3.connect(_sqlite_path(database_url), isolation_level=None)
    try:
        for pragma in SQLITE_PRAGMAS:
            connection.execute(f"PRAGMA {pragma}")
        scans = []
        for _ in range(AUDIT_RUNS):
            started = time.perf_counter()
            connection.execute(RAW_SCAN.format(t="?"), (tenant_id,)).fetchall()
            scans.append(time.perf_counter() - started)
        statement = RAW_READ.format(t="?", m="?")
        for member in members[:50]:
            connection.execute(statement, (tenant_id, member)).fetchone()
        reads = []
        for member in members:
            started = time.perf_counter()
            connection.execute(statement, (tenant_id, member)).fetchone()
            reads.append(time.perf_counter() - started)
    finally:
        connection.close()
    return statistics.median(scans), statistics.median(reads) * 1000


# Driver ------------------------------------------------------------------------------------------------------


async def run(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    backend = backend_name(database_url)
    builder = Builder(database_url, entries=args.entries, members=args.members, batch=args.batch, seed=args.seed)
    try:
        started = time.perf_counter()
        await builder.create_members()
        say(f"created {args.members:,} members in {time.perf_counter() - started:.1f} s")
        say(f"building >= {args.entries:,} ledger entries through the batch path ...")
        build_s = await builder.build()
        entries = await builder.entries()
        say(
            f"built {entries:,} entries in {build_s:.1f} s ({entries / build_s:,.0f} entries/s): {dict(builder.counts)}"
        )
        say("VACUUM ANALYZE ..." if backend == "postgresql" else "ANALYZE ...")
        await analyze(database_url)
        say("auditing ...")
        audit_s, problems, runs = await audit(builder)
        say(f"check_invariants: {', '.join(f'{t:.2f}' for t in runs)} s; {len(problems)} problems")
        for problem in problems[:10]:
            say(f"  {problem}")
        sample = random.Random(args.seed + 1).sample(builder.members, BALANCE_READS)
        balance_ms, service_ms = await balance_reads(builder, sample)
        say(
            f"repository.get_balance: median {balance_ms:.3f} ms, service.balance: median {service_ms:.3f} ms "
            f"over {len(sample):,} members"
        )
    finally:
        await builder.close()
    say("measuring the raw limit (driver only) ...")
    if backend == "postgresql":
        raw_scan_s, raw_read_ms = await raw_postgresql(database_url, builder.tenant_id, sample)
    else:
        raw_scan_s, raw_read_ms = raw_sqlite(database_url, builder.tenant_id, sample)
    say(
        f"raw aggregate over all entries: {raw_scan_s:.3f} s (audit x{audit_s / raw_scan_s:.1f}); raw balance read: "
        f"{raw_read_ms:.3f} ms (repository.get_balance x{balance_ms / raw_read_ms:.1f})"
    )
    return {
        "database": backend,
        "entries": entries,
        "members": args.members,
        "build_s": round(build_s, 1),
        "audit_s": round(audit_s, 3),
        "raw_scan_s": round(raw_scan_s, 3),
        "audit_ratio": round(audit_s / raw_scan_s, 2),
        "balance_read_ms": round(balance_ms, 3),
        "raw_read_ms": round(raw_read_ms, 3),
        "balance_read_ratio": round(balance_ms / raw_read_ms, 2),
        "service_balance_ms": round(service_ms, 3),
        "invariants_ok": problems == [],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", required=True, help="sqlite+aiosqlite:///... or postgresql+asyncpg://...")
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--members", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=25_000, help="credits per earn_many call, lots per post_due")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args(argv)
    needed = SPENDS + DEBTORS + CLAWBACKS + 2 * MERGES
    if args.members < max(needed * 2, BALANCE_READS):
        parser.error(f"--members must be at least {max(needed * 2, BALANCE_READS):,}")
    with (
        tempfile.TemporaryDirectory(prefix="siyu-bench-") as temp,
        bench_database(args.database_url, Path(temp), "ledger") as database_url,
    ):
        report = asyncio.run(run(database_url, args))
    targets = {"balance_read_under_1ms": report["balance_read_ms"] < 1, "invariants_ok": report["invariants_ok"]}
    if report["database"] == "postgresql":
        targets["audit_within_5s"] = report["audit_s"] <= 5
    report["targets_met"] = targets
    print(json.dumps(report, ensure_ascii=False), flush=True)


def _stop(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwind: drop the bench database, delete temp files


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _stop)
    main()
