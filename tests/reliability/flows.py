"""Kill -9 flows: the same starting state in two fresh databases, one step run straight through in the first and
killed (SIGKILL) at random moments in the second before it is run to completion, then both compared.

Shared by `tests/reliability/test_kill9.py` (a few kills per flow) and `scripts/kill9.py` (many runs). Each flow
runs the real command (`.venv/bin/siyu ...`) in a subprocess; what is compared are digests of the final state that
ignore ids and timestamps (members are named by their nickname, ledger entries of a lot by the lot's source).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims.models import Claim
from siyu.db import create_engine, create_sessionmaker
from siyu.jobs import service as jobs
from siyu.jobs.models import Job, JobStatus
from siyu.ledger import service as ledger
from siyu.ledger.models import Balance, Entry, Lot
from siyu.loyalty.models import ExpiryWarning
from siyu.members import service as members
from siyu.members.models import Member
from siyu.orders.models import Order, OrderImport
from siyu.tenants import service as tenants
from tests.orders import exports
from tests.support.databases import fresh_database

ROOT = Path(__file__).resolve().parents[2]
SIYU = ROOT / ".venv" / "bin" / "siyu"
SLUG = "kill-nine"
CHINA = ZoneInfo("Asia/Shanghai")
STEP_TIMEOUT_S = 900  # generous: the machine may pause processes for a while


# Running the real command


@dataclass
class Place:
    """One database and the data directory the commands use with it."""

    url: str
    data_dir: Path

    def env(self) -> dict[str, str]:
        scratch = self.data_dir / "tmp"  # a killed import leaves its work directory behind: keep it in here
        scratch.mkdir(exist_ok=True)
        return {
            **os.environ,
            "TMPDIR": str(scratch),
            "SIYU_DATABASE_URL": self.url,
            "SIYU_DATA_DIR": str(self.data_dir),
            "SIYU_LOG_LEVEL": "WARNING",
            "SIYU_EMBEDDED_WORKER": "false",
        }


def start(place: Place, *args: str) -> subprocess.Popen[bytes]:
    log = place.data_dir / "commands.log"
    with open(log, "ab") as handle:
        handle.write(f"$ siyu {' '.join(args)}\n".encode())
        return subprocess.Popen(
            [str(SIYU), *args], env=place.env(), stdout=handle, stderr=subprocess.STDOUT, cwd=place.data_dir
        )


def run(place: Place, *args: str) -> float:
    """Run a command to its end; its duration in seconds. A failure shows the command's output."""
    began = time.monotonic()
    process = start(place, *args)
    code = process.wait(timeout=STEP_TIMEOUT_S)
    if code != 0:
        output = (place.data_dir / "commands.log").read_text(errors="replace")[-3000:]
        raise AssertionError(f"siyu {' '.join(args)} exited with {code}:\n{output}")
    return time.monotonic() - began


def kill_after(place: Place, delay: float, *args: str) -> bool:
    """Start a command and SIGKILL it after `delay` seconds; False when it had already finished."""
    process = start(place, *args)
    try:
        process.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return True


def kill_repeatedly(
    place: Place, delays: list[float], *args: str, after_each: Callable[[Place], None] | None = None
) -> int:
    """Start and kill the command once per delay; the number of kills that landed. A command that finished before
    its kill makes the later delays shorter (they aim inside the run)."""
    landed, scale = 0, 1.0
    for delay in delays:
        if kill_after(place, delay * scale, *args):
            landed += 1
        else:
            scale /= 2
        if after_each is not None:
            after_each(place)
    return landed


