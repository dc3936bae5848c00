"""Invitations (邀请有礼) and share leaderboards (分享排行榜): business rules. Nothing here commits.

- A member's invite code is made the first time she asks for it (unique per tenant, unambiguous alphabet).
- A NEW member who signed up through a code becomes an invitation (`joined`), unless she is the inviter herself
  (same phone, WeChat unionid, device or network address), the code is unknown in this tenant, or she was invited
  before: a refusal stores nothing (no row, no points) and is only logged. A suspicious one (a busy network, a
  device another invitee used) waits in the review queue.
- Both sides are paid once points of the invitee's first order are posted (`reward_due`, the periodic job): each side
  under its own unique ledger reference, so a rerun never pays twice. Beyond the inviter's cap of rewarded
  invitations only the invitee is paid.
- A leaderboard ranks inviters by invitations in its window, ties by who reached her count first. Settling is
  one job (unique dedupe key) whose handler locks the board, writes one prize row per rank (primary key) and
  credits each under a unique reference: exactly once under double clicks, two workers and restarts.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.engagement.referrals import repository, rules
from siyu.engagement.referrals.models import (
    BOARD_METRIC_LABELS,
    BOARD_STATUS_LABELS,
    STATE_LABELS,
    BoardMetric,
    BoardStatus,
    InviteCode,
    Leaderboard,
    Prize,
    Referral,
    Rules,
    State,
)
from siyu.engagement.referrals.schemas import BoardIn, RulesIn
from siyu.jobs import service as jobs
from siyu.kit.errors import Conflict, InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.time import localise_fields, to_local, utcnow
from siyu.kit.web import Principal
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.ledger.models import LotStatus
from siyu.live import service as live
from siyu.loyalty import service as loyalty
from siyu.mall import service as mall
from siyu.members import service as members
from siyu.members.models import IdentityKind, Member
from siyu.tenants import service as tenants

log = structlog.get_logger()

SETTLE_JOB = "referrals.settle"
REWARD_JOB = "referrals.reward"
REWARD_BATCH = 500
WAIT_DAYS = 90  # an invitee's first order counts within this many days of joining
TOP = 50


class ReferralNotFound(NotFound):
    code = "referral_not_found"
    message = "找不到这条邀请记录"


class NotInReview(Conflict):
    code = "referral_not_in_review"
    message = "这条邀请已经审核过了"


class NoteRequired(InvalidInput):
    code = "review_note_required"
    message = "驳回时请填写原因"


class BoardNotFound(NotFound):
    code = "leaderboard_not_found"
    message = "找不到这个排行榜"


class BoardNotEnded(Conflict):
    code = "leaderboard_not_ended"
    message = "排行榜还没有结束，结束后才能结算"


class BoardWindowInvalid(InvalidInput):
    code = "leaderboard_window_invalid"
    message = "结束时间要晚于开始时间（所选直播或活动已经结束时，请自己填写时间）"


# Rules


async def rules_of(session: AsyncSession, *, tenant_id: int) -> RulesIn:
    row = await repository.rules(session, tenant_id=tenant_id)
    return RulesIn() if row is None else RulesIn.model_validate(row, from_attributes=True)


async def save_rules(session: AsyncSession, *, actor: Principal, data: RulesIn) -> RulesIn:
    before = await rules_of(session, tenant_id=actor.tenant_id)
    row = await repository.rules(session, tenant_id=actor.tenant_id)
    if row is None:
        row = Rules(tenant_id=actor.tenant_id, **data.model_dump())
        repository.add(session, row)
    else:
        for key, value in data.model_dump().items():
            setattr(row, key, value)
        row.updated_at = utcnow()
    await session.flush()
    audit.record_change(
        session,
        actor=actor,
        action="referrals.rules",
        target_type="referral_rules",
        target_id=actor.tenant_id,
        before=before.model_dump(),
        after=data.model_dump(),
    )
    return data


# Invite codes


async def invite_code(
    session: AsyncSession, *, tenant_id: int, member_id: int, device_hash: str | None = None, ip_hash: str | None = None
) -> InviteCode:
    """Her code (made now if she has none); where she opened it is remembered, to tell her from her invitees."""
    row = await repository.code_of(session, tenant_id=tenant_id, member_id=member_id)
    if row is None:
        for _ in range(8):  # 31^6 codes: a collision is rare, a second one rarer
            candidate = InviteCode(
                tenant_id=tenant_id,
                member_id=member_id,
                code=rules.new_code(),
                device_hash=device_hash,
                ip_hash=ip_hash,
            )
            try:
                async with session.begin_nested():
                    repository.add(session, candidate)
                    await session.flush()
            except IntegrityError:
                found = await repository.code_of(session, tenant_id=tenant_id, member_id=member_id)
                if found is not None:  # she asked twice at once: the other request made it
                    return found
                continue
            return candidate
        raise Conflict("邀请码生成失败，请稍后再试", code="invite_code_busy")
    row.device_hash = device_hash or row.device_hash
    row.ip_hash = ip_hash or row.ip_hash
    return row


async def inviter_of_code(session: AsyncSession, *, tenant_id: int, code: str | None) -> int | None:
    """The member whose code this is, in this tenant only (another tenant's code names nobody)."""
    normalised = rules.normalise_code(code)
    if normalised is None:
        return None
    row = await repository.code_named(session, tenant_id=tenant_id, code=normalised)
    return None if row is None else row.member_id


# Joining through a code


async def _person(
    session: AsyncSession, *, tenant_id: int, member_id: int, device_hash: str | None, ip_hash: str | None
) -> rules.Person:
    identities = await members.identities_of(session, tenant_id=tenant_id, member_id=member_id)
    return rules.Person(
        phones=frozenset(i.value for i in identities if i.kind == IdentityKind.phone),
        unionids=frozenset(i.value for i in identities if i.kind == IdentityKind.wechat_unionid),
        devices=frozenset([device_hash] if device_hash else []),
        networks=frozenset([ip_hash] if ip_hash else []),
    )


async def joined(
    session: AsyncSession,
    *,
    tenant_id: int,
    invitee: Member,
    code: str | None,
    device_hash: str | None = None,
    ip_hash: str | None = None,
    now: datetime | None = None,
) -> Referral | None:
    """A new member signed up carrying an invite code: her invitation, or None when it is refused (nothing stored).

    The caller passes only members created by this sign-in; one who was a member before is not an invitee."""
    now = now or utcnow()
    code_owner = await inviter_of_code(session, tenant_id=tenant_id, code=code)
    if code_owner is None:
        return None
    # A code's member merged into another member since: the invitation is the surviving member's.
    inviter = await members.current(session, tenant_id=tenant_id, member_id=code_owner)
    inviter_id = inviter.id if inviter is not None and inviter.status == "active" else code_owner
    config = await rules_of(session, tenant_id=tenant_id)
    refusal = await _refusal(
        session,
        tenant_id=tenant_id,
        inviter_id=inviter_id,
        code_owner=code_owner,
        invitee=invitee,
        device_hash=device_hash,
        ip_hash=ip_hash,
        enabled=config.enabled,
    )
    if refusal is not None:
        log.info("referrals.refused", tenant_id=tenant_id, inviter=inviter_id, invitee=invitee.id, reason=refusal)
        return None
    crowded = (
        await repository.invitees_from_network(
            session, tenant_id=tenant_id, ip_hash=ip_hash, since=now - timedelta(seconds=rules.NETWORK_WINDOW_S)
        )
        if ip_hash
        else 0
    )
    seen = bool(device_hash) and await repository.device_seen(
        session, tenant_id=tenant_id, device_hash=device_hash or ""
    )
    suspicion = rules.suspicion(
        invitees_from_network=crowded, network_limit=config.network_limit, device_seen_before=seen
    )
    row = Referral(
        tenant_id=tenant_id,
        id=new_id(),
        inviter_id=inviter_id,
        invitee_id=invitee.id,
        state=State.suspected if suspicion else State.signed_up,
        suspicion=suspicion,
        device_hash=device_hash,
        ip_hash=ip_hash,
        created_at=now,
    )
    try:
        async with session.begin_nested():
            repository.add(session, row)
            await session.flush()
    except IntegrityError:  # the same invitee joined twice at once: the first one stands
        return None
    log.info("referrals.joined", tenant_id=tenant_id, inviter=inviter_id, invitee=invitee.id, state=row.state)
    return row


async def _refusal(
    session: AsyncSession,
    *,
    tenant_id: int,
    inviter_id: int,
    code_owner: int,
    invitee: Member,
    device_hash: str | None,
    ip_hash: str | None,
    enabled: bool,
) -> str | None:
    if not enabled:
        return "disabled"
    inviter = await members.current(session, tenant_id=tenant_id, member_id=inviter_id)
    if inviter is None or inviter.status != "active":
        return "inviter_gone"
    if inviter.id == invitee.id:
        return "own_code"  # her own code, or the code of a member merged into her
    if await repository.referral_of_invitee(session, tenant_id=tenant_id, invitee_id=invitee.id) is not None:
        return "invited_before"
    if await ledger.has_credit_from(session, tenant_id=tenant_id, member_id=invitee.id, prefix=refs.ORDER_PREFIX):
        return "not_new"
    seen = await repository.code_of(session, tenant_id=tenant_id, member_id=code_owner)
    inviter_facts = await _person(
        session,
        tenant_id=tenant_id,
        member_id=inviter_id,
        device_hash=seen.device_hash if seen else None,
        ip_hash=seen.ip_hash if seen else None,
    )
    invitee_facts = await _person(
        session, tenant_id=tenant_id, member_id=invitee.id, device_hash=device_hash, ip_hash=ip_hash
    )
    return rules.self_referral(inviter_facts, invitee_facts)


# Paying both sides


async def visited(
    session: AsyncSession, *, tenant_id: int, visitor_id: int, code: str | None, now: datetime | None = None
) -> bool:
    """A member signed in through the link of `code` (new or coming back): a share that led to a sign-in, counted
    once a day for each friend. Her own link, or a code of no member of this tenant, counts nothing."""
    now = now or utcnow()
    inviter_id = await inviter_of_code(session, tenant_id=tenant_id, code=code)
    if inviter_id is None or inviter_id == visitor_id:
        return False
    timezone = (await tenants.get_tenant(session, tenant_id)).timezone
    await repository.add_visit(
        session,
        {
            "tenant_id": tenant_id,
            "inviter_id": inviter_id,
            "visitor_id": visitor_id,
            "day": to_local(now, timezone).date(),
            "created_at": now,
        },
    )
    return True


async def first_order_posted(session: AsyncSession, *, tenant_id: int, member_id: int) -> bool:
    """Whether points of one of her orders are in her account (posted): held points may still be voided by a
    refund, and an invitation is not paid for an order that comes back."""
    if not await ledger.has_credit_from(session, tenant_id=tenant_id, member_id=member_id, prefix=refs.ORDER_PREFIX):
        return False
    lots = await ledger.lots(session, tenant_id=tenant_id, member_id=member_id, limit=100)
    return any(lot.status == LotStatus.posted and lot.source_ref.startswith(refs.ORDER_PREFIX) for lot in lots)


async def _now_answering(session: AsyncSession, *, tenant_id: int, member_id: int) -> int:
    """The member now answering to this id (one merged into another earns as the other)."""
    member = await members.current(session, tenant_id=tenant_id, member_id=member_id)
    return member.id if member is not None else member_id


async def _pay(session: AsyncSession, *, row: Referral, config: RulesIn, now: datetime) -> None:
    """Pay both sides of a locked invitation in state signed_up (member ids in ascending order). Two sides merged
    into one member since are one person: nobody is paid."""
    inviter = await _now_answering(session, tenant_id=row.tenant_id, member_id=row.inviter_id)
    invitee = await _now_answering(session, tenant_id=row.tenant_id, member_id=row.invitee_id)
    if inviter == invitee:
        row.state, row.note = State.rejected, "邀请人和好友已合并为同一会员"
        return
    paid_before = await repository.paid_invitations(session, tenant_id=row.tenant_id, inviter_id=row.inviter_id)
    capped = paid_before >= config.cap
    sides = [(invitee, "invitee", config.invitee_points, "受邀注册奖励")]
    if not capped:
        sides.append((inviter, "inviter", config.inviter_points, "邀请好友奖励"))
    for member_id, side, points, words in sorted(sides):
        if points <= 0:
            continue
        with contextlib.suppress(ledger.AlreadyCredited):  # paid by an earlier run of this step
            await ledger.earn(
                session,
                tenant_id=row.tenant_id,
                member_id=member_id,
                amount=points,
                source_ref=refs.invite_ref(row.id, side),
                explanation=words,
                now=now,
            )
    row.invitee_points = config.invitee_points
    row.inviter_points = 0 if capped else config.inviter_points
    row.state = State.capped if capped else State.rewarded
    row.rewarded_at = now


async def reward_due(
    session: AsyncSession, *, tenant_id: int, now: datetime | None = None, batch: int = REWARD_BATCH
) -> int:
    """Pay the invitations whose invitee's first order points posted, looking at every invitation of the last
    WAIT_DAYS page by page (an old one never hides a newer one). Idempotent; returns how many were paid."""
    now = now or utcnow()
    config = await rules_of(session, tenant_id=tenant_id)
    paid = 0
    after: tuple[datetime, int] | None = None
    while True:
        page = await repository.waiting(
            session, tenant_id=tenant_id, since=now - timedelta(days=WAIT_DAYS), after=after, limit=batch
        )
        for waiting in page:
            invitee = await _now_answering(session, tenant_id=tenant_id, member_id=waiting.invitee_id)
            if not await first_order_posted(session, tenant_id=tenant_id, member_id=invitee):
                continue
            row = await repository.get_referral(session, tenant_id=tenant_id, referral_id=waiting.id, for_update=True)
            if row is None or row.state != State.signed_up:
                continue  # another worker paid it meanwhile
            await _pay(session, row=row, config=config, now=now)
            paid += 1
        if len(page) < batch:
            break
        after = (page[-1].created_at, page[-1].id)
    await session.flush()
    return paid


# Review queue


async def review(
    session: AsyncSession,
    *,
    actor: Principal,
    referral_id: int,
    approve: bool,
    note: str = "",
    now: datetime | None = None,
) -> Referral:
    """Approve (she is paid now if her first order is already credited, else when it is) or reject (nobody is
    paid; the reason is kept)."""
    now = now or utcnow()
    note = note.strip()[:200]
    row = await repository.get_referral(session, tenant_id=actor.tenant_id, referral_id=referral_id, for_update=True)
    if row is None:
        raise ReferralNotFound()
    if row.state != State.suspected:
        raise NotInReview()
    if not approve and not note:
        raise NoteRequired()
    row.note = note or None
    row.reviewed_by = actor.label[:100]
    row.state = State.signed_up if approve else State.rejected
    invitee = await _now_answering(session, tenant_id=row.tenant_id, member_id=row.invitee_id)
    if approve and await first_order_posted(session, tenant_id=row.tenant_id, member_id=invitee):
        await _pay(session, row=row, config=await rules_of(session, tenant_id=row.tenant_id), now=now)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="referrals.approve" if approve else "referrals.reject",
        target_type="referral",
        target_id=row.id,
        before={"state": STATE_LABELS[State.suspected]},
        after={"state": STATE_LABELS.get(row.state, ""), "note": row.note},
    )
    return row


