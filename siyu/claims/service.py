"""Claims (订单换积分): a fan asks for the points of an order by its number; she always gets an honest answer.

credited, claimed by you, claimed by someone else, not found yet (kept and credited when the order arrives),
not eligible, check failed, locked (too many failures), unreadable number. Exactly once is decided by the
ledger (one credit per order, unique in the database). Nothing here commits.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import polars as pl
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.claims import crediting, reading, repository
from siyu.claims.crediting import Context
from siyu.claims.models import FAILURES, Claim, Outcome, Via
from siyu.claims.schemas import ClaimLockOut, ClaimPolicy
from siyu.jobs import service as jobs
from siyu.kit.errors import Conflict, InvalidInput, NotFound, RateLimited
from siyu.kit.ids import new_id
from siyu.kit.pagination import Page, PageRequest
from siyu.kit.ratelimit import RateLimiter
from siyu.kit.time import format_local, utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.members import service as members
from siyu.members.models import IdentityKind
from siyu.orders import service as orders
from siyu.orders.models import Order, OrderView
from siyu.tenants import service as tenants
from siyu.tenants.models import PLATFORM_LABELS
from siyu.tenants.service import TenantConfig

log = structlog.get_logger("siyu.claims")

POLICY_KEY = "claims"
PLATFORMS = ("taobao", "douyin", "kuaishou", "channels", "pdd", "jd")
NOT_ELIGIBLE = {
    "unpaid": "这笔订单还没有付款，付款后再来领取积分吧",
    "closed": "这笔订单已关闭，不能领取积分",
    "refunded": "这笔订单已全额退款，不能领取积分",
    "too_old": "这笔订单下单时间太早，超过了可以领取积分的期限",
    "too_small": "这笔订单的金额不足以获得积分",
}


BOUND_JOB = "claims.bound"
# The accounts an order carries that identify its buyer for good (a masked value identifies nobody).
ORDER_ACCOUNTS: dict[str, tuple[tuple[str, str], ...]] = {
    "taobao": (("buyer_nick", IdentityKind.taobao_nick), ("buyer_open_uid", IdentityKind.taobao_open_uid)),
    "douyin": (("buyer_open_uid", IdentityKind.douyin_open_id),),
    "kuaishou": (("buyer_open_uid", IdentityKind.kuaishou_id),),
    "channels": (("buyer_open_uid", IdentityKind.channels_openid),),
}


class UnknownPlatform(InvalidInput):
    code = "unknown_platform"
    message = "请选择下单的平台"


class ClaimNotFound(NotFound):
    code = "claim_not_found"
    message = "找不到这条领取记录"


class NotInReview(Conflict):
    code = "claim_not_in_review"
    message = "这条领取记录已经处理过了"


class PlatformMismatch(Conflict):
    """The number has another platform's shape and no order of the chosen platform carries it: she is asked
    before a claim waits days for an order that will never come. `suggested`: the platforms it fits, the
    tenant's own first. Sent again with `confirm_platform`, it is claimed as she chose."""

    code = "platform_mismatch"
    message = "这个订单号和所选平台不符，请确认下单平台"


class ClaimsTooFast(RateLimited):
    """Too many attempts this minute (whatever came of them): refused before anything is read or kept."""

    code = "claims_too_fast"
    message = "提交太频繁了，请休息一分钟再试"


class RejectNeedsNote(InvalidInput):
    code = "reject_needs_note"
    message = "拒绝时请写明原因，会员会看到"


async def policy_of(session: AsyncSession, tenant_id: int) -> ClaimPolicy:
    tenant = await tenants.get_tenant(session, tenant_id)
    return crediting.claim_policy((tenant.settings or {}).get(POLICY_KEY))


async def save_policy(session: AsyncSession, *, actor: Principal, policy: ClaimPolicy) -> ClaimPolicy:
    after = policy.model_dump(mode="json")
    before = await tenants.put_setting(session, tenant_id=actor.tenant_id, key=POLICY_KEY, value=after)
    audit.record_change(
        session,
        actor=actor,
        action="claims.policy",
        target_type="tenant",
        target_id=actor.tenant_id,
        before=before or {},
        after=after,
    )
    return policy


