"""Every query of the loyalty programme, each scoped to a tenant. Growth and expiry warnings read the ledger's
tables (a lower domain) directly: they are set-wise questions over many members."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date, datetime

from sqlalchemy import ColumnExpressionArgument, Exists, and_, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.bulk import insert_ignoring_duplicates
from siyu.kit.db import of_tenant
from siyu.ledger.models import Balance, Entry, EntryKind, Lot, LotStatus
from siyu.loyalty.models import Campaign, CampaignAward, ExpiryWarning, MemberTier, Tier, TierChange

GROWTH_KINDS = ("earn", "post", "clawback")  # posted order points, less what refunds took back


def add(session: AsyncSession, row: Campaign | Tier | TierChange | CampaignAward) -> None:
    session.add(row)


async def delete_row(session: AsyncSession, row: Campaign | Tier) -> None:
    await session.delete(row)


# Campaigns


async def campaigns(session: AsyncSession, *, tenant_id: int) -> list[Campaign]:
    rows = await session.scalars(
        select(Campaign)
        .where(of_tenant(Campaign, tenant_id))
        .order_by(Campaign.active.desc(), Campaign.priority.desc(), Campaign.starts_at.desc(), Campaign.id)
    )
    return list(rows)


async def get_campaign(
    session: AsyncSession, *, tenant_id: int, campaign_id: int, for_update: bool = False
) -> Campaign | None:
    statement = select(Campaign).where(of_tenant(Campaign, tenant_id), Campaign.id == campaign_id)
    if for_update:
        statement = statement.with_for_update()
    return await session.scalar(statement.execution_options(populate_existing=True))


# Read on every credit: built once, with bound parameters (see siyu.tenants.repository).
_AT = bindparam("at", type_=Campaign.__table__.c.starts_at.type)
_RUNNING = (
    select(Campaign)
    .where(
        of_tenant(Campaign, bindparam("tenant_id")),
        Campaign.active.is_(True),
        Campaign.starts_at <= _AT,
        Campaign.ends_at > _AT,
    )
    .order_by(Campaign.priority.desc(), Campaign.id)
    .execution_options(populate_existing=True)
)
_MEMBER_TIER = (
    select(MemberTier)
    .where(of_tenant(MemberTier, bindparam("tenant_id")), MemberTier.member_id == bindparam("member_id"))
    .execution_options(populate_existing=True)
)


async def active_campaigns(session: AsyncSession, *, tenant_id: int) -> list[Campaign]:
    """Campaigns switched on, whatever their window, highest priority first (a process keeps them per version)."""
    rows = await session.scalars(
        select(Campaign)
        .where(of_tenant(Campaign, tenant_id), Campaign.active.is_(True))
        .order_by(Campaign.priority.desc(), Campaign.id)
    )
    return list(rows)


async def running_campaigns(session: AsyncSession, *, tenant_id: int, at: datetime) -> list[Campaign]:
    rows = await session.scalars(_RUNNING, {"tenant_id": tenant_id, "at": at})
    return list(rows)


async def awarded_today(
    session: AsyncSession, *, tenant_id: int, member_id: int, campaign_ids: Sequence[int], day: date
) -> dict[int, int]:
    if not campaign_ids:
        return {}
    rows = await session.execute(
        select(CampaignAward.campaign_id, func.sum(CampaignAward.points))
        .where(
            of_tenant(CampaignAward, tenant_id),
            CampaignAward.member_id == member_id,
            CampaignAward.campaign_id.in_(campaign_ids),
            CampaignAward.day == day,
        )
        .group_by(CampaignAward.campaign_id)
    )
    return {int(campaign_id): int(points) for campaign_id, points in rows}


async def add_awarded(session: AsyncSession, *, tenant_id: int, campaign_id: int, points: int) -> None:
    await session.execute(
        update(Campaign)
        .where(of_tenant(Campaign, tenant_id), Campaign.id == campaign_id)
        .values(awarded_total=Campaign.awarded_total + points)
        .execution_options(synchronize_session=False)
    )


# Tiers


async def tiers(session: AsyncSession, *, tenant_id: int) -> list[Tier]:
    """The tenant's tiers, lowest threshold first."""
    rows = await session.scalars(select(Tier).where(of_tenant(Tier, tenant_id)).order_by(Tier.threshold, Tier.id))
    return list(rows)


