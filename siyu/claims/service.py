"""Claims (订单换积分): a fan asks for the points of an order by its number; she always gets an honest answer.

credited, claimed by you, claimed by someone else, not found yet (kept and credited when the order arrives),
not eligible, check failed, locked (too many failures), unreadable number. Exactly once is decided by the
ledger (one credit per order, unique in the database). Nothing here commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.claims import reading, repository
from siyu.claims.models import FAILURES, Claim, Outcome
from siyu.claims.schemas import ClaimPolicy
from siyu.kit.errors import InvalidInput
from siyu.kit.ids import new_id
from siyu.kit.pagination import Page, PageRequest
from siyu.kit.ratelimit import RateLimiter
from siyu.kit.time import format_local, utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.members import service as members
from siyu.orders import service as orders
from siyu.tenants import service as tenants
from siyu.tenants.models import PLATFORM_LABELS

POLICY_KEY = "claims"
PLATFORMS = ("taobao", "douyin", "kuaishou", "channels", "pdd", "jd")
NOT_ELIGIBLE = {
    "unpaid": "这笔订单还没有付款，付款后再来领取积分吧",
    "closed": "这笔订单已关闭，不能领取积分",
    "refunded": "这笔订单已全额退款，不能领取积分",
    "too_old": "这笔订单下单时间太早，超过了可以领取积分的期限",
    "too_small": "这笔订单的金额不足以获得积分",
}


class UnknownPlatform(InvalidInput):
    code = "unknown_platform"
    message = "请选择下单的平台"


async def policy_of(session: AsyncSession, tenant_id: int) -> ClaimPolicy:
    tenant = await tenants.get_tenant(session, tenant_id)
    try:
        return ClaimPolicy.model_validate((tenant.settings or {}).get(POLICY_KEY) or {})
    except ValidationError:
        return ClaimPolicy()


async def save_policy(session: AsyncSession, *, actor: Principal, policy: ClaimPolicy) -> ClaimPolicy:
    after = policy.model_dump(mode="json")
    before = await tenants.put_setting(session, tenant_id=actor.tenant_id, key=POLICY_KEY, value=after)
    if before != after:
        audit.record(
            session,
            actor=actor,
            action="claims.policy",
            target_type="tenant",
            target_id=actor.tenant_id,
            before=before or {},
            after=after,
        )
    return policy


def _limits(policy: ClaimPolicy) -> tuple[str, str]:
    """(per member, per IP): failures allowed in the lock window; one IP may serve a family or an office."""
    window = f"{policy.lock_minutes} minutes"
    return f"{policy.max_failures}/{window}", f"{policy.max_failures * 4}/{window}"


async def claim(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    platform: str,
    text: str,
    check_value: str = "",
    ip_hash: str | None = None,
    limiter: RateLimiter | None = None,
    now: datetime | None = None,
) -> Claim:
    """Claim the points of the order whose number is in `text`. Every attempt is kept with its outcome."""
    now = now or utcnow()
    if platform not in PLATFORMS:
        raise UnknownPlatform()
    await members.get_member(session, tenant_id=tenant_id, member_id=member_id)
    policy = await policy_of(session, tenant_id)
    await ledger.lock_member(session, tenant_id=tenant_id, member_id=member_id, now=now)  # one claim at a time
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
        created_at=now,
    )
    member_rule, ip_rule = _limits(policy)
    member_key, ip_key = f"{tenant_id}:{member_id}", f"{tenant_id}:{ip_hash or '-'}"
    if limiter is not None and not (
        await limiter.allowed(member_rule, "claim-failures", member_key)
        and await limiter.allowed(ip_rule, "claim-failures-ip", ip_key)
    ):
        row.outcome = Outcome.locked
        row.message = f"失败次数太多，领取功能暂停 {policy.lock_minutes} 分钟，请稍后再试"
    else:
        order_id = reading.order_number(platform, text)
        if order_id is None:
            row.message = "没有识别出订单号，请复制订单详情里完整的“订单编号”后粘贴"
        else:
            row.order_id = order_id
            await _decide(session, row, policy, now, waiting_ok=True)
        if row.outcome in FAILURES and limiter is not None:
            await limiter.hit(member_rule, "claim-failures", member_key)
            await limiter.hit(ip_rule, "claim-failures-ip", ip_key)
    repository.add(session, row)
    await session.flush()
    return row


async def _decide(session: AsyncSession, row: Claim, policy: ClaimPolicy, now: datetime, *, waiting_ok: bool) -> None:
    """Settle a claim whose number was read: credit it, or say why not. `waiting_ok`: an order not yet in
    our files makes a pending claim (False when resolving one: the caller knows it has arrived)."""
    tenant_id = row.tenant_id
    try:
        facts = await loyalty.order_facts(session, tenant_id=tenant_id, platform=row.platform, order_id=row.order_id)
    except orders.OrderNotFound:
        if not waiting_ok:
            raise
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
    tenant = await tenants.get_tenant(session, tenant_id)
    order = (
        await orders.order_detail(session, tenant_id=tenant_id, platform=row.platform, order_id=row.order_id)
    ).order
    placed = facts.placed_at
    if placed is not None and placed < row.created_at - timedelta(days=policy.window_days):
        _not_eligible(row, "too_old")
        return
    passed = reading.check_passes(
        policy.check,
        row.check_value or "",
        accounts=tuple(a for a in (order.buyer_nick, order.buyer_open_uid) if a),
        paid_fen=order.paid_fen,
        paid_at=order.paid_at,
        receiver_phone=order.receiver_phone,
        timezone=tenant.timezone,
    )
    if passed is False:
        row.outcome = Outcome.check_failed
        row.message = "填写的核对信息和订单不一致，请检查后再试"
        return
    try:
        credited = await loyalty.credit_order(
            session,
            tenant_id=tenant_id,
            member_id=row.member_id,
            order=facts,
            created_by=f"claim:{row.id}",
            now=now,
        )
    except loyalty.NotEligible:
        _not_eligible(row, facts.status if facts.status in NOT_ELIGIBLE else "closed")
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
            f"预计 {format_local(credited.post_after, tenant.timezone, '%m月%d日')} 入账"
            if credited.post_after
            else "确认收货后入账"
        )
        head = f"已获得 {row.points} 积分（待入账，{when}）"
    else:
        head = f"已获得 {row.points} 积分，可以使用了"
    row.message = f"{head}。{credited.calculation.explanation(row.order_id)}"[:300]


def _not_eligible(row: Claim, reason: str) -> None:
    row.outcome, row.reason, row.message = Outcome.not_eligible, reason, NOT_ELIGIBLE[reason]


async def resolve_pending(
    session: AsyncSession, *, tenant_id: int, now: datetime | None = None, limit: int = 2000
) -> tuple[int, int]:
    """Pending claims whose order has arrived are settled (credited, or told why not); those that waited too
    long expire. Idempotent. Returns (settled, expired)."""
    now = now or utcnow()
    expired = await repository.expire_pending(
        session, tenant_id=tenant_id, now=now, message="等待期内没有同步到这笔订单，请确认订单号和平台后重新提交"
    )
    policy = await policy_of(session, tenant_id)
    settled = 0
    for row in await repository.pending_with_orders(session, tenant_id=tenant_id, limit=limit):
        row.outcome, row.resolved_at = Outcome.invalid, now
        await _decide(session, row, policy, now, waiting_ok=False)
        settled += 1
    await session.flush()
    return settled, expired


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
