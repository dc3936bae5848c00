"""Fan voice: the weekly demand collection (下一场想买什么), wish lists with "+1", encore votes (返场) on the
featured products of past live shows, surveys, ops' replies and the rankings. Nothing here commits.

One voice per member: a wish's "+1", an encore vote and a survey's answer are unique per member in the database, so
a second tap (even at the same moment) is refused in words and never counted twice. Every check comes before
anything is stored (a photo is checked before it is kept), so a refusal stores nothing.

A survey's points are credited through the ledger with its own source reference (`refs.survey_ref`): a survey
here has multiple-choice and rating questions, which the points tasks' questionnaire does not know.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.kit import images
from siyu.kit.errors import Conflict, InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.live import repository as live_repository
from siyu.live import service as live
from siyu.live.models import Product as LiveProduct
from siyu.live.models import Show, ShowStatus
from siyu.loyalty import service as loyalty
from siyu.members import service as members
from siyu.segments import service as segments
from siyu.voice import repository, rules
from siyu.voice.models import Answer, Demand, EncoreVote, Survey, Wish, WishVote
from siyu.voice.schemas import DemandIn, ReplyIn, SurveyIn, WishIn

IMAGE_AREA = "voice-images"
DEMANDS_PER_WEEK = 5
WISHES_PER_DAY = 10
ENCORE_DAYS = 60  # shows ended within this many days take encore votes
NO_TIER = 0  # the tier filter's "no tier yet" (基础会员)


class DemandNotFound(NotFound):
    code = "demand_not_found"
    message = "找不到这条需求"


class WishNotFound(NotFound):
    code = "wish_not_found"
    message = "找不到这个愿望"


class SurveyNotFound(NotFound):
    code = "survey_not_found"
    message = "找不到这份问卷"


class TooManyDemands(Conflict):
    code = "too_many_demands"
    message = f"这周已经提交了 {DEMANDS_PER_WEEK} 条需求，下周再来吧"


class TooManyWishes(Conflict):
    code = "too_many_wishes"
    message = f"今天已经许了 {WISHES_PER_DAY} 个愿望，明天再来吧"


class AlreadyPlused(Conflict):
    code = "already_plused"
    message = "你已经 +1 过这个愿望了"


class OwnWish(Conflict):
    code = "own_wish"
    message = "这是你自己许的愿望，不用再 +1"


class AlreadyVoted(Conflict):
    code = "already_voted"
    message = "你已经为这个商品投过返场票了"


class EncoreClosed(Conflict):
    code = "encore_closed"
    message = "只能给已经播完的直播里的商品投返场票"


class EncoreProductNotFound(NotFound):
    code = "encore_product_not_found"
    message = "找不到这个商品"


class AlreadyAnswered(Conflict):
    code = "already_answered"
    message = "你已经填过这份问卷了，每人只能填一次"


class SurveyClosed(Conflict):
    code = "survey_closed"
    message = "这份问卷已经结束了"


class BadAnswers(InvalidInput):
    code = "bad_answers"


# Demands (下一场想买什么)


def demand_photo(data_dir: Path, tenant_id: int, name: str | None) -> Path | None:
    return None if not name else images.path_of(data_dir, IMAGE_AREA, tenant_id, name)


async def submit_demand(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    data: DemandIn,
    timezone: str,
    photo: bytes | None = None,
    data_dir: Path | None = None,
    now: datetime | None = None,
) -> Demand:
    """She tells what she wants next week; at most DEMANDS_PER_WEEK entries a (tenant-local) week."""
    now = now or utcnow()
    if photo:
        images.check(photo)  # not a picture, too large, a bomb: refused before anything is kept
    week = rules.week_of(now, timezone)
    if await repository.count_demands_of(session, tenant_id=tenant_id, member_id=member_id, week=week) >= (
        DEMANDS_PER_WEEK
    ):
        raise TooManyDemands()
    stored = None
    if photo:
        assert data_dir is not None
        stored = images.store(data_dir, IMAGE_AREA, tenant_id, photo)
    row = Demand(
        tenant_id=tenant_id,
        id=new_id(),
        member_id=member_id,
        week=week,
        category=data.category,
        brand=data.brand,
        product=data.product,
        price_range=data.price_range,
        text=data.text,
        photo=stored,
        reply="",
        created_at=now,
    )
    repository.add(session, row)
    await session.flush()
    return row


async def get_demand(session: AsyncSession, *, tenant_id: int, demand_id: int) -> Demand:
    row = await repository.get_demand(session, tenant_id=tenant_id, demand_id=demand_id)
    if row is None:
        raise DemandNotFound()
    return row


async def my_demands(session: AsyncSession, *, tenant_id: int, member_id: int) -> list[Demand]:
    return await repository.demands_of(session, tenant_id=tenant_id, member_id=member_id)


async def demand_weeks(session: AsyncSession, *, tenant_id: int) -> list[str]:
    return await repository.demand_weeks(session, tenant_id=tenant_id)


# Wishes (愿望单)


async def add_wish(
    session: AsyncSession, *, tenant_id: int, member_id: int, data: WishIn, now: datetime | None = None
) -> Wish:
    now = now or utcnow()
    made = await repository.count_wishes_since(
        session, tenant_id=tenant_id, member_id=member_id, since=now - timedelta(days=1)
    )
    if made >= WISHES_PER_DAY:
        raise TooManyWishes()
    row = Wish(
        tenant_id=tenant_id,
        id=new_id(),
        member_id=member_id,
        product=data.product,
        note=data.note,
        plus_count=0,
        reply="",
        created_at=now,
    )
    repository.add(session, row)
    await session.flush()
    return row


async def get_wish(session: AsyncSession, *, tenant_id: int, wish_id: int) -> Wish:
    row = await repository.get_wish(session, tenant_id=tenant_id, wish_id=wish_id)
    if row is None:
        raise WishNotFound()
    return row


async def plus(session: AsyncSession, *, tenant_id: int, member_id: int, wish_id: int) -> Wish:
    """Her "+1" on someone's wish: once per member. A second one is refused (AlreadyPlused) and counts nothing."""
    wish = await get_wish(session, tenant_id=tenant_id, wish_id=wish_id)
    if wish.member_id == member_id:
        raise OwnWish()
    vote = WishVote(tenant_id=tenant_id, id=new_id(), wish_id=wish_id, member_id=member_id, created_at=utcnow())
    try:
        async with session.begin_nested():
            repository.add(session, vote)
            await session.flush()
    except IntegrityError as error:  # hers already, or a second tap at the same moment
        raise AlreadyPlused() from error
    await repository.add_plus(session, tenant_id=tenant_id, wish_id=wish_id)
    await session.refresh(wish)
    return wish


