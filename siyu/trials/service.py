"""Product trials (商品试用): ops create a campaign, fans apply (points held through the ledger), ops record a seed
and draw, winners are shipped through the mall's fulfilment queue and report back; an overdue report gets a
reminder first and then the trial's penalty, once. Nothing here commits.

Exactly once, by the database: one application per (trial, member) (a unique key); the seed is set once and the
draw claimed once (conditional UPDATEs of the trial's row, so a second or concurrent draw finds it drawn); a
loser's refund, a reminder and a penalty are each one conditional UPDATE of the application, and the ledger keeps
each reference (`refs.trial_ref`, `refs.trial_penalty_ref`) unique besides.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.claims import service as claims
from siyu.claims.models import Outcome
from siyu.jobs import service as jobs
from siyu.kit import images
from siyu.kit.errors import AppError, Conflict, Forbidden, InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.time import format_local, localise_fields, to_local, utcnow
from siyu.kit.web import Principal
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.mall import service as mall
from siyu.members import service as members
from siyu.segments import service as segments
from siyu.tenants import service as tenants
from siyu.trials import repository, rules
from siyu.trials.models import (
    APP_STATUS_LABELS,
    DRAW_LABELS,
    Application,
    AppStatus,
    DrawMethod,
    Penalty,
    Report,
    Trial,
)
from siyu.trials.schemas import ApplyIn, DrawIn, ReviewIn, TrialIn, TrialSettings

SETTINGS_KEY = "trials"
IMAGE_AREA = "trial-images"
MAX_PHOTOS = 9
MAX_REPORT_TEXT = 2000
MIN_REPORT_TEXT = 10
WON_JOB = "trials.won"
REMINDER_JOB = "trials.report_reminder"
SWEEP_JOB = "trials.sweep"
GRACE = timedelta(days=1)  # between the reminder and the penalty
SWEEP_BATCH = 500


class TrialNotFound(NotFound):
    code = "trial_not_found"
    message = "找不到这个试用活动"


class ApplicationNotFound(NotFound):
    code = "trial_application_not_found"
    message = "找不到这份试用申请"


class ReportNotFound(NotFound):
    code = "trial_report_not_found"
    message = "找不到这份试用报告"


class NotOpen(Conflict):
    code = "trial_not_open"
    message = "现在不在申请时间内"


class NotEligible(Forbidden):
    code = "trial_not_eligible"
    message = "你暂时不满足这个试用的申请条件"


class AlreadyApplied(Conflict):
    code = "trial_already_applied"
    message = "你已经申请过这个试用了，每人只能申请一次"


class InsufficientPoints(ledger.InsufficientPoints):
    code = "trial_insufficient_points"
    message = "积分不够，不能申请这个试用"


class AnswersMissing(InvalidInput):
    code = "trial_answers_missing"
    message = "请回答所有问题"


class AddressMissing(InvalidInput):
    code = "trial_address_missing"
    message = "请选择或填写收货地址"


class SeedMissing(Conflict):
    code = "trial_seed_missing"
    message = "请先生成并公布抽选种子，再开始抽选"


class StillOpen(Conflict):
    code = "trial_still_open"
    message = "申请还没有截止，截止后才能公布种子和抽选"


class AlreadyDrawn(Conflict):
    code = "trial_already_drawn"
    message = "这个试用已经抽选过了，结果不会再变"


class BadPick(InvalidInput):
    code = "trial_bad_pick"
    message = "人工挑选的人数要正好等于名额"


class TrialLocked(Conflict):
    code = "trial_locked"
    message = "已经有人申请，名额、时间、条件和费用不能再改"


class NotAWinner(Forbidden):
    code = "trial_not_a_winner"
    message = "只有中选的试用者才能提交试用报告"


class AlreadyReported(Conflict):
    code = "trial_already_reported"
    message = "这份试用报告已经提交过了"


class ReportText(InvalidInput):
    code = "trial_report_text"
    message = f"试用报告请写 {MIN_REPORT_TEXT} 到 {MAX_REPORT_TEXT} 个字"


class TooManyPhotos(InvalidInput):
    code = "trial_too_many_photos"
    message = f"最多上传 {MAX_PHOTOS} 张照片"


class BadSegment(InvalidInput):
    code = "trial_bad_segment"
    message = "请选择已有的会员分群"


class BadTier(InvalidInput):
    code = "trial_bad_tier"
    message = "请选择一个已有的会员等级"


def _view(trial: Trial) -> dict[str, Any]:
    return {
        "title": trial.title,
        "value_fen": trial.value_fen,
        "quota": trial.quota,
        "apply_from": trial.apply_from.isoformat(),
        "apply_until": trial.apply_until.isoformat(),
        "min_tier_id": trial.min_tier_id,
        "min_points": trial.min_points,
        "min_orders": trial.min_orders,
        "segment_id": trial.segment_id,
        "points_cost": trial.points_cost,
        "questions": list(trial.questions or []),
        "report_days": trial.report_days,
        "penalty": trial.penalty,
        "penalty_points": trial.penalty_points,
        "bar_days": trial.bar_days,
    }


def status_label(trial: Trial, now: datetime | None = None) -> str:
    now = now or utcnow()
    if trial.drawn_at is not None:
        return "已公布结果"
    if now < trial.apply_from:
        return "即将开始"
    if now < trial.apply_until:
        return "申请中"
    return "待抽选"


def is_open(trial: Trial, now: datetime | None = None) -> bool:
    now = now or utcnow()
    return trial.apply_from <= now < trial.apply_until and trial.drawn_at is None


# Settings


def settings_of(config: tenants.TenantConfig) -> TrialSettings:
    try:
        return TrialSettings.model_validate(config.section(SETTINGS_KEY) or {})
    except ValueError:
        return TrialSettings()


async def save_settings(session: AsyncSession, *, actor: Principal, data: TrialSettings) -> TrialSettings:
    before = await tenants.put_setting(
        session, tenant_id=actor.tenant_id, key=SETTINGS_KEY, value=data.model_dump(mode="json")
    )
    audit.record_change(
        session,
        actor=actor,
        action="trials.settings",
        target_type="tenant",
        target_id=actor.tenant_id,
        before=before or {},
        after=data.model_dump(mode="json"),
    )
    return data


# Campaigns (ops)


async def get_trial(session: AsyncSession, *, tenant_id: int, trial_id: int, lock: bool = False) -> Trial:
    trial = await repository.get_trial(session, tenant_id=tenant_id, trial_id=trial_id, lock=lock)
    if trial is None:
        raise TrialNotFound()
    return trial


async def list_trials(session: AsyncSession, *, tenant_id: int) -> list[Trial]:
    return await repository.trials(session, tenant_id=tenant_id)


async def application_counts(session: AsyncSession, *, tenant_id: int, trial_ids: list[int]) -> dict[int, int]:
    return await repository.application_counts(session, tenant_id=tenant_id, trial_ids=trial_ids)


async def _check_tier(session: AsyncSession, tenant_id: int, tier_id: int | None) -> None:
    if tier_id is None:
        return
    if tier_id not in {t.id for t in await loyalty.list_tiers(session, tenant_id=tenant_id)}:
        raise BadTier()


async def _check_segment(session: AsyncSession, tenant_id: int, segment_id: int | None) -> None:
    if segment_id is not None and segment_id not in await segments.names(session, tenant_id=tenant_id):
        raise BadSegment()


async def create_trial(session: AsyncSession, *, actor: Principal, data: TrialIn) -> Trial:
    timezone = (await tenants.get_tenant(session, actor.tenant_id)).timezone
    data = localise_fields(data, timezone)
    await _check_tier(session, actor.tenant_id, data.min_tier_id)
    await _check_segment(session, actor.tenant_id, data.segment_id)
    trial = Trial(tenant_id=actor.tenant_id, id=new_id(), **data.model_dump())
    repository.add(session, trial)
    await session.flush()
    audit.record(
        session, actor=actor, action="trials.create", target_type="trial", target_id=trial.id, after=_view(trial)
    )
    return trial


async def update_trial(session: AsyncSession, *, actor: Principal, trial_id: int, data: TrialIn) -> Trial:
    """Change a trial; once someone applied, only its words (name, description, questions stay) and the report
    rule may change: what she applied under stays as it was."""
    trial = await get_trial(session, tenant_id=actor.tenant_id, trial_id=trial_id, lock=True)
    timezone = (await tenants.get_tenant(session, actor.tenant_id)).timezone
    data = localise_fields(data, timezone)
    await _check_tier(session, actor.tenant_id, data.min_tier_id)
    if data.segment_id != trial.segment_id:
        await _check_segment(session, actor.tenant_id, data.segment_id)
    before = _view(trial)
    applied = (await repository.application_counts(session, tenant_id=actor.tenant_id, trial_ids=[trial.id])).get(
        trial.id, 0
    )
    fixed = (
        "quota",
        "apply_from",
        "apply_until",
        "min_tier_id",
        "min_points",
        "min_orders",
        "segment_id",
        "points_cost",
        "questions",
    )
    values = data.model_dump()
    if applied and any(values[k] != getattr(trial, k) for k in fixed):
        raise TrialLocked()
    if trial.drawn_at is not None and values["quota"] != trial.quota:
        raise AlreadyDrawn()
    for key, value in values.items():
        setattr(trial, key, value)
    await session.flush()
    audit.record_change(
        session,
        actor=actor,
        action="trials.update",
        target_type="trial",
        target_id=trial.id,
        before=before,
        after=_view(trial),
    )
    return trial


async def set_image(session: AsyncSession, *, actor: Principal, trial_id: int, data: bytes, data_dir: Path) -> Trial:
    trial = await get_trial(session, tenant_id=actor.tenant_id, trial_id=trial_id)
    trial.image = images.store(data_dir, IMAGE_AREA, actor.tenant_id, data)
    await session.flush()
    audit.record(session, actor=actor, action="trials.image", target_type="trial", target_id=trial.id)
    return trial


def image_path(data_dir: Path, tenant_id: int, name: str | None) -> Path | None:
    return None if not name else images.path_of(data_dir, IMAGE_AREA, tenant_id, name)


# Who may apply


async def _claimed_orders(session: AsyncSession, tenant_id: int, member_id: int, enough: int) -> int:
    rows = await claims.claims_of(session, tenant_id=tenant_id, member_id=member_id, limit=max(enough * 3, 50))
    return sum(1 for c in rows if c.outcome in (Outcome.credited, Outcome.claimed_by_you))


@dataclass(frozen=True)
class Standing:
    weight: int
    tier_name: str


async def _eligibility(
    session: AsyncSession, trial: Trial, member_id: int, now: datetime, available: int | None = None
) -> Standing:
    """Raise the first reason she may not apply (in words), else her weight in a weighted draw."""
    tenant_id = trial.tenant_id
    if now < trial.apply_from:
        timezone = (await tenants.get_tenant(session, tenant_id)).timezone
        raise NotOpen(f"申请 {format_local(trial.apply_from, timezone, '%m月%d日 %H:%M')} 开始，请到时再来")
    if now >= trial.apply_until or trial.drawn_at is not None:
        raise NotOpen("申请已经截止了")
    if await repository.application_of(session, tenant_id=tenant_id, trial_id=trial.id, member_id=member_id):
        raise AlreadyApplied()
    barred = await repository.barred_until(session, tenant_id=tenant_id, member_id=member_id, now=now)
    if barred is not None:
        timezone = (await tenants.get_tenant(session, tenant_id)).timezone
        raise NotEligible(f"上次试用没有按时提交报告，{format_local(barred, timezone, '%Y年%m月%d日')}前不能申请试用")
    tiers = sorted(await loyalty.list_tiers(session, tenant_id=tenant_id), key=lambda t: t.threshold)
    standing = await loyalty.standing(session, tenant_id=tenant_id, member_id=member_id, now=now)
    rank = next((i for i, t in enumerate(tiers) if standing.tier is not None and t.id == standing.tier.id), None)
    if trial.min_tier_id is not None:
        needed = next((i for i, t in enumerate(tiers) if t.id == trial.min_tier_id), None)
        if needed is not None and (rank is None or rank < needed):
            name = tiers[needed].name.removesuffix("会员") or tiers[needed].name
            raise NotEligible(f"这个试用需要{name}及以上会员才能申请")
    if available is None:
        available = (await ledger.balance(session, tenant_id=tenant_id, member_id=member_id)).available
    if trial.min_points and available < trial.min_points:
        raise NotEligible(f"这个试用需要积分余额至少 {trial.min_points}，你现在有 {max(available, 0)}")
    if trial.min_orders and await _claimed_orders(session, tenant_id, member_id, trial.min_orders) < trial.min_orders:
        raise NotEligible(f"这个试用需要已领取积分的订单至少 {trial.min_orders} 笔")
    if trial.segment_id is not None and not await segments.contains(
        session, tenant_id=tenant_id, segment_id=trial.segment_id, member_id=member_id
    ):
        raise NotEligible("这个试用只面向部分会员，你暂时不在名单中")
    if trial.points_cost and available < trial.points_cost:
        short = trial.points_cost - max(available, 0)
        raise InsufficientPoints(f"积分不够：申请需要 {trial.points_cost} 积分，还差 {short} 积分", short=short)
    return Standing(rules.tier_weight(rank), standing.tier.name if standing.tier else "")


async def refusal(session: AsyncSession, *, trial: Trial, member_id: int) -> AppError | None:
    """What would refuse her applying now (None: she may), for the pages to say before she fills anything in."""
    try:
        await _eligibility(session, trial, member_id, utcnow())
    except AppError as refused:
        return refused
    return None


# Applying (fans)


async def apply(
    session: AsyncSession, *, tenant_id: int, member_id: int, trial_id: int, data: ApplyIn, now: datetime | None = None
) -> Application:
    """Apply with an address and answers; the points cost is spent at once (given back if she is not drawn).
    Refused in words, storing nothing: outside the window, not eligible, twice, short of points."""
    now = now or utcnow()
    trial = await get_trial(session, tenant_id=tenant_id, trial_id=trial_id)
    questions = list(trial.questions or [])
    answers = (list(data.answers) + [""] * len(questions))[: len(questions)]
    if any(not a for a in answers):
        raise AnswersMissing()
    if data.address_id is not None:
        saved = await mall.get_address(session, tenant_id=tenant_id, member_id=member_id, address_id=data.address_id)
        address = mall.address_snapshot(saved)
    elif data.address is not None:
        address = mall.address_snapshot(data.address)
    else:
        raise AddressMissing()
    standing = await _eligibility(session, trial, member_id, now)
    row = Application(
        tenant_id=tenant_id,
        id=new_id(),
        trial_id=trial.id,
        member_id=member_id,
        address=address,
        answers=answers,
        points_cost=trial.points_cost,
        weight=standing.weight,
        tier_name=standing.tier_name[:20],
        status=AppStatus.applied,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            repository.add(session, row)
            await session.flush()
    except IntegrityError:  # the same application at the same moment
        raise AlreadyApplied() from None
    if trial.points_cost:
        try:
            await ledger.spend(
                session,
                tenant_id=tenant_id,
                member_id=member_id,
                amount=trial.points_cost,
                source_ref=refs.trial_ref(row.id),
                explanation=f"申请商品试用 {trial.title}"[:300],
                now=now,
            )
        except ledger.InsufficientPoints:
            raise InsufficientPoints(f"积分不够：申请需要 {trial.points_cost} 积分") from None
    return row


async def my_applications(session: AsyncSession, *, tenant_id: int, member_id: int) -> list[Application]:
    return await repository.applications_of_member(session, tenant_id=tenant_id, member_id=member_id)


async def application_of(session: AsyncSession, *, tenant_id: int, trial_id: int, member_id: int) -> Application | None:
    return await repository.application_of(session, tenant_id=tenant_id, trial_id=trial_id, member_id=member_id)


async def applications(session: AsyncSession, *, tenant_id: int, trial_id: int) -> list[Application]:
    return await repository.applications(session, tenant_id=tenant_id, trial_id=trial_id)


def app_status_label(row: Application) -> str:
    if row.penalised_at is not None:
        return "报告逾期"
    if row.reported_at is not None:
        return "已提交报告"
    return APP_STATUS_LABELS.get(row.status, row.status)


# The draw (ops)


async def publish_seed(session: AsyncSession, *, actor: Principal, trial_id: int, now: datetime | None = None) -> Trial:
    """Record the seed, once, after applications closed: shown on the draw page and to fans before the draw."""
    now = now or utcnow()
    trial = await get_trial(session, tenant_id=actor.tenant_id, trial_id=trial_id)
    if now < trial.apply_until:
        raise StillOpen()
    if trial.seed is None:
        seed = secrets.token_hex(16)
        if await repository.set_seed(session, tenant_id=actor.tenant_id, trial_id=trial.id, seed=seed, now=now):
            audit.record(
                session,
                actor=actor,
                action="trials.seed",
                target_type="trial",
                target_id=trial.id,
                after={"seed": seed},
            )
    return await get_trial(session, tenant_id=actor.tenant_id, trial_id=trial_id)


@dataclass(frozen=True)
class DrawResult:
    trial: Trial
    winners: list[Application]
    losers: list[Application]


async def draw(
    session: AsyncSession, *, actor: Principal, trial_id: int, data: DrawIn, now: datetime | None = None
) -> DrawResult:
    """Draw the winners, once: exactly min(quota, applications) win. Random and weighted draws follow
    `rules.draw` from the recorded seed and the numbered list; a manual pick names the winners."""
    now = now or utcnow()
    tenant_id = actor.tenant_id
    trial = await get_trial(session, tenant_id=tenant_id, trial_id=trial_id)
    if trial.drawn_at is not None:
        raise AlreadyDrawn()
    if now < trial.apply_until:
        raise StillOpen()
    if data.method != DrawMethod.manual and trial.seed is None:
        raise SeedMissing()
    rows = await repository.applications(session, tenant_id=tenant_id, trial_id=trial.id)
    quota = min(trial.quota, len(rows))
    if data.method == DrawMethod.manual:
        picked = set(data.picked)
        if len(picked) != quota or not picked <= {r.id for r in rows}:
            raise BadPick(f"请正好挑选 {quota} 人（名额 {trial.quota}，申请 {len(rows)} 人）")
        won_ids = picked
    else:
        weights = [r.weight if data.method == DrawMethod.weighted else 1 for r in rows]
        won_ids = {rows[d.number - 1].id for d in rules.draw(trial.seed or "", weights, quota)}
    # the one transaction that claims the draw goes on; another one (even at the same moment) is refused
    if not await repository.claim_draw(
        session, tenant_id=tenant_id, trial_id=trial.id, method=data.method, by=actor.label, now=now
    ):
        raise AlreadyDrawn()
    winners = [r for r in rows if r.id in won_ids]
    losers = [r for r in rows if r.id not in won_ids]
    await repository.set_status(
        session, tenant_id=tenant_id, trial_id=trial.id, application_ids=won_ids, status=AppStatus.won
    )
    await repository.set_status(
        session, tenant_id=tenant_id, trial_id=trial.id, application_ids=[r.id for r in losers], status=AppStatus.lost
    )
    await _refund_losers(session, tenant_id=tenant_id, losers=losers, by=actor.label, now=now)
    await _ship_winners(session, trial=trial, winners=winners, now=now)
    trial = await get_trial(session, tenant_id=tenant_id, trial_id=trial.id)
    audit.record(
        session,
        actor=actor,
        action="trials.draw",
        target_type="trial",
        target_id=trial.id,
        after={
            "method": DRAW_LABELS[data.method],
            "seed": trial.seed,
            "applications": len(rows),
            "winners": len(winners),
        },
    )
    rows = await repository.applications(session, tenant_id=tenant_id, trial_id=trial.id)
    return DrawResult(trial, [r for r in rows if r.id in won_ids], [r for r in rows if r.id not in won_ids])


async def _refund_losers(
    session: AsyncSession, *, tenant_id: int, losers: list[Application], by: str, now: datetime
) -> None:
    """Each loser's points cost back, once (members in id order)."""
    for row in sorted(losers, key=lambda r: (r.member_id, r.id)):
        if not row.points_cost:
            continue
        if await repository.mark(
            session, tenant_id=tenant_id, application_id=row.id, unset="refunded_at", refunded_at=now
        ):
            await ledger.refund_spend(
                session,
                tenant_id=tenant_id,
                source_ref=refs.trial_ref(row.id),
                created_by=by[:80],
                now=now,
                reason="商品试用未中选",
            )