async def get_tier(session: AsyncSession, *, tenant_id: int, tier_id: int) -> Tier | None:
    return await session.scalar(select(Tier).where(of_tenant(Tier, tenant_id), Tier.id == tier_id))


async def member_tier(session: AsyncSession, *, tenant_id: int, member_id: int) -> MemberTier | None:
    return await session.scalar(_MEMBER_TIER, {"tenant_id": tenant_id, "member_id": member_id})


async def member_tiers(session: AsyncSession, *, tenant_id: int, member_ids: Sequence[int]) -> dict[int, MemberTier]:
    if not member_ids:
        return {}
    rows = await session.scalars(
        select(MemberTier)
        .where(of_tenant(MemberTier, tenant_id), MemberTier.member_id.in_(member_ids))
        .execution_options(populate_existing=True)
    )
    return {row.member_id: row for row in rows}


async def ensure_member_tiers(session: AsyncSession, *, tenant_id: int, member_ids: Sequence[int]) -> None:
    await insert_ignoring_duplicates(
        session,
        MemberTier,
        [{"tenant_id": tenant_id, "member_id": m, "tier_id": None, "growth": 0} for m in member_ids],
    )


async def tier_changes(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int) -> list[TierChange]:
    rows = await session.scalars(
        select(TierChange)
        .where(of_tenant(TierChange, tenant_id), TierChange.member_id == member_id)
        .order_by(TierChange.created_at.desc(), TierChange.id.desc())
        .limit(limit)
    )
    return list(rows)


async def clear_tier(session: AsyncSession, *, tenant_id: int, tier_id: int) -> None:
    await session.execute(
        update(MemberTier)
        .where(of_tenant(MemberTier, tenant_id), MemberTier.tier_id == tier_id)
        .values(tier_id=None)
        .execution_options(synchronize_session=False)
    )


async def forget_reviews(session: AsyncSession, *, tenant_id: int) -> None:
    """The tiers changed: every member is looked at again in the next review."""
    await session.execute(
        update(MemberTier)
        .where(of_tenant(MemberTier, tenant_id))
        .values(reviewed_period=None)
        .execution_options(synchronize_session=False)
    )


async def growth(
    session: AsyncSession, *, tenant_id: int, member_ids: Sequence[int], since: datetime
) -> dict[int, int]:
    """Posted order points of each member since `since` (less clawbacks), with those of the members merged into
    her: a merge moves points lots, while the entries (the growth) stay with the member who earned them."""
    if not member_ids:
        return {}
    owner = await _merged_into(session, tenant_id=tenant_id, member_ids=member_ids)
    rows = await session.execute(
        select(Entry.member_id, func.sum(Entry.amount))
        .where(
            of_tenant(Entry, tenant_id),
            Entry.member_id.in_(sorted(owner)),
            Entry.kind.in_(GROWTH_KINDS),
            Entry.source_ref.startswith("order:"),
            Entry.created_at >= since,
        )
        .group_by(Entry.member_id)
    )
    found = dict.fromkeys(member_ids, 0)
    for member_id, points in rows:
        found[owner[int(member_id)]] += int(points)
    return {member_id: max(found[member_id], 0) for member_id in member_ids}


async def _merged_into(session: AsyncSession, *, tenant_id: int, member_ids: Sequence[int]) -> dict[int, int]:
    """Each of `member_ids` for herself, and every member merged into one of them (through any chain of merges)
    for the one she ended up in: read from the survivors' merge_in entries (source_ref `merge:<member id>`)."""
    owner = {member_id: member_id for member_id in member_ids}
    frontier = list(member_ids)
    while frontier:
        merges = await session.execute(
            select(Entry.member_id, Entry.source_ref).where(
                of_tenant(Entry, tenant_id), Entry.member_id.in_(frontier), Entry.kind == EntryKind.merge_in
            )
        )
        frontier = []
        for into, ref in merges:
            source = int(ref.removeprefix("merge:"))
            if source not in owner:
                owner[source] = owner[int(into)]
                frontier.append(source)
    return owner


