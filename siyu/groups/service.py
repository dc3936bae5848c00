"""Tiered fan groups: ops define WeChat groups with entry thresholds (tier, points, recent orders or spend) and a
cap; a full group overflows into the next one of its family (一群 → 二群). A fan sees, for each family, the group
she may join (the first one not full) with its QR code, or why she may not yet; she confirms with a tap that she
joined. Ops replace each group's QR code before it expires (WeChat group codes last 7 days). Nothing here
commits.

Her standing is read from the domains that own it: her tier from loyalty, her points from the ledger, her
recent orders from claims."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, false, or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.claims import service as claims
from siyu.groups import repository, rules
from siyu.groups.models import FanGroup, GroupMember
from siyu.groups.rules import QR_STATE_LABELS, Standing, Thresholds, TierRef
from siyu.groups.schemas import GroupIn, OverflowIn
from siyu.kit import images
from siyu.kit.errors import Conflict, InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.pagination import Page, PageRequest
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.members import service as members
from siyu.members.models import Member
from siyu.segments import service as segments

IMAGE_AREA = "group-qr"


class GroupNotFound(NotFound):
    code = "group_not_found"
    message = "找不到这个群"


class NotQualified(Conflict):
    code = "group_not_qualified"
    message = "暂时还不能加入这个群"


class GroupFull(Conflict):
    code = "group_full"
    message = "这个群已经满了，请刷新页面加入新开的群"


class HasOverflow(Conflict):
    code = "group_has_overflow"
    message = "这个群还有溢出群，请先删除溢出群"


class BadSegment(InvalidInput):
    code = "group_bad_segment"
    message = "请选择已有的会员分群"


class NotMainGroup(Conflict):
    code = "group_not_main"
    message = "溢出群沿用主群的进群条件，请在主群里修改"


# Groups (ops)


async def get_group(session: AsyncSession, *, tenant_id: int, group_id: int, lock: bool = False) -> FanGroup:
    group = await repository.get_group(session, tenant_id=tenant_id, group_id=group_id, lock=lock)
    if group is None:
        raise GroupNotFound()
    return group


async def _view(session: AsyncSession, group: FanGroup) -> dict[str, Any]:
    """A group as the audit log shows it (the tier by its name)."""
    tier = None
    if group.min_tier_id is not None:
        tier = (await _tiers(session, group.tenant_id)).get(group.min_tier_id)
    segment = None
    if group.segment_id is not None:
        segment = (await segments.names(session, tenant_id=group.tenant_id)).get(group.segment_id, "")
    return {
        "name": group.name,
        "intro": group.intro,
        "sort_order": group.sort_order,
        "min_tier": tier.name if tier is not None else None,
        "min_points": group.min_points,
        "min_orders": group.min_orders,
        "min_paid_fen": group.min_paid_fen,
        "segment": segment,
        "group_window_days": group.window_days,
        "group_cap": group.cap,
    }


async def _check_segment(session: AsyncSession, tenant_id: int, segment_id: int | None) -> None:
    if segment_id is not None and segment_id not in await segments.names(session, tenant_id=tenant_id):
        raise BadSegment()


async def create_group(session: AsyncSession, *, actor: Principal, data: GroupIn) -> FanGroup:
    if data.min_tier_id is not None:
        await loyalty.get_tier(session, tenant_id=actor.tenant_id, tier_id=data.min_tier_id)
    await _check_segment(session, actor.tenant_id, data.segment_id)
    group_id = new_id()
    group = FanGroup(tenant_id=actor.tenant_id, id=group_id, family_id=group_id, seq=1, **data.model_dump())
    repository.add(session, group)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="groups.create",
        target_type="fan_group",
        target_id=group.id,
        after=await _view(session, group),
    )
    return group


async def update_group(session: AsyncSession, *, actor: Principal, group_id: int, data: GroupIn) -> FanGroup:
    """Change a main group: its thresholds hold for its overflow groups too."""
    group = await get_group(session, tenant_id=actor.tenant_id, group_id=group_id, lock=True)
    if group.seq != 1:
        raise NotMainGroup()
    if data.min_tier_id is not None and data.min_tier_id != group.min_tier_id:
        await loyalty.get_tier(session, tenant_id=actor.tenant_id, tier_id=data.min_tier_id)
    if data.segment_id != group.segment_id:
        await _check_segment(session, actor.tenant_id, data.segment_id)
    before = await _view(session, group)
    for key, value in data.model_dump().items():
        setattr(group, key, value)
    await session.flush()
    audit.record_change(
        session,
        actor=actor,
        action="groups.update",
        target_type="fan_group",
        target_id=group.id,
        before=before,
        after=await _view(session, group),
    )
    return group


async def add_overflow(session: AsyncSession, *, actor: Principal, group_id: int, data: OverflowIn) -> FanGroup:
    """Open the next group of a family (二群 after 一群): fans see it once the ones before it are full."""
    main = await get_group(session, tenant_id=actor.tenant_id, group_id=group_id, lock=True)
    if main.seq != 1:
        main = await get_group(session, tenant_id=actor.tenant_id, group_id=main.family_id, lock=True)
    seq = await repository.last_seq(session, tenant_id=actor.tenant_id, family_id=main.id) + 1
    group = FanGroup(
        tenant_id=actor.tenant_id,
        id=new_id(),
        family_id=main.id,
        seq=seq,
        name=data.name,
        intro=main.intro,
        sort_order=main.sort_order,
        min_tier_id=None,
        min_points=None,
        min_orders=None,
        min_paid_fen=None,
        segment_id=None,
        window_days=main.window_days,
        cap=data.cap,
    )
    repository.add(session, group)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="groups.overflow",
        target_type="fan_group",
        target_id=group.id,
        after={"name": group.name, "group_cap": group.cap, "main_group": main.name, "seq": seq},
    )
    return group


async def update_overflow(session: AsyncSession, *, actor: Principal, group_id: int, data: OverflowIn) -> FanGroup:
    group = await get_group(session, tenant_id=actor.tenant_id, group_id=group_id, lock=True)
    if group.seq == 1:
        raise GroupNotFound("这个群不是溢出群")
    before = {"name": group.name, "group_cap": group.cap}
    group.name, group.cap = data.name, data.cap
    await session.flush()
    audit.record_change(
        session,
        actor=actor,
        action="groups.update",
        target_type="fan_group",
        target_id=group.id,
        before=before,
        after={"name": group.name, "group_cap": group.cap},
    )
    return group


async def delete_group(session: AsyncSession, *, actor: Principal, group_id: int) -> None:
    """Delete a group and the joins confirmed in it; a main group only once its overflow groups are gone."""
    group = await get_group(session, tenant_id=actor.tenant_id, group_id=group_id, lock=True)
    if group.seq == 1 and len(await repository.family(session, tenant_id=actor.tenant_id, family_id=group.id)) > 1:
        raise HasOverflow()
    before = {"name": group.name, "group_cap": group.cap}
    await repository.delete(session, group)
    await session.flush()
    audit.record(
        session, actor=actor, action="groups.delete", target_type="fan_group", target_id=group_id, before=before
    )


async def set_qr(session: AsyncSession, *, actor: Principal, group_id: int, data: bytes, data_dir: Path) -> FanGroup:
    """Replace a group's QR code: checked to be a picture (capped in size) before anything is kept; it is valid
    for 7 days from now, as WeChat makes it."""
    group = await get_group(session, tenant_id=actor.tenant_id, group_id=group_id, lock=True)
    stored = images.store(data_dir, IMAGE_AREA, actor.tenant_id, data)
    now = utcnow()
    before = {"qr_expires_at": group.qr_expires_at.isoformat() if group.qr_expires_at else None}
    group.qr_image, group.qr_uploaded_at = stored, now
    group.qr_expires_at = now + timedelta(days=rules.QR_DAYS)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="groups.qr",
        target_type="fan_group",
        target_id=group.id,
        before=before,
        after={"qr_expires_at": group.qr_expires_at.isoformat()},
    )
    return group


def qr_path(data_dir: Path, tenant_id: int, name: str | None) -> Path | None:
    return None if not name else images.path_of(data_dir, IMAGE_AREA, tenant_id, name)


def qr_state(group: FanGroup, now: datetime | None = None) -> str:
    return rules.qr_state(group.qr_expires_at, now or utcnow())


def qr_label(group: FanGroup, now: datetime | None = None) -> str:
    return QR_STATE_LABELS[qr_state(group, now)]


# What ops see


@dataclass(frozen=True)
class Family:
    main: FanGroup
    groups: list[FanGroup]  # the main group first, then its overflow groups in order
    counts: dict[int, int]  # confirmed members per group
    thresholds: list[str]

    @property
    def members(self) -> int:
        return sum(self.counts.get(g.id, 0) for g in self.groups)


async def _tiers(session: AsyncSession, tenant_id: int) -> dict[int, TierRef]:
    return {t.id: TierRef(t.id, t.name, t.threshold) for t in await loyalty.list_tiers(session, tenant_id=tenant_id)}


def _thresholds(group: FanGroup, tiers: dict[int, TierRef], segment_names: dict[int, str]) -> Thresholds:
    tier = tiers.get(group.min_tier_id) if group.min_tier_id is not None else None
    return Thresholds(
        min_tier=tier,
        tier_missing=group.min_tier_id is not None and tier is None,
        min_points=group.min_points,
        min_orders=group.min_orders,
        min_paid_fen=group.min_paid_fen,
        window_days=group.window_days,
        segment_id=group.segment_id,
        segment_name=segment_names.get(group.segment_id, "") if group.segment_id is not None else "",
        segment_missing=group.segment_id is not None and group.segment_id not in segment_names,
    )


async def thresholds_of(session: AsyncSession, group: FanGroup) -> Thresholds:
    return _thresholds(
        group, await _tiers(session, group.tenant_id), await segments.names(session, tenant_id=group.tenant_id)
    )


def _families(rows: list[FanGroup]) -> list[tuple[FanGroup, list[FanGroup]]]:
    by_family: dict[int, list[FanGroup]] = {}
    for row in rows:
        by_family.setdefault(row.family_id, []).append(row)
    found = [(g[0], g) for g in by_family.values() if g[0].seq == 1]
    return sorted(found, key=lambda f: (-f[0].sort_order, f[0].id))


async def overview(session: AsyncSession, *, tenant_id: int) -> list[Family]:
    """Every family of groups (higher sort order first), with member counts and thresholds in words."""
    rows = await repository.groups(session, tenant_id=tenant_id)
    counts = await repository.member_counts(session, tenant_id=tenant_id)
    tiers = await _tiers(session, tenant_id)
    names = await segments.names(session, tenant_id=tenant_id)
    return [
        Family(main, groups, counts, rules.describe(_thresholds(main, tiers, names)))
        for main, groups in _families(rows)
    ]


async def family_of(session: AsyncSession, *, tenant_id: int, group_id: int) -> Family:
    group = await get_group(session, tenant_id=tenant_id, group_id=group_id)
    for found in await overview(session, tenant_id=tenant_id):
        if found.main.id == group.family_id:
            return found
    raise GroupNotFound()


def qr_warnings(families: Sequence[Family], now: datetime | None = None) -> list[tuple[FanGroup, str]]:
    """Groups whose QR code is missing, expired or expires within a day, with what to do."""
    now = now or utcnow()
    return [
        (g, QR_STATE_LABELS[state])
        for f in families
        for g in f.groups
        if (state := rules.qr_state(g.qr_expires_at, now)) != "valid"
    ]


async def members_of(
    session: AsyncSession, *, tenant_id: int, family_id: int, page: PageRequest
) -> tuple[Page[GroupMember], dict[int, str]]:
    """Who confirmed she joined a group of the family (latest first), with nicknames."""
    found = await repository.members_page(session, tenant_id=tenant_id, family_id=family_id, page=page)
    names = await members.nicknames(session, tenant_id=tenant_id, member_ids=[m.member_id for m in found.items])
    return found, names


async def _conditions(session: AsyncSession, main: FanGroup) -> list[ColumnElement[bool]]:
    """The family's thresholds as SQL conditions over a member's columns, through the domains that own them."""
    tenant_col, member_col = Member.tenant_id, Member.id
    tiers = await _tiers(session, main.tenant_id)
    needed = _thresholds(main, tiers, await segments.names(session, tenant_id=main.tenant_id))
    conditions: list[ColumnElement[bool]] = [~repository.joined_family(main.id, tenant_col, member_col)]
    if needed.tier_missing:
        conditions.append(false())
    if needed.segment_id is not None:
        conditions.append(await segments.condition_of(session, tenant_id=main.tenant_id, segment_id=needed.segment_id))
    if needed.min_tier is not None:
        floor = needed.min_tier.threshold
        high_enough = [loyalty.holds_tier(t.id, tenant_col, member_col) for t in tiers.values() if t.threshold >= floor]
        conditions.append(or_(*high_enough) if high_enough else false())
    if needed.min_points is not None:
        conditions.append(ledger.available_of(tenant_col, member_col) >= needed.min_points)
    since = utcnow() - timedelta(days=main.window_days)
    if needed.min_orders is not None:
        conditions.append(claims.orders_since(tenant_col, member_col, since) >= needed.min_orders)
    if needed.min_paid_fen is not None:
        conditions.append(claims.paid_fen_since(tenant_col, member_col, since) >= needed.min_paid_fen)
    return conditions


async def candidates(session: AsyncSession, *, tenant_id: int, family_id: int, page: PageRequest) -> Page[Member]:
    """Members who qualify for the family but have not confirmed joining any of its groups (newest first)."""
    main = await get_group(session, tenant_id=tenant_id, group_id=family_id)
    return await members.search(
        session, tenant_id=tenant_id, query=None, page=page, where=await _conditions(session, main)
    )


async def remove_member(session: AsyncSession, *, actor: Principal, group_id: int, member_id: int) -> None:
    """Take a member off a family's list (she left the WeChat group): she may confirm joining again."""
    group = await get_group(session, tenant_id=actor.tenant_id, group_id=group_id)
    row = await repository.membership(
        session, tenant_id=actor.tenant_id, family_id=group.family_id, member_id=member_id
    )
    if row is None:
        raise NotFound("这位会员不在这个群里", code="group_member_not_found")
    await repository.delete(session, row)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="groups.remove_member",
        target_type="fan_group",
        target_id=row.group_id,
        before={"member_id": member_id},
    )