async def _ship_winners(session: AsyncSession, *, trial: Trial, winners: list[Application], now: datetime) -> None:
    tenant_id = trial.tenant_id
    if not winners:
        return
    if trial.shipping_reward_id is None:
        item = await mall.shipping_item(session, tenant_id=tenant_id, title=f"试用：{trial.title}", image=None)
        trial.shipping_reward_id = item.id
        await session.flush()
    timezone = (await tenants.get_tenant(session, tenant_id)).timezone
    for row in sorted(winners, key=lambda r: (r.member_id, r.id)):
        shipment = await mall.ship_item(
            session,
            tenant_id=tenant_id,
            member_id=row.member_id,
            reward_id=trial.shipping_reward_id,
            key=f"trial:{row.id}",
            address=dict(row.address),
            day=to_local(now, timezone).date(),
            now=now,
        )
        await repository.mark(
            session, tenant_id=tenant_id, application_id=row.id, unset="redemption_id", redemption_id=shipment.id
        )
        await jobs.enqueue(
            session,
            WON_JOB,
            {"member_id": row.member_id, "trial_id": trial.id, "application_id": row.id, "title": trial.title},
            tenant_id=tenant_id,
            dedupe_key=f"{WON_JOB}:{tenant_id}:{row.id}",
        )


@dataclass(frozen=True)
class Entry:
    number: int
    application: Application
    name: str
    key: str | None
    won: bool


