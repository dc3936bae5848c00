"""The API of fan voice (粉丝心声).

- Fans (their own bearer tokens, paths under /fan/{slug}/voice): send a demand for next week (with an optional
  photo), her demands, the wish list, make a wish, "+1" a wish, the products of past shows open to encore votes,
  vote for one, the open surveys, answer one, the replies she got.
- Staff (sessions or API keys): wishes grouped as the same product by "+1"s, demands (by week, category, tier),
  encore votes by product, replies to a wish or a demand, surveys and their answers.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile

from siyu.fans.api import CurrentFan
from siyu.kit import images
from siyu.kit.web import DbSession, Principal, ResourceId, require
from siyu.voice import service
from siyu.voice.models import Demand, Survey
from siyu.voice.schemas import (
    AnswerIn,
    AnswerOut,
    CountOut,
    DemandIn,
    DemandOut,
    EncoreOut,
    EncoreProductOut,
    PlusOut,
    RankedWish,
    ReplyIn,
    ReplyOut,
    StaffAnswerOut,
    StaffDemandOut,
    SurveyIn,
    SurveyOut,
    WishIn,
    WishOut,
    parse,
)

fan_router = APIRouter(tags=["粉丝：心声"])
router = APIRouter(tags=["粉丝心声"])
TierFilter = Annotated[int | None, Query(ge=0, le=2**63 - 1, description="只看这个等级的会员（0：还没有等级的会员）")]
SegmentFilter = Annotated[int | None, Query(ge=1, le=2**63 - 1, description="只看这个会员分群（现在符合条件）的会员")]


def _audience(tier_id: int | None, segment_id: int | None) -> service.Audience:
    return service.Audience(tier_id=tier_id, segment_id=segment_id)


def demand_out(row: Demand) -> DemandOut:
    return DemandOut(
        id=row.id,
        week=row.week,
        category=row.category,
        brand=row.brand,
        product=row.product,
        price_range=row.price_range,
        text=row.text,
        has_photo=bool(row.photo),
        reply=row.reply,
        replied_at=row.replied_at,
        created_at=row.created_at,
    )


def survey_out(row: Survey, answers: int = 0, answered: bool = False) -> SurveyOut:
    return SurveyOut(
        id=row.id,
        title=row.title,
        intro=row.intro,
        questions=list(row.questions or []),
        points=row.points,
        open=row.open,
        answers=answers,
        answered=answered,
        created_at=row.created_at,
    )


async def read_photo(file: UploadFile | None) -> bytes | None:
    if file is None or not file.filename:
        return None
    data = await file.read(images.MAX_BYTES + 1)
    if len(data) > images.MAX_BYTES:
        raise images.ImageTooLarge()
    return data or None


# Fans


@fan_router.post(
    "/fan/{slug}/voice/demands",
    response_model=DemandOut,
    status_code=201,
    summary="提交“下一场想买什么”（可附一张图片，JPG/PNG/GIF/WebP，≤ 2 MB；每周最多 5 条）",
)
async def fan_demand(
    fan: CurrentFan,
    request: Request,
    session: DbSession,
    category: Annotated[str, Form(max_length=20, description="品类")],
    product: Annotated[str, Form(max_length=200, description="想买的商品")],
    brand: Annotated[str, Form(max_length=200, description="品牌")] = "",
    price_range: Annotated[str, Form(max_length=20, description="心理价位")] = "",
    text: Annotated[str, Form(max_length=2000, description="想对主播说的话")] = "",
    photo: Annotated[UploadFile | None, File(description="图片（可不传）")] = None,
) -> DemandOut:
    data = parse(
        DemandIn,
        {"category": category, "brand": brand, "product": product, "price_range": price_range, "text": text},
    )
    row = await service.submit_demand(
        session,
        tenant_id=fan.tenant.id,
        member_id=fan.member.id,
        data=data,
        timezone=fan.tenant.timezone,
        photo=await read_photo(photo),
        data_dir=request.app.state.settings.data_dir,
    )
    return demand_out(row)


@fan_router.get("/fan/{slug}/voice/demands", response_model=list[DemandOut], summary="我提交的需求（含回复）")
async def fan_demands(fan: CurrentFan, session: DbSession) -> list[DemandOut]:
    rows = await service.my_demands(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return [demand_out(r) for r in rows]


@fan_router.get("/fan/{slug}/voice/wishes", response_model=list[WishOut], summary="愿望单（按 +1 人数）")
async def fan_wishes(fan: CurrentFan, session: DbSession) -> list[WishOut]:
    rows = await service.wish_list(session, tenant_id=fan.tenant.id)
    mine = await service.plused(
        session, tenant_id=fan.tenant.id, member_id=fan.member.id, wish_ids=[w.id for w in rows]
    )
    return [
        WishOut(
            id=w.id,
            product=w.product,
            note=w.note,
            plus_count=w.plus_count,
            mine=w.member_id == fan.member.id,
            plused=w.id in mine,
            reply=w.reply,
            created_at=w.created_at,
        )
        for w in rows
    ]


@fan_router.post("/fan/{slug}/voice/wishes", response_model=WishOut, status_code=201, summary="许一个愿望")
async def fan_wish(body: WishIn, fan: CurrentFan, session: DbSession) -> WishOut:
    w = await service.add_wish(session, tenant_id=fan.tenant.id, member_id=fan.member.id, data=body)
    return WishOut(
        id=w.id,
        product=w.product,
        note=w.note,
        plus_count=w.plus_count,
        mine=True,
        plused=False,
        reply=w.reply,
        created_at=w.created_at,
    )


@fan_router.post(
    "/fan/{slug}/voice/wishes/{wish_id}/plus",
    response_model=PlusOut,
    summary="给愿望 +1（每人一次；再次 +1 会被拒绝：already_plused）",
)
async def fan_plus(wish_id: ResourceId, fan: CurrentFan, session: DbSession) -> PlusOut:
    wish = await service.plus(session, tenant_id=fan.tenant.id, member_id=fan.member.id, wish_id=wish_id)
    return PlusOut(wish_id=wish.id, plus_count=wish.plus_count, message="已 +1")


@fan_router.get("/fan/{slug}/voice/encore", response_model=list[EncoreProductOut], summary="可以投返场票的商品")
async def fan_encore(fan: CurrentFan, session: DbSession) -> list[EncoreProductOut]:
    found = await service.encore_candidates(session, tenant_id=fan.tenant.id)
    voted = await service.encore_voted(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return [
        EncoreProductOut(
            product_id=c.product.id,
            show_id=c.show.id,
            show_title=c.show.title,
            title=c.product.title,
            price_fen=c.product.price_fen,
            votes=c.votes,
            voted=c.product.id in voted,
        )
        for c in found
    ]


@fan_router.post(
    "/fan/{slug}/voice/encore/{product_id}",
    response_model=EncoreOut,
    summary="投返场票（每人每个商品一票；再投会被拒绝：already_voted）",
)
async def fan_encore_vote(product_id: ResourceId, fan: CurrentFan, session: DbSession) -> EncoreOut:
    votes = await service.encore_vote(session, tenant_id=fan.tenant.id, member_id=fan.member.id, product_id=product_id)
    return EncoreOut(product_id=product_id, votes=votes, message="投票成功")


@fan_router.get("/fan/{slug}/voice/surveys", response_model=list[SurveyOut], summary="进行中的问卷")
async def fan_surveys(fan: CurrentFan, session: DbSession) -> list[SurveyOut]:
    rows = await service.surveys(session, tenant_id=fan.tenant.id, open_only=True)
    done = await service.answered(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return [survey_out(s, answered=s.id in done) for s in rows]


@fan_router.get("/fan/{slug}/voice/surveys/{survey_id}", response_model=SurveyOut, summary="一份问卷")
async def fan_survey(survey_id: ResourceId, fan: CurrentFan, session: DbSession) -> SurveyOut:
    row = await service.get_survey(session, tenant_id=fan.tenant.id, survey_id=survey_id)
    done = await service.answered(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return survey_out(row, answered=row.id in done)


@fan_router.post(
    "/fan/{slug}/voice/surveys/{survey_id}/answers",
    response_model=AnswerOut,
    summary="提交问卷（每人一次；有积分的问卷提交后积分到账）",
)
async def fan_answer(survey_id: ResourceId, body: AnswerIn, fan: CurrentFan, session: DbSession) -> AnswerOut:
    row = await service.answer(
        session,
        tenant_id=fan.tenant.id,
        member_id=fan.member.id,
        survey_id=survey_id,
        answers=dict(body.answers),
    )
    message = f"提交成功，{row.points} 积分已到账" if row.points else "提交成功，谢谢你的回答"
    return AnswerOut(survey_id=survey_id, points=row.points, message=message)


@fan_router.get("/fan/{slug}/voice/replies", response_model=list[ReplyOut], summary="我收到的回复")
async def fan_replies(fan: CurrentFan, session: DbSession) -> list[ReplyOut]:
    rows = await service.my_replies(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return [
        ReplyOut(
            kind=r.kind,
            kind_label=service.KIND_LABELS[r.kind],
            subject=r.subject,
            reply=r.reply,
            replied_at=r.replied_at,
        )
        for r in rows
    ]


# Staff


@router.get("/voice/wishes", response_model=list[RankedWish], summary="愿望排行（写法不同的同一商品归为一组）")
async def ranked_wishes(
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
    tier_id: TierFilter = None,
    segment_id: SegmentFilter = None,
) -> list[RankedWish]:
    groups = await service.ranked_wishes(
        session, tenant_id=principal.tenant_id, audience=_audience(tier_id, segment_id)
    )
    found = []
    for g in groups:
        for w in g.wishes:
            found.append(
                RankedWish(
                    id=w.id,
                    product=w.product,
                    plus_count=g.counted[w.id],
                    nickname=g.nicknames.get(w.member_id, ""),
                    reply=w.reply,
                    similar=[o.id for o in g.wishes if o.id != w.id],
                    created_at=w.created_at,
                )
            )
    return found


@router.post(
    "/voice/wishes/{wish_id}/reply", response_model=RankedWish, summary="回复一个愿望（粉丝可见，记入操作日志）"
)
async def reply_wish(
    wish_id: ResourceId, body: ReplyIn, session: DbSession, principal: Annotated[Principal, require("members.write")]
) -> RankedWish:
    w = await service.reply_wish(session, actor=principal, wish_id=wish_id, data=body)
    names = await service.nicknames(session, tenant_id=principal.tenant_id, member_ids=[w.member_id])
    return RankedWish(
        id=w.id,
        product=w.product,
        plus_count=w.plus_count,
        nickname=names.get(w.member_id, ""),
        reply=w.reply,
        similar=[],
        created_at=w.created_at,
    )


@router.get("/voice/demands", response_model=list[StaffDemandOut], summary="粉丝需求（按周、品类、等级筛选）")
async def list_demands(
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
    week: Annotated[str | None, Query(pattern=r"^20\d{2}-W\d{2}$", description="如 2026-W49")] = None,
    category: Annotated[str | None, Query(max_length=20)] = None,
    tier_id: TierFilter = None,
    segment_id: SegmentFilter = None,
) -> list[StaffDemandOut]:
    rows = await service.demands(
        session,
        tenant_id=principal.tenant_id,
        week=week,
        category=category or None,
        audience=_audience(tier_id, segment_id),
    )
    names = await service.nicknames(
        session, tenant_id=principal.tenant_id, member_ids=sorted({r.member_id for r in rows})
    )
    return [
        StaffDemandOut(**demand_out(r).model_dump(), member_id=r.member_id, nickname=names.get(r.member_id, ""))
        for r in rows
    ]


@router.get("/voice/demands/categories", response_model=list[CountOut], summary="需求按品类计数")
async def demand_categories(
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
    week: Annotated[str | None, Query(pattern=r"^20\d{2}-W\d{2}$")] = None,
    tier_id: TierFilter = None,
    segment_id: SegmentFilter = None,
) -> list[CountOut]:
    rows = await service.demands(
        session, tenant_id=principal.tenant_id, week=week, audience=_audience(tier_id, segment_id)
    )
    return [CountOut(label=k, count=n) for k, n in service.by_category(rows)]


@router.post(
    "/voice/demands/{demand_id}/reply", response_model=StaffDemandOut, summary="回复一条需求（粉丝可见，记入操作日志）"
)
async def reply_demand(
    demand_id: ResourceId, body: ReplyIn, session: DbSession, principal: Annotated[Principal, require("members.write")]
) -> StaffDemandOut:
    r = await service.reply_demand(session, actor=principal, demand_id=demand_id, data=body)
    names = await service.nicknames(session, tenant_id=principal.tenant_id, member_ids=[r.member_id])
    return StaffDemandOut(**demand_out(r).model_dump(), member_id=r.member_id, nickname=names.get(r.member_id, ""))


@router.get("/voice/encore", response_model=list[CountOut], summary="返场投票排行（按商品）")
async def encore_ranking(
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
    tier_id: TierFilter = None,
    segment_id: SegmentFilter = None,
) -> list[CountOut]:
    found = await service.encore_ranking(
        session, tenant_id=principal.tenant_id, audience=_audience(tier_id, segment_id)
    )
    return [CountOut(label=f"{r.title}（{r.show_title}）", count=r.votes) for r in found]


@router.get("/voice/surveys", response_model=list[SurveyOut], summary="问卷（含回答人数）")
async def list_surveys(session: DbSession, principal: Annotated[Principal, require("members.read")]) -> list[SurveyOut]:
    rows = await service.surveys(session, tenant_id=principal.tenant_id)
    counts = await service.answer_counts(session, tenant_id=principal.tenant_id, survey_ids=[s.id for s in rows])
    return [survey_out(s, answers=counts.get(s.id, 0)) for s in rows]


@router.post("/voice/surveys", response_model=SurveyOut, status_code=201, summary="新建问卷（记入操作日志）")
async def create_survey(
    body: SurveyIn, session: DbSession, principal: Annotated[Principal, require("members.write")]
) -> SurveyOut:
    return survey_out(await service.create_survey(session, actor=principal, data=body))


@router.post("/voice/surveys/{survey_id}/close", response_model=SurveyOut, summary="结束问卷（记入操作日志）")
async def close_survey(
    survey_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.write")]
) -> SurveyOut:
    return survey_out(await service.close_survey(session, actor=principal, survey_id=survey_id))


@router.get("/voice/surveys/{survey_id}/answers", response_model=list[StaffAnswerOut], summary="问卷的回答")
async def survey_answers(
    survey_id: ResourceId,
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
    tier_id: TierFilter = None,
    segment_id: SegmentFilter = None,
) -> list[StaffAnswerOut]:
    await service.get_survey(session, tenant_id=principal.tenant_id, survey_id=survey_id)
    rows = await service.answers_of(
        session, tenant_id=principal.tenant_id, survey_id=survey_id, audience=_audience(tier_id, segment_id)
    )
    names = await service.nicknames(
        session, tenant_id=principal.tenant_id, member_ids=sorted({r.member_id for r in rows})
    )
    return [
        StaffAnswerOut(
            member_id=r.member_id,
            nickname=names.get(r.member_id, ""),
            answers=r.answers,
            points=r.points,
            created_at=r.created_at,
        )
        for r in rows
    ]