def _counters(kind: str, row: Claim, per_member: int, per_ip: int, window: str) -> list[tuple[str, str, str]]:
    """(rule, namespace, key) of the member's, her device's and her network address's counters of one `kind`.
    An address gets its own, higher limit: a carrier's NAT puts many fans behind one."""
    member_rule, ip_rule = f"{per_member}/{window}", f"{max(per_ip, per_member)}/{window}"
    keys = [(member_rule, kind, f"{row.tenant_id}:{row.member_id}")]
    keys.append((ip_rule, f"{kind}-ip", f"{row.tenant_id}:{row.ip_hash or '-'}"))
    if row.device_hash:
        keys.append((member_rule, f"{kind}-device", f"{row.tenant_id}:{row.device_hash}"))
    return keys


def _failure_keys(row: Claim, policy: ClaimPolicy) -> list[tuple[str, str, str]]:
    """Failures allowed in the lock window."""
    window = f"{policy.lock_minutes} minutes"
    return _counters("claim-failures", row, policy.max_failures, policy.ip_max_failures, window)


def _rate_keys(row: Claim, policy: ClaimPolicy) -> list[tuple[str, str, str]]:
    """Attempts of any outcome allowed in a minute."""
    return _counters("claim-rate", row, policy.per_minute, policy.ip_per_minute, "minute")


async def claim(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    platform: str,
    text: str,
    check_value: str = "",
    ip_hash: str | None = None,
    device_hash: str | None = None,
    limiter: RateLimiter | None = None,
    tenant: TenantConfig | None = None,
    confirm_platform: bool = False,
    now: datetime | None = None,
) -> Claim:
    """Claim the points of the order whose number is in `text`. Every attempt is kept with its outcome, except
    those over the per-minute limits (ClaimsTooFast: only logged, with hashed addresses) and a number of another
    platform's shape (PlatformMismatch, unless `confirm_platform`). `tenant`: the caller's configuration of the
    tenant, when it has it (else it is read)."""
    now = now or utcnow()
    if platform not in PLATFORMS:
        raise UnknownPlatform()
    await members.get_member(session, tenant_id=tenant_id, member_id=member_id)
    context = await crediting.context_of(session, tenant_id=tenant_id, config=tenant)
    policy = context.claims
    row = Claim(
        tenant_id=tenant_id,
        id=new_id(),
        member_id=member_id,
        platform=platform,
        order_id="",
        outcome=Outcome.invalid,
        message="",
        check_value=check_value.strip()[:64] or None,
        ip_hash=ip_hash,
        device_hash=device_hash,
        via=Via.claim,
        created_at=now,
    )
    counters = _failure_keys(row, policy)
    # Her attempts this minute are counted and her failures looked at in one go (one round trip to Redis).
    within, unlocked = await limiter.attempt(_rate_keys(row, policy), counters) if limiter else (True, True)
    if not within:
        log.warning("claims.too_fast", tenant_id=tenant_id, member_id=member_id, ip=ip_hash, device=device_hash)
        raise ClaimsTooFast()
    await ledger.lock_member(session, tenant_id=tenant_id, member_id=member_id, now=now)  # one claim at a time
    if not unlocked:
        row.outcome = Outcome.locked
        row.message = await _locked_message(limiter, counters, context.timezone)
    else:
        order_id = reading.order_number(platform, text)
        if not confirm_platform:
            await _ask_if_elsewhere(session, context, row, text, order_id)
        if order_id is None:
            row.message = "没有识别出订单号，请复制订单详情里完整的“订单编号”后粘贴"
        else:
            row.order_id = order_id
            await _decide(session, context, row, now, waiting_ok=True)
        if limiter is not None and row.outcome in FAILURES and await _is_guess(session, row, policy, now):
            for counter in counters:
                await limiter.hit(*counter)
    await repository.save_new(session, row)
    return row