def _masked(name: str) -> str:
    name = name.strip() or "粉丝"
    return name[0] + "*" * min(3, max(1, len(name) - 1))


async def published(session: AsyncSession, *, trial: Trial) -> list[Entry]:
    """The numbered list anyone can re-run the draw with: number, masked name, weight, and (once a seed is
    recorded) each one's key."""
    rows = await repository.applications(session, tenant_id=trial.tenant_id, trial_id=trial.id)
    names = await members.nicknames(session, tenant_id=trial.tenant_id, member_ids=[r.member_id for r in rows])
    weighted = trial.draw_method == DrawMethod.weighted
    out = []
    for number, row in enumerate(rows, start=1):
        key = None
        if trial.seed is not None:
            key = f"{rules.key_of(trial.seed, number, row.weight if weighted else 1):064x}"
        out.append(Entry(number, row, _masked(names.get(row.member_id, "")), key, row.status == AppStatus.won))
    return out


# Reports (fans) and their review (ops)


def _check_photos(photos: list[bytes]) -> None:
    if len(photos) > MAX_PHOTOS:
        raise TooManyPhotos()
    for data in photos:
        images.check(data)  # not an image, too large, too many pixels: refused before anything is kept


async def submit_report(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    trial_id: int,
    text: str,
    photos: list[bytes],
    data_dir: Path,
    now: datetime | None = None,
) -> Report:
    now = now or utcnow()
    trial = await get_trial(session, tenant_id=tenant_id, trial_id=trial_id)
    row = await repository.application_of(session, tenant_id=tenant_id, trial_id=trial.id, member_id=member_id)
    if row is None or row.status != AppStatus.won:
        raise NotAWinner()
    if row.reported_at is not None:
        raise AlreadyReported()
    text = text.strip()
    if not MIN_REPORT_TEXT <= len(text) <= MAX_REPORT_TEXT:
        raise ReportText()
    _check_photos(photos)
    if not await repository.mark(
        session, tenant_id=tenant_id, application_id=row.id, unset="reported_at", reported_at=now
    ):
        raise AlreadyReported()
    names = [images.store(data_dir, IMAGE_AREA, tenant_id, data) for data in photos]
    report = Report(
        tenant_id=tenant_id,
        id=new_id(),
        trial_id=trial.id,
        application_id=row.id,
        member_id=member_id,
        text=text,
        photos=names,
        featured=False,
        review_note="",
        created_at=now,
    )
    repository.add(session, report)
    await session.flush()
    return report


