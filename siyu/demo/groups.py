"""The demo tenant's fan groups (粉丝群): a group open to every member with an overflow group behind it (the first
one is full), a group for the first tier and up and one for the top tier with a spend threshold, each with a QR
code picture, and members who confirmed they joined. The first tier group's code was uploaded six and a half days
ago, so the console shows the warning to replace it. The fan the demo signs in as has joined none of them."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import segno
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.groups import service
from siyu.groups.models import FanGroup
from siyu.groups.schemas import GroupIn, OverflowIn
from siyu.kit.pagination import PageRequest
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.tenants import service as tenants


@dataclass(frozen=True)
class Loaded:
    groups: int
    joined: int


def _system(tenant_id: int) -> Principal:
    return Principal(
        tenant_id=tenant_id, kind="system", actor_id=None, label="演示数据", permissions=frozenset({"members.write"})
    )


def qr_png(text: str) -> bytes:
    """A QR code picture as WeChat shows a group's (a PNG)."""
    out = io.BytesIO()
    segno.make_qr(text, error="m").save(out, kind="png", scale=8, border=3, dark="#111111")
    return out.getvalue()


async def _fill(session: AsyncSession, group: FanGroup, *, limit: int, skip: int | None) -> int:
    """Members who qualify confirm they joined (up to `limit`), the demo's signed-in fan excepted."""
    found = await service.candidates(
        session, tenant_id=group.tenant_id, family_id=group.family_id, page=PageRequest(1, 200)
    )
    joined = 0
    for member in sorted(found.items, key=lambda m: m.id):
        if joined >= limit:
            break
        if member.id == skip:
            continue
        await service.join(session, tenant_id=group.tenant_id, member_id=member.id, group_id=group.id)
        joined += 1
    return joined


async def load(session: AsyncSession, *, slug: str, data_dir: Path) -> Loaded:
    tenant = await tenants.get_by_slug(session, slug)
    actor = _system(tenant.id)
    tiers = sorted(await loyalty.list_tiers(session, tenant_id=tenant.id), key=lambda t: t.threshold)
    demo_fan = await ledger.richest_member(session, tenant_id=tenant.id)
    made: list[FanGroup] = []
    joined = 0

    everyone = await service.create_group(
        session,
        actor=actor,
        data=GroupIn(name="普通粉丝一群", intro="新品预告、直播提醒第一时间知道", sort_order=1, cap=12),
    )
    second = await service.add_overflow(
        session, actor=actor, group_id=everyone.id, data=OverflowIn(name="普通粉丝二群", cap=200)
    )
    made += [everyone, second]
    if tiers:
        made.append(
            await service.create_group(
                session,
                actor=actor,
                data=GroupIn(
                    name=f"{tiers[0].name}群", intro="每周三群内专属秒杀", sort_order=2, min_tier_id=tiers[0].id
                ),
            )
        )
    if len(tiers) >= 2:
        made.append(
            await service.create_group(
                session,
                actor=actor,
                data=GroupIn(
                    name=f"{tiers[-1].name}群",
                    intro="新品先试用，主播不定期发红包",
                    sort_order=3,
                    min_tier_id=tiers[-1].id,
                    min_paid_fen=50000,
                    window_days=30,
                    cap=100,
                ),
            )
        )
    for n, group in enumerate(made):
        await service.set_qr(
            session,
            actor=actor,
            group_id=group.id,
            data=qr_png(f"https://weixin.qq.com/g/siyu-demo-{n}"),
            data_dir=data_dir,
        )
    joined += await _fill(session, everyone, limit=everyone.cap, skip=demo_fan)
    joined += await _fill(session, second, limit=3, skip=demo_fan)
    for group in made[2:]:
        joined += await _fill(session, group, limit=4, skip=demo_fan)
    if len(made) > 2:  # the first tier group's code was made six and a half days ago: ops are warned to replace it
        aging = made[2]
        assert aging.qr_expires_at is not None and aging.qr_uploaded_at is not None
        aging.qr_uploaded_at -= timedelta(days=6, hours=12)
        aging.qr_expires_at -= timedelta(days=6, hours=12)
        await session.flush()
    return Loaded(groups=len(made), joined=joined)