async def members_to_review(session: AsyncSession, *, tenant_id: int, period: str, limit: int) -> list[int]:
    """Members with points (or a tier) not yet reviewed in `period`, in id order."""
    reviewed = and_(
        MemberTier.tenant_id == Balance.tenant_id,
        MemberTier.member_id == Balance.member_id,
    )
    rows = await session.scalars(
        select(Balance.member_id)
        .outerjoin(MemberTier, reviewed)
        .where(
            of_tenant(Balance, tenant_id),
            Balance.merged_into.is_(None),
            (MemberTier.reviewed_period.is_(None)) | (MemberTier.reviewed_period != period),
        )
        .order_by(Balance.member_id)
        .limit(limit)
    )
    return list(rows)


# Expiry warnings


async def warn_expiring(
    session: AsyncSession, *, tenant_id: int, now: datetime, until: datetime, limit: int
) -> tuple[int, list[tuple[int, int, datetime]]]:
    """Record a warning for posted lots with points left that expire before `until` and were not warned about;
    returns the number of lots and (member, points, soonest expiry) for each member warned now."""
    due = (
        select(Lot.tenant_id, Lot.id, Lot.member_id, Lot.remaining, Lot.expires_at)
        .where(
            of_tenant(Lot, tenant_id),
            Lot.status == LotStatus.posted,
            Lot.remaining > 0,
            Lot.expires_at > now,
            Lot.expires_at <= until,
            ~select(ExpiryWarning.lot_id)
            .where(ExpiryWarning.tenant_id == Lot.tenant_id, ExpiryWarning.lot_id == Lot.id)
            .exists(),
        )
        .order_by(Lot.expires_at, Lot.id)
        .limit(limit)
    )
    rows = (await session.execute(due)).all()
    if not rows:
        return 0, []
    await session.execute(
        insert(ExpiryWarning),
        [
            {
                "tenant_id": t,
                "lot_id": lot_id,
                "member_id": member_id,
                "points": points,
                "expires_at": expires,
                "created_at": now,
            }
            for t, lot_id, member_id, points, expires in rows
        ],
    )
    by_member: dict[int, tuple[int, datetime]] = {}
    for _t, _lot, member_id, points, expires in rows:
        assert expires is not None  # selected with expires_at > now
        total, soonest = by_member.get(member_id, (0, expires))
        by_member[member_id] = (total + points, min(soonest, expires))
    return len(rows), [(m, total, soonest) for m, (total, soonest) in sorted(by_member.items())]


async def expiring_soon(
    session: AsyncSession, *, tenant_id: int, member_id: int, now: datetime, until: datetime
) -> list[Lot]:
    rows = await session.scalars(
        select(Lot)
        .where(
            of_tenant(Lot, tenant_id),
            Lot.member_id == member_id,
            Lot.status == LotStatus.posted,
            Lot.remaining > 0,
            Lot.expires_at > now,
            Lot.expires_at <= until,
        )
        .order_by(Lot.expires_at)
    )
    return list(rows)


async def drop_warnings(session: AsyncSession, *, tenant_id: int, before: datetime) -> None:
    """Warnings of lots that have expired by now are no longer needed."""
    await session.execute(
        delete(ExpiryWarning).where(of_tenant(ExpiryWarning, tenant_id), ExpiryWarning.expires_at < before)
    )


# Many members at once (the console's member list)


async def tiers_of(session: AsyncSession, *, tenant_id: int, member_ids: Collection[int]) -> dict[int, Tier]:
    """The tier each member holds now; members without a tier are missing."""
    if not member_ids:
        return {}
    rows = await session.execute(
        select(MemberTier.member_id, Tier)
        .join(Tier, (Tier.tenant_id == MemberTier.tenant_id) & (Tier.id == MemberTier.tier_id))
        .where(of_tenant(MemberTier, tenant_id), MemberTier.member_id.in_(list(member_ids)))
    )
    return {key: value for key, value in rows.tuples()}  # noqa: C416 (a Result has keys(): dict() would misread it)


def holds_tier(
    tier_id: int | None, tenant_id: ColumnExpressionArgument[int], member_id: ColumnExpressionArgument[int]
) -> Exists:
    """In SQL: whether the member named by these columns holds this tier (`None`: any tier)."""
    statement = select(MemberTier.member_id).where(
        of_tenant(MemberTier, tenant_id), MemberTier.member_id == member_id, MemberTier.tier_id.is_not(None)
    )
    if tier_id is not None:
        statement = statement.where(MemberTier.tier_id == tier_id)
    return exists(statement)