async def report_of(session: AsyncSession, *, tenant_id: int, application_id: int) -> Report | None:
    return await repository.report_of(session, tenant_id=tenant_id, application_id=application_id)


async def reports(session: AsyncSession, *, tenant_id: int, trial_id: int) -> list[Report]:
    return await repository.reports(session, tenant_id=tenant_id, trial_id=trial_id)


async def get_report(session: AsyncSession, *, tenant_id: int, trial_id: int, report_id: int) -> Report:
    report = await repository.get_report(session, tenant_id=tenant_id, report_id=report_id)
    if report is None or report.trial_id != trial_id:
        raise ReportNotFound()
    return report


async def review_report(
    session: AsyncSession, *, actor: Principal, trial_id: int, report_id: int, data: ReviewIn
) -> Report:
    report = await get_report(session, tenant_id=actor.tenant_id, trial_id=trial_id, report_id=report_id)
    before = {"featured": report.featured, "note": report.review_note}
    report.featured, report.review_note, report.reviewed_at = data.featured, data.note.strip(), utcnow()
    await session.flush()
    audit.record_change(
        session,
        actor=actor,
        action="trials.review",
        target_type="trial",
        target_id=trial_id,
        before=before,
        after={"featured": report.featured, "note": report.review_note},
    )
    return report


