"""An order earns points: the one place that turns an order into ledger operations.

A claimed or bound order is priced by the loyalty programme (siyu.loyalty: pure decisions over the member's tier
and the running campaigns) and credited to the ledger under the order's source reference (siyu.ledger.refs). An
import's changes to credited orders become posts (completed), voids (closed before posting) and clawbacks
(refunds). The ledger never sees an order, only a source and amounts; loyalty never locks a member.

Everything a credit reads that rarely changes (the tenant, both policies, channels, tiers, active campaigns) comes
in a `Context`, built once per transaction from what the process keeps per configuration version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims.schemas import ClaimPolicy
from siyu.kit.cache import tenant_configs
from siyu.kit.errors import Conflict
from siyu.kit.time import utcnow
from siyu.ledger import batch as ledger_batch
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.ledger.models import Entry
from siyu.loyalty import rules
from siyu.loyalty import service as loyalty
from siyu.loyalty.rules import Calculation, OrderFacts
from siyu.orders import service as orders
from siyu.orders.models import EARNS_NOTHING, ENDED, ChangeView, OrderStatus, OrderView
from siyu.tenants import service as tenants
from siyu.tenants.service import ChannelView, TenantConfig

CLAIMS_POLICY_KEY = "claims"


class NotEligible(Conflict):
    code = "order_not_eligible"
    message = "这笔订单未付款、已关闭或已全额退款，不能获得积分"


@dataclass(frozen=True)
class Context:
    """What crediting reads of the tenant, once per transaction."""

    tenant: TenantConfig
    claims: ClaimPolicy
    programme: loyalty.Programme

    @property
    def tenant_id(self) -> int:
        return self.tenant.id

    @property
    def timezone(self) -> str:
        return self.tenant.timezone


def claim_policy(stored: Any) -> ClaimPolicy:
    try:
        return ClaimPolicy.model_validate(stored or {})
    except ValidationError:  # written by an older version
        return ClaimPolicy()


async def context_of(
    session: AsyncSession, *, tenant_id: int | None = None, config: TenantConfig | None = None
) -> Context:
    """The tenant's crediting context: from the process's memory when its configuration has not changed."""
    if config is None:
        assert tenant_id is not None
        config = await tenants.config_of(session, tenant_id)
    cached: Context | None = tenant_configs.get("crediting", config.id, config.version)
    if cached is not None:
        return cached
    context = Context(
        tenant=config,
        claims=claim_policy(config.section(CLAIMS_POLICY_KEY)),
        programme=await loyalty.programme_of(session, config),
    )
    return tenant_configs.put("crediting", config.id, config.version, context)


def channel_of(order: OrderView, channels: tuple[ChannelView, ...]) -> int | None:
    """The tenant's channel an order came through: by shop name or id, else the only channel on its platform."""
    same = [c for c in channels if c.platform == order.platform]
    shop = (order.shop or "").strip()
    named = [c for c in same if shop and shop in (c.name, c.shop_id)]
    if named:
        return named[0].id
    return same[0].id if len(same) == 1 else None


def facts_of(context: Context, order: OrderView) -> OrderFacts:
    """What the rules need of an order."""
    return OrderFacts(
        platform=order.platform,
        order_id=order.order_id,
        paid_fen=order.paid_fen,
        refund_fen=order.refund_fen,
        status=order.status,
        channel_id=channel_of(order, context.tenant.channels),
        rooms=tuple(room for room in (order.live_room, order.author) if room),
        placed_at=order.paid_at or order.placed_at,
        completed_at=order.completed_at,
    )


@dataclass(frozen=True)
class Credited:
    entry: Entry
    calculation: Calculation
    pending: bool
    post_after: datetime | None
    expires_at: datetime | None


async def credit(
    session: AsyncSession,
    context: Context,
    *,
    member_id: int,
    order: OrderFacts,
    created_by: str | None = None,
    now: datetime | None = None,
) -> Credited:
    """Credit an order's points to a member by the tenant's rules: held until the hold ends (or available at once),
    expiring as the policy says, with the explanation the fan sees. An order is credited once (the ledger refuses
    a second credit of its source: AlreadyCredited). NotEligible / loyalty.NothingToEarn say why not."""
    now = now or utcnow()
    if order.status in EARNS_NOTHING:
        raise NotEligible(status=order.status)
    tenant_id, programme = context.tenant_id, context.programme
    await ledger.lock_member(session, tenant_id=tenant_id, member_id=member_id, now=now)  # caps and first claim
    source_ref = refs.order_ref(order.platform, order.order_id)
    first = loyalty.wants_first_claim(programme, order, now) and not await ledger.has_credit_from(
        session, tenant_id=tenant_id, member_id=member_id, prefix=refs.ORDER_PREFIX
    )
    priced = await loyalty.price(
        session, programme=programme, member_id=member_id, order=order, first_claim=first, now=now
    )
    entry = await ledger.earn(
        session,
        tenant_id=tenant_id,
        member_id=member_id,
        amount=priced.calculation.total,
        source_ref=source_ref,
        explanation=priced.calculation.explanation(order.order_id),
        pending=priced.pending,
        post_after=priced.post_after,
        expires_at=priced.expires_at,
        created_by=created_by,
        now=now,
    )
    await loyalty.record_awards(
        session, tenant_id=tenant_id, member_id=member_id, source_ref=source_ref, priced=priced, now=now
    )
    if not priced.pending and programme.tiers:
        await loyalty.refresh_tiers(session, tenant_id=tenant_id, member_ids=[member_id], now=now)
    return Credited(entry, priced.calculation, priced.pending, priced.post_after, priced.expires_at)


