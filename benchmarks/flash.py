"""Flash redemption benchmark: distinct fans redeem one reward of limited stock the instant it opens, over HTTP,
next to the stack's floor doing the same.

    .venv/bin/python benchmarks/flash.py --database-url URL --redis-url URL [--path api|h5] [--members 10000]

What it does (see benchmarks/README.md):
1. Creates a throw-away database, migrates it, seeds one tenant and `--members` members (one set-wise insert),
   each credited 1,000 points through the ledger's batch path (`siyu.ledger.batch.earn_many`), and two coupon
   rewards of `--stock` stock at 100 points, one per member: one for the app, one for the floor.
2. Serves the real app (`siyu serve --workers N`, production settings, SIYU_REDIS_URL set: the Redis flash
   gate admits first, the database decides). Its reward opens a few seconds after the server is up.
3. From a separate process, `--connections` keep-alive HTTP/1.1 connections (a hand-written client: bounded
   connections, no retries; an attempt whose connection fails is a transport error, never retried) fire one
   attempt per member at the opening instant: with `--path api` (default) the fans' JSON API
   (`POST /api/v1/fan/<slug>/mall/rewards/<id>/redeem`, a fan bearer token); with `--path h5` the H5 form as its
   htmx button posts it (the fan's signed cookie, `HX-Request: true`). 200 is a redemption, 409 sold out.
4. The floor (flash_floor.py; `--no-floor` skips it): the same routes under uvicorn with the same workers,
   FastAPI and the token / cookie check, doing only the Redis admission and, when admitted, the raw redemption
   transaction through asyncpg; driven the same way on the second reward.
5. Checks in the database: redemptions per reward, stock left, the ledger's invariants
   (siyu.ledger.audit.check_invariants), and every member's balance is 1,000 less 100 per redemption she has.
The last line printed is one JSON object: attempts, stock, sold, oversold, points_ok, attempts_per_s,
floor_attempts_per_s, ratio, transport_errors, statuses, ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchdb import asyncpg_dsn, backend_name, bench_database, say

TENANT_SLUG = "bench-flash"
POINTS, PRICE = 1_000, 100
OPEN_AFTER_S = 3.0  # from the server being up: the client starts and connects meanwhile
SECRET = secrets.token_hex(32)


async def seed(url: str, members: int, stock: int) -> dict[str, Any]:
    import polars as pl

    from siyu.db import create_engine, create_sessionmaker
    from siyu.kit import bulk
    from siyu.kit.ids import new_id
    from siyu.kit.web import Principal
    from siyu.ledger import batch
    from siyu.mall import service as mall
    from siyu.mall.models import RewardKind
    from siyu.mall.schemas import RewardIn
    from siyu.tenants import service as tenants

    engine = create_engine(url)
    sessions = create_sessionmaker(engine)
    far = datetime.now(UTC) + timedelta(days=1)  # moved to the real opening once the server is up
    try:
        async with sessions() as session, session.begin():
            tenant = await tenants.create_tenant(session, slug=TENANT_SLUG, name="压测直播间")
            ids = [new_id() for _ in range(members)]
            frame = pl.DataFrame(
                {"id": ids, "nickname": [f"粉丝{n}" for n in range(members)]},
                schema={"id": pl.Int64, "nickname": pl.String},
            )
            constants: dict[str, int | str | datetime] = {
                "tenant_id": tenant.id,
                "status": "active",
                "created_at": datetime.now(UTC) - timedelta(days=30),
            }
            await bulk.insert_new(session, "members", [("id", "int"), ("nickname", "text")], frame, constants)
        for start in range(0, members, 5000):
            async with sessions() as session, session.begin():
                credits = [
                    batch.Credit(
                        member_id=m,
                        source_ref=f"order:douyin:{9_000_000_000 + n}",
                        amount=POINTS,
                        explanation="订单积分",
                        pending=False,
                    )
                    for n, m in enumerate(ids[start : start + 5000], start=start)
                ]
                await batch.earn_many(session, tenant_id=tenant.id, credits=credits)
        h5_sessions: dict[int, int] = {}  # member -> her H5 session (the cookie names one the server can end)
        async with sessions() as session, session.begin():
            from siyu.fans.models import RefreshToken
            from siyu.kit.security import hash_token, new_token

            for member_id in ids:
                family = new_id()
                h5_sessions[member_id] = family
                session.add(
                    RefreshToken(
                        tenant_id=tenant.id,
                        id=new_id(),
                        member_id=member_id,
                        family_id=family,
                        token_hash=hash_token(new_token()),
                        expires_at=datetime.now(UTC) + timedelta(days=30),
                        created_at=datetime.now(UTC),
                    )
                )
        rewards = []
        async with sessions() as session, session.begin():
            actor = Principal(tenant_id=tenant.id, kind="system", actor_id=None, label="压测", permissions=frozenset())
            for title in ("双11 限量券", "压测下限用券"):
                reward = await mall.create_reward(
                    session,
                    actor=actor,
                    data=RewardIn(
                        kind=RewardKind.coupon,
                        title=title,
                        points_price=PRICE,
                        stock=stock,
                        redeem_from=far,
                        limit_per_member=1,  # one each, as flash openings go (and what the Redis gate fronts)
                    ),
                )
                rewards.append(reward.id)
        return {
            "tenant_id": tenant.id,
            "reward_id": rewards[0],
            "floor_reward_id": rewards[1],
            "members": ids,
            "h5_sessions": h5_sessions,
        }
    finally:
        await engine.dispose()


async def set_opening(url: str, tenant_id: int, reward_id: int, opens_at: float) -> None:
    from sqlalchemy import update

    from siyu.db import create_engine, create_sessionmaker
    from siyu.mall.models import Reward

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            await session.execute(
                update(Reward)
                .where(Reward.tenant_id == tenant_id, Reward.id == reward_id)
                .values(redeem_from=datetime.fromtimestamp(opens_at, UTC))
            )
    finally:
        await engine.dispose()


# The client ------------------------------------------------------------------------------------------------


def requests_for(
    path: str, tenant_id: int, reward_id: int, members: list[int], h5_sessions: dict[int, int] | None = None
) -> list[bytes]:
    """One attempt per member, as raw HTTP/1.1 requests (signed before the clock starts)."""
    from siyu.fans.service import access_token
    from siyu.h5.fans import cookie_name, cookie_value

    out = []
    sessions = {int(k): v for k, v in (h5_sessions or {}).items()}  # (keys may arrive as text)
    for member_id in members:
        if path == "api":
            body = json.dumps({"request_key": f"flash-{reward_id}-{member_id}"}).encode()
            token = access_token(SECRET, tenant_id=tenant_id, member_id=member_id)
            head = (
                f"POST /api/v1/fan/{TENANT_SLUG}/mall/rewards/{reward_id}/redeem HTTP/1.1\r\nHost: bench\r\n"
                f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
            )
        else:
            body = f"key=flash-{reward_id}-{member_id}".encode()
            session_id = sessions[member_id]  # the cookie as siyu.h5.fans.sign_in writes it
            value = cookie_value(SECRET, tenant_id=tenant_id, member_id=member_id, session_id=session_id)
            cookie = f"{cookie_name(TENANT_SLUG)}={value}"
            head = (
                f"POST /h5/{TENANT_SLUG}/mall/rewards/{reward_id}/redeem HTTP/1.1\r\nHost: bench\r\n"
                f"Cookie: {cookie}\r\nHX-Request: true\r\nContent-Type: application/x-www-form-urlencoded\r\n"
            )
        out.append(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return out


async def _read_response(reader: asyncio.StreamReader) -> str:
    """The status of one response, with the refusal's code when there is one ("409 sold_out")."""
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("the server closed the connection")
    status = int(status_line.split()[1])
    length, chunked = 0, False
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.lower() == b"content-length":
            length = int(value)
        elif name.lower() == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    body = b""
    if chunked:
        while size := int((await reader.readline()).strip() or b"0", 16):
            body += (await reader.readexactly(size + 2))[:-2]
        await reader.readline()
    else:
        body = await reader.readexactly(length)
    code = re.search(rb'"code":"(\w+)"|data-code="(\w+)"', body) if status >= 400 else None
    return f"{status} {(code.group(1) or code.group(2)).decode()}" if code else str(status)


