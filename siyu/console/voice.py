"""粉丝心声 in the console: rankings with ECharts charts (wishes by "+1"s with the same product written differently
grouped, demands by category, encore votes by product) filtered by tier and saved segment, the demands of a week,
replies the fans
see, surveys with their answers, and XLSX exports of wishes, demands and answers (no cell starts a formula).

Every change goes through siyu.voice's service inside `attempt` (a savepoint) and is audited there."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import Field, StringConstraints

from siyu.console.deps import Blank, Console, ConsoleContext, text
from siyu.console.exports import table_response
from siyu.console.forms import Refusal, attempt
from siyu.console.listing import Listing, paged
from siyu.kit import images
from siyu.kit.errors import InvalidInput
from siyu.kit.time import to_local
from siyu.kit.web import DbSession, ResourceId
from siyu.loyalty import service as loyalty
from siyu.segments import service as segments
from siyu.voice import rules, service
from siyu.voice.models import QUESTION_LABELS, Demand, QuestionKind
from siyu.voice.schemas import CATEGORIES, ReplyIn, SurveyIn, parse

router = APIRouter()
WEEK = r"^20\d{2}-W\d{2}$"
DEMAND_SORTS = {
    "created_at": lambda d: d.created_at,
    "category": lambda d: d.category,
    "product": lambda d: d.product,
}
# The filter forms send every select, those left at "all" empty.
TierQuery = Annotated[Annotated[int, Field(ge=0, le=2**63 - 1)] | None, Blank, Query()]
SegmentQuery = Annotated[Annotated[int, Field(ge=1, le=2**63 - 1)] | None, Blank, Query()]
WeekQuery = Annotated[Annotated[str, StringConstraints(pattern=WEEK)] | None, Blank, Query()]


async def _tiers(console: Console, session: DbSession) -> list[tuple[int, str]]:
    tiers = await loyalty.list_tiers(session, tenant_id=console.tenant.id)
    return [(service.NO_TIER, "还没有等级")] + [(t.id, t.name) for t in tiers]


async def _audience_context(
    console: Console, session: DbSession, tier: int | None, segment: int | None
) -> dict[str, Any]:
    """What the tier and segment pickers and the export links of a page need."""
    chosen = {key: value for key, value in (("tier", tier), ("segment", segment)) if value is not None}
    named = await segments.names(session, tenant_id=console.tenant.id)
    return {
        "tier": tier,
        "tiers": await _tiers(console, session),
        "segment": segment,
        "segments": sorted(named.items(), key=lambda kv: kv[1]),
        "audience_query": urlencode(chosen),
    }


def _audience(tier: int | None, segment: int | None) -> service.Audience:
    return service.Audience(tier_id=tier, segment_id=segment)


def _top(labels: list[str], counts: list[int], n: int = 10) -> dict[str, Any]:
    """A bar chart's data, the largest at the top (ECharts draws a category axis bottom-up)."""
    return {"labels": labels[:n][::-1], "counts": counts[:n][::-1]}


# Rankings


@router.get("/voice", response_class=HTMLResponse)
async def rankings(
    console: ConsoleContext,
    session: DbSession,
    tier: TierQuery = None,
    segment: SegmentQuery = None,
    week: WeekQuery = None,
    replied: int = 0,
) -> HTMLResponse:
    console.require("members.read")
    return await _rankings(console, session, tier=tier, segment=segment, week=week, replied=bool(replied))