async def _ask_if_elsewhere(
    session: AsyncSession, context: Context, row: Claim, text: str, order_id: str | None
) -> None:
    """Raise PlatformMismatch when what she typed has another platform's shape, not the chosen one's, and no order
    of the chosen platform carries it. A well-shaped number costs one length check and no query."""
    elsewhere = reading.fitting_elsewhere(row.platform, text, order_id, PLATFORMS)
    if not elsewhere:
        return
    if order_id is not None and await orders.read_order(
        session, tenant_id=row.tenant_id, platform=row.platform, order_id=order_id
    ):
        return  # an odd number, but the shop has that order: no question
    sold = {c.platform for c in context.tenant.channels if c.active}
    suggested = [p for p in elsewhere if p in sold] or list(elsewhere)
    labels = [PLATFORM_LABELS.get(p, p) for p in suggested]
    if len(labels) == 1:
        message = f"这看起来是{labels[0]}订单号，要改成{labels[0]}吗？"
    else:
        message = f"这看起来是{'或'.join(labels)}的订单号，要改选哪个平台？"
    raise PlatformMismatch(message, chosen=row.platform, suggested=suggested)


async def _is_guess(session: AsyncSession, row: Claim, policy: ClaimPolicy, now: datetime) -> bool:
    """Whether this failed claim counts toward the lock. Only guesses do: a wrong check value on an existing order,
    and a number nobody has imported that is not plausibly waiting for an import. Plausibly waiting: it has the
    platform's shape and she (and her phone) have fewer than `max_failures` other claims still waiting. Real
    orders leave the waiting list when ops import them, guessed numbers stay on it until they expire, so a
    guesser soon counts every guess while a fan after a show claims all her orders freely. Called on failures
    only: a credited claim costs nothing here."""
    if row.outcome != Outcome.pending:
        return True
    if not reading.fits(row.platform, row.order_id):
        return True
    waiting = await repository.waiting_count(
        session, tenant_id=row.tenant_id, member_id=row.member_id, device_hash=row.device_hash, now=now
    )
    return waiting >= policy.max_failures


async def _locked_message(limiter: RateLimiter | None, counters: list[tuple[str, str, str]], timezone: str) -> str:
    """What she is told while claiming is paused: when she can try again, in her shop's time; no blame."""
    return paused_message(await lock_ends(limiter, counters) if limiter else None, timezone)


def paused_message(until: datetime | None, timezone: str) -> str:
    if until is None:
        return "为了保护账号安全，订单换积分暂停一会儿，请稍后再试"
    return f"为了保护账号安全，订单换积分暂停一会儿，可在 {local_time(until, timezone)} 后再试"


def lock_out(until: datetime | None, timezone: str) -> ClaimLockOut:
    """Her pause as the fan API tells it."""
    if until is None:
        return ClaimLockOut(locked=False, locked_until=None, message="可以领取")
    return ClaimLockOut(locked=True, locked_until=until, message=paused_message(until, timezone))


def local_time(moment: datetime, timezone: str) -> str:
    """ "20:45" today (shop time), "12月05日 08:10" on another day."""
    today = format_local(utcnow(), timezone, "%Y-%m-%d")
    if format_local(moment, timezone, "%Y-%m-%d") == today:
        return format_local(moment, timezone, "%H:%M")
    return format_local(moment, timezone, "%m月%d日 %H:%M")


async def lock_ends(limiter: RateLimiter, counters: list[tuple[str, str, str]]) -> datetime | None:
    """When the paused claiming resumes (every used-up counter has room again); None when nothing is used up."""
    ends = await limiter.free_again(counters)
    return datetime.fromtimestamp(ends, UTC) if ends is not None else None