async def invitations_of(session: AsyncSession, *, tenant_id: int, inviter_id: int, limit: int = 50) -> list[Referral]:
    return await repository.invitations_of(session, tenant_id=tenant_id, inviter_id=inviter_id, limit=limit)


async def listing(
    session: AsyncSession, *, tenant_id: int, state: str | None = None, limit: int = 200
) -> list[Referral]:
    return await repository.in_state(session, tenant_id=tenant_id, state=state, limit=limit)


async def get_referral(session: AsyncSession, *, tenant_id: int, referral_id: int) -> Referral:
    row = await repository.get_referral(session, tenant_id=tenant_id, referral_id=referral_id)
    if row is None:
        raise ReferralNotFound()
    return row


@dataclass(frozen=True)
class Funnel:
    sharers: int
    signed_up: int
    suspected: int
    rewarded: int
    capped: int
    rejected: int
    days: list[tuple[str, int, int]]  # (local day, joined, of which paid)


async def funnel(session: AsyncSession, *, tenant_id: int, timezone: str, days: int = 14) -> Funnel:
    from zoneinfo import ZoneInfo

    counts = await repository.count_by_state(session, tenant_id=tenant_id)
    zone = ZoneInfo(timezone)
    today = utcnow().astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    since = datetime.combine(first, datetime.min.time(), zone)
    by_day: dict[str, list[int]] = {(first + timedelta(days=n)).isoformat(): [0, 0] for n in range(days)}
    for at, state in await repository.joined_since(session, tenant_id=tenant_id, since=since):
        key = at.astimezone(zone).date().isoformat()
        if key in by_day:
            by_day[key][0] += 1
            by_day[key][1] += state in (State.rewarded, State.capped)
    return Funnel(
        sharers=await repository.count_codes(session, tenant_id=tenant_id),
        signed_up=sum(counts.values()),
        suspected=counts.get(State.suspected, 0),
        rewarded=counts.get(State.rewarded, 0),
        capped=counts.get(State.capped, 0),
        rejected=counts.get(State.rejected, 0),
        days=[(day, joined, paid) for day, (joined, paid) in by_day.items()],
    )


