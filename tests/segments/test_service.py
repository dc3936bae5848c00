"""Saved segments and tags: each criterion of a filter on its own (met and missed), criteria together, a filter that
matches nobody, other tenants never matched, tag rules adding and taking off, counts kept with their time, a
notice to a segment filed once per member however often it is sent, and segments as fan groups' and trials' entry
conditions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from siyu.analytics import service as analytics
from siyu.audit.models import AuditEntry
from siyu.claims.models import Outcome
from siyu.groups import service as groups
from siyu.groups.schemas import GroupIn
from siyu.jobs.models import Job
from siyu.kit.ids import new_id
from siyu.kit.time import utcnow
from siyu.mall.models import Address
from siyu.notices.models import Notice
from siyu.segments import service, tasks
from siyu.segments.models import MemberTag, TagSource
from siyu.segments.schemas import NoticeIn, SegmentFilter
from siyu.tasks import load_handlers
from siyu.trials import service as trials
from siyu.trials.schemas import TrialIn
from tests.analytics.support import credit, order
from tests.segments.conftest import World
from tests.support import factories

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(day: date, hour: int = 12) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=SHANGHAI).astimezone(UTC)


async def test_tier_criterion_matches_any_chosen_tier(world: World) -> None:
    silver = await world.fan("银卡", tier="银卡")
    gold = await world.fan("金卡", tier="金卡")
    await world.fan("新粉")
    assert await world.matching(tier_ids=[world.tiers["金卡"].id]) == {gold}
    assert await world.matching(tier_ids=[world.tiers["金卡"].id, world.tiers["银卡"].id]) == {silver, gold}


async def test_tags_any_and_none(world: World) -> None:
    a, b, c = await world.fan("甲"), await world.fan("乙"), await world.fan("丙")
    big, mum = await world.tag("高客单"), await world.tag("宝妈")
    await service.add_tag(world.session, actor=world.owner, tag_id=big.id, member_ids=[a])
    await service.add_tag(world.session, actor=world.owner, tag_id=mum.id, member_ids=[a, b])
    assert await world.matching(tags_any=[big.id, mum.id]) == {a, b}
    assert await world.matching(tags_none=[big.id]) == {b, c}
    assert await world.matching(tags_any=[mum.id], tags_none=[big.id]) == {b}


async def test_platform_means_a_bound_account_or_a_claimed_order_there(world: World) -> None:
    bound = await world.fan("绑定抖音")
    claimed = await world.fan("领过抖音")
    refused = await world.fan("领取没成功")
    taobao = await world.fan("淘宝")
    await world.bind(bound, "douyin_open_id", "dy_123456")
    await world.claim(claimed, platform="douyin")
    await world.claim(refused, platform="douyin", outcome=Outcome.not_eligible)
    await world.claim(taobao, platform="taobao")
    assert await world.matching(platforms=["douyin"]) == {bound, claimed}
    assert await world.matching(platforms=["douyin", "taobao"]) == {bound, claimed, taobao}
    assert await world.matching(platforms=["jd"]) == set()


async def test_points_range_is_inclusive_at_both_ends(world: World) -> None:
    low = await world.fan("99", points=99)
    exact = await world.fan("100", points=100)
    top = await world.fan("500", points=500)
    over = await world.fan("501", points=501)
    none = await world.fan("没积分")
    assert await world.matching(points_min=100, points_max=500) == {exact, top}
    assert await world.matching(points_max=99) == {low, none}
    assert await world.matching(points_min=501) == {over}


async def test_last_claim_range_is_in_local_days_and_no_claim_includes_never(world: World) -> None:
    today = utcnow().astimezone(SHANGHAI).date()
    first = today - timedelta(days=20)
    recent = await world.fan("最近领过")
    old = await world.fan("很久没领")
    edge = await world.fan("刚好在开始那天")
    never = await world.fan("从没领过")
    await world.claim(recent, at=local(today - timedelta(days=2)))
    await world.claim(old, at=local(today - timedelta(days=60)))
    await world.claim(old, at=local(today - timedelta(days=40)))
    await world.claim(edge, at=local(first, hour=0) + timedelta(minutes=1))  # 00:01 local on the first day
    await world.claim(never, at=local(today), outcome=Outcome.check_failed)  # not a claim that earned points
    assert await world.matching(last_claim_from=first, last_claim_to=today) == {recent, edge}
    assert await world.matching(last_claim_to=first - timedelta(days=1)) == {old}
    assert await world.matching(no_claim_days=30) == {old, never}
    # a claim inside the range is not enough: her last one must be (a later claim moves her out)
    moved_on = await world.fan("后来又领过")
    await world.claim(moved_on, at=local(today - timedelta(days=40)))
    await world.claim(moved_on, at=local(today - timedelta(days=1)))
    window = {"last_claim_from": today - timedelta(days=45), "last_claim_to": today - timedelta(days=35)}
    assert await world.matching(**window) == {old}
    assert await world.matching(last_claim_to=first - timedelta(days=1)) == {old}


async def test_city_comes_from_her_address_book(world: World) -> None:
    hz = await world.fan("杭州")
    sh = await world.fan("上海")
    both = await world.fan("两地")
    await world.fan("没地址")
    await world.address(hz, "浙江省 杭州市 西湖区")
    await world.address(sh, "上海市 上海市 浦东新区")
    await world.address(both, "上海市 上海市 静安区")
    await world.address(both, "浙江省 杭州市 滨江区")
    assert await world.matching(cities=["杭州市"]) == {hz, both}
    assert await world.matching(cities=["杭州", "上海"]) == {hz, sh, both}
    assert await world.matching(cities=["100%"]) == set()  # typed text is text, not a pattern


async def test_joined_range_is_in_local_days(world: World) -> None:
    day = date(2026, 3, 8)
    before = await world.fan("前一天深夜", joined=local(day - timedelta(days=1), hour=23))
    early = await world.fan("当天零点", joined=datetime(2026, 3, 7, 16, 0, tzinfo=UTC))  # 00:00 local
    late = await world.fan("当天深夜", joined=local(day, hour=23))
    assert await world.matching(joined_from=day, joined_to=day) == {early, late}
    assert before in await world.matching(joined_to=day - timedelta(days=1))


async def test_live_reservations_of_a_show_or_of_shows_in_a_window(world: World) -> None:
    today = utcnow().astimezone(SHANGHAI).date()
    show = await world.show(local(today + timedelta(days=3), hour=20))
    later = await world.show(local(today + timedelta(days=30), hour=20), title="年货节")
    a, b, c = await world.fan("预约"), await world.fan("取消了"), await world.fan("预约年货节")
    await world.reserve(a, show)
    await world.reserve(b, show, cancelled=True)
    await world.reserve(c, later)
    assert await world.matching(live_show_id=show.id) == {a}
    assert await world.matching(live_from=today, live_to=today + timedelta(days=7)) == {a}
    assert await world.matching(live_from=today) == {a, c}


async def test_rfm_segments_come_from_the_analytics_snapshot(world: World) -> None:
    shop = world.tenant_id
    await analytics.save_settings(
        world.session,
        tenant_id=shop,
        rfm_edges={"r": [30, 60, 90, 180], "f": [1, 2, 3, 4], "m": [100, 200, 300, 400]},
    )
    new = await world.fan("新客")
    lapsed = await world.fan("老客很久没来")
    await credit(world.session, await order(world.session, shop, paid_at=utcnow() - timedelta(days=1)), new)
    for n in range(5):
        o = await order(world.session, shop, paid_at=utcnow() - timedelta(days=200 + n))
        await credit(world.session, o, lapsed)
    assert await world.matching(rfm=["new"]) == set()  # no snapshot yet: nobody
    await analytics.refresh(world.session, tenant_id=shop, directory=analytics.directory_of(world.data_dir))
    assert await world.matching(rfm=["new"]) == {new}
    assert await world.matching(rfm=["win_back"]) == {lapsed}
    assert await world.matching(rfm=["new", "win_back", "top"]) == {new, lapsed}
    assert await world.matching(rfm=["sleeping"]) == set()
    # asked about one fan (a fan group's or a trial's entry condition): the same answer, member by member
    newcomers = await world.segment("新客", rfm=["new"])
    for member_id, inside in ((new, True), (lapsed, False)):
        assert (
            await service.contains(
                world.session, tenant_id=shop, segment_id=newcomers.id, member_id=member_id, data_dir=world.data_dir
            )
            is inside
        )


async def test_criteria_combine_and_a_filter_matching_nobody_counts_zero(world: World) -> None:
    rich_gold = await world.fan("富金卡", tier="金卡", points=2000)
    await world.fan("穷金卡", tier="金卡", points=10)
    await world.fan("富银卡", tier="银卡", points=2000)
    await world.address(rich_gold, "浙江省 杭州市 西湖区")
    assert await world.matching(tier_ids=[world.tiers["金卡"].id], points_min=1000, cities=["杭州"]) == {rich_gold}
    nobody = await world.segment("没有人", tier_ids=[world.tiers["金卡"].id], points_min=1000, cities=["拉萨"])
    assert nobody.member_count == 0 and nobody.counted_at is not None
    assert len(await world.matching()) == 3  # no criteria: every member


async def test_other_tenants_members_are_never_matched(world: World) -> None:
    mine = await world.fan("本店", points=500)
    other = await factories.tenant(world.session)
    theirs = await factories.member(world.session, other.id, nickname="别家")
    await world.address(mine, "浙江省 杭州市")
    world.session.add(
        Address(
            tenant_id=other.id,
            id=new_id(),
            member_id=theirs.id,
            name="林",
            phone="1",
            region="浙江省 杭州市",
            detail="x",
        )
    )
    await world.session.flush()
    assert await world.matching(cities=["杭州"]) == {mine}
    assert await world.matching() == {mine}


async def test_merged_members_are_left_out(world: World) -> None:
    kept = await world.fan("留下的", points=10)
    gone = await world.fan("被合并的", points=10)
    from siyu.members.models import Member

    row = await world.session.get(Member, (world.tenant_id, gone))
    assert row is not None
    row.status, row.merged_into = "merged", kept
    await world.session.flush()
    assert await world.matching(points_min=1) == {kept}


def test_a_filter_refuses_ranges_the_wrong_way_round() -> None:
    with pytest.raises(ValueError, match="下限不能大于上限"):
        SegmentFilter(points_min=10, points_max=5)
    with pytest.raises(ValueError, match="开始日期不能晚于结束日期"):
        SegmentFilter(joined_from=date(2026, 2, 1), joined_to=date(2026, 1, 1))
    assert SegmentFilter(cities=[" 杭州市 ", "杭州"]).cities == ["杭州"]


async def test_a_segment_naming_an_unknown_tag_or_tier_is_refused(world: World) -> None:
    with pytest.raises(service.BadFilter):
        await world.segment("错", tags_any=[123456789])
    with pytest.raises(service.BadFilter):
        await world.segment("错", tier_ids=[123456789])


async def test_counts_are_kept_with_their_time_and_refreshed(world: World) -> None:
    await world.fan("一", points=100)
    segment = await world.segment("有积分", points_min=1)
    assert segment.member_count == 1
    first = segment.counted_at
    await world.fan("二", points=200)
    assert segment.member_count == 1  # kept until counted again
    later = utcnow() + timedelta(minutes=5)
    refreshed = await service.refresh_count(
        world.session, tenant_id=world.tenant_id, segment_id=segment.id, data_dir=world.data_dir, now=later
    )
    assert refreshed.member_count == 2 and refreshed.counted_at == later and first is not None and first < later


async def test_the_scheduled_job_applies_tag_rules_then_counts_segments(world: World) -> None:
    rich = await world.fan("富", points=5000)
    tag = await world.tag("积分大户")
    await service.set_rule(
        world.session, actor=world.owner, tag_id=tag.id, rule=SegmentFilter(points_min=1000), data_dir=world.data_dir
    )
    segment = await world.segment("大户", tags_any=[tag.id])
    assert segment.member_count == 1
    newly = await world.fan("新富", points=3000)
    job = Job(id=1, kind=service.REFRESH_JOB, tenant_id=world.tenant_id, payload={})
    done = await tasks.refresh(world.session, job)
    assert done["tenants"][str(world.tenant_id)]["segments"] == 1
    assert segment.member_count == 2
    assert await world.matching(tags_any=[tag.id]) == {rich, newly}
    assert world.tenant_id in await service.tenants_with_work(world.session)


async def test_a_tag_rule_adds_and_takes_off_only_what_it_put_on(world: World) -> None:
    rich = await world.fan("富", points=5000)
    poor_by_hand = await world.fan("手动打的", points=10)
    tag = await world.tag("积分大户")
    await service.add_tag(world.session, actor=world.owner, tag_id=tag.id, member_ids=[poor_by_hand])
    _, changed = await service.set_rule(
        world.session, actor=world.owner, tag_id=tag.id, rule=SegmentFilter(points_min=1000), data_dir=world.data_dir
    )
    assert changed == (1, 0)
    assert await world.matching(tags_any=[tag.id]) == {rich, poor_by_hand}
    # She spends her points: the rule takes its tag off; the tag put on by hand stays
    from siyu.ledger import service as ledger

    await ledger.adjust(
        world.session, tenant_id=world.tenant_id, member_id=rich, amount=-4500, reason="测试", actor=world.owner
    )
    assert await service.refresh_rule(world.session, actor=world.owner, tag_id=tag.id, data_dir=world.data_dir) == (
        0,
        1,
    )
    assert await world.matching(tags_any=[tag.id]) == {poor_by_hand}
    # A rule naming its own tag is refused
    with pytest.raises(service.RuleNamesItself):
        await service.set_rule(world.session, actor=world.owner, tag_id=tag.id, rule=SegmentFilter(tags_any=[tag.id]))
    actions = set(await world.session.scalars(select(AuditEntry.action).where(AuditEntry.tenant_id == world.tenant_id)))
    assert {"tags.create", "tags.add", "tags.rule", "tags.rule_refresh"} <= actions


async def test_a_tag_put_on_by_hand_over_a_rule_is_kept_by_hand(world: World) -> None:
    rich = await world.fan("富", points=5000)
    tag = await world.tag("积分大户")
    await service.set_rule(
        world.session, actor=world.owner, tag_id=tag.id, rule=SegmentFilter(points_min=1000), data_dir=world.data_dir
    )
    await service.add_tag(world.session, actor=world.owner, tag_id=tag.id, member_ids=[rich])
    source = await world.session.scalar(
        select(MemberTag.source).where(MemberTag.tenant_id == world.tenant_id, MemberTag.member_id == rich)
    )
    assert source == TagSource.manual


async def test_removing_a_tag_by_hand_and_deleting_a_tag(world: World) -> None:
    a = await world.fan("甲")
    tag = await world.tag("爱抽奖")
    assert await service.add_tag(world.session, actor=world.owner, tag_id=tag.id, member_ids=[a, a]) == 1
    assert await service.add_tag(world.session, actor=world.owner, tag_id=tag.id, member_ids=[a]) == 0
    assert await service.remove_tag(world.session, actor=world.owner, tag_id=tag.id, member_ids=[a]) == 1
    await service.add_tag(world.session, actor=world.owner, tag_id=tag.id, member_ids=[a])
    await service.delete_tag(world.session, actor=world.owner, tag_id=tag.id)
    left = await world.session.scalar(
        select(func.count()).select_from(MemberTag).where(MemberTag.tenant_id == world.tenant_id)
    )
    assert left == 0
    with pytest.raises(service.TagNameTaken):
        await world.tag("宝妈")
        await world.tag("宝妈")


async def test_tagging_a_whole_segment(world: World) -> None:
    gold = [await world.fan(f"金{n}", tier="金卡") for n in range(3)]
    await world.fan("银", tier="银卡")
    tag = await world.tag("高客单")
    segment = await world.segment("金卡", tier_ids=[world.tiers["金卡"].id])
    await service.add_tag(world.session, actor=world.owner, tag_id=tag.id, member_ids=[gold[0]])
    added = await service.tag_segment(
        world.session, actor=world.owner, segment_id=segment.id, tag_id=tag.id, data_dir=world.data_dir
    )
    assert added == 2
    assert await world.matching(tags_any=[tag.id]) == set(gold)


async def _notices(world: World) -> list[tuple[int, str]]:
    rows = await world.session.execute(
        select(Notice.member_id, Notice.kind).where(Notice.tenant_id == world.tenant_id).order_by(Notice.member_id)
    )
    return [(m, k) for m, k in rows.tuples()]


async def _run_send_jobs(world: World) -> None:
    """Run the queued send jobs of the tenant, as the worker would (a batch may queue the next one)."""
    while True:
        queued = list(
            await world.session.scalars(
                select(Job).where(
                    Job.tenant_id == world.tenant_id, Job.kind == service.SEND_JOB, Job.status == "queued"
                )
            )
        )
        if not queued:
            return
        for job in queued:
            await tasks.send(world.session, job)
            job.status = "done"
        await world.session.flush()


async def test_a_notice_to_a_segment_is_filed_once_per_member(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    load_handlers()
    monkeypatch.setattr(tasks, "BATCH", 2)  # several batches, each its own job
    fans = [await world.fan(f"金{n}", tier="金卡") for n in range(5)]
    await world.fan("银", tier="银卡")
    segment = await world.segment("金卡", tier_ids=[world.tiers["金卡"].id])
    data = NoticeIn(title="会员福利", text="今晚直播间金卡专享", key="send-key-0001")
    first = await service.send_notice(world.session, actor=world.owner, segment_id=segment.id, data=data)
    again = await service.send_notice(world.session, actor=world.owner, segment_id=segment.id, data=data)
    assert again.id == first.id and first.members == 5
    await _run_send_jobs(world)
    assert await _notices(world) == [(m, "segment_message") for m in sorted(fans)]
    # The same send's jobs run again (a worker died after telling them): nobody is told twice
    for job in await world.session.scalars(select(Job).where(Job.kind == service.SEND_JOB)):
        await tasks.send(world.session, job)
    assert len(await _notices(world)) == 5
    # A new send (another key) is news of its own
    await service.send_notice(
        world.session, actor=world.owner, segment_id=segment.id, data=data.model_copy(update={"key": "send-key-0002"})
    )
    await _run_send_jobs(world)
    assert len(await _notices(world)) == 10


async def test_a_group_can_admit_only_a_segments_members(world: World) -> None:
    tag = await world.tag("宝妈")
    mum = await world.fan("宝妈")
    other = await world.fan("路人")
    await service.add_tag(world.session, actor=world.owner, tag_id=tag.id, member_ids=[mum])
    segment = await world.segment("宝妈们", tags_any=[tag.id])
    group = await groups.create_group(
        world.session, actor=world.owner, data=GroupIn(name="宝妈群", segment_id=segment.id)
    )
    views = {
        m: (await groups.fan_groups(world.session, tenant_id=world.tenant_id, member_id=m))[0] for m in (mum, other)
    }
    assert views[mum].qualified and views[mum].thresholds == ["仅限部分会员"]
    assert views[other].reasons == ["这个群只对部分会员开放"]
    with pytest.raises(groups.NotQualified):
        await groups.join(world.session, tenant_id=world.tenant_id, member_id=other, group_id=group.id)
    await groups.join(world.session, tenant_id=world.tenant_id, member_id=mum, group_id=group.id)
    family = await groups.family_of(world.session, tenant_id=world.tenant_id, group_id=group.id)
    assert family.thresholds == ["会员分群“宝妈们”的会员"]
    from siyu.kit.pagination import PageRequest

    later = await world.fan("新宝妈")
    await service.add_tag(world.session, actor=world.owner, tag_id=tag.id, member_ids=[later])
    found = await groups.candidates(world.session, tenant_id=world.tenant_id, family_id=group.id, page=PageRequest())
    assert [m.id for m in found.items] == [later]
    # The segment deleted: nobody qualifies
    await service.delete_segment(world.session, actor=world.owner, segment_id=segment.id)
    view = (await groups.fan_groups(world.session, tenant_id=world.tenant_id, member_id=later))[0]
    assert view.reasons == ["这个群暂未开放"]
    with pytest.raises(groups.BadSegment):
        await groups.create_group(world.session, actor=world.owner, data=GroupIn(name="错群", segment_id=segment.id))


async def test_a_trial_can_take_applications_only_from_a_segment(world: World) -> None:
    gold = await world.fan("金卡", tier="金卡")
    silver = await world.fan("银卡", tier="银卡")
    segment = await world.segment("金卡会员", tier_ids=[world.tiers["金卡"].id])
    now = utcnow()
    trial = await trials.create_trial(
        world.session,
        actor=world.owner,
        data=TrialIn(
            title="精华液",
            quota=3,
            apply_from=now - timedelta(hours=1),
            apply_until=now + timedelta(days=3),
            segment_id=segment.id,
        ),
    )
    assert await trials.refusal(world.session, trial=trial, member_id=gold) is None
    refused = await trials.refusal(world.session, trial=trial, member_id=silver)
    assert refused is not None and refused.message == "这个试用只面向部分会员，你暂时不在名单中"
    with pytest.raises(trials.BadSegment):
        await trials.create_trial(
            world.session,
            actor=world.owner,
            data=TrialIn(
                title="面霜", quota=1, apply_from=now, apply_until=now + timedelta(days=1), segment_id=123456789
            ),
        )


async def test_a_merged_members_tags_follow_her(world: World) -> None:
    kept, gone = await world.fan("留下"), await world.fan("并入")
    a, b = await world.tag("甲"), await world.tag("乙")
    await service.add_tag(world.session, actor=world.owner, tag_id=a.id, member_ids=[kept, gone])
    await service.add_tag(world.session, actor=world.owner, tag_id=b.id, member_ids=[gone])
    assert await service.follow_merge(world.session, world.tenant_id, gone, kept) == 1
    tags = await service.tags_of_members(world.session, tenant_id=world.tenant_id, member_ids=[kept, gone])
    assert sorted(t.name for t, _ in tags[kept]) == ["乙", "甲"] and gone not in tags
