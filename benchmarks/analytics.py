"""Analytics benchmark: RFM of every member of a large tenant, the snapshot's incremental refresh, the dashboard.

    .venv/bin/python benchmarks/analytics.py --database-url URL [--orders 10000000] [--members 1000000]

What it does:
1. Creates a throw-away database (see benchdb.py), migrated, with one tenant and an owner. Generates set-wise,
   in the database (PostgreSQL generate_series, SQLite a recursive CTE): `--members` members who joined over
   400 days; `--orders` orders over 400 days (platforms 50/30/20 % Taobao/Douyin/Kuaishou, 3 % unpaid, 4 %
   closed, 3 % refunded, a few partly refunded, 1 % of zero fen, a few dated up to 3 days ahead) written by one
   import; for 40 % of the orders the claim that credited them to a member and its held points in the ledger
   (one entry each), and each member's balance of those points as available (written at her last entry); a tag
   on every fifth member. Then VACUUM ANALYZE (SQLite: ANALYZE).
2. `build_s`: the snapshot's full build (`siyu.analytics.service.refresh(full=True)`): every order (with the
   member it is credited to) and every ledger entry read from the database into the tenant's DuckDB file.
3. `rfm_s`: the RFM scores of every member as the product computes them (`service.rfm_of`: open the file,
   quintile edges, every member's scores summed into the grid and the segments); median of 5.
4. `raw_rfm_s`: the machine's limit in the same run: the same credited orders copied into an in-memory DuckDB
   table, then one hand-written query (per-member aggregate, quintile edges, scores, grid); median of 5.
   `ratio` = raw_rfm_s / rfm_s.
5. `refresh_s`: 100,000 orders change (refunds, closes) in a second import, then `service.refresh` reads what
   changed; `refresh_ratio` = refresh_s / build_s. The refreshed figures must equal a full build's.
6. `dashboard_ms`: the console home (GET /console/, the last 30 days) through the app, signed in as the owner;
   median of 5 after one warm-up.
7. `segment_count_ms`: counting a saved segment's members as the console does (`siyu.segments.service`), the
   slowest of the filters in SEGMENTS (median of 3 each, also listed one by one in `segment_counts_ms`): filters
   only on what members bought, claimed and when they joined are counted in the snapshot, the others by the
   database. The RFM one reads the snapshot once; its later counts in the same hour reuse the answer, as in the
   product.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchdb import backend_name, bench_database, say

NOW = datetime.now(UTC).replace(microsecond=0)
DAYS = 400
CHANGED = 100_000
ID_EPOCH_MS = 1_704_067_200_000
MONTH_AGO = (NOW - timedelta(days=30)).date().isoformat()
TAG_ID = 1
# Saved segments as ops build them: recent buyers, old members who bought on Taobao, an RFM segment, members with
# points to spend and recent buyers among them (each counted in the snapshot), and recent buyers among the members
# ops tagged (the tag asked of the database, the two sets meeting in the snapshot).
SEGMENTS: dict[str, dict[str, Any]] = {
    "claimed_in_30_days": {"last_claim_from": MONTH_AGO},
    "old_taobao_buyers": {"joined_to": (NOW - timedelta(days=180)).date().isoformat(), "platforms": ["taobao"]},
    "rfm_top_and_potential": {"rfm": ["top", "potential"]},
    "points_300": {"points_min": 300},
    "points_300_claimed_in_30_days": {"points_min": 300, "last_claim_from": MONTH_AGO},
    "tagged_claimed_in_30_days": {"tags_any": [TAG_ID], "last_claim_from": MONTH_AGO},
}  # siyu.kit.ids: entry ids carry the millisecond they were made


def _pg_sql(tenant: int, members: int, orders: int) -> list[str]:
    start = (NOW - timedelta(days=DAYS)).isoformat()
    return [
        f"""INSERT INTO members (tenant_id, id, nickname, status, created_at)
            SELECT {tenant}, i, '会员' || i, 'active',
                   timestamptz '{start}' + (i::float8 / {members} * {DAYS}) * interval '1 day'
            FROM generate_series(1::bigint, {members}) i""",
        f"""INSERT INTO order_imports (tenant_id, id, sha256, filename, size, requested_platform, status, created_at,
                rows, inserted, updated, unchanged, rejected, skipped)
            VALUES ({tenant}, 1, repeat('0', 64), 'bench.csv', 1, 'auto', 'done', now(), 0, 0, 0, 0, 0, 0)""",
        f"""INSERT INTO orders (tenant_id, platform, order_id, status, status_rank, paid_fen, refund_fen, item_count,
                paid_at, first_import_id, last_import_id, first_seen_at, last_changed_at)
            SELECT {tenant},
                   CASE WHEN i % 10 < 5 THEN 'taobao' WHEN i % 10 < 8 THEN 'douyin' ELSE 'kuaishou' END,
                   (1000000000000 + i)::text,
                   CASE WHEN i % 100 < 3 THEN 'unpaid' WHEN i % 100 < 7 THEN 'closed' WHEN i % 100 < 10 THEN 'refunded'
                        WHEN i % 100 < 60 THEN 'completed' ELSE 'paid' END,
                   CASE WHEN i % 100 < 3 THEN 0 WHEN i % 100 < 10 THEN 5 WHEN i % 100 < 60 THEN 3 ELSE 1 END,
                   CASE WHEN i % 100 = 99 THEN 0 ELSE 1000 + (i * 7919) % 99000 END,
                   CASE WHEN i % 100 BETWEEN 7 AND 9 THEN 1000 + (i * 7919) % 99000
                        WHEN i % 50 = 11 THEN 500 ELSE 0 END,
                   1,
                   timestamptz '{start}'
                       + (((i * 104729) % {orders})::float8 / {orders} * {DAYS + 3}) * interval '1 day',
                   1, 1, now(), now()
            FROM generate_series(1::bigint, {orders}) i""",
        f"""INSERT INTO claims (tenant_id, id, member_id, platform, order_id, outcome, message, points, via, created_at)
            SELECT {tenant}, i, 1 + ((i * 2654435761) % 1000003) % {members},
                   CASE WHEN i % 10 < 5 THEN 'taobao' WHEN i % 10 < 8 THEN 'douyin' ELSE 'kuaishou' END,
                   (1000000000000 + i)::text, 'credited', '已获得积分', 1, 'claim', now() - interval '1 day'
            FROM generate_series(1::bigint, {orders}) i WHERE (i / 10) % 5 < 2""",
        f"""INSERT INTO ledger_entries (tenant_id, id, member_id, kind, amount, pending_amount, source_ref, explanation,
                created_at)
            SELECT {tenant}, ((floor(extract(epoch FROM t) * 1000)::bigint - {ID_EPOCH_MS}) << 22) | (i % 4194304),
                   1 + ((i * 2654435761) % 1000003) % {members}, 'earn_pending', 0,
                   (1000 + (i * 7919) % 99000) / 1000, 'order:bench:' || i, '订单积分', t
            FROM (SELECT i, timestamptz '{start}'
                           + (((i * 104729) % {orders})::float8 / {orders} * {DAYS + 3}) * interval '1 day' AS t
                  FROM generate_series(1::bigint, {orders}) i WHERE (i / 10) % 5 < 2) timed""",
        f"""INSERT INTO ledger_balances (tenant_id, member_id, available, pending, debt, updated_at)
            SELECT tenant_id, member_id, sum(pending_amount), 0, 0, max(created_at) FROM ledger_entries
            WHERE tenant_id = {tenant} GROUP BY tenant_id, member_id""",
        f"""INSERT INTO tags (tenant_id, id, name, created_at) VALUES ({tenant}, {TAG_ID}, '高客单', now())""",
        f"""INSERT INTO member_tags (tenant_id, id, tag_id, member_id, source, created_at)
            SELECT {tenant}, i, {TAG_ID}, i, 'manual', now() FROM generate_series(1::bigint, {members}) i
            WHERE i % 5 = 0""",
        "ANALYZE",
    ]


def _sqlite_sql(tenant: int, members: int, orders: int) -> list[str]:
    start = (NOW - timedelta(days=DAYS)).replace(tzinfo=None).isoformat(sep=" ")
    fmt = "'%Y-%m-%d %H:%M:%f'"
    series = "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {n})"
    platform = "CASE WHEN i % 10 < 5 THEN 'taobao' WHEN i % 10 < 8 THEN 'douyin' ELSE 'kuaishou' END"
    return [
        f"""INSERT INTO members (tenant_id, id, nickname, status, created_at)
            {series.format(n=members)}
            SELECT {tenant}, i, '会员' || i, 'active',
                   strftime({fmt}, '{start}', '+' || (i * {DAYS * 86400} / {members}) || ' seconds') FROM s""",
        f"""INSERT INTO order_imports (tenant_id, id, sha256, filename, size, requested_platform, status, created_at,
                rows, inserted, updated, unchanged, rejected, skipped)
            VALUES ({tenant}, 1, '0', 'bench.csv', 1, 'auto', 'done', '{start}', 0, 0, 0, 0, 0, 0)""",
        f"""INSERT INTO orders (tenant_id, platform, order_id, status, status_rank, paid_fen, refund_fen, item_count,
                paid_at, first_import_id, last_import_id, first_seen_at, last_changed_at)
            {series.format(n=orders)}
            SELECT {tenant}, {platform}, CAST(1000000000000 + i AS TEXT),
                   CASE WHEN i % 100 < 3 THEN 'unpaid' WHEN i % 100 < 7 THEN 'closed' WHEN i % 100 < 10 THEN 'refunded'
                        WHEN i % 100 < 60 THEN 'completed' ELSE 'paid' END,
                   CASE WHEN i % 100 < 3 THEN 0 WHEN i % 100 < 10 THEN 5 WHEN i % 100 < 60 THEN 3 ELSE 1 END,
                   CASE WHEN i % 100 = 99 THEN 0 ELSE 1000 + (i * 7919) % 99000 END,
                   CASE WHEN i % 100 BETWEEN 7 AND 9 THEN 1000 + (i * 7919) % 99000
                        WHEN i % 50 = 11 THEN 500 ELSE 0 END,
                   1,
                   strftime({fmt}, '{start}',
                            '+' || (((i * 104729) % {orders}) * {(DAYS + 3) * 86400} / {orders}) || ' seconds'),
                   1, 1, '{start}', '{start}'
            FROM s""",
        f"""INSERT INTO claims (tenant_id, id, member_id, platform, order_id, outcome, message, points, via, created_at)
            {series.format(n=orders)}
            SELECT {tenant}, i, 1 + ((i * 2654435761) % 1000003) % {members}, {platform},
                   CAST(1000000000000 + i AS TEXT), 'credited', '已获得积分', 1, 'claim', '{start}'
            FROM s WHERE (i / 10) % 5 < 2""",
        f"""INSERT INTO ledger_entries (tenant_id, id, member_id, kind, amount, pending_amount, source_ref, explanation,
                created_at)
            {series.format(n=orders)},
            timed(i, t) AS (
              SELECT i, strftime({fmt}, '{start}',
                                 '+' || (((i * 104729) % {orders}) * {(DAYS + 3) * 86400} / {orders}) || ' seconds')
              FROM s WHERE (i / 10) % 5 < 2)
            SELECT {tenant}, ((CAST(strftime('%s', t) AS INTEGER) * 1000 - {ID_EPOCH_MS}) << 22) | (i % 4194304),
                   1 + ((i * 2654435761) % 1000003) % {members}, 'earn_pending', 0,
                   (1000 + (i * 7919) % 99000) / 1000, 'order:bench:' || i, '订单积分', t
            FROM timed""",
        f"""INSERT INTO ledger_balances (tenant_id, member_id, available, pending, debt, updated_at)
            SELECT tenant_id, member_id, sum(pending_amount), 0, 0, max(created_at) FROM ledger_entries
            WHERE tenant_id = {tenant} GROUP BY tenant_id, member_id""",
        f"""INSERT INTO tags (tenant_id, id, name, created_at) VALUES ({tenant}, {TAG_ID}, '高客单', '{start}')""",
        f"""INSERT INTO member_tags (tenant_id, id, tag_id, member_id, source, created_at)
            {series.format(n=members)}
            SELECT {tenant}, i, {TAG_ID}, i, 'manual', '{start}' FROM s WHERE i % 5 = 0""",
        "ANALYZE",
    ]


def _change_sql(tenant: int, orders: int) -> list[str]:
    """A second import: 100,000 orders refunded by half, half of those closed."""
    step = max(orders // CHANGED, 1)
    both = f"tenant_id = {tenant} AND CAST(order_id AS BIGINT) % {step} = 0"
    new_import = f"""INSERT INTO order_imports (tenant_id, id, sha256, filename, size, requested_platform, status,
        created_at, rows, inserted, updated, unchanged, rejected, skipped)
        VALUES ({tenant}, 2, '1', 'bench2.csv', 1, 'auto', 'done', '{NOW.isoformat()}', 0, 0, 0, 0, 0, 0)"""
    return [
        new_import,
        f"""UPDATE orders SET refund_fen = paid_fen / 2, last_import_id = 2,
               status = CASE WHEN CAST(order_id AS BIGINT) % {step * 2} = 0 THEN 'closed' ELSE status END
               WHERE {both}""",
    ]


RAW = """
WITH p AS (
  SELECT member_id,
         greatest(floor((epoch($now) - epoch(max(paid_at))) / 86400), 0) AS r,
         count(*) AS f,
         sum(greatest(paid_fen - least(refund_fen, paid_fen), 0)) AS m
  FROM raw WHERE status NOT IN ('unpaid', 'closed', 'refunded') AND paid_at IS NOT NULL GROUP BY member_id
), e AS (
  SELECT quantile_disc(r, [0.2, 0.4, 0.6, 0.8]) AS er, quantile_disc(f, [0.2, 0.4, 0.6, 0.8]) AS ef,
         quantile_disc(m, [0.2, 0.4, 0.6, 0.8]) AS em FROM p
)
SELECT 5 - ((r > er[1])::INT + (r > er[2])::INT + (r > er[3])::INT + (r > er[4])::INT) AS rs,
       1 + ((f > ef[1])::INT + (f > ef[2])::INT + (f > ef[3])::INT + (f > ef[4])::INT) AS fs,
       count(*), sum(m)