# What a fan sees


async def standing_of(
    session: AsyncSession, *, tenant_id: int, member_id: int, windows: Sequence[int], now: datetime | None = None
) -> dict[int, Standing]:
    """Her standing for each window of days: tier, available points, credited orders and paid fen within it."""
    now = now or utcnow()
    tier = (await loyalty.tiers_of(session, tenant_id=tenant_id, member_ids=[member_id])).get(member_id)
    points = (await ledger.balances(session, tenant_id=tenant_id, member_ids=[member_id])).get(member_id)
    found = {}
    for days in sorted(set(windows)):
        bought = await claims.buying_since(
            session, tenant_id=tenant_id, member_ids=[member_id], since=now - timedelta(days=days)
        )
        orders, fen = bought.get(member_id, (0, 0))
        found[days] = Standing(
            tier=TierRef(tier.id, tier.name, tier.threshold) if tier is not None else None,
            points=points.available if points is not None else 0,
            orders=orders,
            paid_fen=fen,
        )
    return found


async def _in_segment(session: AsyncSession, needed: Thresholds, tenant_id: int, member_id: int) -> bool:
    """Whether she is in the group's segment now (asked of siyu.segments only when the group has one)."""
    if needed.segment_id is None or needed.segment_missing:
        return False
    return await segments.contains(session, tenant_id=tenant_id, segment_id=needed.segment_id, member_id=member_id)


