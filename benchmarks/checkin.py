"""Check-in benchmark: distinct fans each check in twice at once over HTTP against the real app, next to the same
transaction behind a bare route of the same stack (checkin_floor.py).

    .venv/bin/python benchmarks/checkin.py --database-url URL [--fans 5000] [--concurrency 32] [--workers 2]

What it does (see benchmarks/README.md):
1. Creates a throw-away database, migrates it, and writes one tenant (the default check-in rules) and its members:
   `--fans` for the app, as many for the floor and a few for the warm-up (one executemany; not timed).
2. Serves the real app with `siyu serve --workers N` (production settings, no embedded job worker) and, from
   another process, sends every fan's check-in twice at once: `--concurrency` keep-alive connections in pairs,
   both connections of a pair going through the same fans in the same order (`POST /api/v1/fan/<slug>/checkin`
   with her bearer token). Then it counts in the database: check-in rows, check-in credits in the ledger, and
   any member credited twice for a day.
3. In the same run, the floor: checkin_floor.py served the same way (balanced.py, the same workers), driven the same way
   on the other fans: `floor_per_s`. `ratio` = `checkins_per_s` / `floor_per_s`.
4. Statements per attempt are counted in a short run of their own before the timed one (the app started with its
   statement counter, `COUNTED_FANS` more fans twice at once): the counter costs the server CPU the floor does not pay.
The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from benchdb import asyncpg_dsn, backend_name, bench_database, say
from claims import count_statements, percentile

SLUG = "bench-checkin"
SECRET = secrets.token_hex(32)
WARMUP_FANS = 64
COUNTED_FANS = 64
# The tenant's past: members who checked in every day of the last HISTORY_DAYS, with their credits, lots and balances
# (as a live tenant has; none of them checks in during the run). Without a past, the check-in's tables start empty
# and each database connection keeps the plans it made for their foreign-key checks then: scans that grow with
# every row the run writes.
HISTORY_MEMBERS = 5_000
HISTORY_DAYS = 10
# Database connections the served workers may hold together (the app with its overflow): under a stock PostgreSQL's 100.
POOL_BUDGET = 80
APP_OVERFLOW = 5  # SIYU_DB_MAX_OVERFLOW's default
# A request the server sheds (503 "busy": no database connection free within its pool timeout) is sent again after
# a short pause, as the app tells a fan's client to; it counts in `shed_503` and its latency runs from the first try.
SHED_RETRIES = 50
SHED_PAUSE = 0.1
NOW = datetime.now(UTC)


def seed(url: str, *, members: int) -> None:
    asyncio.run(_seed(url, members=members))


async def _seed(url: str, *, members: int) -> None:
    from sqlalchemy import insert, text

    from siyu.db import create_engine, create_sessionmaker
    from siyu.ledger import refs
    from siyu.members.models import Member
    from siyu.tenants import service as tenants

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            tenant = await tenants.create_tenant(session, slug=SLUG, name="压测直播间")
            rows = [
                {"tenant_id": tenant.id, "id": 1 + n, "nickname": f"粉丝{n}", "status": "active", "created_at": NOW}
                for n in range(members)
            ]
            past = [
                {"tenant_id": tenant.id, "id": 1 + members + n, "nickname": f"老粉{n}", "status": "active"}
                | {"created_at": NOW}
                for n in range(HISTORY_MEMBERS)
            ]
            for start in range(0, len(rows + past), 5_000):
                await session.execute(insert(Member), (rows + past)[start : start + 5_000])
            for statement in _HISTORY:
                await session.execute(
                    text(statement),
                    {"t": tenant.id, "first": 1 + members, "last": members + HISTORY_MEMBERS, "days": HISTORY_DAYS}
                    | {"tz": tenant.timezone, "ref": refs.CHECKIN},  # refs.checkin_ref, set-wise
                )
        async with engine.connect() as connection:
            await connection.execute(text("ANALYZE"))  # as autovacuum would have by now
            await connection.commit()
    finally:
        await engine.dispose()


# Member m's check-in of day d (1 = the oldest of HISTORY_DAYS, the last being yesterday in the tenant's timezone):
# entry and lot id (m - first) * days + d, far below any id the app makes (kit.ids); 2 points a day, 20 on the 7th in
# a row.
_PAST = """
    FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS m,
    generate_series(1, CAST(:days AS integer)) AS d,
    LATERAL (SELECT (now() AT TIME ZONE CAST(:tz AS text))::date - (CAST(:days AS integer) + 1 - d) AS day,
                    CASE WHEN d = 7 THEN 20 ELSE 2 END AS points,
                    (m - CAST(:first AS bigint)) * CAST(:days AS integer) + d AS n,
                    now() - make_interval(days => CAST(:days AS integer) + 1 - d) AS at) AS x