FROM p, e GROUP BY ALL
"""


async def run(url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    import duckdb
    import httpx
    from sqlalchemy import text

    from siyu.analytics import service, snapshot
    from siyu.app import create_app
    from siyu.config import Settings
    from siyu.db import create_engine, create_sessionmaker
    from siyu.kit.ratelimit import RateLimiter
    from siyu.segments import service as segments
    from siyu.segments.schemas import SegmentFilter
    from siyu.staff import service as staff
    from siyu.tenants import service as tenants

    dialect = backend_name(url)
    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    directory = workdir / "analytics"
    async with sessions() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug="bench-analytics", name="压测主播")
        user, _ = await staff.add_staff(
            session, tenant_id=tenant.id, email="owner@example.com", role="owner", password="bench-pass-42", name="店主"
        )
        signed = await staff.open_session(session, user=user, tenant_id=tenant.id, ip="127.0.0.1", hours=4)
    t0 = time.perf_counter()
    sql = (_pg_sql if dialect == "postgresql" else _sqlite_sql)(tenant.id, args.members, args.orders)
    async with engine.begin() as connection:
        for statement in sql[:-1]:
            await connection.execute(text(statement))
    async with engine.connect() as connection:
        # PostgreSQL: vacuumed now, so that no autovacuum of ten million new rows runs under the timings below
        done = await connection.execution_options(isolation_level="AUTOCOMMIT")
        await done.execute(text("VACUUM ANALYZE" if dialect == "postgresql" else "ANALYZE"))
    say(f"generated {args.orders:,} orders and {args.members:,} members in {time.perf_counter() - t0:.1f}s")

    async with sessions() as session, session.begin():
        t0 = time.perf_counter()
        built = await service.refresh(session, tenant_id=tenant.id, directory=directory, full=True)
        build_s = time.perf_counter() - t0
    say(f"full build: {built.rows:,} orders in {build_s:.2f}s")

    now = datetime.now(UTC)
    rfm_times = []
    async with sessions() as session, session.begin():
        for _ in range(5):
            t0 = time.perf_counter()
            result = await service.rfm_of(session, tenant_id=tenant.id, directory=directory, now=now)
            rfm_times.append(time.perf_counter() - t0)
    rfm_s = statistics.median(rfm_times)
    say(f"rfm: {result.members:,} members scored in {rfm_s:.3f}s (runs {[round(t, 3) for t in rfm_times]})")

    memory = duckdb.connect()
    memory.execute(f"ATTACH '{snapshot.path_of(directory, tenant.id)}' AS snap (READ_ONLY)")
    memory.execute("CREATE TABLE raw AS SELECT * FROM snap.orders WHERE member_id IS NOT NULL")
    memory.execute("DETACH snap")
    raw_times = []
    for _ in range(5):
        t0 = time.perf_counter()
        raw_rows = memory.execute(RAW, {"now": now.replace(tzinfo=None)}).fetchall()
        raw_times.append(time.perf_counter() - t0)
    raw_rfm_s = statistics.median(raw_times)
    assert sum(int(row[2]) for row in raw_rows) == result.members
    say(f"raw rfm query in memory: {raw_rfm_s:.3f}s")

    async with engine.begin() as connection:
        first, update = _change_sql(tenant.id, args.orders)
        await connection.execute(text(first))
        changed = (await connection.execute(text(update))).rowcount
    async with sessions() as session, session.begin():
        t0 = time.perf_counter()
        refreshed = await service.refresh(session, tenant_id=tenant.id, directory=directory)
        refresh_s = time.perf_counter() - t0
        after = await service.rfm_of(session, tenant_id=tenant.id, directory=directory, now=now)
        await service.refresh(session, tenant_id=tenant.id, directory=directory, full=True)
        rebuilt = await service.rfm_of(session, tenant_id=tenant.id, directory=directory, now=now)
    assert (after.grid, after.segments) == (rebuilt.grid, rebuilt.segments), "refresh and full build differ"
    say(f"{changed:,} orders changed; refresh read {refreshed.read:,} rows in {refresh_s:.2f}s")

    settings = Settings(database_url=url, env="test", data_dir=workdir, _env_file=None)  # type: ignore[call-arg]
    app = create_app(settings)
    app.state.engine, app.state.sessionmaker, app.state.limiter = engine, sessions, RateLimiter()
    cookies = {"siyu_session": signed.token}
    page_times = []
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
        for n in range(6):
            t0 = time.perf_counter()
            page = await client.get("/console/", cookies=cookies)
            elapsed = time.perf_counter() - t0
            assert page.status_code == 200 and 'data-stat="claim_rate"' in page.text, page.status_code
            if n:
                page_times.append(elapsed)
    dashboard_ms = statistics.median(page_times) * 1000
    say(f"dashboard page: {dashboard_ms:.0f} ms")

    counts: dict[str, float] = {}
    for name, rules in SEGMENTS.items():
        times = []
        for _ in range(3):
            async with sessions() as session, session.begin():
                t0 = time.perf_counter()
                found = await segments.preview_count(
                    session, tenant_id=tenant.id, rules=SegmentFilter.model_validate(rules), data_dir=workdir
                )
                times.append(time.perf_counter() - t0)
        counts[name] = statistics.median(times) * 1000
        say(f"segment {name}: {found:,} members counted in {counts[name]:.0f} ms (runs {[round(t, 3) for t in times]})")
    await engine.dispose()
    return {
        "database": dialect,
        "orders": args.orders,
        "members": args.members,
        "snapshot_rows": built.rows,
        "build_s": round(build_s, 3),
        "rfm_s": round(rfm_s, 3),
        "raw_rfm_s": round(raw_rfm_s, 3),
        "ratio": round(raw_rfm_s / rfm_s, 3),
        "changed_orders": changed,
        "refresh_s": round(refresh_s, 3),
        "refresh_ratio": round(refresh_s / build_s, 3),
        "dashboard_ms": round(dashboard_ms, 1),
        "segment_count_ms": round(max(counts.values()), 1),
        "segment_counts_ms": {name: round(ms, 1) for name, ms in counts.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--database-url", required=True, help="sqlite+aiosqlite:///... or postgresql+asyncpg://...")
    parser.add_argument("--orders", type=int, default=10_000_000)
    parser.add_argument("--members", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="siyu-bench-analytics-") as tmp:
        workdir = Path(tmp)
        with bench_database(args.database_url, workdir, "analytics") as url:
            report = asyncio.run(run(url, args, workdir))
    print(json.dumps(report, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