@dataclass(frozen=True)
class FanView:
    group: FanGroup  # the one she joined, else the first not full (the last one when all are full)
    main: FanGroup
    thresholds: list[str]
    reasons: list[str]  # empty: she qualifies
    joined: bool
    full: bool
    qr_ok: bool  # the group's QR code is there and not expired

    @property
    def qualified(self) -> bool:
        return not self.reasons

    @property
    def shows_qr(self) -> bool:
        return self.qualified and not self.joined and not self.full and self.qr_ok

    @property
    def message(self) -> str:
        if self.joined:
            return "你已在这个群里"
        if not self.qualified:
            return "暂时还不能加入：" + "，".join(self.reasons)
        if self.full:
            return "这一档的群都满了，新群开放后会显示在这里"
        if not self.qr_ok:
            return "群二维码更新中，请稍后再来"
        return "长按识别二维码加入，进群后点“我已入群”"


async def fan_groups(
    session: AsyncSession, *, tenant_id: int, member_id: int | None, now: datetime | None = None
) -> list[FanView]:
    """Every family as she sees it; signed out she sees the thresholds only (everything as not qualified)."""
    now = now or utcnow()
    rows = await repository.groups(session, tenant_id=tenant_id)
    if not rows:
        return []
    counts = await repository.member_counts(session, tenant_id=tenant_id)
    tiers = await _tiers(session, tenant_id)
    names = await segments.names(session, tenant_id=tenant_id)
    joined: dict[int, int] = {}
    standing: dict[int, Standing] = {}
    if member_id is not None:
        joined = {
            m.family_id: m.group_id
            for m in await repository.memberships_of(session, tenant_id=tenant_id, member_id=member_id)
        }
        standing = await standing_of(
            session,
            tenant_id=tenant_id,
            member_id=member_id,
            windows=[r.window_days for r in rows if r.seq == 1],
            now=now,
        )
    views = []
    for main, groups in _families(rows):
        needed = _thresholds(main, tiers, names)
        if member_id is None:
            reasons = ["登录后查看"]
        else:
            hers = replace(
                standing[main.window_days], in_segment=await _in_segment(session, needed, tenant_id, member_id)
            )
            reasons = rules.shortfalls(needed, hers)
        mine = next((g for g in groups if g.id == joined.get(main.id)), None)
        open_group = next((g for g in groups if counts.get(g.id, 0) < g.cap), None)
        shown = mine or open_group or groups[-1]
        views.append(
            FanView(
                group=shown,
                main=main,
                thresholds=rules.describe(needed, for_fans=True),
                reasons=reasons,
                joined=mine is not None,
                full=mine is None and open_group is None,
                qr_ok=rules.qr_state(shown.qr_expires_at, now) in ("valid", "expiring") and bool(shown.qr_image),
            )
        )
    return views