async def _rankings(
    console: Console,
    session: DbSession,
    *,
    tier: int | None = None,
    segment: int | None = None,
    week: str | None = None,
    replied: bool = False,
    error: str | None = None,
    error_wish: int | None = None,
    typed: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    audience = _audience(tier, segment)
    groups = await service.ranked_wishes(session, tenant_id=tenant_id, audience=audience)
    demands = await service.demands(session, tenant_id=tenant_id, week=week, audience=audience)
    categories = service.by_category(demands)
    encore = await service.encore_ranking(session, tenant_id=tenant_id, audience=audience)
    return console.render(
        "console/voice.html",
        "voice",
        groups=groups,
        categories=categories,
        encore=encore,
        week=week or "",
        weeks=await service.demand_weeks(session, tenant_id=tenant_id),
        **await _audience_context(console, session, tier, segment),
        wish_chart=_top([g.lead.product[:16] for g in groups], [g.plus for g in groups]),
        demand_chart={"labels": [c for c, _ in categories], "counts": [n for _, n in categories]},
        encore_chart=_top([r.title[:16] for r in encore], [r.votes for r in encore]),
        replied=replied,
        error=error,
        error_wish=error_wish,
        typed=typed,
        status_code=status_code,
    )


@router.post("/voice/wishes/{wish_id}/reply")
async def reply_wish(request: Request, console: ConsoleContext, session: DbSession, wish_id: ResourceId) -> Response:
    console.require("members.write")
    await service.get_wish(session, tenant_id=console.tenant.id, wish_id=wish_id)
    typed = text(await request.form(), "reply")[:400]
    outcome = await attempt(
        session,
        lambda: service.reply_wish(
            session, actor=console.principal, wish_id=wish_id, data=parse(ReplyIn, {"reply": typed})
        ),
    )
    if isinstance(outcome, Refusal):
        return await _rankings(
            console, session, error=outcome.message, error_wish=wish_id, typed=typed, status_code=outcome.status
        )
    return RedirectResponse(f"/console/voice?replied=1#wish-{wish_id}", status_code=303)


@router.get("/voice/wishes/export")
async def export_wishes(
    console: ConsoleContext, session: DbSession, tier: TierQuery = None, segment: SegmentQuery = None
) -> Response:
    console.require("members.read")
    groups = await service.ranked_wishes(session, tenant_id=console.tenant.id, audience=_audience(tier, segment))
    timezone = console.tenant.timezone
    rows: list[list[object]] = [
        [
            n,
            w.product,
            w.note,
            g.counted[w.id],
            g.plus,
            g.nicknames.get(w.member_id, ""),
            to_local(w.created_at, timezone).strftime("%Y-%m-%d %H:%M"),
            w.reply,
        ]
        for n, g in enumerate(groups, start=1)
        for w in g.wishes
    ]
    return await _export(
        rows,
        "粉丝愿望",
        "愿望",
        ["同一商品组", "愿望", "补充说明", "+1 人数", "本组 +1 合计", "许愿人", "许愿时间", "回复"],
        [10, 30, 30, 10, 12, 16, 18, 30],
    )


async def _export(
    rows: list[list[object]], filename: str, sheet: str, headers: list[str], widths: list[int]
) -> Response:
    async def chunks() -> AsyncIterator[list[list[object]]]:
        yield rows

    return await table_response(
        fmt="xlsx", filename=filename, sheet=sheet, headers=headers, chunks=chunks(), widths=widths
    )


# Demands


@router.get("/voice/demands", response_class=HTMLResponse)
async def demands_page(
    console: ConsoleContext,
    session: DbSession,
    tier: TierQuery = None,
    segment: SegmentQuery = None,
    week: WeekQuery = None,
    category: Annotated[str | None, Query(max_length=20)] = None,
    sort: str | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    replied: int = 0,
) -> HTMLResponse:
    console.require("members.read")
    return await _demands(
        console,
        session,
        tier=tier,
        segment=segment,
        week=week,
        category=category,
        sort=sort,
        page=page,
        replied=bool(replied),
    )


async def _demands(
    console: Console,
    session: DbSession,
    *,
    tier: int | None = None,
    segment: int | None = None,
    week: str | None = None,
    category: str | None = None,
    sort: str | None = None,
    page: int = 1,
    replied: bool = False,
    error: str | None = None,
    error_demand: int | None = None,
    typed: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    rows = await service.demands(
        session, tenant_id=tenant_id, week=week, category=category or None, audience=_audience(tier, segment)
    )
    listing = Listing.of(
        "/console/voice/demands",
        sort=sort,
        allowed=DEMAND_SORTS,
        default="-created_at",
        page=page,
        tier=tier,
        segment=segment,
        week=week,
        category=category,
    )
    result = paged(rows, listing, DEMAND_SORTS)
    names = await service.nicknames(
        session, tenant_id=tenant_id, member_ids=sorted({d.member_id for d in result.items})
    )
    return console.render(
        "console/voice_demands.html",
        "voice",
        listing=listing,
        result=result,
        names=names,
        week=week or "",
        category=category or "",
        categories=CATEGORIES,
        weeks=await service.demand_weeks(session, tenant_id=tenant_id),
        **await _audience_context(console, session, tier, segment),
        replied=replied,
        error=error,
        error_demand=error_demand,
        typed=typed,
        status_code=status_code,
    )


@router.post("/voice/demands/{demand_id}/reply")
async def reply_demand(
    request: Request, console: ConsoleContext, session: DbSession, demand_id: ResourceId
) -> Response:
    console.require("members.write")
    await service.get_demand(session, tenant_id=console.tenant.id, demand_id=demand_id)
    typed = text(await request.form(), "reply")[:400]
    outcome = await attempt(
        session,
        lambda: service.reply_demand(
            session, actor=console.principal, demand_id=demand_id, data=parse(ReplyIn, {"reply": typed})
        ),
    )
    if isinstance(outcome, Refusal):
        return await _demands(
            console, session, error=outcome.message, error_demand=demand_id, typed=typed, status_code=outcome.status
        )
    return RedirectResponse(f"/console/voice/demands?replied=1#demand-{demand_id}", status_code=303)


@router.get("/voice/demands/export")
async def export_demands(
    console: ConsoleContext,
    session: DbSession,
    tier: TierQuery = None,
    segment: SegmentQuery = None,
    week: WeekQuery = None,
    category: Annotated[str | None, Query(max_length=20)] = None,
) -> Response:
    console.require("members.read")
    found = await service.demands(
        session,
        tenant_id=console.tenant.id,
        week=week,
        category=category or None,
        audience=_audience(tier, segment),
    )
    names = await service.nicknames(
        session, tenant_id=console.tenant.id, member_ids=sorted({d.member_id for d in found})
    )
    rows: list[list[object]] = [_demand_row(d, names, console.tenant.timezone) for d in found]
    return await _export(
        rows,
        f"粉丝需求-{week}" if week else "粉丝需求",
        "需求",
        ["周", "品类", "品牌", "商品", "心理价位", "想说的话", "粉丝", "提交时间", "回复"],
        [10, 12, 16, 30, 14, 40, 16, 18, 30],
    )


def _demand_row(d: Demand, names: dict[int, str], timezone: str) -> list[object]:
    return [
        d.week,
        d.category,
        d.brand,
        d.product,
        d.price_range,
        d.text,
        names.get(d.member_id, ""),
        to_local(d.created_at, timezone).strftime("%Y-%m-%d %H:%M"),
        d.reply,
    ]


@router.get("/voice/demands/{demand_id}/photo")
async def demand_photo(
    request: Request, console: ConsoleContext, session: DbSession, demand_id: ResourceId
) -> Response:
    console.require("members.read")
    row = await service.get_demand(session, tenant_id=console.tenant.id, demand_id=demand_id)
    path = service.demand_photo(request.app.state.settings.data_dir, console.tenant.id, row.photo)
    if row.photo is None or path is None:
        raise service.DemandNotFound("图片已不存在")
    media_type = images.MEDIA_TYPES[row.photo.rsplit(".", 1)[1]]
    return Response(path.read_bytes(), media_type=media_type, headers={"Cache-Control": "private, max-age=86400"})


# Surveys


def _questions(typed: str) -> list[dict[str, Any]]:
    """Questions as ops type them, one a line: "题目 | 选项1 | 选项2" (单选), starting "多选：" for a multiple
    choice, "评分：" for a rating from 1 to 5, "填空：" for text."""
    found = []
    prefixes = {
        "多选": QuestionKind.multiple,
        "评分": QuestionKind.rating,
        "填空": QuestionKind.text,
        "单选": QuestionKind.single,
    }
    for line in typed.splitlines():
        if not line.strip():
            continue
        kind = QuestionKind.single
        for word, k in prefixes.items():
            for colon in ("：", ":"):
                if line.strip().startswith(word + colon):
                    kind, line = k, line.strip()[len(word) + 1 :]
        parts = [p.strip() for p in line.replace("｜", "|").split("|")]
        found.append({"text": parts[0], "kind": kind.value, "options": parts[1:]})
    return found


async def _surveys(
    console: Console,
    session: DbSession,
    *,
    typed: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    rows = await service.surveys(session, tenant_id=console.tenant.id)
    counts = await service.answer_counts(session, tenant_id=console.tenant.id, survey_ids=[s.id for s in rows])
    return console.render(
        "console/voice_surveys.html",
        "voice",
        surveys=rows,
        counts=counts,
        typed=typed or {},
        error=error,
        status_code=status_code,
    )


@router.get("/voice/surveys", response_class=HTMLResponse)
async def surveys_page(console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("members.read")
    return await _surveys(console, session)


@router.post("/voice/surveys")
async def create_survey(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("members.write")
    form = await request.form()
    typed = {
        "title": text(form, "title")[:100],
        "intro": text(form, "intro")[:600],
        "questions": str(form.get("questions") or "").replace("\x00", "")[:4000],
        "points": text(form, "points")[:10],
    }

    async def step() -> Any:
        points = typed["points"] or "0"
        if not points.isdigit():
            raise InvalidInput("积分：请填写 0 或正整数", code="bad_points")
        questions = _questions(typed["questions"])
        if not questions:
            raise InvalidInput("请至少写一道题", code="no_questions")
        data = parse(
            SurveyIn,
            {"title": typed["title"], "intro": typed["intro"], "questions": questions, "points": int(points)},
        )
        return await service.create_survey(session, actor=console.principal, data=data)

    outcome = await attempt(session, step)
    if isinstance(outcome, Refusal):
        return await _surveys(console, session, typed=typed, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/voice/surveys/{outcome.id}?saved=1", status_code=303)


@router.get("/voice/surveys/{survey_id}", response_class=HTMLResponse)
async def survey_page(
    console: ConsoleContext,
    session: DbSession,
    survey_id: ResourceId,
    tier: TierQuery = None,
    segment: SegmentQuery = None,
    saved: int = 0,
) -> HTMLResponse:
    console.require("members.read")
    survey = await service.get_survey(session, tenant_id=console.tenant.id, survey_id=survey_id)
    answers = await service.answers_of(
        session, tenant_id=console.tenant.id, survey_id=survey_id, audience=_audience(tier, segment)
    )
    names = await service.nicknames(
        session, tenant_id=console.tenant.id, member_ids=sorted({a.member_id for a in answers[:100]})
    )
    return console.render(
        "console/voice_survey.html",
        "voice",
        survey=survey,
        answers=answers[:100],
        total=len(answers),
        tallies=service.tally(survey, answers),
        names=names,
        kinds=QUESTION_LABELS,
        answer_text=rules.answer_text,
        saved=bool(saved),
        **await _audience_context(console, session, tier, segment),
    )


@router.post("/voice/surveys/{survey_id}/close")
async def close_survey(console: ConsoleContext, session: DbSession, survey_id: ResourceId) -> Response:
    console.require("members.write")
    await service.close_survey(session, actor=console.principal, survey_id=survey_id)
    return RedirectResponse(f"/console/voice/surveys/{survey_id}", status_code=303)


@router.get("/voice/surveys/{survey_id}/export")
async def export_answers(
    console: ConsoleContext,
    session: DbSession,
    survey_id: ResourceId,
    tier: TierQuery = None,
    segment: SegmentQuery = None,
) -> Response:
    console.require("members.read")
    survey = await service.get_survey(session, tenant_id=console.tenant.id, survey_id=survey_id)
    answers = await service.answers_of(
        session, tenant_id=console.tenant.id, survey_id=survey_id, audience=_audience(tier, segment)
    )
    names = await service.nicknames(
        session, tenant_id=console.tenant.id, member_ids=sorted({a.member_id for a in answers})
    )
    timezone = console.tenant.timezone
    questions = list(survey.questions or [])
    rows: list[list[object]] = [
        [names.get(a.member_id, ""), to_local(a.created_at, timezone).strftime("%Y-%m-%d %H:%M"), a.points]
        + [rules.answer_text(a.answers.get(str(n))) for n in range(1, len(questions) + 1)]
        for a in answers
    ]
    headers = ["粉丝", "提交时间", "获得积分"] + [f"{n}. {q.get('text', '')}" for n, q in enumerate(questions, start=1)]
    return await _export(rows, f"问卷回答-{survey.title}", "回答", headers, [16, 18, 10] + [30] * len(questions))
