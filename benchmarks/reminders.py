"""Reminder benchmark: 20,000 fans reserve one show; its reminders go out through the SMS and WeChat fakes over real
HTTP while `siyu worker` processes are killed with SIGKILL mid-dispatch and restarted. Every fan must get exactly one.

    .venv/bin/python benchmarks/reminders.py --database-url URL [--fans 20000] [--workers 3] [--kills 6]

What it does (see benchmarks/README.md):
1. Creates a throw-away database, migrates it, and writes set-wise (one executemany per table, not through the ORM
   row by row): one tenant, `--fans` members, half of them with a phone number and half with a mini-program openid
   and one subscribe consent to the reminder's template, one show starting in 30 minutes that every fan reserved,
   the tenant's notice settings (reminders by WeChat and SMS, SMS through Aliyun) and its mini-program credentials,
   and the show's reminder job, due now.
2. Serves the fakes of Aliyun's SMS API and of WeChat (tests/support) on local ports; the WeChat fake allows one
   message per consent, as WeChat does. Starts `--workers` `siyu worker` processes (one on SQLite) pointed at them,
   kills a random one with SIGKILL `--kills` times at random moments while reminders go out, restarts it each time,
   and waits until every fan's reminder is settled in the database.
3. Counts what the fakes received: `sent` fans who got a reminder, `doubles` reminders beyond one per fan, `lost`
   fans who got none. `sends_per_s` is reminders per second from the job's due time to the last reminder (which
   includes the lease a killed worker's jobs wait out before another worker takes them).
4. In the same run, the floor: a fresh SMS fake driven by a tight client in another process (`--floor-clients`
   keep-alive connections posting signed SendSms forms): `floor_per_s`. `ratio` = `sends_per_s` / `floor_per_s`.
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
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchdb import backend_name, bench_database, say

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the fakes live with the tests

SLUG = "bench-reminders"
SECRET = secrets.token_hex(32)
TEMPLATE_SMS, TEMPLATE_WECHAT = "SMS_250001", "remind-tpl-1"
NOW = datetime.now(UTC)
DONE_TIMEOUT = 45 * 60  # a killed worker's jobs wait out their lease (5 minutes) before another takes them


def phone_of(n: int) -> str:
    return f"139{n:08d}"


def openid_of(n: int) -> str:
    return f"o-bench-{n}"


def seed(url: str, *, fans: int) -> None:
    asyncio.run(_seed(url, fans=fans))


async def _seed(url: str, *, fans: int) -> None:
    from sqlalchemy import insert

    from siyu.db import create_engine, create_sessionmaker
    from siyu.demo.gateways.sms import ALIYUN_KEY, ALIYUN_SECRET
    from siyu.demo.gateways.wechat import MINI_ID, MINI_SECRET
    from siyu.fans.schemas import WechatConfig
    from siyu.fans.service import WECHAT_KEY
    from siyu.jobs import service as jobs
    from siyu.kit.ids import new_id
    from siyu.live import service as live
    from siyu.live.models import Reservation, Show
    from siyu.members.models import Identity, Member
    from siyu.notices.models import Consent
    from siyu.notices.schemas import NoticeSettings, SmsSettings, WechatTemplate
    from siyu.notices.service import SETTINGS_KEY
    from siyu.tenants import service as tenants

    engine = create_engine(url)
    try:
        async with create_sessionmaker(engine)() as session, session.begin():
            tenant = await tenants.create_tenant(session, slug=SLUG, name="压测直播间")
            tid = tenant.id
            settings = NoticeSettings(
                channels={"live_show_reminder": ["wechat", "sms"]},
                sms=SmsSettings(
                    provider="aliyun",
                    access_key_id=ALIYUN_KEY,
                    access_key_secret=ALIYUN_SECRET,
                    sign_name="星河直播间",
                    templates={"live_show_reminder": TEMPLATE_SMS},
                ),
                wechat={
                    "live_show_reminder": WechatTemplate(
                        template_id=TEMPLATE_WECHAT, fields={"thing1": "title", "time2": "starts_at"}
                    )
                },
            )
            await tenants.put_setting(session, tenant_id=tid, key=SETTINGS_KEY, value=settings.model_dump(mode="json"))
            wechat = WechatConfig(mini_app_id=MINI_ID, mini_app_secret=MINI_SECRET)
            await tenants.put_setting(session, tenant_id=tid, key=WECHAT_KEY, value=wechat.model_dump(mode="json"))
            starts = NOW + timedelta(minutes=30)
            show_id = new_id()
            await session.execute(
                insert(Show),
                [
                    {
                        "tenant_id": tid,
                        "id": show_id,
                        "platform": "douyin",
                        "title": "周五上新专场",
                        "benefits": ["预约抽 100 份小样"],
                        "starts_at": starts,
                        "ends_at": starts + timedelta(hours=2),
                        "version": 0,
                        "notice": "",
                        "created_at": NOW,
                    }
                ],
            )
            members = [
                {"tenant_id": tid, "id": 1 + n, "nickname": f"粉丝{n}", "status": "active", "created_at": NOW}
                for n in range(fans)
            ]
            identities = [
                {
                    "tenant_id": tid,
                    "kind": "phone" if n % 2 == 0 else "wechat_openid",
                    "value": phone_of(n) if n % 2 == 0 else openid_of(n),
                    "member_id": 1 + n,
                    "created_at": NOW,
                }
                for n in range(fans)
            ]
            consents = [
                {
                    "tenant_id": tid,
                    "id": new_id(),
                    "member_id": 1 + n,
                    "template_id": TEMPLATE_WECHAT,
                    "created_at": NOW,
                }
                for n in range(1, fans, 2)
            ]
            reservations = [
                {"tenant_id": tid, "id": new_id(), "show_id": show_id, "member_id": 1 + n, "reserved_at": NOW}
                for n in range(fans)
            ]
            for model, rows in (
                (Member, members),
                (Identity, identities),
                (Consent, consents),
                (Reservation, reservations),
            ):
                for start in range(0, len(rows), 5_000):
                    await session.execute(insert(model), rows[start : start + 5_000])
            # The reminder, due now (as when the tenant's "minutes before the start" has come).
            await jobs.enqueue(
                session,
                live.REMINDER_JOB,
                {"show_id": show_id, "starts_at": live.stamp(starts), "after_member": 0},
                tenant_id=tid,
                dedupe_key=f"{live.REMINDER_JOB}:{tid}:{show_id}:{live.stamp(starts)}:0",
                run_after=datetime.now(UTC),
            )
    finally:
        await engine.dispose()


async def settled(url: str) -> tuple[int, int]:
    """(reminders filed, reminders settled: sent, dropped or parked) in the database."""
    from sqlalchemy import func, select

    from siyu.db import create_engine, create_sessionmaker
    from siyu.notices.models import Notice, NoticeStatus

    engine = create_engine(url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await session.execute(
                select(Notice.status, func.count()).where(Notice.kind == "live_show_reminder").group_by(Notice.status)
            )
            counts = {str(status): int(n) for status, n in rows.all()}
    finally:
        await engine.dispose()
    done = sum(counts.get(s, 0) for s in (NoticeStatus.sent, NoticeStatus.dropped, NoticeStatus.parked))
    return sum(counts.values()), done


async def cut_off(url: str) -> dict[str, int]:
    """Tries that a kill cut off mid-call (found under way by a later run), and how the later tries settled them."""
    from sqlalchemy import func, select

    from siyu.db import create_engine, create_sessionmaker
    from siyu.notices.models import Delivery

    engine = create_engine(url, pool_size=1)
    try:
        async with create_sessionmaker(engine)() as session:
            rows = await session.execute(
                select(Delivery.status, Delivery.error_code, func.count()).group_by(
                    Delivery.status, Delivery.error_code
                )
            )
            counts = {(str(status), str(code)): int(n) for status, code, n in rows.all()}
    finally:
        await engine.dispose()
    return {
        "cut_off_tries": counts.get(("interrupted", "interrupted"), 0),
        "found_at_aliyun": counts.get(("sent", "confirmed"), 0),
        "refused_by_wechat_as_already_sent": counts.get(("sent", "43101"), 0),
        "still_sending": sum(n for (status, _code), n in counts.items() if status == "sending"),
    }


class Workers:
    """`siyu worker` processes, killed and restarted on demand."""

    def __init__(self, url: str, workdir: Path, count: int, *, sms: str, wechat: str) -> None:
        self.count, self.workdir = count, workdir
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("SIYU_")}
        self.env.update(
            SIYU_DATABASE_URL=url,
            SIYU_ENV="production",
            SIYU_SECRET_KEY=SECRET,
            SIYU_LOG_LEVEL="WARNING",
            SIYU_DB_POOL_SIZE="4",
            SIYU_DATA_DIR=str(workdir / "var"),
            SIYU_ALIYUN_SMS_BASE=sms,
            SIYU_WECHAT_API_BASE=wechat,
        )
        self.processes: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def start(self, slot: int) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"worker-{self.started}.log").open("wb")
        self.started += 1
        command = [str(Path(sys.executable).parent / "siyu"), "worker", "--concurrency", "2" if self.count > 1 else "1"]
        process = subprocess.Popen(command, env=self.env, stdout=log, stderr=subprocess.STDOUT)  # noqa: S603
        if slot < len(self.processes):
            self.processes[slot] = process
        else:
            self.processes.append(process)
        return process

    def kill_one(self) -> int:
        slot = random.randrange(len(self.processes))
        process = self.processes[slot]
        process.send_signal(signal.SIGKILL)
        process.wait()
        return process.pid

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def count(fans: int, sms_sent: list[dict[str, Any]], wechat_sent: list[dict[str, Any]]) -> dict[str, int]:
    """Per fan, the reminders the fakes took: everyone reserved, so each must have exactly one."""
    member_of = {phone_of(n): n for n in range(0, fans, 2)} | {openid_of(n): n for n in range(1, fans, 2)}
    got: Counter[int] = Counter()
    strangers = 0
    for message in sms_sent:
        fan = member_of.get(str(message["phone"]))
        if fan is None or message["template"] != TEMPLATE_SMS:
            strangers += 1
        else:
            got[fan] += 1
    for message in wechat_sent:
        fan = member_of.get(str(message["touser"]))
        if fan is None or message["template_id"] != TEMPLATE_WECHAT:
            strangers += 1
        else:
            got[fan] += 1
    return {
        "sent": len(got),
        "doubles": sum(n - 1 for n in got.values() if n > 1),
        "lost": fans - len(got),
        "strangers": strangers,
        "by_sms": len(sms_sent),
        "by_wechat": len(wechat_sent),
    }


def _floor_client(base: str, clients: int, seconds: float, queue: Any) -> None:
    """In a process of its own: signed SendSms forms posted back to back on `clients` keep-alive connections."""
    sys.path.insert(0, str(ROOT))
    import httpx

    from siyu.demo.gateways.sms import ALIYUN_KEY, ALIYUN_SECRET
    from siyu.notices.channels import AliyunSms, SmsMessage

    sender = AliyunSms(base, key_id=ALIYUN_KEY, secret=ALIYUN_SECRET)
    forms = [
        sender.signed_params(
            SmsMessage(phone_of(n), "星河直播间", TEMPLATE_SMS, {"title": "周五上新专场"}, out_id=str(n)),
            now=datetime.now(UTC),
            nonce=secrets.token_hex(8),
        )
        for n in range(2_000)
    ]

    async def main() -> int:
        done = 0
        deadline = time.perf_counter() + seconds

        async def client(offset: int) -> None:
            nonlocal done
            async with httpx.AsyncClient(timeout=10) as http:
                n = offset
                while time.perf_counter() < deadline:
                    response = await http.post(base + "/", data=forms[n % len(forms)])
                    assert response.json()["Code"] == "OK"
                    done += 1
                    n += clients

        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        queue.put(done / (time.perf_counter() - started))
        return done

    asyncio.run(main())


def floor(clients: int, seconds: float) -> float:
    from siyu.demo.gateways.sms import serve

    with serve() as (_fake, base):
        context = multiprocessing.get_context("spawn")
        queue = context.Queue()
        process = context.Process(target=_floor_client, args=(base, clients, seconds, queue))
        process.start()
        rate = float(queue.get(timeout=seconds + 120))
        process.join(timeout=30)
    return rate


def run(url: str, args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    from siyu.demo.gateways.sms import serve as serve_sms
    from siyu.demo.gateways.wechat import serve as serve_wechat

    fans = args.fans
    workers_count = args.workers if backend_name(url) == "postgresql" else 1
    with serve_sms() as (sms, sms_base), serve_wechat() as (wechat, wechat_base):
        wechat.consents = {(openid_of(n), TEMPLATE_WECHAT): 1 for n in range(1, fans, 2)}
        workers = Workers(url, workdir, workers_count, sms=sms_base, wechat=wechat_base)
        rng = random.Random(args.seed)
        marks = sorted(rng.uniform(0.03, 0.9) * fans for _ in range(args.kills))
        kills, killed_at = 0, []
        started = time.perf_counter()
        for slot in range(workers_count):
            workers.start(slot)
        say(f"{workers_count} worker process(es) started; reminders to {fans:,} fans are due")
        last_report, last_total, last_change = 0.0, -1, time.perf_counter()
        try:
            while True:
                delivered = len(sms.sent) + len(wechat.messages)
                if marks and delivered >= marks[0]:
                    marks.pop(0)
                    time.sleep(rng.uniform(0, 0.3))
                    pid = workers.kill_one()
                    kills += 1
                    killed_at.append(len(sms.sent) + len(wechat.messages))
                    time.sleep(rng.uniform(0, 1.0))
                    slot = next(i for i, p in enumerate(workers.processes) if p.pid == pid)
                    workers.start(slot)
                    say(f"kill {kills}: SIGKILL worker {pid} after {killed_at[-1]:,} reminders; restarted")
                    continue
                now = time.perf_counter()
                if delivered != last_total:
                    last_total, last_change = delivered, now
                if now - last_report >= 10:
                    last_report = now
                    try:
                        filed, done = asyncio.run(settled(url))
                    except Exception as error:  # SQLite: the worker holds the write lock for a while; ask again later
                        say(f"{delivered:,} reminders at the fakes; the database is busy ({type(error).__name__})")
                        continue
                    say(f"{delivered:,} reminders at the fakes; {filed:,} filed, {done:,} settled in the database")
                    if not marks and filed == fans and done == fans:
                        break
                    if now - started > DONE_TIMEOUT:
                        say("giving up waiting")
                        break
                for index, process in enumerate(workers.processes):
                    if process.poll() is not None:  # died on its own: say so, and carry on with a new one
                        say(f"worker {process.pid} exited with {process.returncode}; restarted")
                        workers.start(index)
                time.sleep(0.02)
        finally:
            workers.stop()
        elapsed = last_change - started
        resumed = asyncio.run(cut_off(url))
        counted = count(fans, list(sms.sent), list(wechat.messages))
        bad = sms.bad_signatures
    say(f"{counted['sent']:,} fans reached in {elapsed:.1f} s, {kills} kills; measuring the fake's floor")
    rate = counted["by_sms"] + counted["by_wechat"]
    sends_per_s = rate / elapsed if elapsed > 0 else 0.0
    floor_per_s = floor(args.floor_clients, args.floor_seconds)
    return {
        "database": backend_name(url),
        "workers": workers_count,
        "reserved": fans,
        **counted,
        "bad_signatures": bad,
        **resumed,
        "kills": kills,
        "killed_after": killed_at,
        "elapsed_s": round(elapsed, 1),
        "sends_per_s": round(sends_per_s, 1),
        "floor_per_s": round(floor_per_s, 1),
        "ratio": round(sends_per_s / floor_per_s, 4) if floor_per_s else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--fans", type=int, default=20_000)
    parser.add_argument("--workers", type=int, default=3, help="worker processes on PostgreSQL (SQLite: one)")
    parser.add_argument("--kills", type=int, default=6, help="SIGKILLs while reminders go out (at least 5)")
    parser.add_argument("--seed", type=int, default=None, help="for the kill moments")
    parser.add_argument("--floor-clients", type=int, default=8)
    parser.add_argument("--floor-seconds", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="siyu-bench-reminders-") as tmp:
        workdir = Path(tmp)
        say(f"seeding {args.fans:,} fans, their consents and reservations")
        with bench_database(
            args.database_url, workdir, "reminders", prepare=lambda url: seed(url, fans=args.fans)
        ) as url:
            result = run(url, args, workdir)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main()