"""
_HISTORY = (
    "INSERT INTO checkins (tenant_id, member_id, day, streak, points, made_up_on, cost, created_at) "
    "SELECT :t, m, x.day, d, x.points, NULL, 0, x.at" + _PAST,
    "INSERT INTO ledger_entries (tenant_id, id, member_id, kind, amount, pending_amount, source_ref, lot_id, "
    "explanation, created_by, created_at) SELECT :t, x.n, m, 'earn', x.points, 0, :ref || ':' || m || ':' || x.day, "
    "x.n, '每日签到 连续第 ' || d || ' 天 +' || x.points, NULL, x.at" + _PAST,
    "INSERT INTO ledger_lots (tenant_id, id, member_id, entry_id, source_ref, amount, remaining, status, post_after, "
    "expires_at, created_at) SELECT :t, x.n, m, x.n, :ref || ':' || m || ':' || x.day, x.points, x.points, 'posted', "
    "NULL, NULL, x.at" + _PAST,
    "INSERT INTO ledger_balances (tenant_id, member_id, available, pending, debt, merged_into, updated_at) "
    "SELECT :t, m, sum(x.points), 0, 0, NULL, now()" + _PAST + " GROUP BY m",
)


def pool_per_worker(concurrency: int, workers: int) -> int:
    """Database connections of each worker, app and floor alike: enough for every client connection at once, so no
    request waits for one however the connections are spread. Capped so that all workers with the app's overflow
    stay within POOL_BUDGET."""
    return max(4, min(concurrency, POOL_BUDGET // workers - APP_OVERFLOW))


def serve(
    url: str, workers: int, workdir: Path, concurrency: int, *, floor: bool = False, count: bool = False
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """The real app (`siyu serve`; with `count`, counting its statements), or with `floor` the floor
    (checkin_floor.py) served the same way (balanced.py). Both get `pool_per_worker` database connections in each
    worker."""
    port = _free_port()
    log = workdir / ("floor.log" if floor else "server.log")
    pool = str(pool_per_worker(concurrency, workers))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIYU_")}
    bin_dir = Path(sys.executable).parent
    if floor:
        env.update(CHECKIN_FLOOR_DSN=asyncpg_dsn(url), CHECKIN_FLOOR_SECRET=SECRET, CHECKIN_FLOOR_POOL=pool)
        command = [sys.executable, str(Path(__file__).parent / "balanced.py"), "checkin_floor:app"]
    else:
        env.update(
            SIYU_DATABASE_URL=url,
            SIYU_ENV="production",
            SIYU_SECRET_KEY=SECRET,
            SIYU_LOG_LEVEL="WARNING",
            SIYU_EMBEDDED_WORKER="false",
            SIYU_DB_POOL_SIZE=pool,
            SIYU_DATA_DIR=str(workdir / "var"),
        )
        if count:
            statements = workdir / "statements"
            statements.mkdir(exist_ok=True)
            env["SIYU_COUNT_STATEMENTS"] = str(statements)
        command = [str(bin_dir / "siyu"), "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    process = subprocess.Popen(command, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT)  # noqa: S603
    import httpx

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process, port, log
        except httpx.HTTPError:
            pass
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    raise RuntimeError("the server did not start:\n" + log.read_text(errors="replace")[-3000:])


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def token(tenant_id: int, member_id: int) -> str:
    from siyu.fans.service import access_token

    return access_token(SECRET, tenant_id=tenant_id, member_id=member_id, now=time.time() + 3600)


def _request(token: str) -> str:
    return (
        f"POST /api/v1/fan/{SLUG}/checkin HTTP/1.1\r\nHost: bench\r\nAuthorization: Bearer {token}\r\n"
        "Content-Length: 0\r\n\r\n"
    )


async def _client(
    port: int,
    requests: list[bytes],
    latencies: list[float],
    outcomes: list[str],
    shed: list[int],
    start: asyncio.Event,
) -> None:
    """One keep-alive connection: its requests one after another (HTTP/1.1 written by hand: the client must cost
    little next to the server it measures)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    await start.wait()
    try:
        for request in requests:
            began = time.perf_counter()
            for _attempt in range(SHED_RETRIES):
                writer.write(request)
                status, length = _head(await reader.readuntil(b"\r\n\r\n"))
                payload = await reader.readexactly(length)
                if not status.startswith(b"HTTP/1.1 503"):
                    break
                shed.append(1)  # the server had no connection free in time: asked to come back, she does
                await asyncio.sleep(SHED_PAUSE)
            latencies.append(time.perf_counter() - began)  # from her first tap to the answer she kept
            if not status.startswith(b"HTTP/1.1 200"):
                outcomes.append(f"http {status.split()[1].decode()}: {payload[:120].decode(errors='replace')}")
            else:
                outcomes.append("created" if json.loads(payload)["created"] else "again")
    finally:
        writer.close()