def drive(port: int, requests: list[bytes], connections: int, opens_at: float, queue: Any) -> None:
    """In a process of its own: `connections` connections take the attempts from one queue at `opens_at`."""

    async def main() -> dict[str, Any]:
        pending = list(reversed(requests))
        statuses: dict[str, int] = {}
        errors: list[str] = []
        last_sale: list[float] = []

        async def connection() -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            await asyncio.sleep(max(0.0, opens_at - time.time()))
            while pending:
                request = pending.pop()
                try:
                    writer.write(request)
                    status = await asyncio.wait_for(_read_response(reader), timeout=60)
                    statuses[status] = statuses.get(status, 0) + 1
                    if status == "200":
                        last_sale.append(time.perf_counter())
                except (OSError, ConnectionError, asyncio.IncompleteReadError, TimeoutError, ValueError) as error:
                    errors.append(repr(error)[:200])  # answered by nobody: counted, not retried
                    writer.close()
                    reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()

        tasks = [asyncio.create_task(connection()) for _ in range(connections)]
        await asyncio.sleep(max(0.0, opens_at - time.time()))
        began = time.perf_counter()
        failed = [r for r in await asyncio.gather(*tasks, return_exceptions=True) if isinstance(r, BaseException)]
        errors.extend(repr(f)[:200] for f in failed)
        sold_in = (max(last_sale) - began) if last_sale else 0.0
        return {"seconds": time.perf_counter() - began, "statuses": statuses, "errors": errors, "sold_in": sold_in}

    queue.put(asyncio.run(main()))