async def fan_can_see_qr(session: AsyncSession, *, tenant_id: int, member_id: int, group_id: int) -> FanGroup:
    """The group whose QR code she may see: the one offered to her (qualified, not full, not joined)."""
    for view in await fan_groups(session, tenant_id=tenant_id, member_id=member_id):
        if view.group.id == group_id and view.shows_qr:
            return view.group
    raise GroupNotFound("这个群的二维码现在不能查看")


async def join(session: AsyncSession, *, tenant_id: int, member_id: int, group_id: int) -> GroupMember:
    """She confirms she joined a group: once per family (a second tap is the same join). Refused when she does not
    qualify or the group is full; the family's main group is locked so that two joins never pass the cap."""
    group = await get_group(session, tenant_id=tenant_id, group_id=group_id)
    main = await get_group(session, tenant_id=tenant_id, group_id=group.family_id, lock=True)
    existing = await repository.membership(session, tenant_id=tenant_id, family_id=main.id, member_id=member_id)
    if existing is not None:
        return existing
    needed = await thresholds_of(session, main)
    standing = await standing_of(session, tenant_id=tenant_id, member_id=member_id, windows=[main.window_days])
    hers = replace(standing[main.window_days], in_segment=await _in_segment(session, needed, tenant_id, member_id))
    reasons = rules.shortfalls(needed, hers)
    if reasons:
        raise NotQualified("暂时还不能加入：" + "，".join(reasons), reasons=reasons)
    if await repository.count_in_group(session, tenant_id=tenant_id, group_id=group.id) >= group.cap:
        raise GroupFull()
    row = GroupMember(
        tenant_id=tenant_id, id=new_id(), family_id=main.id, group_id=group.id, member_id=member_id, joined_at=utcnow()
    )
    try:
        async with session.begin_nested():
            repository.add(session, row)
            await session.flush()
    except IntegrityError:  # a second tap at the same moment: hers already
        found = await repository.membership(session, tenant_id=tenant_id, family_id=main.id, member_id=member_id)
        assert found is not None
        return found
    return row
