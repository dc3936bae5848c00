"""Claims benchmark: fans claim orders over HTTP against the real app, next to the same transaction in raw SQL.

    .venv/bin/python benchmarks/claims.py --database-url URL [--workers 2] [--fans 16] [--claims 200]

What it does (see benchmarks/README.md):
1. Creates a throw-away database, migrates it, and writes one tenant (default points policy, no campaigns),
   its members and its paid Taobao orders (one executemany each; not timed).
2. Serves the real app with `siyu serve --workers N` in a subprocess (production settings, no embedded job
   worker) and, from another process, has `--fans` concurrent fans claim their own orders over HTTP/1.1 with
   keep-alive (`POST /api/v1/fan/<slug>/claims` with a fan bearer token): a warm-up round, then `--claims`
   claims each, timed; claims/s and latency percentiles.
3. In the same run, the machine's limit: the same claim transaction in raw SQL through asyncpg at the same
   concurrency (read the order, lock the member's balance, look for an earlier credit, write the entry, the lot,
   the balance and the claim; commit), on orders of its own.
4. The race: `--race-clients` clients (each a member behind its own forwarded IP) claim the same
   `--race-orders` orders over HTTP at once, all in the same order. Then it counts credit lots and credited
   claims per order: exactly one each, nothing double.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from benchdb import asyncpg_dsn, backend_name, bench_database, say

# The statements are the floor's (claims_floor.py): one transaction, measured behind HTTP and without it.
from claims_floor import (
    RAW_BALANCE,
    RAW_CLAIM,
    RAW_CREDITED,
    RAW_ENTRY,
    RAW_LOCK,
    RAW_LOT,
    RAW_OPEN,
    RAW_ORDER,
)

SLUG = "bench-claims"
SECRET = secrets.token_hex(32)
WARMUP = 10  # claims per fan before timing starts
NOW = datetime.now(UTC)


# Seeding ------------------------------------------------------------------------------------------------


def order_id(n: int) -> str:
    return f"1930{n:015d}"


def seed(url: str, *, members: int, orders: int) -> None:
    asyncio.run(_seed(url, members=members, orders=orders))


async def _seed(url: str, *, members: int, orders: int) -> None:
    from sqlalchemy import insert

    from siyu.claims.schemas import ClaimPolicy
    from siyu.db import create_engine, create_sessionmaker
    from siyu.members.models import Member
    from siyu.orders.models import STATUS_RANK, Order
    from siyu.tenants import service as tenants

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            tenant = await tenants.create_tenant(session, slug=SLUG, name="压测直播间")
            # The race sends every client ~1,000 "claimed by someone else", and every fan claims as fast as she
            # can: lockouts and per-minute limits would stop them at the door.
            policy = ClaimPolicy(
                max_failures=10_000, window_days=30, per_minute=100_000, ip_per_minute=1_000_000
            ).model_dump(mode="json")
            await tenants.put_setting(session, tenant_id=tenant.id, key="claims", value=policy)
            await session.execute(
                insert(Member),
                [
                    {"tenant_id": tenant.id, "id": 1 + n, "nickname": f"粉丝{n}", "status": "active", "created_at": NOW}
                    for n in range(members)
                ],
            )
            paid = NOW - timedelta(days=2)
            rows = [
                {
                    "tenant_id": tenant.id,
                    "platform": "taobao",
                    "order_id": order_id(n),
                    "status": "paid",
                    "status_rank": STATUS_RANK["paid"],
                    "paid_fen": 9_900 + (n % 50) * 1_000,
                    "refund_fen": 0,
                    "item_count": 1,
                    "title": "珀莱雅双抗精华液",
                    "buyer_nick": f"t**{n % 10}",
                    "placed_at": paid,
                    "paid_at": paid,
                    "first_seen_at": paid,
                    "last_changed_at": paid,
                }
                for n in range(orders)
            ]
            for start in range(0, len(rows), 5_000):
                await session.execute(insert(Order), rows[start : start + 5_000])
    finally:
        await engine.dispose()


# The HTTP side ------------------------------------------------------------------------------------------


def serve(url: str, workers: int, workdir: Path, *, floor: bool = False) -> tuple[subprocess.Popen[bytes], str, Path]:
    """The real app (`siyu serve`), or with `floor` the stack's floor (claims_floor.py) served the same way
    (balanced.py)."""
    port = _free_port()
    log = workdir / ("floor.log" if floor else "server.log")
    pool = str(max(4, 24 // workers))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIYU_")}
    bin_dir = Path(sys.executable).parent
    if floor:
        env.update(CLAIMS_FLOOR_DSN=asyncpg_dsn(url), CLAIMS_FLOOR_SECRET=SECRET, CLAIMS_FLOOR_POOL=pool)
        command = [sys.executable, str(Path(__file__).parent / "balanced.py"), "claims_floor:app"]
    else:
        env.update(
            SIYU_DATABASE_URL=url,
            SIYU_ENV="production",
            SIYU_SECRET_KEY=SECRET,
            SIYU_LOG_LEVEL="WARNING",
            SIYU_EMBEDDED_WORKER="false",
            SIYU_DB_POOL_SIZE=pool,
            SIYU_DATA_DIR=str(workdir / "var"),
            SIYU_COUNT_STATEMENTS=str(_statements_dir(workdir)),
        )
        command = [str(bin_dir / "siyu"), "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)  # noqa: S603
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    import httpx

    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return process, base, log
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start:\n" + log.read_text(errors="replace")[-3000:])


def _statements_dir(workdir: Path) -> Path:
    path = workdir / "statements"
    path.mkdir(exist_ok=True)
    return path


async def _pg_stat_statements(url: str, *, reset: bool) -> int | None:
    """Statements run in the benchmark's database so far (transaction control left out), by pg_stat_statements
    when the server has it loaded; None when it has not."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        libraries = await connection.fetchval("SHOW shared_preload_libraries")
        if "pg_stat_statements" not in (libraries or ""):
            return None
        await connection.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
        if reset:
            await connection.execute("SELECT pg_stat_statements_reset()")
            return 0
        calls = await connection.fetchval(
            "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid "
            "WHERE d.datname = current_database() AND query !~* '^\\s*(BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE)'"
        )
        return int(calls)
    except asyncpg.PostgresError:
        return None
    finally:
        await connection.close()