# Leaderboards


async def _board_window(
    session: AsyncSession, *, tenant_id: int, data: BoardIn, now: datetime
) -> tuple[datetime, datetime]:
    """The board's window: as given, else its live show's (from now to the show's end) or its campaign's."""
    if data.show_id is not None:
        show = await live.get_show(session, tenant_id=tenant_id, show_id=data.show_id)
        start, end = data.starts_at or min(now, show.starts_at), data.ends_at or show.ends_at
    elif data.campaign_id is not None:
        campaign = await loyalty.get_campaign(session, tenant_id=tenant_id, campaign_id=data.campaign_id)
        start, end = data.starts_at or campaign.starts_at, data.ends_at or campaign.ends_at
    else:
        assert data.starts_at is not None and data.ends_at is not None  # the schema asks for them
        start, end = data.starts_at, data.ends_at
    if end <= start:
        raise BoardWindowInvalid()
    return start, end


async def _reward_titles(session: AsyncSession, *, tenant_id: int, reward_ids: list[int | None]) -> dict[int, str]:
    """The titles of the prize rewards (refused when one is not this tenant's)."""
    titles = {}
    for reward_id in {r for r in reward_ids if r}:
        titles[reward_id] = (await mall.get_reward(session, tenant_id=tenant_id, reward_id=reward_id)).title
    return titles