async def _decide(
    session: AsyncSession, context: Context, row: Claim, now: datetime, *, waiting_ok: bool, review: bool = True
) -> None:
    """Settle a claim whose number was read: credit it, or say why not. `waiting_ok`: an order not yet in
    our files makes a pending claim (False when resolving one: the caller knows it has arrived). `review`:
    the velocity rules may send it to ops (False once ops approved it, and for bound accounts)."""
    tenant_id, policy = row.tenant_id, context.claims
    # Locked: two members claiming the same order settle one after the other (the ledger's unique credit
    # stays the last word, but the second one then hears "claimed by someone else", not an error).
    order = await orders.read_order(session, tenant_id=tenant_id, platform=row.platform, order_id=row.order_id)
    if order is None:
        if not waiting_ok:
            raise orders.OrderNotFound()
        earlier = await repository.pending_claim(
            session, tenant_id=tenant_id, member_id=row.member_id, platform=row.platform, order_id=row.order_id
        )
        row.outcome = Outcome.pending
        row.expires_at = earlier.expires_at if earlier else now + timedelta(days=policy.pending_days)
        row.message = (
            f"还没有查到这笔{PLATFORM_LABELS.get(row.platform, '')}订单：订单同步后会自动为你发放积分，"
            f"最多等待 {policy.pending_days} 天"
        )
        if earlier is not None:  # asked again: one pending claim is enough
            earlier.outcome, earlier.resolved_at = Outcome.claimed_by_you, now
            earlier.message = "已合并到之后的同一订单领取"
        return
    placed = order.paid_at or order.placed_at
    if placed is not None and placed < row.created_at - timedelta(days=policy.window_days):
        _not_eligible(row, "too_old")
        return
    passed = row.via == Via.bound or reading.check_passes(
        policy.check,
        row.check_value or "",
        accounts=tuple(a for a in (order.buyer_nick, order.buyer_open_uid) if a),
        paid_fen=order.paid_fen,
        paid_at=order.paid_at,
        receiver_phone=order.receiver_phone,
        timezone=context.timezone,
    )
    if passed is False:
        row.outcome = Outcome.check_failed
        row.message = "填写的核对信息和订单不一致，请检查后再试"
        return
    if review and row.via == Via.claim and policy.reviews:
        reason = await _review_reason(session, row, policy, order.paid_fen, now)
        if reason is not None:
            row.outcome, row.reason = Outcome.review, reason
            row.message = "这笔订单需要人工审核，通常 1 个工作日内完成，结果会显示在“我的领取记录”里"
            return
    try:
        credited = await crediting.credit(
            session,
            context,
            member_id=row.member_id,
            order=crediting.facts_of(context, order),
            created_by=f"claim:{row.id}",
            now=now,
        )
    except crediting.NotEligible:
        _not_eligible(row, order.status if order.status in NOT_ELIGIBLE else "closed")
        return
    except loyalty.NothingToEarn:
        _not_eligible(row, "too_small")
        return
    except ledger.AlreadyCredited as error:
        mine = bool(error.detail.get("by_this_member"))
        row.outcome = Outcome.claimed_by_you if mine else Outcome.claimed_by_other
        row.message = "这笔订单你已经领取过积分了" if mine else "这笔订单的积分已被其他会员领取；如有疑问请联系客服"
        return
    row.outcome, row.points = Outcome.credited, credited.calculation.total
    if credited.pending:
        when = (
            f"预计 {format_local(credited.post_after, context.timezone, '%m月%d日')} 入账"
            if credited.post_after
            else "确认收货后入账"
        )
        head = f"已获得 {row.points} 积分（待入账，{when}）"
    else:
        head = f"已获得 {row.points} 积分，可以使用了"
    row.message = f"{head}。{credited.calculation.explanation(row.order_id)}"
    if row.via == Via.bound:
        row.message = f"绑定的账号下单，已自动领取：{row.message}"
    elif learned := await _learn_accounts(session, row, order, policy):
        row.message += f"。已绑定账号 {learned}，以后这个账号的订单会自动领取积分"
    row.message = row.message[:300]


async def _review_reason(
    session: AsyncSession, row: Claim, policy: ClaimPolicy, paid_fen: int, now: datetime
) -> str | None:
    """The first velocity rule this claim trips, if any."""
    tenant_id, day_ago = row.tenant_id, now - timedelta(days=1)
    if await repository.in_review_by_other(
        session, tenant_id=tenant_id, platform=row.platform, order_id=row.order_id, member_id=row.member_id
    ):
        return "order_in_review"
    if policy.review_paid_yuan is not None and paid_fen >= policy.review_paid_yuan * 100:
        return "large_order"
    if policy.review_daily_claims is not None and (
        await repository.credited_since(session, tenant_id=tenant_id, member_id=row.member_id, since=day_ago)
        >= policy.review_daily_claims
    ):
        return "many_claims"
    if policy.review_shared_members is not None:
        for reason, column, value in (
            ("shared_ip", "ip_hash", row.ip_hash),
            ("shared_device", "device_hash", row.device_hash),
        ):
            if value and (
                await repository.other_members_since(
                    session, tenant_id=tenant_id, column=column, value=value, member_id=row.member_id, since=day_ago
                )
                >= policy.review_shared_members - 1
            ):
                return reason
    return None