async def wish_list(session: AsyncSession, *, tenant_id: int, limit: int = 200) -> list[Wish]:
    return await repository.wishes(session, tenant_id=tenant_id, limit=limit)


async def plused(session: AsyncSession, *, tenant_id: int, member_id: int, wish_ids: list[int]) -> set[int]:
    return await repository.plused(session, tenant_id=tenant_id, member_id=member_id, wish_ids=wish_ids)


# Encore votes (返场)


@dataclass(frozen=True)
class EncoreCandidate:
    show: Show
    product: LiveProduct
    votes: int


async def encore_candidates(
    session: AsyncSession, *, tenant_id: int, now: datetime | None = None
) -> list[EncoreCandidate]:
    """Featured products of the shows that ended in the last ENCORE_DAYS days, latest show first."""
    now = now or utcnow()
    shows = await live.calendar(session, tenant_id=tenant_id, start=now - timedelta(days=ENCORE_DAYS), end=now)
    ended = [s for s in shows if live.status_of(s, now) == ShowStatus.ended]
    ended.sort(key=lambda s: (s.starts_at, s.id), reverse=True)
    products = await live.products_of(session, tenant_id=tenant_id, show_ids=[s.id for s in ended])
    ids = [p.id for s in ended for p in products[s.id]]
    counts = await repository.encore_counts(session, tenant_id=tenant_id, product_ids=ids)
    return [EncoreCandidate(s, p, counts.get(p.id, 0)) for s in ended for p in products[s.id]]