# An import changed orders that earned points


async def apply_order_changes(
    session: AsyncSession, *, tenant_id: int, import_id: int, now: datetime | None = None
) -> int:
    """What an import's changes mean for the points of orders that earned some: completed -> the hold ends
    (posted now or by the post sweep), closed or refunded -> voided or clawed back (see the ledger). Members are
    locked in member-id order. Safe to run again. Returns the orders acted on."""
    now = now or utcnow()
    changes = await orders.changes_of_import(session, tenant_id=tenant_id, import_id=import_id)
    by_ref = {refs.order_ref(c.platform, c.order_id): c for c in changes}
    owners = await ledger.credit_owners(session, tenant_id=tenant_id, source_refs=list(by_ref))
    if not owners:
        return 0
    policy = (await context_of(session, tenant_id=tenant_id)).programme.policy
    who = f"import:{import_id}"
    acted = 0
    posted: set[int] = set()
    for ref, _owner in sorted(owners.items(), key=lambda item: (item[1], item[0])):  # member-id order
        change = by_ref[ref]
        if change.to_status == OrderStatus.completed and rules.holds(policy):
            hold_ends = rules.post_after(policy, change.completed_at or now)
            assert hold_ends is not None
            entry = await ledger.schedule_post(
                session, tenant_id=tenant_id, source_ref=ref, post_after=hold_ends, created_by=who, now=now
            )
            if entry is not None:
                posted.add(entry.member_id)
                acted += 1
        if await _apply_change(session, tenant_id=tenant_id, source_ref=ref, change=change, created_by=who, now=now):
            acted += 1
    if posted:
        await loyalty.refresh_tiers(session, tenant_id=tenant_id, member_ids=sorted(posted), now=now)
    return acted


async def _apply_change(
    session: AsyncSession,
    *,
    tenant_id: int,
    source_ref: str,
    change: ChangeView,
    created_by: str,
    now: datetime,
) -> bool:
    """Closed or refunded: held points are voided, posted ones clawed back in full. Partly refunded: the refunded
    share of the paid amount is clawed back. True when an entry was written."""
    if change.to_status in ENDED:
        try:
            voided = await ledger.void(
                session, tenant_id=tenant_id, source_ref=source_ref, created_by=created_by, now=now
            )
            return voided is not None
        except (ledger.AlreadyPosted, ledger.NotPending):
            share = (1, 1)
    elif change.to_refund_fen > change.from_refund_fen and change.paid_fen > 0:
        share = (change.to_refund_fen, change.paid_fen)
    else:
        return False
    entry = await ledger.clawback(
        session,
        tenant_id=tenant_id,
        source_ref=source_ref,
        numerator=share[0],
        denominator=share[1],
        created_by=created_by,
        now=now,
    )
    return entry is not None


# The periodic sweep


@dataclass
class SweepResult:
    posted: int = 0  # held lots posted
    expired: int = 0  # lots expired
    warned: int = 0  # lots whose coming expiry was announced
    reviewed: int = 0  # members whose tier was reviewed
    tier_changes: int = 0
    more: bool = False  # a step filled its batch: run again for the rest

    def add(self, other: SweepResult) -> None:
        for name in ("posted", "expired", "warned", "reviewed", "tier_changes"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


async def sweep(
    session: AsyncSession, *, tenant_id: int, now: datetime | None = None, batch: int = 2000
) -> SweepResult:
    """One batch of each periodic step for a tenant: post held points whose hold ended, expire lots, then the
    programme's steps (tier upgrades of those posted, expiry warnings, the monthly tier review). Idempotent;
    `more` says a step has work left."""
    now = now or utcnow()
    result = SweepResult()
    result.posted, posted = await ledger_batch.post_due_for(
        session, tenant_id=tenant_id, now=now, limit=batch, created_by="system:hold"
    )
    result.expired = await ledger.expire(session, tenant_id=tenant_id, now=now, limit=batch)
    programme = await loyalty.sweep_programme(session, tenant_id=tenant_id, posted=posted, now=now, batch=batch)
    result.warned, result.reviewed, result.tier_changes = programme.warned, programme.reviewed, programme.tier_changes
    result.more = max(result.posted, result.expired, result.warned, result.reviewed) >= batch
    return result