def order_accounts(order: OrderView) -> list[tuple[str, str]]:
    """(identity kind, value) of the buyer accounts this order carries in full (masked ones are left out)."""
    found = []
    for field, kind in ORDER_ACCOUNTS.get(order.platform, ()):
        value = (getattr(order, field) or "").strip()
        if value and "*" not in value:
            found.append((str(kind), value))
    return found


async def _learn_accounts(session: AsyncSession, row: Claim, order: OrderView, policy: ClaimPolicy) -> str:
    """After a credited claim, bind the order's buyer account to her when that proves it is hers: the tenant
    asked for a secondary check she passed, or this is her second order of that account. Her other orders of
    the account are then credited by a job. Returns the accounts bound, for her message."""
    bound = []
    for kind, value in order_accounts(order):
        if await members.find_by_identity(session, tenant_id=row.tenant_id, kind=kind, value=value) is not None:
            continue
        if policy.check == "none" and (
            await repository.credited_orders_with_account(
                session,
                tenant_id=row.tenant_id,
                member_id=row.member_id,
                field=_field_of(order.platform, kind),
                value=value,
            )
            < 1
        ):
            continue
        member = await members.get_member(session, tenant_id=row.tenant_id, member_id=row.member_id)
        await members.bind_identity(session, tenant_id=row.tenant_id, member=member, kind=kind, value=value)
        bound.append(value)
    if bound:
        await enqueue_bound(session, tenant_id=row.tenant_id, member_id=row.member_id)
    return "、".join(bound)


def _field_of(platform: str, kind: str) -> str:
    return next(field for field, k in ORDER_ACCOUNTS[platform] if k == kind)


async def enqueue_bound(
    session: AsyncSession, *, tenant_id: int, member_id: int | None = None, import_id: int | None = None
) -> None:
    """Ask the worker to credit the orders of bound accounts: all of a member's, or those an import brought."""
    payload = {"member_id": member_id} if member_id is not None else {"import_id": import_id}
    key = f"bound:{tenant_id}:{member_id}" if member_id is not None else f"bound:{tenant_id}:import:{import_id}"
    await jobs.enqueue(session, BOUND_JOB, payload, tenant_id=tenant_id, dedupe_key=key)


async def credit_bound(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int | None = None,
    import_id: int | None = None,
    now: datetime | None = None,
    limit: int = 2000,
) -> int:
    """Credit the orders that carry an account bound to a member and that nobody has claimed, within the
    claim window: no claim needed, and she sees them in her claims. `limit` orders are looked at a time, until
    none is left (an import may bring many more). Returns the number credited."""
    now = now or utcnow()
    context = await crediting.context_of(session, tenant_id=tenant_id)
    credited = 0
    while True:
        candidates = await repository.bound_orders(
            session,
            tenant_id=tenant_id,
            accounts=ORDER_ACCOUNTS,
            member_id=member_id,
            import_id=import_id,
            since=now - timedelta(days=context.claims.window_days),
            limit=limit,
        )
        more = await _credit_bound_orders(session, context, candidates, now)
        credited += more
        # A credited order is never looked at again; a full round that credited nothing would come back the same.
        if len(candidates) < limit or more == 0:
            return credited


async def _credit_bound_orders(
    session: AsyncSession, context: crediting.Context, candidates: list[tuple[int, str, str]], now: datetime
) -> int:
    tenant_id = context.tenant_id
    credited = 0
    told: list[Result] = []
    for owner, platform, order_id in sorted(candidates):  # members locked in member-id order
        row = Claim(
            tenant_id=tenant_id,
            id=new_id(),
            member_id=owner,
            platform=platform,
            order_id=order_id,
            outcome=Outcome.invalid,
            message="",
            via=Via.bound,
            created_at=now,
        )
        await ledger.lock_member(session, tenant_id=tenant_id, member_id=owner, now=now)
        await _decide(session, context, row, now, waiting_ok=False, review=False)
        if row.outcome == Outcome.credited:
            await repository.save_new(session, row)
            credited += 1
            told.append(_result("bound_credited", row))
    await session.flush()
    await _tell(session, tenant_id, told)
    return credited