def _head(head: bytes) -> tuple[bytes, int]:
    """The status line and Content-Length of a response's head (read whole, up to its blank line)."""
    status, _, fields = head.partition(b"\r\n")
    at = fields.lower().find(b"content-length:")
    if at < 0:
        return status, 0
    return status, int(fields[at + 15 : fields.index(b"\r\n", at)])


def drive(port: int, plans: list[list[str]], queue: Any) -> None:
    """In a process of its own: every plan on its own connection, all at once; timings and outcomes."""

    async def main() -> dict[str, Any]:
        start = asyncio.Event()
        latencies: list[list[float]] = [[] for _ in plans]
        outcomes: list[list[str]] = [[] for _ in plans]
        shed: list[int] = []
        tasks = [
            asyncio.create_task(_client(port, [r.encode() for r in plan], latencies[i], outcomes[i], shed, start))
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
            "shed": len(shed),
        }

    import uvloop  # the server's loop too: the client's own CPU, on the same cores, is kept small

    queue.put(uvloop.run(main()))


def run_plans(port: int, plans: list[list[str]]) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=drive, args=(port, plans, queue))
    process.start()
    result: dict[str, Any] = queue.get()
    process.join()
    return result


def twice_at_once(tokens: list[str], concurrency: int) -> list[list[str]]:
    """`concurrency` connections in pairs; both of a pair check the same fans in, in the same order."""
    pairs = max(1, concurrency // 2)
    plans: list[list[str]] = []
    for p in range(pairs):
        mine = [_request(t) for t in tokens[p::pairs]]
        plans += [mine, list(mine)]
    return plans


async def counts(url: str, tenant_id: int, first: int, last: int) -> dict[str, int]:
    """Check-in rows, check-in credits and doubles (a member with two rows or two credits for a day) of the members
    first..last."""
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        rows = await connection.fetchval(
            "SELECT count(*) FROM checkins WHERE tenant_id = $1 AND member_id BETWEEN $2 AND $3", tenant_id, first, last
        )
        credits = await connection.fetchval(
            "SELECT count(*) FROM ledger_entries WHERE tenant_id = $1 AND kind = 'earn' AND source_ref LIKE 'checkin:%'"
            " AND member_id BETWEEN $2 AND $3",
            tenant_id,
            first,
            last,
        )
        doubles = await connection.fetchval(
            "SELECT count(*) FROM (SELECT member_id FROM ledger_entries WHERE tenant_id = $1 AND kind = 'earn' "
            "AND source_ref LIKE 'checkin:%' AND member_id BETWEEN $2 AND $3 GROUP BY member_id HAVING count(*) > 1) d",
            tenant_id,
            first,
            last,
        )
        return {"rows": int(rows), "credits": int(credits), "doubles": int(doubles)}
    finally:
        await connection.close()


async def tenant_id_of(url: str) -> int:
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        return int(await connection.fetchval("SELECT id FROM tenants WHERE slug = $1", SLUG))
    finally:
        await connection.close()


def statements_per_attempt(
    url: str, workers: int, workdir: Path, tokens: list[str], concurrency: int
) -> tuple[float, str]:
    """The app's statements per check-in attempt, in a run of its own with the counter on (these fans twice at
    once, as in the timed run)."""
    process, port, log = serve(url, workers, workdir, concurrency, count=True)
    try:
        before, counted_by = count_statements(url, workdir, reset=True)
        result = run_plans(port, twice_at_once(tokens, concurrency))
        after = count_statements(url, workdir)[0]
    finally:
        process.terminate()
        process.wait(timeout=30)
    _check_outcomes(result, "counted app", log)
    return (after - before) / max(1, len(result["latencies"])), counted_by


def _check_outcomes(result: dict[str, Any], what: str, log: Path) -> None:
    wrong = [o for o in result["outcomes"] if o not in ("created", "again")]
    if wrong:
        say(f"{what} log tail:\n{log.read_text(errors='replace')[-3000:]}")
        raise RuntimeError(f"{len(wrong)} {what} check-ins failed, e.g. {wrong[:3]}")


def measured(
    url: str, workers: int, workdir: Path, tokens: list[str], warm: list[str], concurrency: int, *, floor: bool
) -> dict[str, Any]:
    process, port, log = serve(url, workers, workdir, concurrency, floor=floor)
    what = "floor" if floor else "app"
    try:
        run_plans(port, twice_at_once(warm, concurrency))
        result = run_plans(port, twice_at_once(tokens, concurrency))
    finally:
        process.terminate()
        process.wait(timeout=30)
    _check_outcomes(result, what, log)
    result["per_s"] = len(result["latencies"]) / result["elapsed"]
    result["created"] = result["outcomes"].count("created")
    say(
        f"{what}: {result['per_s']:.0f} check-ins/s, p50 {percentile(result['latencies'], 0.5):.1f} ms, "
        f"p99 {percentile(result['latencies'], 0.99):.1f} ms, {result['created']} created, {result['shed']} shed (503)"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--fans", type=int, default=5_000, help="distinct fans, each checking in twice at once")
    parser.add_argument("--concurrency", type=int, default=32, help="keep-alive connections (in pairs)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes")
    parser.add_argument("--floor", action=argparse.BooleanOptionalAction, default=True, help="also run the floor")
    args = parser.parse_args()
    if backend_name(args.database_url) != "postgresql":
        raise SystemExit("the check-in benchmark needs PostgreSQL (the floor uses asyncpg)")
    fans = args.fans
    members = 2 * fans + 2 * WARMUP_FANS + COUNTED_FANS
    with (
        tempfile.TemporaryDirectory() as tmp,
        bench_database(args.database_url, Path(tmp), "checkin", lambda url: seed(url, members=members)) as url,
    ):
        tenant_id = asyncio.run(tenant_id_of(url))
        say(f"seeded {members} members; {fans} fans check in twice at once on {args.concurrency} connections")
        tokens = [token(tenant_id, 1 + n) for n in range(members)]
        app_fans, floor_fans = tokens[:fans], tokens[fans : 2 * fans]
        warm_app = tokens[2 * fans : 2 * fans + WARMUP_FANS]
        warm_floor = tokens[2 * fans + WARMUP_FANS : 2 * fans + 2 * WARMUP_FANS]
        counted = tokens[2 * fans + 2 * WARMUP_FANS :]
        statements, counted_by = statements_per_attempt(url, args.workers, Path(tmp), counted, args.concurrency)
        say(f"app: {statements:.2f} statements per attempt ({counted_by}, {2 * len(counted)} attempts)")
        app = measured(url, args.workers, Path(tmp), app_fans, warm_app, args.concurrency, floor=False)
        found = asyncio.run(counts(url, tenant_id, 1, fans))
        say(f"app: {found['rows']} check-ins stored, {found['credits']} credits, {found['doubles']} doubles")
        floor = None
        if args.floor:
            floor = measured(url, args.workers, Path(tmp), floor_fans, warm_floor, args.concurrency, floor=True)
    result: dict[str, Any] = {
        "database": "postgresql",
        "workers": args.workers,
        "concurrency": args.concurrency,
        "pool_per_worker": pool_per_worker(args.concurrency, args.workers),
        "attempts": len(app["latencies"]),
        "members": fans,
        "credits": found["credits"],
        "checkins_stored": found["rows"],
        "created_answers": app["created"],
        "double_credits": found["doubles"],
        "checkins_per_s": round(app["per_s"], 1),
        "p50_ms": round(percentile(app["latencies"], 0.5), 2),
        "p99_ms": round(percentile(app["latencies"], 0.99), 2),
        "statements_per_attempt": round(statements, 2),
        "shed_503": app["shed"],
        "floor_shed_503": floor["shed"] if floor else None,
        "statements_counted_by": counted_by,
        "floor_per_s": round(floor["per_s"], 1) if floor else None,
        "floor_p99_ms": round(percentile(floor["latencies"], 0.99), 2) if floor else None,
        "ratio": round(app["per_s"] / floor["per_s"], 3) if floor else None,
        "cpu_cores": os.cpu_count(),
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    result["targets_met"] = {
        "exactly_once": found["credits"] == fans == found["rows"] and found["doubles"] == 0,
        "ratio>=0.5": floor is not None and result["ratio"] >= 0.5,
        "p99<=60ms": result["p99_ms"] <= 60,
    }
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
