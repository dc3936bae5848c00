"""Fan voice's rules: one "+1", one encore vote and one answer per member (a second is refused in words and counts
nothing), refusals store nothing (photo not an image or too large, empty or over-long text, too many a week), a
survey's points credited once through the ledger, replies she sees, and rankings filtered by tier and saved segment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from siyu.kit import images
from siyu.kit.errors import AppError
from siyu.kit.time import utcnow
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.loyalty.models import MemberTier
from siyu.loyalty.schemas import TierIn
from siyu.segments import service as segments
from siyu.segments.schemas import SegmentFilter, SegmentIn, TagIn
from siyu.voice import service
from siyu.voice.models import Answer, Demand, EncoreVote, WishVote
from siyu.voice.schemas import DemandIn, ReplyIn, SurveyIn, WishIn, parse
from tests.voice.conftest import PNG, TZ, Voice


async def _count(voice: Voice, model: type) -> int:
    return int(
        await voice.session.scalar(select(func.count()).select_from(model).where(model.tenant_id == voice.tenant_id))
        or 0
    )


async def test_a_second_plus_is_refused_and_counts_nothing(voice: Voice) -> None:
    maker, fan = await voice.fan("许愿人"), await voice.fan("小鱼")
    wish = await service.add_wish(
        voice.session, tenant_id=voice.tenant_id, member_id=maker, data=WishIn(product="羊绒围巾")
    )
    done = await service.plus(voice.session, tenant_id=voice.tenant_id, member_id=fan, wish_id=wish.id)
    assert done.plus_count == 1
    with pytest.raises(service.AlreadyPlused) as again:
        await service.plus(voice.session, tenant_id=voice.tenant_id, member_id=fan, wish_id=wish.id)
    assert again.value.status == 409 and again.value.message == "你已经 +1 过这个愿望了"
    with pytest.raises(service.OwnWish):
        await service.plus(voice.session, tenant_id=voice.tenant_id, member_id=maker, wish_id=wish.id)
    await voice.session.refresh(wish)
    assert wish.plus_count == 1 and await _count(voice, WishVote) == 1


async def test_an_encore_vote_is_once_per_member_and_only_for_aired_shows(voice: Voice) -> None:
    fan = await voice.fan()
    _show, (serum, cleanser) = await voice.aired("修护精华", "氨基酸洁面")
    found = await service.encore_candidates(voice.session, tenant_id=voice.tenant_id)
    assert [c.product.title for c in found] == ["修护精华", "氨基酸洁面"]
    assert await service.encore_vote(voice.session, tenant_id=voice.tenant_id, member_id=fan, product_id=serum.id) == 1
    with pytest.raises(service.AlreadyVoted) as again:
        await service.encore_vote(voice.session, tenant_id=voice.tenant_id, member_id=fan, product_id=serum.id)
    assert "投过" in again.value.message
    assert (
        await service.encore_vote(voice.session, tenant_id=voice.tenant_id, member_id=fan, product_id=cleanser.id) == 1
    )
    assert await _count(voice, EncoreVote) == 2
    coming, _ = await voice.aired("面霜", ended_hours_ago=-30)  # not aired yet
    from siyu.live import service as live

    upcoming = (await live.products_of(voice.session, tenant_id=voice.tenant_id, show_ids=[coming.id]))[coming.id]
    with pytest.raises(service.EncoreClosed):
        await service.encore_vote(voice.session, tenant_id=voice.tenant_id, member_id=fan, product_id=upcoming[0].id)
    ranking = await service.encore_ranking(voice.session, tenant_id=voice.tenant_id)
    assert [(r.title, r.votes) for r in ranking] == [("修护精华", 1), ("氨基酸洁面", 1)]


async def test_a_demand_with_a_photo_is_kept_and_refusals_store_nothing(voice: Voice, tmp_path: Path) -> None:
    fan = await voice.fan()
    data = DemandIn(category="美妆护肤", brand="珀莱雅", product="双抗精华", price_range="100–300 元", text="想要返场")
    row = await service.submit_demand(
        voice.session, tenant_id=voice.tenant_id, member_id=fan, data=data, timezone=TZ, photo=PNG, data_dir=tmp_path
    )
    assert row.photo and service.demand_photo(tmp_path, voice.tenant_id, row.photo) is not None
    stored = sorted(p.name for p in tmp_path.rglob("*") if p.is_file())
    for photo, error in (
        (b"<script>alert(1)</script>" * 2, images.NotAnImage),
        (PNG + b"\0" * images.MAX_BYTES, images.ImageTooLarge),
    ):
        with pytest.raises(error):
            await service.submit_demand(
                voice.session,
                tenant_id=voice.tenant_id,
                member_id=fan,
                data=data,
                timezone=TZ,
                photo=photo,
                data_dir=tmp_path,
            )
    assert await _count(voice, Demand) == 1
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == stored


async def test_at_most_five_demands_a_week(voice: Voice) -> None:
    fan = await voice.fan()
    data = DemandIn(category="其他", product="围巾")
    for _ in range(service.DEMANDS_PER_WEEK):
        await service.submit_demand(voice.session, tenant_id=voice.tenant_id, member_id=fan, data=data, timezone=TZ)
    with pytest.raises(service.TooManyDemands) as refused:
        await service.submit_demand(voice.session, tenant_id=voice.tenant_id, member_id=fan, data=data, timezone=TZ)
    assert "下周" in refused.value.message
    await service.submit_demand(  # next week is a new week
        voice.session,
        tenant_id=voice.tenant_id,
        member_id=fan,
        data=data,
        timezone=TZ,
        now=utcnow() + timedelta(days=7),
    )
    assert await _count(voice, Demand) == service.DEMANDS_PER_WEEK + 1


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"category": "美妆护肤", "product": "   "}, "请填写商品"),
        ({"category": "美妆护肤", "product": "精" * 61}, "商品不能超过 60 字"),
        ({"category": "美妆护肤", "product": "精华", "text": "长" * 501}, "想说的话不能超过 500 字"),
        ({"category": "火箭", "product": "精华"}, "请从列表中选择品类"),
        ({"category": "美妆护肤", "product": "精华", "price_range": "免费"}, "请从列表中选择心理价位"),
    ],
)
def test_bad_demands_are_refused_in_words(values: dict[str, str], words: str) -> None:
    with pytest.raises(AppError) as refused:
        parse(DemandIn, values)
    assert refused.value.message == words and refused.value.status == 422


def test_an_empty_or_over_long_wish_is_refused_in_words() -> None:
    with pytest.raises(AppError, match="请填写商品"):
        parse(WishIn, {"product": ""})
    with pytest.raises(AppError, match="补充说明不能超过 200 字"):
        parse(WishIn, {"product": "围巾", "note": "长" * 201})


async def test_a_survey_is_answered_once_and_its_points_credited_once(voice: Voice) -> None:
    fan = await voice.fan()
    survey = await service.create_survey(
        voice.session,
        actor=voice.owner,
        data=SurveyIn(
            title="选品调查",
            points=10,
            questions=[
                {"text": "喜欢", "kind": "single", "options": ["护肤", "彩妆"]},
                {"text": "时间", "kind": "multiple", "options": ["中午", "晚上"]},
                {"text": "打分", "kind": "rating"},
                {"text": "想说", "kind": "text"},
            ],
        ),
    )
    answers = {"1": "护肤", "2": ["晚上"], "3": "5", "4": "多讲成分"}
    with pytest.raises(service.BadAnswers) as bad:
        await service.answer(
            voice.session, tenant_id=voice.tenant_id, member_id=fan, survey_id=survey.id, answers={**answers, "3": "9"}
        )
    assert bad.value.message == "第 3 题请打 1 到 5 分"
    row = await service.answer(
        voice.session, tenant_id=voice.tenant_id, member_id=fan, survey_id=survey.id, answers=answers
    )
    assert row.points == 10 and row.answers == {"1": "护肤", "2": ["晚上"], "3": 5, "4": "多讲成分"}
    with pytest.raises(service.AlreadyAnswered):
        await service.answer(
            voice.session, tenant_id=voice.tenant_id, member_id=fan, survey_id=survey.id, answers=answers
        )
    assert (await ledger.balance(voice.session, tenant_id=voice.tenant_id, member_id=fan)).available == 10
    assert await ledger.find_credit(
        voice.session, tenant_id=voice.tenant_id, source_ref=refs.survey_ref(survey.id, fan)
    )
    assert await _count(voice, Answer) == 1
    tallies = service.tally(survey, [row])
    assert (
        tallies[0].counts == [("护肤", 1), ("彩妆", 0)] and tallies[2].average == 5 and tallies[3].texts == ["多讲成分"]
    )
    await service.close_survey(voice.session, actor=voice.owner, survey_id=survey.id)
    other = await voice.fan("小虾")
    with pytest.raises(service.SurveyClosed):
        await service.answer(
            voice.session, tenant_id=voice.tenant_id, member_id=other, survey_id=survey.id, answers=answers
        )


async def test_replies_reach_the_wisher_her_plus_ones_and_the_demand_s_sender(voice: Voice) -> None:
    maker, fan, stranger = await voice.fan("许愿人"), await voice.fan("小鱼"), await voice.fan("路人")
    wish = await service.add_wish(
        voice.session, tenant_id=voice.tenant_id, member_id=maker, data=WishIn(product="围巾")
    )
    await service.plus(voice.session, tenant_id=voice.tenant_id, member_id=fan, wish_id=wish.id)
    demand = await service.submit_demand(
        voice.session,
        tenant_id=voice.tenant_id,
        member_id=fan,
        data=DemandIn(category="其他", product="手套"),
        timezone=TZ,
    )
    await service.reply_wish(
        voice.session, actor=voice.owner, wish_id=wish.id, data=ReplyIn(reply="已安排在 12月8日 直播")
    )
    await service.reply_demand(voice.session, actor=voice.owner, demand_id=demand.id, data=ReplyIn(reply="下周上"))
    mine = await service.my_replies(voice.session, tenant_id=voice.tenant_id, member_id=fan)
    assert sorted((r.kind, r.subject, r.reply) for r in mine) == [
        ("demand", "手套", "下周上"),
        ("wish", "围巾", "已安排在 12月8日 直播"),
    ]
    assert [r.reply for r in await service.my_replies(voice.session, tenant_id=voice.tenant_id, member_id=maker)] == [
        "已安排在 12月8日 直播"
    ]
    assert await service.my_replies(voice.session, tenant_id=voice.tenant_id, member_id=stranger) == []


async def test_rankings_group_near_duplicates_and_filter_by_tier_and_segment(voice: Voice, tmp_path: Path) -> None:
    gold = await loyalty.create_tier(voice.session, actor=voice.owner, data=TierIn(name="金卡", threshold=100))
    fans = [await voice.fan(f"粉丝{n}") for n in range(5)]
    for member_id in fans[:2]:  # the first two hold 金卡
        voice.session.add(MemberTier(tenant_id=voice.tenant_id, member_id=member_id, tier_id=gold.id, growth=100))
    await voice.session.flush()
    a = await service.add_wish(
        voice.session, tenant_id=voice.tenant_id, member_id=fans[4], data=WishIn(product="SK-II 神仙水")
    )
    b = await service.add_wish(
        voice.session, tenant_id=voice.tenant_id, member_id=fans[4], data=WishIn(product="sk2 神仙水")
    )
    c = await service.add_wish(
        voice.session, tenant_id=voice.tenant_id, member_id=fans[4], data=WishIn(product="戴森吹风机")
    )
    for member_id in fans[1:4]:
        await service.plus(voice.session, tenant_id=voice.tenant_id, member_id=member_id, wish_id=c.id)
    for member_id in fans[0:2]:
        await service.plus(voice.session, tenant_id=voice.tenant_id, member_id=member_id, wish_id=a.id)
    await service.plus(voice.session, tenant_id=voice.tenant_id, member_id=fans[0], wish_id=b.id)
    everyone = await service.ranked_wishes(voice.session, tenant_id=voice.tenant_id)
    assert [([w.id for w in g.wishes], g.plus) for g in everyone] == [([a.id, b.id], 3), ([c.id], 3)]
    golden = await service.ranked_wishes(
        voice.session, tenant_id=voice.tenant_id, audience=service.Audience(tier_id=gold.id)
    )
    assert [([w.id for w in g.wishes], g.plus) for g in golden] == [([a.id, b.id], 3), ([c.id], 1)]
    assert golden[1].counted == {c.id: 1}
    untiered = await service.ranked_wishes(
        voice.session, tenant_id=voice.tenant_id, audience=service.Audience(tier_id=service.NO_TIER)
    )
    assert [g.plus for g in untiered] == [2, 0]

    # a saved segment (members tagged 种草达人: fans 1 and 3), alone and with the tier
    tag = await segments.create_tag(voice.session, actor=voice.owner, data=TagIn(name="种草达人"))
    await segments.add_tag(voice.session, actor=voice.owner, tag_id=tag.id, member_ids=[fans[1], fans[3]])
    chosen = await segments.create_segment(
        voice.session,
        actor=voice.owner,
        data=SegmentIn(name="种草达人", filter=SegmentFilter(tags_any=[tag.id])),
        data_dir=tmp_path,
    )
    tagged = await service.ranked_wishes(
        voice.session, tenant_id=voice.tenant_id, audience=service.Audience(segment_id=chosen.id)
    )
    assert [([w.id for w in g.wishes], g.plus) for g in tagged] == [([c.id], 2), ([a.id], 1)]
    both = service.Audience(tier_id=gold.id, segment_id=chosen.id)
    assert [g.plus for g in await service.ranked_wishes(voice.session, tenant_id=voice.tenant_id, audience=both)] == [
        1,
        1,
    ]
    with pytest.raises(AppError) as refused:
        await service.ranked_wishes(voice.session, tenant_id=voice.tenant_id, audience=service.Audience(segment_id=1))
    assert refused.value.code == "segment_not_found"