def _not_eligible(row: Claim, reason: str) -> None:
    row.outcome, row.reason, row.message = Outcome.not_eligible, reason, NOT_ELIGIBLE[reason]


async def resolve_pending(
    session: AsyncSession, *, tenant_id: int, now: datetime | None = None, limit: int = 2000
) -> tuple[int, int]:
    """Pending claims whose order has arrived are settled (credited, or told why not); those that waited too
    long expire. Idempotent. Returns (settled, expired)."""
    now = now or utcnow()
    gone = await repository.expire_pending(
        session, tenant_id=tenant_id, now=now, message="等待期内没有同步到这笔订单，请确认订单号和平台后重新提交"
    )
    expired = len(gone)
    await _tell(
        session,
        tenant_id,
        [("claim_expired", claim_id, member_id, order_id, None) for claim_id, member_id, order_id in gone],
    )
    context = await crediting.context_of(session, tenant_id=tenant_id)
    rows = await repository.pending_with_orders(session, tenant_id=tenant_id, limit=limit)
    for member_id in sorted({row.member_id for row in rows}):  # every member locked first, in member-id order
        await ledger.lock_member(session, tenant_id=tenant_id, member_id=member_id, now=now)
    settled = 0
    for row in rows:  # then settled oldest first: the first to ask gets the order
        row.outcome, row.resolved_at = Outcome.invalid, now
        await _decide(session, context, row, now, waiting_ok=False)
        settled += 1
    await session.flush()
    await _tell(session, tenant_id, [_result("claim_credited", row) for row in rows if row.outcome == Outcome.credited])
    return settled, expired


async def review(
    session: AsyncSession,
    *,
    actor: Principal,
    claim_ids: list[int],
    approve: bool,
    note: str = "",
    now: datetime | None = None,
) -> list[Claim]:
    """Ops approve claims in review (each is then settled as usual: credited, or told why not) or reject them
    with a reason she is told. Audited."""
    now = now or utcnow()
    note = note.strip()
    if not approve and not note:
        raise RejectNeedsNote()
    tenant_id = actor.tenant_id
    context = await crediting.context_of(session, tenant_id=tenant_id)
    rows = await repository.get_many(session, tenant_id=tenant_id, claim_ids=sorted(set(claim_ids)))
    if len(rows) != len(set(claim_ids)):
        raise ClaimNotFound()
    for member_id in sorted({row.member_id for row in rows}):  # every member locked first, in member-id order
        await ledger.lock_member(session, tenant_id=tenant_id, member_id=member_id, now=now)
    for row in rows:
        await session.refresh(row)
        if row.outcome != Outcome.review:
            raise NotInReview(claim_id=str(row.id))
        row.reviewed_by, row.review_note, row.resolved_at = actor.label, note or None, now
        if approve:
            await _decide(session, context, row, now, waiting_ok=True, review=False)
        else:
            row.outcome, row.message = Outcome.rejected, f"审核未通过：{note}"
        audit.record(
            session,
            actor=actor,
            action="claims.approve" if approve else "claims.reject",
            target_type="claim",
            target_id=row.id,
            before={"outcome": Outcome.review, "reason": row.reason},
            after={"outcome": row.outcome, "points": row.points, "note": note or None},
        )
    await session.flush()
    await _tell(session, tenant_id, [_result("claim_approved" if approve else "claim_rejected", row) for row in rows])
    return rows


# Telling her: one job per result, in the transaction that decided it; its handler hands it to the notifiers.

RESULT_JOB = "claims.result"
Result = tuple[str, int, int, str, int | None]  # (notice kind, claim id, member id, order id, points)


def _result(kind: str, row: Claim) -> Result:
    return (kind, row.id, row.member_id, row.order_id, row.points)


async def _tell(session: AsyncSession, tenant_id: int, results: list[Result]) -> None:
    now = utcnow()
    await jobs.enqueue_many(
        session,
        RESULT_JOB,
        [
            (
                tenant_id,
                {
                    "member_id": member_id,
                    "claim_id": claim_id,
                    "kind": kind,
                    "order_tail": order_id[-4:],
                    "points": points,
                },
                f"{RESULT_JOB}:{tenant_id}:{claim_id}:{kind}",
                now,
            )
            for kind, claim_id, member_id, order_id, points in results
        ],
    )


