"""The demo tenant's points tasks (积分任务): a task of every kind offered today, fans who did some of them over the
last two weeks (the console's chart has something to show), and review screenshots waiting in the queue, one
approved and one rejected with its reason, all through the services the product uses.

The demo fan (the member with the most points) stays the richest: others are only given task points that keep
them below her."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.missions import service
from siyu.engagement.missions.models import Task
from siyu.engagement.missions.schemas import TaskIn
from siyu.kit.errors import AppError
from siyu.kit.pagination import PageRequest
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.members import service as members
from siyu.tenants import service as tenants

TASKS = [
    {"kind": "profile", "title": "完善会员资料", "points": 20, "sort_order": 50},
    {"kind": "bind_account", "title": "绑定淘宝或抖音账号", "points": 30, "sort_order": 40},
    {
        "kind": "follow",
        "title": "关注星河抖音号",
        "points": 10,
        "sort_order": 30,
        "description": "开播第一时间收到提醒",
        "config": {"channel": "星河好物直播间", "channel_platform": "抖音", "link": "https://www.douyin.com/"},
    },
    {
        "kind": "survey",
        "title": "每周直播小调查",
        "points": 5,
        "period": "weekly",
        "sort_order": 20,
        "config": {
            "questions": [
                {"text": "你最常在哪个平台下单？", "kind": "choice", "options": ["淘宝", "抖音", "快手", "视频号"]},
                {"text": "下周最想看哪类好物？", "kind": "choice", "options": ["美妆护肤", "零食饮料", "家居日用"]},
                {"text": "想对主播说的话", "kind": "text"},
            ]
        },
    },
    {
        "kind": "review",
        "title": "晒好评得积分",
        "points": 30,
        "period": "daily",
        "cap_per_period": 3,
        "sort_order": 10,
        "description": "在平台写好评并截图上传，审核通过每单得 30 积分",
    },
]
ANSWERS = [{"1": "淘宝", "2": "美妆护肤", "3": "多播点平价好物"}, {"1": "抖音", "2": "零食饮料", "3": "期待返场"}]


@dataclass(frozen=True)
class Loaded:
    tasks: int
    completions: int
    reviews: int


def _system(tenant_id: int) -> Principal:
    return Principal(
        tenant_id=tenant_id,
        kind="system",
        actor_id=None,
        label="演示数据",
        permissions=frozenset({"points.rules", "claims.review"}),
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def screenshot(seed: int, width: int = 270, height: int = 480) -> bytes:
    """A small PNG that looks like a phone screenshot of a review: a header bar, stars, lines of text."""
    rows = []
    for y in range(height):
        if y < 44:
            colour = (255, 80, 0) if seed % 2 else (22, 24, 35)
            row = bytes(colour) * width
        elif 70 <= y < 86:
            row = b"".join(
                bytes((255, 190, 0) if (x // 20) % 2 == 0 and x < 200 else (255, 255, 255)) for x in range(width)
            )
        elif 110 <= y < 360 and (y - 110) % 28 < 10:
            end = width - 30 - ((y * 7 + seed * 13) % 90)
            row = b"".join(bytes((200, 200, 205) if 16 <= x < end else (255, 255, 255)) for x in range(width))
        else:
            row = bytes((255, 255, 255)) * width
        rows.append(b"\x00" + row)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )


async def load(session: AsyncSession, *, slug: str, data_dir: Path, now: datetime | None = None) -> Loaded:
    """Offer the tasks and let fans do some of them; nothing happens when the tenant already has tasks."""
    now = now or utcnow()
    tenant = await tenants.get_by_slug(session, slug)
    actor = _system(tenant.id)
    if await service.list_tasks(session, tenant_id=tenant.id):
        return Loaded(0, 0, 0)
    made: dict[str, Task] = {}
    for values in TASKS:
        data = TaskIn.model_validate(values)
        made[data.kind] = await service.create_task(session, actor=actor, data=data, timezone=tenant.timezone)
    richest = await ledger.richest_member(session, tenant_id=tenant.id)
    ceiling = 0
    if richest is not None:
        points = await ledger.balance(session, tenant_id=tenant.id, member_id=richest)
        ceiling = points.available + points.pending
    found = await members.search(session, tenant_id=tenant.id, query=None, page=PageRequest(size=40))
    others = []
    for member in found.items:
        if member.id == richest:
            continue
        points = await ledger.balance(session, tenant_id=tenant.id, member_id=member.id)
        if points.available + points.pending + 100 < ceiling:
            others.append(member.id)
    done = 0
    for n, member_id in enumerate(others[:24]):
        at = now - timedelta(days=n % 14, hours=n % 5)
        for kind, extra in (
            ("follow", {"confirm": True}),
            ("survey", {"answers": ANSWERS[n % 2]}),
            ("bind_account", {}),
            ("profile", {}),
        ):
            if kind == "survey" and n % 3 == 0:
                continue
            try:
                async with session.begin_nested():
                    await service.complete(
                        session,
                        tenant_id=tenant.id,
                        member_id=member_id,
                        task_id=made[kind].id,
                        timezone=tenant.timezone,
                        now=at,
                        **extra,
                    )
                done += 1
            except AppError:  # the condition is not met for her (no account bound): she has not done it
                continue
    reviewers = ([] if richest is None else [richest]) + others[:5]
    sent = []
    for n, member_id in enumerate(reviewers):
        orders = await service.credited_orders(session, tenant_id=tenant.id, member_id=member_id, limit=20)
        if not orders:
            continue
        order = orders[0]
        sent.append(
            await service.submit_review(
                session,
                tenant_id=tenant.id,
                member_id=member_id,
                task_id=made["review"].id,
                platform=order.platform,
                order_id=order.order_id,
                data=screenshot(n),
                data_dir=data_dir,
                timezone=tenant.timezone,
                now=now - timedelta(hours=n + 1),
            )
        )
    if sent and sent[0].member_id == richest:  # the demo fan sees why her first screenshot was not accepted
        await service.decide(
            session, actor=actor, review_id=sent[0].id, approve=False, reason="截图里看不到订单号，请重新截图上传"
        )
    if len(sent) > 1:
        await service.decide(session, actor=actor, review_id=sent[-1].id, approve=True, now=now)
    return Loaded(len(made), done, len(sent))