async def _session_work(url: str, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            return await work(session)
    finally:
        await engine.dispose()


def in_session(url: str, work: Callable[[AsyncSession], Awaitable[Any]]) -> Any:
    """Run `work` in one committed transaction on the database at `url`."""
    return asyncio.run(_session_work(url, work))


def expire_leases(place: Place) -> None:
    """What a later clock shows after a worker was killed: the leases it held have run out."""

    async def work(session: AsyncSession) -> None:
        await session.execute(
            update(Job)
            .where(Job.status == JobStatus.running)
            .values(locked_until=datetime.now(UTC) - timedelta(minutes=1))
        )

    in_session(place.url, work)


# Digests: the final state without ids and timestamps


async def _digest(session: AsyncSession) -> dict[str, Any]:
    names = dict((await session.execute(select(Member.id, Member.nickname))).tuples().all())
    orders = sorted(
        (
            await session.execute(
                select(
                    Order.platform,
                    Order.order_id,
                    Order.status,
                    Order.paid_fen,
                    Order.refund_fen,
                    Order.buyer_nick,
                    Order.buyer_open_uid,
                )
            )
        )
        .tuples()
        .all()
    )
    lots = (
        (
            await session.execute(
                select(Lot.id, Lot.member_id, Lot.source_ref, Lot.amount, Lot.remaining, Lot.status, Lot.expires_at)
            )
        )
        .tuples()
        .all()
    )
    lot_source = {lot_id: source for lot_id, _m, source, *_ in lots}
    entries = Counter(
        (names[member_id], kind, amount, pending, _source(source, lot_id, lot_source))
        for member_id, kind, amount, pending, source, lot_id in (
            await session.execute(
                select(Entry.member_id, Entry.kind, Entry.amount, Entry.pending_amount, Entry.source_ref, Entry.lot_id)
            )
        ).tuples()
    )
    balances = sorted(
        (names[member_id], available, pending, debt)
        for member_id, available, pending, debt in (
            await session.execute(select(Balance.member_id, Balance.available, Balance.pending, Balance.debt))
        ).tuples()
    )
    now = datetime.now(UTC)
    job_rows = (await session.execute(select(Job.kind, Job.status, Job.payload, Job.run_after))).tuples().all()
    imports = (
        (
            await session.execute(
                select(
                    OrderImport.sha256,
                    OrderImport.status,
                    OrderImport.rows,
                    OrderImport.inserted,
                    OrderImport.updated,
                    OrderImport.unchanged,
                    OrderImport.rejected,
                    OrderImport.skipped,
                )
            )
        )
        .tuples()
        .all()
    )
    warnings = Counter(
        (names[member_id], points, _stamp(expires))
        for member_id, points, expires in (
            await session.execute(select(ExpiryWarning.member_id, ExpiryWarning.points, ExpiryWarning.expires_at))
        ).tuples()
    )
    claims = Counter(
        (names[member_id], platform, order_id, outcome, via, points)
        for member_id, platform, order_id, outcome, via, points in (
            await session.execute(
                select(Claim.member_id, Claim.platform, Claim.order_id, Claim.outcome, Claim.via, Claim.points)
            )
        ).tuples()
    )
    return {
        "orders": orders,
        "balances": balances,
        "entries": sorted(entries.items()),
        "lots": sorted(
            Counter(
                (names[member_id], source, amount, remaining, status, _stamp(expires))
                for _id, member_id, source, amount, remaining, status, expires in lots
            ).items()
        ),
        "jobs": sorted(
            Counter((kind, status, _payload(payload, names)) for kind, status, payload, _ in job_rows).items()
        ),
        # Jobs not done that were due: a job may rightly wait for later (a notice held until the quiet hours end).
        "due_jobs_left": sorted(
            kind for kind, status, _p, run_after in job_rows if status != JobStatus.done and run_after <= now
        ),
        # A file recognised as one imported before is recorded with no rows (not compared); an import left
        # unfinished by a killed command would show here.
        "imports": sorted(Counter(row for row in imports if not (row[1] == "done" and row[2] == 0)).items()),
        "warnings": sorted(warnings.items()),
        "claims": sorted(claims.items()),
    }


def _stamp(moment: datetime | None) -> str | None:
    return None if moment is None else moment.replace(tzinfo=None).isoformat(timespec="seconds")


def _source(source: str, lot_id: int | None, lot_source: dict[int, str]) -> str:
    if source.startswith("lot:") and lot_id in lot_source:  # an expiry names the lot by its id
        return f"lot:{lot_source[lot_id]}"
    return source


def _payload(payload: dict[str, Any] | None, names: dict[int, str]) -> str:
    shown: dict[str, Any] = {}
    for key, value in sorted((payload or {}).items()):
        if key == "member_id":
            shown[key] = names.get(value, "?")
        elif key in ("import_id", "after", "slot", "claim_id", "notice_id"):  # ids made afresh by each run
            continue
        else:
            shown[key] = value
    return json.dumps(shown, ensure_ascii=False, sort_keys=True)


def digest(url: str) -> dict[str, Any]:
    return asyncio.run(_session_work(url, _digest))


def differences(first: dict[str, Any], second: dict[str, Any]) -> dict[str, Any]:
    """Per part of the digest that differs: what only the first and only the second has (a few of each)."""
    found: dict[str, Any] = {}
    for part in first:
        if first[part] == second[part]:
            continue
        if isinstance(first[part], list):
            a, b = set(map(repr, first[part])), set(map(repr, second[part]))
            found[part] = {"straight": sorted(a - b)[:5], "killed": sorted(b - a)[:5]}
        else:
            found[part] = {"straight": first[part], "killed": second[part]}
    return found


# The flows


@dataclass
class Flow:
    """A step whose command is killed: `seed` builds the starting state, `step` runs it (straight through when
    `delays` is empty; else killed after each delay, then run to completion)."""

    name: str
    prepare: Callable[[Path, random.Random], dict[str, Any]]  # inputs shared by both databases
    seed: Callable[[Place, dict[str, Any]], None]
    step: Callable[[Place, dict[str, Any], list[float]], int]  # returns the number of kills that landed
    max_kills: int = 6  # more would exhaust a job's attempts (it is parked then, by design)


def _china(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


async def _tenant(session: AsyncSession) -> int:
    tenant = await tenants.create_tenant(session, slug=SLUG, name="可靠性测试店")
    return tenant.id


def _command_step(*args: str) -> Callable[[Place, dict[str, Any], list[float]], int]:
    def step(place: Place, inputs: dict[str, Any], delays: list[float]) -> int:
        argv = [a.format(**inputs) for a in args]
        landed = kill_repeatedly(place, delays, *argv)
        run(place, *argv)
        return landed

    return step


def worker_step(place: Place, inputs: dict[str, Any], delays: list[float]) -> int:
    landed = kill_repeatedly(place, delays, "worker", "--once", after_each=expire_leases)
    run(place, "worker", "--once")
    return landed


# 1. An order import


def _import_prepare(workdir: Path, rng: random.Random, rows: int = 15_000) -> dict[str, Any]:
    paid_at = datetime.now(UTC) - timedelta(days=3)
    built = []
    for n in range(rows):
        kind = rng.random()
        paid = f"{rng.randint(1, 5000)}.{rng.randint(0, 99):02d}"
        if kind < 0.08:
            status, refund = "交易关闭", paid  # refunded in full, then closed
        elif kind < 0.12:
            status, refund = "交易关闭", "0.00"  # closed unpaid
        elif kind < 0.16:
            status, refund = "交易成功", "1.00"  # partly refunded
        else:
            status, refund = rng.choice(["交易成功", "买家已付款，等待卖家发货", "卖家已发货，等待买家确认"]), "0.00"
        built.append(
            exports.taobao_new_row(
                f"{4_100_000_000_000_000_000 + n}",
                paid=paid,
                status=status,
                refund=refund,
                created=_china(paid_at - timedelta(minutes=1)),
                paid_at=_china(paid_at),
            )
        )
    path = workdir / "淘宝订单.csv"
    path.write_bytes(exports.taobao_new_csv(built))
    return {"file": str(path), "slug": SLUG}


def _import_seed(place: Place, inputs: dict[str, Any]) -> None:
    in_session(place.url, _tenant)


IMPORT = Flow(
    name="import",
    prepare=_import_prepare,
    seed=_import_seed,
    step=_command_step("orders", "import", "{file}", "--tenant", "{slug}", "--json"),
)


# 1b. The same import as a job (the console's upload), run by the worker


def _import_job_seed(place: Place, inputs: dict[str, Any]) -> None:
    from siyu.orders import service as orders

    async def work(session: AsyncSession) -> None:
        tenant_id = await _tenant(session)
        path = Path(inputs["file"])
        row = await orders.create_import(
            session,
            tenant_id=tenant_id,
            source=path,
            filename=path.name,
            storage_dir=place.data_dir / "uploads",
            requested_platform="auto",
            created_by="可靠性测试",
        )
        # As the upload queues it (siyu.orders.uploads.start_import), three attempts at most.
        row.job_id = await jobs.enqueue(
            session,
            "orders.import",
            {"import_id": row.id},
            tenant_id=tenant_id,
            dedupe_key=f"orders.import:{tenant_id}:{row.id}",
            max_attempts=3,
        )

    in_session(place.url, work)


IMPORT_JOB = Flow(
    name="import_job",
    prepare=_import_prepare,
    seed=_import_job_seed,
    step=worker_step,
    max_kills=2,  # a third death on its last attempt parks the job and fails the import, by design
)


# 2. The sweep: held points post, points expire, coming expiries are warned of


def _sweep_prepare(workdir: Path, rng: random.Random, members_count: int = 200) -> dict[str, Any]:
    base = datetime.now(UTC).replace(microsecond=0)
    plan = []
    for n in range(members_count):
        plan.append(
            {
                "nickname": f"会员{n:04d}",
                "held": rng.randint(1, 500),  # held points whose hold ended
                "held_later": rng.randint(1, 500) if rng.random() < 0.3 else 0,  # still held
                "expired": rng.randint(1, 500),  # posted points past their expiry
                "soon": rng.randint(1, 500) if rng.random() < 0.8 else 0,  # expire within the warning days
                "soon_days": rng.randint(1, 6),
                "later": rng.randint(1, 500),  # expire long after
            }
        )
    return {"base": base.isoformat(), "plan": plan, "slug": SLUG}


def _sweep_seed(place: Place, inputs: dict[str, Any]) -> None:
    base = datetime.fromisoformat(inputs["base"])

    async def work(session: AsyncSession) -> None:
        tenant_id = await _tenant(session)
        far = base + timedelta(days=365)
        for member_plan in inputs["plan"]:
            member = await members.create_member(session, tenant_id=tenant_id, nickname=member_plan["nickname"])
            name = member_plan["nickname"]

            async def earn(ref: str, amount: int, **more: Any) -> None:
                await ledger.earn(
                    session,
                    tenant_id=tenant_id,
                    member_id=member.id,  # noqa: B023 (used at once)
                    amount=amount,
                    source_ref=f"order:taobao:{name}-{ref}",  # noqa: B023
                    **more,
                )

            await earn("held", member_plan["held"], pending=True, post_after=far, expires_at=far)
            if member_plan["held_later"]:
                await earn("held-later", member_plan["held_later"], pending=True, post_after=far, expires_at=far)
            await earn("expired", member_plan["expired"], expires_at=far)
            if member_plan["soon"]:
                soon = base + timedelta(days=member_plan["soon_days"], hours=1)
                await earn("soon", member_plan["soon"], expires_at=soon)
            await earn("later", member_plan["later"], expires_at=base + timedelta(days=200))
        # The times the sweep acts on, set into the past (what a later clock would show).
        await session.execute(
            update(Lot)
            .where(Lot.tenant_id == tenant_id, Lot.source_ref.like("%-held"))
            .values(post_after=base - timedelta(days=1))
        )
        await session.execute(
            update(Lot)
            .where(Lot.tenant_id == tenant_id, Lot.source_ref.like("%-expired"))
            .values(expires_at=base - timedelta(hours=1))
        )

    in_session(place.url, work)


SWEEP = Flow(
    name="sweep",
    prepare=_sweep_prepare,
    seed=_sweep_seed,
    step=_command_step("ledger", "sweep", "--tenant", "{slug}", "--batch", "50"),
)


# 3. Orders of bound accounts credited by the jobs an import queues


def _bound_prepare(workdir: Path, rng: random.Random, members_count: int = 150) -> dict[str, Any]:
    paid_at = datetime.now(UTC) - timedelta(days=2)
    rows = []
    for n in range(members_count * 4):
        owner = n % (members_count + 40)  # the last 40 nicks are bound to nobody
        status = rng.choice(["交易成功", "买家已付款，等待卖家发货", "卖家已发货，等待买家确认", "交易关闭"])
        rows.append(
            exports.taobao_classic_row(
                f"{4_200_000_000_000_000_000 + n}",
                buyer=f"tb_粉丝{owner:04d}",
                paid=f"{rng.randint(1, 3000)}.00",
                status=status,
                created=_china(paid_at - timedelta(minutes=1)),
                paid_at=_china(paid_at),
            )
        )
    path = workdir / "淘宝订单-买家.csv"
    path.write_bytes(exports.taobao_classic(rows, [], summary=False))
    return {"file": str(path), "slug": SLUG, "members": members_count}


def _bound_seed(place: Place, inputs: dict[str, Any]) -> None:
    async def work(session: AsyncSession) -> None:
        tenant_id = await _tenant(session)
        for n in range(inputs["members"]):
            member = await members.create_member(session, tenant_id=tenant_id, nickname=f"粉丝{n:04d}")
            await members.bind_identity(
                session, tenant_id=tenant_id, member=member, kind="taobao_nick", value=f"tb_粉丝{n:04d}"
            )

    in_session(place.url, work)
    run(place, "orders", "import", inputs["file"], "--tenant", inputs["slug"], "--json")


BOUND = Flow(name="bound", prepare=_bound_prepare, seed=_bound_seed, step=worker_step)


# 4. Expiry reminders: the sweep job queues one warning job per member, and the worker sends them


def _reminders_prepare(workdir: Path, rng: random.Random, members_count: int = 250) -> dict[str, Any]:
    base = datetime.now(UTC).replace(microsecond=0)
    plan = [
        {
            "nickname": f"提醒{n:04d}",
            "lots": [(rng.randint(1, 300), rng.randint(1, 6)) for _ in range(rng.randint(1, 3))],
        }
        for n in range(members_count)
    ]
    return {"base": base.isoformat(), "plan": plan, "slug": SLUG}


def _reminders_seed(place: Place, inputs: dict[str, Any]) -> None:
    base = datetime.fromisoformat(inputs["base"])

    async def work(session: AsyncSession) -> None:
        tenant_id = await _tenant(session)
        for member_plan in inputs["plan"]:
            member = await members.create_member(session, tenant_id=tenant_id, nickname=member_plan["nickname"])
            for n, (amount, days) in enumerate(member_plan["lots"]):
                await ledger.earn(
                    session,
                    tenant_id=tenant_id,
                    member_id=member.id,
                    amount=amount,
                    source_ref=f"order:taobao:{member_plan['nickname']}-{n}",
                    expires_at=base + timedelta(days=days, hours=n + 1),
                )
        await jobs.enqueue(session, "loyalty.sweep", {}, tenant_id=tenant_id)

    in_session(place.url, work)


REMINDERS = Flow(name="reminders", prepare=_reminders_prepare, seed=_reminders_seed, step=worker_step)

FLOWS: dict[str, Flow] = {flow.name: flow for flow in (IMPORT, IMPORT_JOB, SWEEP, BOUND, REMINDERS)}


# One comparison


@dataclass
class Outcome:
    flow: str
    seed: int
    delays: list[float]
    landed: int
    straight_s: float
    killed_s: float
    differences: dict[str, Any] = field(default_factory=dict)
    straight: dict[str, Any] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return not self.differences

    def describe(self) -> str:
        return (
            f"flow {self.flow}: seed {self.seed}, kills after {[round(d, 2) for d in self.delays]} s "
            f"({self.landed} landed); differences: {json.dumps(self.differences, ensure_ascii=False, default=str)}"
        )


def compare(flow: Flow, *, workdir: Path, seed: int, kills: int) -> Outcome:
    """Build the flow's starting state twice, run the step straight through on the first database and killed
    `kills` times on the second, and compare. The kill delays are drawn from `seed` over the straight run's span."""
    rng = random.Random(seed)
    inputs = flow.prepare(workdir, rng)
    straight_dir, killed_dir = workdir / "straight", workdir / "killed"
    straight_dir.mkdir(exist_ok=True)
    killed_dir.mkdir(exist_ok=True)
    with fresh_database(workdir, f"{flow.name}_a") as first, fresh_database(workdir, f"{flow.name}_b") as second:
        straight, killed = Place(first, straight_dir), Place(second, killed_dir)
        flow.seed(straight, inputs)
        began = time.monotonic()
        flow.step(straight, inputs, [])
        straight_s = time.monotonic() - began
        # Most of a short command is starting Python: aim the kills at the rest of it.
        delays = [rng.uniform(0.25, 0.95) * straight_s for _ in range(min(kills, flow.max_kills))]
        flow.seed(killed, inputs)
        began = time.monotonic()
        landed = flow.step(killed, inputs, delays)
        killed_s = time.monotonic() - began
        a, b = digest(first), digest(second)
    return Outcome(
        flow=flow.name,
        seed=seed,
        delays=delays,
        landed=landed,
        straight_s=straight_s,
        killed_s=killed_s,
        differences=differences(a, b),
        straight=a,
    )


def new_seed() -> int:
    return random.SystemRandom().randrange(1 << 32)


if __name__ == "__main__":  # pragma: no cover
    sys.exit("run scripts/kill9.py")