async def review_queue(session: AsyncSession, *, tenant_id: int, limit: int = 200) -> list[tuple[Claim, Order | None]]:
    return await repository.review_queue(session, tenant_id=tenant_id, limit=limit)


async def move_member(session: AsyncSession, *, tenant_id: int, from_member_id: int, into_member_id: int) -> int:
    """A merge: her claims follow her into the member she was merged into."""
    return await repository.move_member(
        session, tenant_id=tenant_id, from_member_id=from_member_id, into_member_id=into_member_id
    )


async def settled_since(
    session: AsyncSession, *, tenant_id: int, member_id: int, since: datetime, limit: int = 10
) -> list[Claim]:
    """What came of her waiting claims since then: credited when the order arrived, approved or rejected by ops,
    or expired. Her H5 home tells her."""
    return await repository.settled_since(session, tenant_id=tenant_id, member_id=member_id, since=since, limit=limit)


async def claims_of(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int = 50) -> list[Claim]:
    return await repository.of_member(session, tenant_id=tenant_id, member_id=member_id, limit=limit)


async def search(
    session: AsyncSession,
    *,
    tenant_id: int,
    order_id: str | None = None,
    member_id: int | None = None,
    outcome: str | None = None,
    page: PageRequest,
) -> Page[Claim]:
    return await repository.search(
        session,
        tenant_id=tenant_id,
        order_id=(order_id or "").strip() or None,
        member_id=member_id,
        outcome=outcome,
        page=page,
    )


async def outcomes_since(session: AsyncSession, *, tenant_id: int, since: datetime) -> dict[str, int]:
    return await repository.outcomes_since(session, tenant_id=tenant_id, since=since)


@dataclass(frozen=True)
class Lock:
    """Her claiming, as the lock sees it: paused until when (None: not paused), and the guesses counted in the
    lock window against the most that are allowed."""

    until: datetime | None
    guesses: int
    max_failures: int
    lock_minutes: int


def _fan_keys(
    policy: ClaimPolicy, *, tenant_id: int, member_id: int, devices: list[str], ip_hash: str | None
) -> list[tuple[str, str, str]]:
    """Her failure counters: her own, her phones' and (when given) her network address's."""
    keys: list[tuple[str, str, str]] = []
    choices: list[str | None] = [*devices] or [None]
    for device in choices:
        probe = Claim(tenant_id=tenant_id, member_id=member_id, ip_hash=ip_hash, device_hash=device)
        keys += [key for key in _failure_keys(probe, policy) if key not in keys]
    return keys if ip_hash else [key for key in keys if not key[1].endswith("-ip")]


async def locked_until(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    ip_hash: str | None,
    device_hash: str | None,
    limiter: RateLimiter,
) -> datetime | None:
    """When her claiming resumes, from this phone and network; None when she can claim now (the claim page)."""
    policy = await policy_of(session, tenant_id)
    devices = [device_hash] if device_hash else []
    keys = _fan_keys(policy, tenant_id=tenant_id, member_id=member_id, devices=devices, ip_hash=ip_hash)
    return await lock_ends(limiter, keys)


async def lock_of(
    session: AsyncSession, *, tenant_id: int, member_id: int, limiter: RateLimiter, now: datetime | None = None
) -> Lock:
    """Her lock for ops: her own counter and those of the phones she claimed from within the lock window (her
    network address is shared with others: not hers to see or lift)."""
    now = now or utcnow()
    policy = await policy_of(session, tenant_id)
    since = now - timedelta(minutes=policy.lock_minutes)
    devices = await repository.recent_devices(session, tenant_id=tenant_id, member_id=member_id, since=since)
    keys = _fan_keys(policy, tenant_id=tenant_id, member_id=member_id, devices=devices, ip_hash=None)
    guesses, _end = await limiter.counted(*keys[0])
    return Lock(
        until=await lock_ends(limiter, keys),
        guesses=guesses,
        max_failures=policy.max_failures,
        lock_minutes=policy.lock_minutes,
    )