def fire(port: int, requests: list[bytes], connections: int, opens_at: float) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=drive, args=(port, requests, connections, opens_at, queue))
    process.start()
    result: dict[str, Any] = queue.get()
    process.join()
    return result


# The servers -----------------------------------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(
    url: str, redis_url: str, workdir: Path, *, workers: int, pool: int, floor: bool = False, stock: int = 0
) -> tuple[subprocess.Popen[bytes], int, Path]:
    """The real app (`siyu serve`), or with `floor` the stack's floor (flash_floor.py) served the same way
    (balanced.py)."""
    port = _free_port()
    log = workdir / ("floor.log" if floor else "server.log")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIYU_")}
    bin_dir = Path(sys.executable).parent
    if floor:
        env.update(
            FLASH_FLOOR_DSN=asyncpg_dsn(url),
            FLASH_FLOOR_SECRET=SECRET,
            FLASH_FLOOR_POOL=str(pool),
            FLASH_FLOOR_REDIS=redis_url,
            FLASH_FLOOR_STOCK=str(stock),
            FLASH_FLOOR_PREFIX=f"siyu-bench-floor:{secrets.token_hex(4)}",
        )
        command = [sys.executable, str(Path(__file__).parent / "balanced.py"), "flash_floor:app"]
    else:
        env.update(
            SIYU_DATABASE_URL=url,
            SIYU_REDIS_URL=redis_url,
            SIYU_ENV="production",
            SIYU_SECRET_KEY=SECRET,
            SIYU_LOG_LEVEL="WARNING",
            SIYU_EMBEDDED_WORKER="false",
            SIYU_DB_POOL_SIZE=str(pool),
            SIYU_DATA_DIR=str(workdir / "var"),
        )
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


def run(
    url: str,
    redis_url: str,
    workdir: Path,
    args: argparse.Namespace,
    plan: dict[str, Any],
    *,
    floor: bool,
) -> dict[str, Any]:
    reward_id = plan["floor_reward_id"] if floor else plan["reward_id"]
    what = "floor (uvicorn + FastAPI + Redis admission + raw SQL)" if floor else "the app"
    process, port, log = serve(
        url, redis_url, workdir, workers=args.workers, pool=args.pool, floor=floor, stock=args.stock
    )
    before = asyncio.run(database_transactions(url))
    try:
        opens_at = time.time() + OPEN_AFTER_S
        if not floor:
            asyncio.run(set_opening(url, plan["tenant_id"], reward_id, opens_at))
        requests = requests_for(args.path, plan["tenant_id"], reward_id, plan["members"], plan["h5_sessions"])
        say(f"{what}: {args.workers} workers up; {len(requests)} attempts ({args.path}) at {OPEN_AFTER_S:.0f} s")
        fired = fire(port, requests, args.connections, opens_at)
    finally:
        process.terminate()
        process.wait(timeout=30)
    transactions = asyncio.run(database_transactions(url)) - before
    attempts = sum(fired["statuses"].values()) + len(fired["errors"])
    per_s = attempts / fired["seconds"]
    say(
        f"{what}: {per_s:.0f} attempts/s, the last one sold after {fired['sold_in']:.1f} s, "
        f"statuses {fired['statuses']}, transport errors {len(fired['errors'])}"
    )
    if fired["errors"]:
        say(f"e.g. {fired['errors'][:3]}; server log tail:\n{log.read_text(errors='replace')[-1500:]}")
    say(f"{what}: {transactions} database transactions for {attempts} attempts")
    return {**fired, "attempts": attempts, "attempts_per_s": per_s, "transactions": transactions}


async def database_transactions(url: str) -> int:
    """Transactions committed or rolled back in the benchmark's database so far (PostgreSQL's own count, which
    it publishes within a second or so: read after a pause)."""
    import asyncpg

    await asyncio.sleep(1.5)
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        await connection.execute("SELECT pg_stat_clear_snapshot()")
        count = await connection.fetchval(
            "SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()"
        )
        return int(count)
    finally:
        await connection.close()