async def encore_vote(
    session: AsyncSession, *, tenant_id: int, member_id: int, product_id: int, now: datetime | None = None
) -> int:
    """Her vote to bring back a product of a past show: once per member and product. Returns its votes."""
    now = now or utcnow()
    found = {c.product.id: c for c in await encore_candidates(session, tenant_id=tenant_id, now=now)}
    candidate = found.get(product_id)
    if candidate is None:
        if await live_repository.get_product(session, tenant_id=tenant_id, product_id=product_id) is None:
            raise EncoreProductNotFound()
        raise EncoreClosed()
    vote = EncoreVote(
        tenant_id=tenant_id,
        id=new_id(),
        show_id=candidate.show.id,
        product_id=product_id,
        member_id=member_id,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            repository.add(session, vote)
            await session.flush()
    except IntegrityError as error:
        raise AlreadyVoted() from error
    return (await repository.encore_counts(session, tenant_id=tenant_id, product_ids=[product_id])).get(product_id, 0)


async def encore_voted(session: AsyncSession, *, tenant_id: int, member_id: int) -> set[int]:
    return await repository.encore_voted(session, tenant_id=tenant_id, member_id=member_id)


# Surveys


def _survey_view(survey: Survey) -> dict[str, Any]:
    return {"title": survey.title, "questions": survey.questions, "points": survey.points}


async def create_survey(session: AsyncSession, *, actor: Principal, data: SurveyIn) -> Survey:
    row = Survey(
        tenant_id=actor.tenant_id,
        id=new_id(),
        title=data.title,
        intro=data.intro,
        questions=[q.model_dump(mode="json") for q in data.questions],
        points=data.points,
        open=True,
    )
    repository.add(session, row)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="voice.survey_create",
        target_type="voice_survey",
        target_id=row.id,
        after=_survey_view(row),
    )
    return row


async def get_survey(session: AsyncSession, *, tenant_id: int, survey_id: int) -> Survey:
    row = await repository.get_survey(session, tenant_id=tenant_id, survey_id=survey_id)
    if row is None:
        raise SurveyNotFound()
    return row


async def close_survey(session: AsyncSession, *, actor: Principal, survey_id: int) -> Survey:
    row = await get_survey(session, tenant_id=actor.tenant_id, survey_id=survey_id)
    if row.open:
        row.open = False
        await session.flush()
        audit.record(session, actor=actor, action="voice.survey_close", target_type="voice_survey", target_id=row.id)
    return row


async def surveys(session: AsyncSession, *, tenant_id: int, open_only: bool = False) -> list[Survey]:
    return await repository.surveys(session, tenant_id=tenant_id, open_only=open_only)


async def answer_counts(session: AsyncSession, *, tenant_id: int, survey_ids: list[int]) -> dict[int, int]:
    return await repository.answer_counts(session, tenant_id=tenant_id, survey_ids=survey_ids)


async def answered(session: AsyncSession, *, tenant_id: int, member_id: int) -> set[int]:
    return await repository.answered(session, tenant_id=tenant_id, member_id=member_id)


