"""The demo tenant's member tags and saved segments: 高客单 (given by a rule: the RFM segments 重要价值 and 高潜),
爱抽奖 and 宝妈 (put on by hand), and three segments with their counts: new customers after their first order, members
with points to spend (宝妈 aside), and the fans who reserved the next live show. The analytics snapshot is
built before (siyu.demo.analytics), so the RFM criteria have something to read."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.web import Principal
from siyu.live import service as live
from siyu.segments import service
from siyu.segments.schemas import SegmentFilter, SegmentIn, TagIn
from siyu.tenants import service as tenants


@dataclass(frozen=True)
class Loaded:
    tags: int
    tagged: int
    segments: list[tuple[str, int]]  # (name, members)


def _system(tenant_id: int) -> Principal:
    return Principal(
        tenant_id=tenant_id, kind="system", actor_id=None, label="演示数据", permissions=frozenset({"members.write"})
    )


async def load(session: AsyncSession, *, slug: str, data_dir: Path) -> Loaded:
    tenant = await tenants.get_by_slug(session, slug)
    actor = _system(tenant.id)
    big = await service.create_tag(session, actor=actor, data=TagIn(name="高客单", color="#E4572E"))
    lottery = await service.create_tag(session, actor=actor, data=TagIn(name="爱抽奖", color="#F3A712"))
    mums = await service.create_tag(session, actor=actor, data=TagIn(name="宝妈", color="#A23B72"))
    await service.set_rule(
        session, actor=actor, tag_id=big.id, rule=SegmentFilter(rfm=["top", "potential"]), data_dir=data_dir
    )
    scope = await service.scope_of(session, tenant_id=tenant.id, data_dir=data_dir)
    everyone: list[int] = []
    async for batch in service.matching_ids(session, scope, SegmentFilter()):
        everyone.extend(batch)
    tagged = await service.add_tag(session, actor=actor, tag_id=lottery.id, member_ids=everyone[::6])
    tagged += await service.add_tag(session, actor=actor, tag_id=mums.id, member_ids=everyone[2::5])
    shows = [s for s in await live.upcoming(session, tenant_id=tenant.id) if s.cancelled_at is None]
    wanted = [
        SegmentIn(
            name="首单新客",
            description="只下过一单的新客，发复购券",
            filter=SegmentFilter(rfm=["new"]),
        ),
        SegmentIn(
            name="积分够换奖品",
            description="提醒去积分商城兑换",
            filter=SegmentFilter(points_min=200, tags_none=[mums.id]),
        ),
        SegmentIn(
            name="预约了下一场直播" if shows else "抖音的宝妈",
            description="开播前提醒进直播间" if shows else "",
            filter=SegmentFilter(live_show_id=shows[0].id)
            if shows
            else SegmentFilter(platforms=["douyin"], tags_any=[mums.id]),
        ),
    ]
    made = [await service.create_segment(session, actor=actor, data=data, data_dir=data_dir) for data in wanted]
    return Loaded(tags=3, tagged=tagged, segments=[(s.name, s.member_count or 0) for s in made])