def count_statements(url: str, workdir: Path, *, reset: bool = False) -> tuple[int, str]:
    """(statements so far, how they were counted): pg_stat_statements where loaded, else the server's own hook."""
    time.sleep(0.5)  # the servers write their counts a few times a second
    counted = asyncio.run(_pg_stat_statements(url, reset=reset))
    if counted is not None:
        return counted, "pg_stat_statements"
    from siyu.kit.statements import total

    return total(_statements_dir(workdir)), "execute_hook"


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _client(
    port: int, requests: list[tuple[str, bytes]], latencies: list[float], outcomes: list[str], start: asyncio.Event
) -> None:
    """One fan's keep-alive connection: her requests one after another (HTTP/1.1, written by hand: the
    client must cost little next to the server it measures)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await start.wait()
    try:
        for head, body in requests:
            began = time.perf_counter()
            writer.write(head + body)
            status = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            payload = await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            if not status.startswith(b"HTTP/1.1 200"):
                outcomes.append(f"http {status.split()[1].decode()}: {payload[:120].decode(errors='replace')}")
            else:
                outcomes.append(json.loads(payload)["outcome"])
    finally:
        writer.close()


def _request(slug: str, token: str, order: str, forwarded: str | None) -> tuple[str, bytes]:
    body = json.dumps({"platform": "taobao", "order": order}).encode()
    extra = f"X-Forwarded-For: {forwarded}\r\n" if forwarded else ""
    head = (
        f"POST /api/v1/fan/{slug}/claims HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
    )
    return head, body


def drive(port: int, plans: list[list[tuple[str, bytes]]], queue: Any) -> None:
    """In a process of its own: run every plan on its own connection at once; report timings and outcomes."""

    async def main() -> dict[str, Any]:
        start = asyncio.Event()
        latencies: list[list[float]] = [[] for _ in plans]
        outcomes: list[list[str]] = [[] for _ in plans]
        tasks = [
            asyncio.create_task(_client(port, [(h.encode(), b) for h, b in plan], latencies[i], outcomes[i], start))
            for i, plan in enumerate(plans)
        ]
        await asyncio.sleep(0.2)  # every connection open
        began = time.perf_counter()
        start.set()
        failures = [r for r in await asyncio.gather(*tasks, return_exceptions=True) if isinstance(r, BaseException)]
        for failure in failures:
            outcomes[0].append(f"client error: {failure!r}")
        return {
            "elapsed": time.perf_counter() - began,
            "latencies": [x for xs in latencies for x in xs],
            "outcomes": [x for xs in outcomes for x in xs],
        }

    queue.put(asyncio.run(main()))


def run_plans(port: int, plans: list[list[tuple[str, str]]]) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    encoded = [[(h, b) for h, b in plan] for plan in plans]
    process = context.Process(target=drive, args=(port, encoded, queue))
    process.start()
    result: dict[str, Any] = queue.get()
    process.join()
    return result


def token(tenant_id: int, member_id: int) -> str:
    from siyu.fans.service import access_token

    return access_token(SECRET, tenant_id=tenant_id, member_id=member_id, now=time.time() + 3600)


# The raw SQL side ---------------------------------------------------------------------------------------


async def raw_sql(url: str, tenant_id: int, plans: list[tuple[int, list[str]]]) -> tuple[float, list[float]]:
    """The same claim transaction through asyncpg; one connection per fan, all at once."""
    import asyncpg

    ids = iter(range(10**15, 2 * 10**15))
    latencies: list[float] = []

    async def fan(connection: asyncpg.Connection, member_id: int, orders: list[str]) -> None:
        await connection.execute(RAW_OPEN, tenant_id, member_id)
        for order in orders:
            began = time.perf_counter()
            async with connection.transaction():
                row = await connection.fetchrow(RAW_ORDER, tenant_id, "taobao", order)
                await connection.fetchrow(RAW_LOCK, tenant_id, member_id)
                ref = f"order:taobao:{order}"
                if row is None or await connection.fetchrow(RAW_CREDITED, tenant_id, ref) is not None:
                    continue
                points = row["paid_fen"] // 1000
                entry, lot, claim = next(ids), next(ids), next(ids)
                note = f"订单 {order} 获得 {points} 积分"
                await connection.execute(RAW_ENTRY, tenant_id, entry, member_id, points, ref, lot, note, "bench")
                await connection.execute(RAW_LOT, tenant_id, lot, member_id, entry, ref, points)
                await connection.execute(RAW_BALANCE, tenant_id, member_id, points)
                await connection.execute(
                    RAW_CLAIM, tenant_id, claim, member_id, "taobao", order, "credited", note, points
                )
            latencies.append(time.perf_counter() - began)

    connections = [await asyncpg.connect(asyncpg_dsn(url)) for _ in plans]
    try:
        began = time.perf_counter()
        await asyncio.gather(*(fan(c, m, o) for c, (m, o) in zip(connections, plans, strict=True)))
        elapsed = time.perf_counter() - began
    finally:
        for connection in connections:
            await connection.close()
    return elapsed, latencies


async def race_counts(url: str, tenant_id: int, orders: list[str]) -> tuple[int, int, int]:
    """(orders with a credit lot, credited claims, orders credited more than once)."""
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        refs = [f"order:taobao:{o}" for o in orders]
        lots = await connection.fetchval(
            "SELECT count(DISTINCT source_ref) FROM ledger_lots WHERE tenant_id = $1 AND source_ref = ANY($2)",
            tenant_id,
            refs,
        )
        credited = await connection.fetchval(
            "SELECT count(*) FROM claims WHERE tenant_id = $1 AND outcome = 'credited' AND order_id = ANY($2)",
            tenant_id,
            orders,
        )
        doubles = await connection.fetchval(
            "SELECT count(*) FROM (SELECT order_id FROM claims WHERE tenant_id = $1 AND outcome = 'credited' "
            "AND order_id = ANY($2) GROUP BY order_id HAVING count(*) > 1) AS twice",
            tenant_id,
            orders,
        )
        return int(lots), int(credited), int(doubles)
    finally:
        await connection.close()


async def tenant_id_of(url: str) -> int:
    import asyncpg

    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return int(await connection.fetchval("SELECT id FROM tenants WHERE slug = $1", SLUG))
    finally:
        await connection.close()


def floor_run(
    url: str, workers: int, workdir: Path, tokens: list[str], fans: int, per_fan: int, *, first_order: int
) -> dict[str, float]:
    """The stack's floor, driven exactly as the app: its claims/s, p99 and share of the real app's route."""
    process, base, log = serve(url, workers, workdir, floor=True)
    port = int(base.rsplit(":", 1)[1])
    try:
        say(f"floor: uvicorn + FastAPI + asyncpg, the raw transaction only, on {base}")
        plans = [
            [_request(SLUG, tokens[-1 - f], order_id(first_order + f * per_fan + k), None) for k in range(per_fan)]
            for f in range(fans)
        ]
        run_plans(port, [plan[:WARMUP] for plan in plans])
        timed = run_plans(port, [plan[WARMUP:] for plan in plans])
    finally:
        process.terminate()
        process.wait(timeout=30)
    wrong = [o for o in timed["outcomes"] if o != "credited"]
    if wrong:
        say(f"floor log tail:\n{log.read_text(errors='replace')[-2000:]}")
        raise RuntimeError(f"{len(wrong)} floor claims were not credited, e.g. {wrong[:3]}")
    per_s = len(timed["latencies"]) / timed["elapsed"]
    say(f"floor: {per_s:.0f} claims/s, p99 {percentile(timed['latencies'], 0.99):.1f} ms")
    return {"floor_claims_per_s": round(per_s, 1), "floor_p99_ms": round(percentile(timed["latencies"], 0.99), 2)}


# The run ------------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000 if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--fans", type=int, default=16, help="concurrent fans (and raw SQL connections)")
    parser.add_argument("--claims", type=int, default=200, help="timed claims per fan")
    parser.add_argument("--race-clients", type=int, default=32)
    parser.add_argument("--race-orders", type=int, default=1_000)
    parser.add_argument(
        "--floor",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also serve the stack's floor (claims_floor.py: the raw transaction behind the same route)",
    )
    args = parser.parse_args()
    if backend_name(args.database_url) != "postgresql":
        raise SystemExit("the claims benchmark needs PostgreSQL (the raw SQL side uses asyncpg)")

    per_fan = WARMUP + args.claims
    fans = args.fans
    http_orders = fans * per_fan
    raw_orders = fans * args.claims
    floor_orders = fans * per_fan if args.floor else 0
    members = 3 * fans + args.race_clients
    total_orders = http_orders + raw_orders + args.race_orders + floor_orders
    rng = random.Random(7)
    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_database(
            args.database_url,
            Path(tmp),
            "claims",
            lambda url: seed(url, members=members, orders=total_orders),
        ) as url,
    ):
        tenant_id = asyncio.run(tenant_id_of(url))
        say(f"seeded {members} members and {total_orders} paid orders")
        # The raw transaction first, while no server holds connections: --fans connections of its own fit within a
        # stock PostgreSQL's 100 even at 64 fans.
        raw_plans = [
            (1 + fans + f, [order_id(http_orders + f * args.claims + k) for k in range(args.claims)])
            for f in range(fans)
        ]
        raw_elapsed, raw_latencies = asyncio.run(raw_sql(url, tenant_id, raw_plans))
        raw_tps = len(raw_latencies) / raw_elapsed
        say(f"raw SQL: {raw_tps:.0f} claim transactions/s, p50 {percentile(raw_latencies, 0.5):.1f} ms")
        process, base, log = serve(url, args.workers, Path(tmp))
        port = int(base.rsplit(":", 1)[1])
        try:
            say(f"serving on {base} with {args.workers} workers; {fans} fans claim {args.claims} orders each")
            tokens = [token(tenant_id, 1 + n) for n in range(members)]
            warm = [
                [_request(SLUG, tokens[f], order_id(f * per_fan + k), None) for k in range(WARMUP)] for f in range(fans)
            ]
            run_plans(port, warm)
            timed = [
                [_request(SLUG, tokens[f], order_id(f * per_fan + WARMUP + k), None) for k in range(args.claims)]
                for f in range(fans)
            ]
            before, counted_by = count_statements(url, Path(tmp), reset=True)
            http = run_plans(port, timed)
            after, _ = count_statements(url, Path(tmp))
            statements_per_claim = (after - before) / max(1, len(http["latencies"]))
            # A claim the server shed (503 busy: no connection free within the pool's wait) was answered, and told
            # to come back; anything else but a credit is a failure.
            shed = sum(1 for o in http["outcomes"] if o.startswith("http 503"))
            wrong = [o for o in http["outcomes"] if o != "credited" and not o.startswith("http 503")]
            if wrong:
                tail = log.read_text(errors="replace")[-4000:]
                raise RuntimeError(f"{len(wrong)} claims were not credited, e.g. {wrong[:3]}\nserver log:\n{tail}")
            claims_per_s = len(http["latencies"]) / http["elapsed"]
            say(
                f"HTTP: {claims_per_s:.0f} claims/s, p50 {percentile(http['latencies'], 0.5):.1f} ms, "
                f"{statements_per_claim:.1f} statements a claim ({counted_by})"
            )

            race = [order_id(http_orders + raw_orders + k) for k in range(args.race_orders)]
            race_plans = [
                [_request(SLUG, tokens[2 * fans + c], o, f"10.{c}.{rng.randint(0, 255)}.1") for o in race]
                for c in range(args.race_clients)
            ]
            say(f"race: {args.race_clients} clients claim the same {args.race_orders} orders")
            raced = run_plans(port, race_plans)
            errors = [o for o in raced["outcomes"] if o.startswith("http")]
            lots, credited, doubles = asyncio.run(race_counts(url, tenant_id, race))
            say(f"race: {lots} orders credited, {credited} credited claims, {len(errors)} HTTP errors")
        finally:
            process.terminate()
            process.wait(timeout=30)
        if errors:
            say(f"server log tail:\n{log.read_text(errors='replace')[-2000:]}")
        floor = None
        if args.floor:
            floor = floor_run(
                url, args.workers, Path(tmp), tokens, fans, per_fan, first_order=total_orders - floor_orders
            )
    result = {
        "database": "postgresql",
        "workers": args.workers,
        "fans": fans,
        "claims": len(http["latencies"]),
        "claims_per_s": round(claims_per_s, 1),
        "p50_ms": round(percentile(http["latencies"], 0.5), 2),
        "p99_ms": round(percentile(http["latencies"], 0.99), 2),
        "raw_sql_tps": round(raw_tps, 1),
        "raw_p99_ms": round(percentile(raw_latencies, 0.99), 2),
        "ratio": round(claims_per_s / raw_tps, 3),
        "statements_per_claim": round(statements_per_claim, 2),
        "shed_503": shed,
        "statements_counted_by": counted_by,
        "race_orders": args.race_orders,
        "race_credits": lots,
        "race_credited_claims": credited,
        "double_credits": doubles + max(0, credited - lots),
        "race_http_errors": len(errors),
        "race_attempts_per_s": round(len(raced["outcomes"]) / raced["elapsed"], 1),
        **(floor or {}),
        "cpu_cores": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    if floor:
        result["floor_ratio"] = round(floor["floor_claims_per_s"] / raw_tps, 3)
        result["app_share_of_floor"] = round(claims_per_s / floor["floor_claims_per_s"], 3)
    result["targets_met"] = {
        "app_share_of_floor>=0.5": bool(floor) and result["app_share_of_floor"] >= 0.5,
        "p99<=60ms": result["p99_ms"] <= 60,
        "statements_per_claim<=10": result["statements_per_claim"] <= 10,
        "race_exactly_once": lots == args.race_orders == credited and result["double_credits"] == 0,
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