async def verify(url: str, tenant_id: int, reward_ids: list[int]) -> dict[str, Any]:
    from sqlalchemy import func, select

    from siyu.db import create_engine, create_sessionmaker
    from siyu.ledger.audit import check_invariants
    from siyu.ledger.models import Balance
    from siyu.mall.models import Redemption, Reward

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            per_reward = {}
            for reward_id in reward_ids:
                reward = await session.get(Reward, (tenant_id, reward_id))
                assert reward is not None
                sold = await session.scalar(
                    select(func.count()).where(Redemption.tenant_id == tenant_id, Redemption.reward_id == reward_id)
                )
                per_reward[reward_id] = {"sold": int(sold or 0), "stock_left": reward.stock, "reward_sold": reward.sold}
            had = dict(
                (
                    await session.execute(
                        select(Redemption.member_id, func.count())
                        .where(Redemption.tenant_id == tenant_id)
                        .group_by(Redemption.member_id)
                    )
                ).all()
            )
            balances = dict(
                (
                    await session.execute(
                        select(Balance.member_id, Balance.available).where(Balance.tenant_id == tenant_id)
                    )
                ).all()
            )
            wrong = sum(1 for m, available in balances.items() if available != POINTS - PRICE * had.get(m, 0))
            problems = await check_invariants(session, tenant_id)
            return {"rewards": per_reward, "wrong_balances": wrong, "invariant_problems": problems[:5]}
    finally:
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True, help="PostgreSQL (the floor speaks asyncpg)")
    parser.add_argument("--redis-url", required=True, help="the flash gate's Redis (app and floor)")
    parser.add_argument("--path", choices=("api", "h5"), default="api", help="the fans' JSON API or the H5 form")
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--stock", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--pool",
        type=int,
        default=10,
        help="database connections per worker (the app may open twice as many: workers x pool x 2 < 100)",
    )
    parser.add_argument("--connections", type=int, default=64, help="client keep-alive connections")
    parser.add_argument("--no-floor", action="store_true", help="skip the stack's floor (flash_floor.py)")
    args = parser.parse_args()
    if backend_name(args.database_url) != "postgresql":
        parser.error("the floor runs raw SQL through asyncpg: give a PostgreSQL URL")
    if args.workers * args.pool * 2 >= 100:
        parser.error("workers x pool x 2 must stay under a stock PostgreSQL's 100 connections")

    with (
        tempfile.TemporaryDirectory(prefix="siyu-flash-") as tmp,
        bench_database(args.database_url, Path(tmp), "flash") as url,
    ):
        workdir = Path(tmp)
        say(f"seeding {args.members} members with {POINTS} points each ({backend_name(url)})")
        started = time.perf_counter()
        plan = asyncio.run(seed(url, args.members, args.stock))
        say(f"seeded in {time.perf_counter() - started:.1f} s")
        app = run(url, args.redis_url, workdir, args, plan, floor=False)
        floor = None if args.no_floor else run(url, args.redis_url, workdir, args, plan, floor=True)
        rewards = [plan["reward_id"]] + ([] if floor is None else [plan["floor_reward_id"]])
        checked = asyncio.run(verify(url, plan["tenant_id"], rewards))
    mine = checked["rewards"][plan["reward_id"]]
    result: dict[str, Any] = {
        "benchmark": "flash",
        "path": args.path,
        "database": backend_name(args.database_url),
        "redis_gate": True,
        "workers": args.workers,
        "pool": args.pool,
        "connections": args.connections,
        "attempts": app["attempts"],
        "stock": args.stock,
        "sold": mine["sold"],
        "oversold": max(0, mine["sold"] - args.stock),
        "stock_left": mine["stock_left"],
        "statuses": app["statuses"],
        "transport_errors": len(app["errors"]),
        "db_transactions": app["transactions"],
        "seconds": round(app["seconds"], 2),
        "sold_out_after_s": round(app["sold_in"], 2),
        "attempts_per_s": round(app["attempts_per_s"], 1),
        "points_ok": checked["wrong_balances"] == 0 and not checked["invariant_problems"],
        "wrong_balances": checked["wrong_balances"],
        "invariant_problems": checked["invariant_problems"],
    }
    if floor is not None:
        theirs = checked["rewards"][plan["floor_reward_id"]]
        result.update(
            floor_attempts_per_s=round(floor["attempts_per_s"], 1),
            floor_sold_out_after_s=round(floor["sold_in"], 2),
            floor_sold=theirs["sold"],
            floor_db_transactions=floor["transactions"],
            floor_statuses=floor["statuses"],
            floor_transport_errors=len(floor["errors"]),
            ratio=round(app["attempts_per_s"] / floor["attempts_per_s"], 3),
        )
    result.update(cpu_cores=os.cpu_count(), loadavg_1m=round(os.getloadavg()[0], 2))
    print(json.dumps(result, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