async def create_board(
    session: AsyncSession, *, actor: Principal, data: BoardIn, now: datetime | None = None
) -> Leaderboard:
    """A new leaderboard; times given without a zone are the tenant's local times."""
    now = now or utcnow()
    data = localise_fields(data, (await tenants.get_tenant(session, actor.tenant_id)).timezone)
    starts_at, ends_at = await _board_window(session, tenant_id=actor.tenant_id, data=data, now=now)
    titles = await _reward_titles(session, tenant_id=actor.tenant_id, reward_ids=data.reward_ids)
    row = Leaderboard(
        tenant_id=actor.tenant_id,
        id=new_id(),
        title=data.title.strip(),
        starts_at=starts_at,
        ends_at=ends_at,
        prizes=rules.board_prizes(data.prizes),
        reward_prizes=rules.board_rewards(data.reward_ids),
        show_id=data.show_id,
        campaign_id=data.campaign_id,
        metric=data.metric,
        status=BoardStatus.open,
    )
    repository.add(session, row)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="referrals.board_create",
        target_type="referral_board",
        target_id=row.id,
        after={
            "title": row.title,
            "starts_at": row.starts_at.isoformat(),
            "ends_at": row.ends_at.isoformat(),
            "prizes": row.prizes,
            "metric": BOARD_METRIC_LABELS[data.metric],
            "rewards": [titles.get(r or 0) for r in row.reward_ids],
        },
    )
    return row