# Overdue reports: a reminder first, then the penalty once (the sweep job)


async def sweep(session: AsyncSession, *, tenant_id: int, now: datetime | None = None) -> dict[str, int]:
    """Learn when each winner's product was delivered (her report is due `report_days` later); remind her once
    when it is overdue; apply the trial's penalty once when it is still missing `GRACE` after the reminder."""
    now = now or utcnow()
    done = {"due_set": 0, "reminded": 0, "penalised": 0}
    trials_by_id: dict[int, Trial] = {}
    for row in await repository.unreported_winners(session, tenant_id=tenant_id, limit=SWEEP_BATCH):
        trial = trials_by_id.get(row.trial_id) or await get_trial(session, tenant_id=tenant_id, trial_id=row.trial_id)
        trials_by_id[trial.id] = trial
        if row.report_due_at is None:
            if row.redemption_id is None:
                continue
            shipment = await mall.get_redemption(session, tenant_id=tenant_id, redemption_id=row.redemption_id)
            if shipment.delivered_at is None:
                continue
            row.report_due_at = shipment.delivered_at + timedelta(days=trial.report_days)
            await session.flush()
            done["due_set"] += 1
        if now < row.report_due_at:
            continue
        if row.reminded_at is None:
            if await repository.mark(
                session, tenant_id=tenant_id, application_id=row.id, unset="reminded_at", reminded_at=now
            ):
                await jobs.enqueue(
                    session,
                    REMINDER_JOB,
                    {"member_id": row.member_id, "trial_id": trial.id, "application_id": row.id, "title": trial.title},
                    tenant_id=tenant_id,
                    dedupe_key=f"{REMINDER_JOB}:{tenant_id}:{row.id}",
                )
                done["reminded"] += 1
            continue
        if now < row.reminded_at + GRACE:
            continue
        if await penalise(session, trial=trial, application=row, now=now):
            done["penalised"] += 1
    return done


async def penalise(session: AsyncSession, *, trial: Trial, application: Application, now: datetime) -> bool:
    """The trial's penalty for a missing report, at most once per application."""
    tenant_id = trial.tenant_id
    barred = now + timedelta(days=trial.bar_days) if trial.penalty == Penalty.bar else None
    if not await repository.mark(
        session,
        tenant_id=tenant_id,
        application_id=application.id,
        unset="penalised_at",
        penalised_at=now,
        penalty=trial.penalty,
        barred_until=barred,
    ):
        return False
    if trial.penalty == Penalty.clawback and trial.penalty_points:
        points = await ledger.lock_member(session, tenant_id=tenant_id, member_id=application.member_id, now=now)
        take = min(trial.penalty_points, max(points.available, 0))
        if take:
            await ledger.spend(
                session,
                tenant_id=tenant_id,
                member_id=application.member_id,
                amount=take,
                source_ref=refs.trial_penalty_ref(application.id),
                explanation=f"试用报告逾期未交，扣回 {take} 积分（{trial.title}）"[:300],
                now=now,
            )
    return True