async def lift_lock(
    session: AsyncSession, *, actor: Principal, member_id: int, limiter: RateLimiter, now: datetime | None = None
) -> Lock:
    """Ops let her claim again at once: her guesses and her phones' are forgotten. Audited."""
    now = now or utcnow()
    tenant_id = actor.tenant_id
    await members.get_member(session, tenant_id=tenant_id, member_id=member_id)
    before = await lock_of(session, tenant_id=tenant_id, member_id=member_id, limiter=limiter, now=now)
    policy = await policy_of(session, tenant_id)
    since = now - timedelta(minutes=policy.lock_minutes)
    devices = await repository.recent_devices(session, tenant_id=tenant_id, member_id=member_id, since=since)
    for key in _fan_keys(policy, tenant_id=tenant_id, member_id=member_id, devices=devices, ip_hash=None):
        await limiter.clear(*key)
    audit.record(
        session,
        actor=actor,
        action="claims.unlock",
        target_type="member",
        target_id=member_id,
        before={"locked_until": before.until.isoformat() if before.until else None, "guesses": before.guesses},
        after={"locked_until": None, "guesses": 0},
    )
    return before


# For analytics


async def claimed_totals(
    session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """Per platform: (orders paid in [start, end) credited to a member, their paid fen)."""
    return await repository.claimed_totals(session, tenant_id=tenant_id, start=start, end=end)


def _accounts_of_frame() -> pl.Expr:
    """The buyer accounts an order carries in full, as "kind:value" (the identity a member binds), in the order
    of `ORDER_ACCOUNTS`; masked or empty ones are left out (as `order_accounts` does)."""
    found = []
    for platform, fields in ORDER_ACCOUNTS.items():
        for field, kind in fields:
            value = pl.col(field).str.strip_chars()
            usable = (
                (pl.col("platform") == platform)
                & value.is_not_null()
                & (value != "")
                & ~value.str.contains("*", literal=True)
            )
            found.append(pl.when(usable).then(pl.lit(f"{kind}:") + value).otherwise(pl.lit(None, dtype=pl.String)))
    return pl.concat_list(found).list.drop_nulls().alias("accounts")


def account_key(kind: str, value: str) -> str:
    """How a bound identity names the same buyer account as an order's `accounts`."""
    return f"{kind}:{value.strip()}"


async def orders_with_members(
    session: AsyncSession,
    *,
    tenant_id: int,
    changed_after_import: int | None = None,
    claimed_since: datetime | None = None,
) -> AsyncIterator[pl.DataFrame]:
    """Frames of (member_id or null, platform, order_id, status, paid_fen, refund_fen, paid_at: naive UTC,
    accounts: the buyer accounts it carries as "kind:value", claimed_at: when the claim crediting it was made, naive
    UTC) of the tenant's orders: all of them, or those changed after an import / claimed since a time."""
    accounts = _accounts_of_frame()
    async for frame in repository.orders_with_members(
        session, tenant_id=tenant_id, changed_after_import=changed_after_import, claimed_since=claimed_since
    ):
        yield (
            frame.with_columns(pl.col("buyer_nick").cast(pl.String), pl.col("buyer_open_uid").cast(pl.String))
            .with_columns(accounts)
            .drop("buyer_nick", "buyer_open_uid")
        )


async def bound_accounts(session: AsyncSession, *, tenant_id: int) -> list[tuple[int, str]]:
    """(member, "kind:value") of every buyer account a member has bound (the kinds orders carry)."""
    kinds = sorted({str(kind) for fields in ORDER_ACCOUNTS.values() for _, kind in fields})
    rows = await members.identities_of_kinds(session, tenant_id=tenant_id, kinds=kinds)
    return [(member_id, account_key(kind, value)) for member_id, kind, value in rows]


# A member's recent buying, for the thresholds of fan groups

orders_since = repository.orders_since  # (SQL expressions over a member's columns, to filter members by)
paid_fen_since = repository.paid_fen_since


async def buying_since(
    session: AsyncSession, *, tenant_id: int, member_ids: Collection[int], since: datetime
) -> dict[int, tuple[int, int]]:
    """Per member: (orders credited to her paid since `since`, not closed or refunded; what they paid less refunds,
    in fen). Members without such orders are missing."""
    return await repository.buying_since(session, tenant_id=tenant_id, member_ids=member_ids, since=since)


# Who claimed what, for saved segments (SQL conditions over a member's columns)

claimed_on_platforms = repository.claimed_on_platforms
claimed_within = repository.claimed_within