async def prize_rewards(session: AsyncSession, *, board: Leaderboard) -> list[str | None]:
    """The title of the reward each rank wins (None: no reward for that rank, or the reward is gone)."""
    titles = {r.id: r.title for r in await mall.list_rewards(session, tenant_id=board.tenant_id)}
    return [titles.get(r) if r else None for r in board.reward_ids]


async def boards(session: AsyncSession, *, tenant_id: int) -> list[Leaderboard]:
    return await repository.boards(session, tenant_id=tenant_id)


async def get_board(session: AsyncSession, *, tenant_id: int, board_id: int) -> Leaderboard:
    row = await repository.get_board(session, tenant_id=tenant_id, board_id=board_id)
    if row is None:
        raise BoardNotFound()
    return row


@dataclass(frozen=True)
class Standing:
    rank: int
    member_id: int
    invitations: int
    reached_at: datetime
    prize_points: int
    prize_reward_id: int | None = None


async def standings(session: AsyncSession, *, board: Leaderboard, limit: int | None = TOP) -> list[Standing]:
    rank_by = repository.sign_in_ranking if board.metric == BoardMetric.sign_ins else repository.ranking
    rows = await rank_by(
        session, tenant_id=board.tenant_id, starts_at=board.starts_at, ends_at=board.ends_at, limit=limit
    )
    prizes, rewards = list(board.prizes or []), board.reward_ids
    return [
        Standing(
            rank,
            member_id,
            n,
            at,
            int(prizes[rank - 1]) if rank <= len(prizes) else 0,
            rewards[rank - 1] if rank <= len(rewards) else None,
        )
        for rank, (member_id, n, at) in enumerate(rows, start=1)
    ]


async def standing_of(session: AsyncSession, *, board: Leaderboard, member_id: int) -> Standing | None:
    return next((s for s in await standings(session, board=board, limit=None) if s.member_id == member_id), None)


