"""The demo tenant's live calendar (直播预告): past shows whose windows cover the demo's imported orders, one per
platform (so each show's report attributes real orders, and some buyers had reserved), and shows of the coming
days with covers, benefits, featured products and reservations.

Past shows cannot be planned through the service (it refuses a start in the past), so they are written as they
would stand after airing; everything to come goes through the service the console uses."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit import images
from siyu.kit.ids import new_id
from siyu.kit.pagination import PageRequest
from siyu.kit.time import to_local, utcnow
from siyu.kit.web import Principal
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.live import attribution, repository, service
from siyu.live.models import Reservation, Show
from siyu.live.schemas import ProductIn, ShowIn
from siyu.members import service as members
from siyu.tenants import service as tenants

PAST_TITLES = {
    "taobao": "天猫年货节护肤专场",
    "douyin": "抖音宠粉夜 · 零食囤货",
    "kuaishou": "快手老铁福利场",
    "channels": "视频号周末好物",
    "pdd": "拼多多百亿补贴专场",
}
COMING = [
    (
        "双12 护肤狂欢夜",
        1,
        20,
        ["预约抽 100 份小样", "前 500 名下单送化妆包"],
        [("珀莱雅双抗精华液 30ml", 26900), ("薇诺娜舒敏保湿霜 50g", 16800)],
    ),
    (
        "年货零食节",
        2,
        19,
        ["整点抽免单", "预约会员专享 9.9 元福袋"],
        [("三只松鼠坚果礼盒", 9900), ("良品铺子肉脯 200g", 3990)],
    ),
    ("家居好物上新", 4, 20, ["满 199 减 30"], [("网易严选乳胶枕", 12900)]),
]
COLOURS = [(232, 51, 109), (31, 119, 180), (255, 127, 14), (44, 160, 44)]


@dataclass(frozen=True)
class Loaded:
    past: int
    coming: int
    reservations: int


def _system(tenant_id: int) -> Principal:
    return Principal(
        tenant_id=tenant_id, kind="system", actor_id=None, label="演示数据", permissions=frozenset({"channels.write"})
    )


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def cover(seed: int, width: int = 320, height: int = 180) -> bytes:
    """A small PNG: a brand-coloured band fading to white, with a darker stripe where a title would sit."""
    red, green, blue = COLOURS[seed % len(COLOURS)]
    rows = []
    for y in range(height):
        fade = y / height
        colour = tuple(int(c + (255 - c) * fade * 0.7) for c in (red, green, blue))
        if 120 <= y < 150:
            colour = tuple(int(c * 0.7) for c in (red, green, blue))
        rows.append(b"\x00" + bytes(colour) * width)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )


def _orders_window(now: datetime) -> tuple[datetime, datetime]:
    """The window the demo's exports place their orders in (see siyu.demo.exports.write_all): 20:00 China time
    three days ago, for four hours (and a minute)."""
    local_start = (now + timedelta(hours=8)).replace(hour=20, minute=0, second=0, microsecond=0) - timedelta(days=3)
    start = local_start - timedelta(hours=8)
    return start.replace(tzinfo=now.tzinfo), (start + timedelta(hours=4, minutes=5)).replace(tzinfo=now.tzinfo)


async def load(session: AsyncSession, *, slug: str, data_dir: Path, now: datetime | None = None) -> Loaded:
    now = now or utcnow()
    tenant = await tenants.get_by_slug(session, slug)
    actor = _system(tenant.id)
    channels = [c for c in await tenants.list_channels(session, tenant_id=tenant.id) if c.active]
    first_of: dict[str, int] = {}
    for channel in channels:
        first_of.setdefault(channel.platform, channel.id)
    start, end = _orders_window(now)
    reservations = 0
    past = 0
    people = (await members.search(session, tenant_id=tenant.id, query=None, page=PageRequest(page=1, size=60))).items
    for n, (platform, title) in enumerate(PAST_TITLES.items()):
        if platform not in first_of:
            continue
        show = Show(
            tenant_id=tenant.id,
            id=new_id(),
            channel_id=first_of[platform],
            platform=platform,
            title=title,
            cover=images.store(data_dir, service.IMAGE_AREA, tenant.id, cover(n)),
            benefits=["预约抽 100 份小样"],
            starts_at=start,
            ends_at=end,
            version=0,
            notice="",
            created_at=start - timedelta(days=5),
        )
        repository.add(session, show)
        await session.flush()
        past += 1
        # Half the buyers who turned their order into points had reserved the show, and so had a few others.
        found = await attribution.attributed_orders(session, show)
        owners = await ledger.credit_owners(
            session, tenant_id=tenant.id, source_refs=[refs.order_ref(o.platform, o.order_id) for o in found]
        )
        reservers = sorted(set(owners.values()))[::2] + [m.id for m in people[n * 7 : n * 7 + 5]]
        for k, member_id in enumerate(sorted(set(reservers))):
            repository.add(
                session,
                Reservation(
                    tenant_id=tenant.id,
                    id=new_id(),
                    show_id=show.id,
                    member_id=member_id,
                    reserved_at=start - timedelta(days=4) + timedelta(hours=7 * k),
                    cancelled_at=None,
                ),
            )
            reservations += 1
        await session.flush()
    douyin = first_of.get("douyin") or (channels[0].id if channels else None)
    coming = 0
    if douyin is not None:
        today = to_local(now, tenant.timezone).replace(minute=0, second=0, microsecond=0)
        for n, (title, days, hour, benefits, products) in enumerate(COMING):
            local = today.replace(hour=hour) + timedelta(days=days)
            show = await service.create_show(
                session,
                actor=actor,
                data=ShowIn(
                    channel_id=douyin,
                    title=title,
                    starts_at=local,
                    ends_at=local + timedelta(hours=3),
                    benefits=benefits,
                ),
            )
            await service.set_cover(session, actor=actor, show_id=show.id, data=cover(n + 1), data_dir=data_dir)
            for k, (name, fen) in enumerate(products):
                await service.add_product(
                    session,
                    actor=actor,
                    show_id=show.id,
                    data=ProductIn(title=name, price_fen=fen, sort_order=10 - k),
                    image=cover(n + k + 2, 120, 120),
                    data_dir=data_dir,
                )
            fans = {m.id for m in people[n * 3 : n * 3 + 12 - n * 3]}
            if n == 0 and (demo_fan := await ledger.richest_member(session, tenant_id=tenant.id)) is not None:
                fans.add(demo_fan)  # the fan the demo signs in as holds one reservation
            for member_id in sorted(fans):
                await service.reserve(session, tenant_id=tenant.id, member_id=member_id, show_id=show.id)
                reservations += 1
            coming += 1
    return Loaded(past=past, coming=coming, reservations=reservations)