async def answer(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    survey_id: int,
    answers: dict[str, Any],
    now: datetime | None = None,
) -> Answer:
    """Her answer to a survey: once per member; its points (if any) credited through the ledger, once."""
    now = now or utcnow()
    survey = await get_survey(session, tenant_id=tenant_id, survey_id=survey_id)
    if not survey.open:
        raise SurveyClosed()
    try:
        kept = rules.check_answers(list(survey.questions or []), answers)
    except rules.BadAnswers as bad:
        raise BadAnswers(bad.message) from bad
    row = Answer(
        tenant_id=tenant_id,
        id=new_id(),
        survey_id=survey.id,
        member_id=member_id,
        answers=kept,
        points=survey.points,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            repository.add(session, row)
            await session.flush()
            if survey.points:
                await ledger.earn(
                    session,
                    tenant_id=tenant_id,
                    member_id=member_id,
                    amount=survey.points,
                    source_ref=refs.survey_ref(survey.id, member_id),
                    explanation=f"填写问卷 {survey.title}"[:300],
                    now=now,
                )
    except (IntegrityError, ledger.AlreadyCredited) as error:
        raise AlreadyAnswered() from error
    return row


async def answers_of(
    session: AsyncSession, *, tenant_id: int, survey_id: int, audience: Audience | None = None
) -> list[Answer]:
    rows = await repository.answers_of(session, tenant_id=tenant_id, survey_id=survey_id)
    if audience is None or audience.everyone:
        return rows
    keep = await _kept(session, tenant_id, {r.member_id for r in rows}, audience)
    return [r for r in rows if r.member_id in keep]


@dataclass(frozen=True)
class Tally:
    """How one question was answered: counts by option (choices), the average (rating), the texts."""

    question: dict[str, Any]
    counts: list[tuple[str, int]] = field(default_factory=list)
    average: float | None = None
    texts: list[str] = field(default_factory=list)


def tally(survey: Survey, answers: list[Answer]) -> list[Tally]:
    found = []
    for n, question in enumerate(survey.questions or [], start=1):
        values = [a.answers.get(str(n)) for a in answers if a.answers.get(str(n)) is not None]
        kind = question.get("kind")
        if kind in ("single", "multiple"):
            counted: Counter[str] = Counter()
            for v in values:
                counted.update([str(x) for x in v] if isinstance(v, list) else [str(v)])
            found.append(Tally(question, counts=[(o, counted.get(o, 0)) for o in question.get("options") or []]))
        elif kind == "rating":
            numbers = [int(v) for v in values if isinstance(v, int)]
            found.append(Tally(question, average=sum(numbers) / len(numbers) if numbers else None))
        else:
            found.append(Tally(question, texts=[str(v) for v in values[:50]]))
    return found


# Replies ops write, fans see


async def _reply(session: AsyncSession, actor: Principal, row: Wish | Demand, reply: str, target: str) -> None:
    """Ops answer a wish or a demand (the fan sees it on her page); audited with what it was about."""
    before = {"reply": row.reply}
    row.reply, row.replied_at = reply, utcnow()
    await session.flush()
    audit.record_change(
        session,
        actor=actor,
        action=f"voice.reply_{target}",
        target_type=f"voice_{target}",
        target_id=row.id,
        before=before,
        after={"reply": row.reply, "product": row.product},
    )


async def reply_wish(session: AsyncSession, *, actor: Principal, wish_id: int, data: ReplyIn) -> Wish:
    wish = await get_wish(session, tenant_id=actor.tenant_id, wish_id=wish_id)
    await _reply(session, actor, wish, data.reply, "wish")
    return wish


async def reply_demand(session: AsyncSession, *, actor: Principal, demand_id: int, data: ReplyIn) -> Demand:
    demand = await get_demand(session, tenant_id=actor.tenant_id, demand_id=demand_id)
    await _reply(session, actor, demand, data.reply, "demand")
    return demand


@dataclass(frozen=True)
class Reply:
    kind: str  # "wish" or "demand"
    subject: str
    reply: str
    replied_at: datetime


KIND_LABELS = {"wish": "愿望", "demand": "需求"}


async def my_replies(session: AsyncSession, *, tenant_id: int, member_id: int) -> list[Reply]:
    """Replies to her demands and to the wishes she made or "+1"ed, newest first."""
    wishes = await repository.replied_wishes(session, tenant_id=tenant_id, member_id=member_id)
    demands = await repository.replied_demands(session, tenant_id=tenant_id, member_id=member_id)
    found = [Reply("wish", w.product, w.reply, w.replied_at) for w in wishes if w.replied_at is not None]
    found += [Reply("demand", d.product, d.reply, d.replied_at) for d in demands if d.replied_at is not None]
    return sorted(found, key=lambda r: r.replied_at, reverse=True)


# Rankings (console)


@dataclass(frozen=True)
class Audience:
    """Whose voices a ranking counts: the members holding a tier (NO_TIER: holding none) and / or in a saved
    segment (as it is now); neither chosen: everyone's."""

    tier_id: int | None = None
    segment_id: int | None = None

    @property
    def everyone(self) -> bool:
        return self.tier_id is None and self.segment_id is None


async def _kept(session: AsyncSession, tenant_id: int, member_ids: set[int], audience: Audience) -> set[int]:
    """Those of `member_ids` in the audience."""
    kept = set(member_ids)
    if audience.tier_id is not None:
        held = await loyalty.tiers_of(session, tenant_id=tenant_id, member_ids=sorted(kept))
        if audience.tier_id == NO_TIER:
            kept = {m for m in kept if m not in held}
        else:
            kept = {m for m in kept if m in held and held[m].id == audience.tier_id}
    if audience.segment_id is not None and kept:
        kept = await segments.members_among(
            session, tenant_id=tenant_id, segment_id=audience.segment_id, member_ids=kept
        )
    return kept


@dataclass(frozen=True)
class WishGroup:
    """Wishes found to be the same product written differently; `plus` adds up their "+1"s."""

    wishes: list[Wish]
    plus: int
    nicknames: dict[int, str]
    counted: dict[int, int]  # "+1"s of each wish as counted (those of the audience's members)

    @property
    def lead(self) -> Wish:
        return self.wishes[0]


async def ranked_wishes(
    session: AsyncSession, *, tenant_id: int, audience: Audience | None = None, limit: int = 500
) -> list[WishGroup]:
    """Wishes grouped as the same product, the group with the most "+1"s first. With an audience, only the "+1"s
    of its members count, and a wish is kept when its maker or one of its "+1"s is in it."""
    wishes = await repository.wishes(session, tenant_id=tenant_id, limit=limit)
    plus = {w.id: w.plus_count for w in wishes}
    if audience is not None and not audience.everyone:
        voters = await repository.voters_of_wishes(session, tenant_id=tenant_id, wish_ids=[w.id for w in wishes])
        everyone = {w.member_id for w in wishes} | {m for v in voters.values() for m in v}
        keep = await _kept(session, tenant_id, everyone, audience)
        plus = {w.id: len(voters.get(w.id, set()) & keep) for w in wishes}
        wishes = [w for w in wishes if w.member_id in keep or plus[w.id]]
    names = await members.nicknames(session, tenant_id=tenant_id, member_ids=sorted({w.member_id for w in wishes}))
    groups = []
    for indexes in rules.group([w.product for w in wishes]):
        rows = sorted((wishes[i] for i in indexes), key=lambda w: (-plus[w.id], w.created_at))
        groups.append(WishGroup(rows, sum(plus[w.id] for w in rows), names, {w.id: plus[w.id] for w in rows}))
    groups.sort(key=lambda g: (-g.plus, -len(g.wishes)))
    return groups


async def demands(
    session: AsyncSession,
    *,
    tenant_id: int,
    week: str | None = None,
    category: str | None = None,
    audience: Audience | None = None,
) -> list[Demand]:
    rows = await repository.demands(session, tenant_id=tenant_id, week=week, category=category)
    if audience is None or audience.everyone:
        return rows
    keep = await _kept(session, tenant_id, {r.member_id for r in rows}, audience)
    return [r for r in rows if r.member_id in keep]


def by_category(rows: list[Demand]) -> list[tuple[str, int]]:
    counted = Counter(r.category for r in rows)
    return sorted(counted.items(), key=lambda kv: (-kv[1], kv[0]))


@dataclass(frozen=True)
class EncoreRank:
    title: str
    show_title: str
    votes: int


async def encore_ranking(
    session: AsyncSession, *, tenant_id: int, audience: Audience | None = None
) -> list[EncoreRank]:
    """Products voted for, most votes first (votes of the audience's members only, with one)."""
    pairs = await repository.encore_voters(session, tenant_id=tenant_id)
    if audience is not None and not audience.everyone:
        keep = await _kept(session, tenant_id, {m for _, m in pairs}, audience)
        pairs = [(p, m) for p, m in pairs if m in keep]
    counted = Counter(p for p, _ in pairs)
    shows = await repository.encore_shows(session, tenant_id=tenant_id)
    products = await live.products_of(session, tenant_id=tenant_id, show_ids=sorted(set(shows.values())))
    by_id = {p.id: p for rows in products.values() for p in rows}
    found_shows = await live_repository.shows_by_id(session, tenant_id=tenant_id, show_ids=sorted(set(shows.values())))
    titles = {i: s.title for i, s in found_shows.items()}
    found = [EncoreRank(by_id[p].title, titles.get(shows[p], ""), n) for p, n in counted.items() if p in by_id]
    return sorted(found, key=lambda r: (-r.votes, r.title))


async def nicknames(session: AsyncSession, *, tenant_id: int, member_ids: list[int]) -> dict[int, str]:
    return await members.nicknames(session, tenant_id=tenant_id, member_ids=member_ids)