def _settle_key(board: Leaderboard) -> str:
    return f"{SETTLE_JOB}:{board.id}"


async def settle_stuck(session: AsyncSession, *, board: Leaderboard) -> bool:
    """Settling, but its job gave up: the console offers to settle again."""
    return board.status == BoardStatus.settling and await jobs.is_parked(session, dedupe_key=_settle_key(board))


async def request_settle(
    session: AsyncSession, *, actor: Principal, board_id: int, now: datetime | None = None
) -> Leaderboard:
    """Queue the settling of an ended board, once: a second click (or a second clerk) queues nothing more. A board
    whose settle job gave up is queued again (the prizes' keys still give each rank once)."""
    now = now or utcnow()
    board = await get_board(session, tenant_id=actor.tenant_id, board_id=board_id)
    if board.ends_at > now:
        raise BoardNotEnded()
    if board.status == BoardStatus.settling and await jobs.revive(session, dedupe_key=_settle_key(board)):
        audit.record(  # its job had given up (the worker failed it every time): a person asks once more
            session,
            actor=actor,
            action="referrals.board_settle_retry",
            target_type="referral_board",
            target_id=board.id,
            after={"status": BOARD_STATUS_LABELS[BoardStatus.settling]},
        )
    if board.status != BoardStatus.open:
        return board
    job_id = await jobs.enqueue(
        session, SETTLE_JOB, {"board_id": board.id}, tenant_id=actor.tenant_id, dedupe_key=_settle_key(board)
    )
    if await repository.mark_settling(session, tenant_id=actor.tenant_id, board_id=board.id) and job_id is not None:
        audit.record(
            session,
            actor=actor,
            action="referrals.board_settle",
            target_type="referral_board",
            target_id=board.id,
            before={"status": BOARD_STATUS_LABELS[BoardStatus.open]},
            after={"status": BOARD_STATUS_LABELS[BoardStatus.settling]},
        )
    await session.refresh(board)
    return board


async def settle(session: AsyncSession, *, tenant_id: int, board_id: int, now: datetime | None = None) -> int:
    """Give the prizes of a board (the settle job's work): lock the board; settled already: nothing. Returns the
    number of prizes written by this call."""
    now = now or utcnow()
    board = await repository.get_board(session, tenant_id=tenant_id, board_id=board_id, for_update=True)
    if board is None or board.status == BoardStatus.settled:
        return 0
    done = {p.rank for p in await repository.prizes(session, tenant_id=tenant_id, board_id=board_id)}
    written = 0
    ranked = await standings(session, board=board, limit=board.prize_ranks)
    day = to_local(now, (await tenants.get_tenant(session, tenant_id)).timezone).date()
    for standing in sorted(ranked, key=lambda s: s.member_id):  # several members' rows: locked in member-id order
        if standing.rank in done or (standing.prize_points <= 0 and standing.prize_reward_id is None):
            continue
        prize = Prize(
            tenant_id=tenant_id,
            board_id=board.id,
            rank=standing.rank,
            member_id=standing.member_id,
            invitations=standing.invitations,
            points=standing.prize_points,
            created_at=now,
        )
        repository.add(session, prize)
        await session.flush()  # the (board, rank) key first: a second settle stops here
        if standing.prize_points > 0:
            with contextlib.suppress(ledger.AlreadyCredited):
                await ledger.earn(
                    session,
                    tenant_id=tenant_id,
                    member_id=standing.member_id,
                    amount=standing.prize_points,
                    source_ref=refs.board_ref(board.id, standing.rank),
                    explanation=f"{board.title} 第 {standing.rank} 名",
                    now=now,
                )
        if standing.prize_reward_id is not None:
            given = await mall.give(
                session,
                tenant_id=tenant_id,
                member_id=standing.member_id,
                reward_id=standing.prize_reward_id,
                key=mall.gift_key("board", board.id, standing.rank),
                day=day,
                now=now,
            )
            if given is not None:  # out of stock: the rank's points still stand, the page says no reward was left
                prize.reward_title, prize.redemption_id = given.title, given.id
        written += 1
    board.status = BoardStatus.settled
    board.settled_at = now
    await session.flush()
    log.info("referrals.board_settled", tenant_id=tenant_id, board_id=board.id, prizes=written)
    return written


async def prizes_of_board(session: AsyncSession, *, tenant_id: int, board_id: int) -> list[Prize]:
    return await repository.prizes(session, tenant_id=tenant_id, board_id=board_id)
