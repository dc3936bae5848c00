"""Flash redemption benchmark: distinct fans redeem one reward of limited stock the instant it opens, over HTTP.

    .venv/bin/python benchmarks/flash.py --database-url URL [--members 10000] [--stock 500] [--workers 4]

What it does (see benchmarks/README.md):
1. Creates a throw-away database, migrates it, seeds one tenant and `--members` members (one set-wise insert),
   each credited 1,000 points through the ledger's batch path (`siyu.ledger.batch.earn_many`), and one coupon
   reward of `--stock` stock at 100 points whose redeem window opens at one instant a few seconds ahead.
2. Serves the real app with uvicorn (`--workers` processes) in a subprocess, with a secret key it sets.
3. From a separate process, mints each fan's signed H5 cookie exactly as siyu/h5/fans.py does and, from
   `--connections` keep-alive connections, fires one redemption attempt per member (POST of the H5 redeem form)
   at the opening instant. 303 is a redemption; 409 sold out.
4. Checks in the database: redemptions, the reward's stock and sold count, and the ledger's invariants (every
   member's balance equals her entries and her lots; siyu.ledger.audit.check_invariants) and that every member's
   balance is 1,000 or 900 as her redemptions say.
The last line printed is one JSON object: attempts, stock, sold, oversold, attempts_per_s, points_ok, ...
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchdb import backend_name, bench_database, say

TENANT_SLUG = "bench-flash"
POINTS, PRICE = 1_000, 100
OPEN_AFTER_S = 8.0  # from the end of seeding: the server starts and the clients connect meanwhile


async def seed(url: str, members: int, stock: int, opens_at: datetime) -> dict[str, Any]:
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
        async with sessions() as session, session.begin():
            actor = Principal(tenant_id=tenant.id, kind="system", actor_id=None, label="压测", permissions=frozenset())
            reward = await mall.create_reward(
                session,
                actor=actor,
                data=RewardIn(
                    kind=RewardKind.coupon,
                    title="双11 限量券",
                    points_price=PRICE,
                    stock=stock,
                    redeem_from=opens_at,
                    limit_per_member=1,  # one each, as flash openings go (and what the Redis gate fronts)
                ),
            )
        return {"tenant_id": tenant.id, "reward_id": reward.id, "members": ids}
    finally:
        await engine.dispose()


def cookie(secret: str, tenant_id: int, member_id: int) -> str:
    from siyu.kit.security import sign

    payload = f"{tenant_id}.{member_id}.{int(time.time())}"  # as siyu.h5.fans.sign_in writes it
    return f"{payload}.{sign(secret, payload)}"


async def fire(base_url: str, plan: dict[str, Any]) -> dict[str, Any]:
    """One attempt per member from `connections` keep-alive connections, starting at the opening instant."""
    import httpx

    from siyu.h5.fans import cookie_name

    name = cookie_name(TENANT_SLUG)
    path = f"/h5/{TENANT_SLUG}/mall/rewards/{plan['reward_id']}/redeem"
    queue: asyncio.Queue[int] = asyncio.Queue()
    for member_id in plan["members"]:
        queue.put_nowait(member_id)
    statuses: dict[str, int] = {}
    limits = httpx.Limits(max_connections=plan["connections"], max_keepalive_connections=plan["connections"])
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=120) as client:
        await asyncio.gather(*(client.get("/healthz") for _ in range(plan["connections"])))  # open the connections
        delay = plan["opens_at"] - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        started = time.perf_counter()

        async def worker() -> None:
            while not queue.empty():
                member_id = queue.get_nowait()
                value = cookie(plan["secret"], plan["tenant_id"], member_id)
                try:
                    response = await client.post(
                        path, data={"key": f"flash-{member_id}"}, headers={"Cookie": f"{name}={value}"}
                    )
                    key = str(response.status_code)
                except httpx.HTTPError as error:
                    key = type(error).__name__
                statuses[key] = statuses.get(key, 0) + 1

        await asyncio.gather(*(worker() for _ in range(plan["connections"])))
        elapsed = time.perf_counter() - started
    return {"statuses": statuses, "seconds": elapsed}


async def verify(url: str, tenant_id: int, reward_id: int) -> dict[str, Any]:
    from sqlalchemy import func, select

    from siyu.db import create_engine, create_sessionmaker
    from siyu.ledger.audit import check_invariants
    from siyu.ledger.models import Balance
    from siyu.mall.models import Redemption, Reward

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session:
            reward = await session.get(Reward, (tenant_id, reward_id))
            assert reward is not None
            sold = await session.scalar(
                select(func.count()).where(Redemption.tenant_id == tenant_id, Redemption.reward_id == reward_id)
            )
            redeemers = set(
                await session.scalars(select(Redemption.member_id).where(Redemption.tenant_id == tenant_id))
            )
            balances = dict(
                (
                    await session.execute(
                        select(Balance.member_id, Balance.available).where(Balance.tenant_id == tenant_id)
                    )
                ).all()
            )
            wrong = sum(
                1
                for member, available in balances.items()
                if available != POINTS - (PRICE if member in redeemers else 0)
            )
            problems = await check_invariants(session, tenant_id)
            return {
                "sold": int(sold or 0),
                "stock_left": reward.stock,
                "reward_sold": reward.sold,
                "wrong_balances": wrong,
                "invariant_problems": problems[:5],
            }
    finally:
        await engine.dispose()


def serve(
    url: str, workdir: Path, port: int, workers: int, secret: str, pool: int, redis_url: str | None = None
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIYU_")}
    if redis_url:
        env["SIYU_REDIS_URL"] = redis_url  # the flash gate admits at Redis, the database still decides
    env.update(
        SIYU_DATABASE_URL=url,
        SIYU_SECRET_KEY=secret,
        SIYU_ENV="test",
        SIYU_LOG_LEVEL="WARNING",
        SIYU_EMBEDDED_WORKER="false",
        SIYU_DB_POOL_SIZE=str(pool),
        SIYU_DATA_DIR=str(workdir / "var"),
    )
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "siyu.main:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    log = (workdir / "serve.log").open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603 - our own app


def wait_healthy(base_url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the server exited")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("the server did not become healthy")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--stock", type=int, default=500)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--pool", type=int, default=20, help="database connections per worker")
    parser.add_argument("--redis-url", help="serve with SIYU_REDIS_URL set: the Redis flash gate admits first")
    parser.add_argument("--fire", help=argparse.SUPPRESS)  # the client process: a JSON plan file
    args = parser.parse_args()
    if args.fire:
        plan = json.loads(Path(args.fire).read_text())
        print(json.dumps(asyncio.run(fire(plan["base_url"], plan))), flush=True)
        return

    from tests.support.server import free_port

    secret = secrets.token_urlsafe(32)
    with (
        tempfile.TemporaryDirectory(prefix="siyu-flash-") as tmp,
        bench_database(args.database_url, Path(tmp), "flash") as url,
    ):
        workdir = Path(tmp)
        say(f"seeding {args.members} members with {POINTS} points each ({backend_name(url)})")
        started = time.perf_counter()
        far = datetime.now(UTC) + timedelta(days=1)  # moved to the real opening once the server is up
        plan = asyncio.run(seed(url, args.members, args.stock, far))
        say(f"seeded in {time.perf_counter() - started:.1f} s")
        port = free_port()
        base_url = f"http://127.0.0.1:{port}"
        server = serve(url, workdir, port, args.workers, secret, args.pool, args.redis_url)
        try:
            wait_healthy(base_url, server)
            opens_at = time.time() + OPEN_AFTER_S
            asyncio.run(set_opening(url, plan["tenant_id"], plan["reward_id"], opens_at))
            say(f"{args.workers} workers up; the reward opens in {OPEN_AFTER_S:.0f} s; firing {args.members} attempts")
            plan_file = workdir / "plan.json"
            plan_file.write_text(
                json.dumps(
                    {
                        **plan,
                        "base_url": base_url,
                        "secret": secret,
                        "opens_at": opens_at,
                        "connections": args.connections,
                    }
                )
            )
            client = subprocess.run(  # noqa: S603 - this script
                [sys.executable, __file__, "--database-url", args.database_url, "--fire", str(plan_file)],
                capture_output=True,
                text=True,
                check=False,
                timeout=1800,
            )
            if client.returncode != 0:
                raise RuntimeError(f"the client failed:\n{client.stderr[-3000:]}")
            fired = json.loads(client.stdout.strip().splitlines()[-1])
        finally:
            server.terminate()
            server.wait(timeout=30)
        checked = asyncio.run(verify(url, plan["tenant_id"], plan["reward_id"]))
    attempts = sum(fired["statuses"].values())
    result = {
        "benchmark": "flash",
        "database": backend_name(args.database_url),
        "redis_gate": bool(args.redis_url),
        "workers": args.workers,
        "connections": args.connections,
        "attempts": attempts,
        "stock": args.stock,
        "sold": checked["sold"],
        "oversold": max(0, checked["sold"] - args.stock),
        "stock_left": checked["stock_left"],
        "statuses": fired["statuses"],
        "seconds": round(fired["seconds"], 2),
        "attempts_per_s": round(attempts / fired["seconds"], 1),
        "points_ok": checked["wrong_balances"] == 0 and not checked["invariant_problems"],
        "wrong_balances": checked["wrong_balances"],
        "invariant_problems": checked["invariant_problems"],
    }
    print(json.dumps(result, ensure_ascii=False), flush=True)


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


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
