"""Counts of filters on what members bought and claimed, when they joined and their points come from the analytics
snapshot (the other criteria from the database, the two sets meeting in the snapshot): they must equal the
database's answer for every combination, after a full build and after a refresh that saw new members, claims and
points; a filter without such criteria, or no snapshot, leaves the count to the database."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from siyu.analytics import service as analytics
from siyu.kit.time import utcnow
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.members import service as members
from siyu.members.models import Member
from siyu.segments import service
from siyu.segments.schemas import SegmentFilter
from tests.analytics.support import credit, order
from tests.segments.conftest import World

SHANGHAI = ZoneInfo("Asia/Shanghai")


def _local(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI).astimezone(UTC)


async def _bought(world: World, member_id: int, *, platform: str, claimed: datetime, paid_days_ago: int) -> None:
    row = await order(world.session, world.tenant_id, platform=platform, paid_at=utcnow() - timedelta(paid_days_ago))
    claim = await credit(world.session, row, member_id)
    claim.created_at = claimed
    await world.session.flush()


async def _both(world: World, criteria: dict[str, Any]) -> tuple[int | None, int]:
    """(the count as the snapshot answers its criteria, or None when it does not; the database's count)."""
    scope = await service.scope_of(world.session, tenant_id=world.tenant_id, data_dir=world.data_dir)
    rules = SegmentFilter.model_validate(criteria)
    known, rest = service.known_to_snapshot(scope, rules)
    from_snapshot = None
    if known is not None:
        among = None
        if rest != SegmentFilter():
            where = await service.conditions(world.session, scope, rest)
            among = members.id_frames_where(world.session, tenant_id=world.tenant_id, where=where)
        from_snapshot = await analytics.count_known(
            world.session,
            tenant_id=world.tenant_id,
            directory=scope.directory,
            known=known,
            now=scope.now,
            among=among,
        )
        if from_snapshot is not None:
            assert await service.count_matching(world.session, scope, rules) == from_snapshot
    where = await service.conditions(world.session, scope, rules)
    return from_snapshot, await members.count_where(world.session, tenant_id=world.tenant_id, where=where)


def _filters(today: date, tag_id: int) -> list[dict[str, Any]]:
    platforms: list[dict[str, Any]] = [{}, {"platforms": ["douyin"]}, {"platforms": ["taobao", "kuaishou"]}]
    claims: list[dict[str, Any]] = [
        {},
        {"last_claim_from": today - timedelta(days=10)},
        {"last_claim_from": today - timedelta(days=60), "last_claim_to": today - timedelta(days=11)},
        {"no_claim_days": 30},
    ]
    joined: list[dict[str, Any]] = [{}, {"joined_to": today - timedelta(days=100)}, {"joined_from": today}]
    rfm: list[dict[str, Any]] = [{}, {"rfm": ["new", "sleeping", "other"]}]
    points: list[dict[str, Any]] = [{}, {"points_min": 50}, {"points_max": 10}]
    others: list[dict[str, Any]] = [{}, {"cities": ["杭州"]}, {"tags_none": [tag_id]}]  # (the database's)
    combos = [
        a | b | c | d | e | f for a, b, c, d, e, f in itertools.product(platforms, claims, joined, rfm, points, others)
    ]
    return [c for c in combos if set(c) - {"cities", "tags_none"}]


async def test_the_snapshot_counts_as_the_database_does(world: World) -> None:
    today = utcnow().astimezone(SHANGHAI).date()
    old = utcnow() - timedelta(days=300)
    ann = await world.fan("老淘宝", joined=old, points=80)
    bea = await world.fan("抖音新客", points=60)
    cat = await world.fan("绑了快手", joined=old)
    dan = await world.fan("什么都没做")
    eve = await world.fan("后来合并掉的", joined=old)
    await _bought(world, ann, platform="taobao", claimed=_local(today - timedelta(days=40)), paid_days_ago=41)
    await _bought(world, ann, platform="taobao", claimed=_local(today - timedelta(days=20)), paid_days_ago=21)
    await _bought(world, bea, platform="douyin", claimed=_local(today, hour=0) + timedelta(minutes=5), paid_days_ago=1)
    await _bought(world, eve, platform="douyin", claimed=_local(today - timedelta(days=3)), paid_days_ago=3)
    await world.bind(cat, "kuaishou_id", "ks_998877")
    await world.address(cat, "浙江省 杭州市 西湖区")
    await world.address(dan, "浙江省 杭州市 滨江区")
    tag = await world.tag()
    await service.add_tag(world.session, actor=world.owner, tag_id=tag.id, member_ids=[ann, cat])
    merged = await world.session.get(Member, (world.tenant_id, eve))
    assert merged is not None
    merged.status, merged.merged_into = "merged", ann
    await world.session.flush()
    directory = analytics.directory_of(world.data_dir)
    assert (await _both(world, {"platforms": ["douyin"]}))[0] is None  # no snapshot yet: the database answers

    await analytics.refresh(world.session, tenant_id=world.tenant_id, directory=directory, full=True)
    for criteria in _filters(today, tag.id):
        from_snapshot, from_database = await _both(world, criteria)
        assert from_snapshot == from_database, criteria
    assert await _both(world, {"platforms": ["douyin"]}) == (1, 1)  # Bea (Eve is merged away)
    assert await _both(world, {"no_claim_days": 30}) == (2, 2)  # Cat and Dan: never claimed

    # new members and claims after the build, read by an incremental refresh
    fay = await world.fan("刚入会")
    await _bought(world, fay, platform="kuaishou", claimed=utcnow(), paid_days_ago=0)
    await _bought(world, dan, platform="taobao", claimed=utcnow(), paid_days_ago=2)
    await ledger.earn(  # Cat's points change after the build
        world.session, tenant_id=world.tenant_id, member_id=cat, amount=70, source_ref=refs.order_ref("taobao", "C1")
    )
    refreshed = await analytics.refresh(world.session, tenant_id=world.tenant_id, directory=directory)
    assert not refreshed.full
    for criteria in _filters(today, tag.id):
        from_snapshot, from_database = await _both(world, criteria)
        assert from_snapshot == from_database, criteria
    assert await _both(world, {"joined_from": today, "platforms": ["kuaishou", "taobao"]}) == (2, 2)  # Fay, Dan
    assert await _both(world, {"points_min": 50, "cities": ["杭州"]}) == (1, 1)  # Cat


async def test_a_filter_is_split_into_what_the_snapshot_answers_and_the_rest(world: World) -> None:
    scope = await service.scope_of(world.session, tenant_id=world.tenant_id, data_dir=world.data_dir)
    for criteria in ({}, {"tags_any": [1]}, {"tier_ids": [world.tiers["金卡"].id], "cities": ["杭州"]}):
        rules = SegmentFilter.model_validate(criteria)
        assert service.known_to_snapshot(scope, rules) == (None, rules)
    known, rest = service.known_to_snapshot(scope, SegmentFilter(joined_from=date(2026, 1, 1), cities=["杭州"]))
    assert known is not None and known.joined_from is not None and rest == SegmentFilter(cities=["杭州"])
