"""Member tags and saved segments: ops tag members by hand or by rules, save filters over members (tier, RFM segment,
tags, platforms, points, claims, city, joining, live reservations), count them on a schedule and on demand, and act
on a segment (its members, an export, a tag, a notice, a fan group's or a trial's entry condition). Nothing here
commits.

A filter becomes SQL conditions over a member's columns, each one asked of the domain that owns the data (her tier
of loyalty, her points of the ledger, her claims of claims, her addresses of the mall, her reservations of live, her
RFM segment of analytics), so no query here names another domain's table."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, bindparam, false, or_, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.analytics import service as analytics
from siyu.audit import service as audit
from siyu.claims import lookup as claims_lookup
from siyu.claims import service as claims
from siyu.jobs import service as jobs
from siyu.kit.errors import Conflict, InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.pagination import Page, PageRequest, Sort
from siyu.kit.spreadsheet import xlsx_bytes
from siyu.kit.time import format_local, utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.live import service as live
from siyu.loyalty import service as loyalty
from siyu.mall import service as mall
from siyu.members import service as members
from siyu.members.models import Member
from siyu.segments import repository
from siyu.segments.models import Segment, SegmentSend, Tag, TagSource
from siyu.segments.schemas import NoticeIn, SegmentFilter, SegmentIn, TagIn
from siyu.tenants import service as tenants
from siyu.tenants.models import PLATFORM_LABELS

SEND_JOB = "segments.send"
REFRESH_JOB = "segments.refresh"
BATCH = 1000
NOTICE_KIND = "segment_message"


class TagNotFound(NotFound):
    code = "tag_not_found"
    message = "找不到这个标签"


class SegmentNotFound(NotFound):
    code = "segment_not_found"
    message = "找不到这个分群"


class TagNameTaken(Conflict):
    code = "tag_name_taken"
    message = "已经有同名的标签了"


class SegmentNameTaken(Conflict):
    code = "segment_name_taken"
    message = "已经有同名的分群了"


class BadFilter(InvalidInput):
    code = "segment_bad_filter"
    message = "筛选条件里有已经不存在的等级、标签或直播"


class RuleNamesItself(InvalidInput):
    code = "tag_rule_names_itself"
    message = "标签规则不能用这个标签自己作条件"


class MemberNotFound(NotFound):
    code = "member_not_found"
    message = "找不到这位会员"


def _system(tenant_id: int) -> Principal:
    return Principal(tenant_id=tenant_id, kind="system", actor_id=None, label="定时任务")


# A filter as SQL conditions over a member's columns


@dataclass(frozen=True)
class Scope:
    """What evaluating a filter needs besides the filter: the tenant, its local days and its analytics snapshot."""

    tenant_id: int
    timezone: str
    directory: Path  # the tenants' analytics snapshots (for RFM segments)
    now: datetime
    member_id: int | None = None  # asked about one member only: lists of members are cut down to her
    among: frozenset[int] | None = None  # asked about these members only: lists of members are cut down to them


async def scope_of(
    session: AsyncSession, *, tenant_id: int, data_dir: Path | None = None, now: datetime | None = None
) -> Scope:
    tenant = await tenants.get_tenant(session, tenant_id)
    return Scope(tenant_id, tenant.timezone, analytics.directory_of(data_dir), now or utcnow())


def _day_start(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(), ZoneInfo(timezone)).astimezone(ZoneInfo("UTC"))


def _window(first: date | None, last: date | None, timezone: str) -> tuple[datetime | None, datetime | None]:
    """Local days [first, last] as UTC [start, end)."""
    start = _day_start(first, timezone) if first is not None else None
    end = _day_start(last + timedelta(days=1), timezone) if last is not None else None
    return start, end


def _among(ids: Collection[int], scope: Scope) -> ColumnElement[bool]:
    """The member is one of these (rendered into the statement: a long list needs no thousands of parameters; when
    some members are asked about, only which of them are in it)."""
    if scope.member_id is not None:
        chosen = [scope.member_id] if scope.member_id in ids else []
    elif scope.among is not None:
        chosen = sorted(scope.among.intersection(ids))
    else:
        chosen = sorted(ids)
    if not chosen:
        return false()
    return Member.id.in_(bindparam("segment_rfm_ids", value=chosen, expanding=True, literal_execute=True))


async def conditions(session: AsyncSession, scope: Scope, rules: SegmentFilter) -> list[ColumnElement[bool]]:
    """The filter's criteria as conditions over `Member`'s columns, each asked of the domain that owns it."""
    t, m = Member.tenant_id, Member.id
    found: list[ColumnElement[bool]] = []
    if rules.tier_ids:
        found.append(or_(*[loyalty.holds_tier(tier_id, t, m) for tier_id in rules.tier_ids]))
    if rules.rfm:
        ids = await analytics.rfm_members(
            session, tenant_id=scope.tenant_id, directory=scope.directory, keys=list(rules.rfm), now=scope.now
        )
        found.append(_among(ids, scope))
    if rules.tags_any:
        found.append(repository.has_tags(rules.tags_any, t, m))
    if rules.tags_none:
        found.append(~repository.has_tags(rules.tags_none, t, m))
    if rules.platforms:
        kinds = [kind for p in rules.platforms for _, kind in claims.ORDER_ACCOUNTS.get(p, ())]
        either = [claims.claimed_on_platforms([str(p) for p in rules.platforms], t, m)]
        if kinds:
            either.append(members.has_identity(kinds, t, m))
        found.append(or_(*either))
    if rules.points_min:  # (at least 0: everyone)
        found.append(ledger.holds_more_than(rules.points_min - 1, t, m))
    if rules.points_max is not None:  # (without a balance she has 0)
        found.append(~ledger.holds_more_than(rules.points_max, t, m))
    if rules.last_claim_from is not None or rules.last_claim_to is not None:
        # her last claim falls in [start, end): she claimed in it and not after it (as EXISTS tests the database
        # answers a million members with one pass over the claims, where her latest claim asked per member did not)
        start, end = _window(rules.last_claim_from, rules.last_claim_to, scope.timezone)
        found.append(claims.claimed_within(t, m, start, end))
        if end is not None:
            found.append(~claims.claimed_within(t, m, end, None))
    if rules.no_claim_days is not None:
        found.append(~claims.claimed_within(t, m, scope.now - timedelta(days=rules.no_claim_days), None))
    if rules.cities:
        found.append(mall.lives_in(rules.cities, t, m))
    if rules.joined_from is not None or rules.joined_to is not None:
        found.extend(members.joined_within(*_window(rules.joined_from, rules.joined_to, scope.timezone)))
    if rules.live_show_id is not None:
        found.append(live.reserved(t, m, show_id=rules.live_show_id))
    if rules.live_from is not None or rules.live_to is not None:
        start, end = _window(rules.live_from, rules.live_to, scope.timezone)
        found.append(live.reserved(t, m, start=start, end=end))
    return found


def parse_filter(raw: Any) -> SegmentFilter:
    """A stored filter (JSON) as a filter; one that no longer reads matches nobody."""
    try:
        return SegmentFilter.model_validate(raw or {})
    except ValueError:
        return SegmentFilter(live_show_id=2**63 - 1)  # (no show has this id: nobody)


def _stored(rules: SegmentFilter) -> dict[str, Any]:
    return rules.model_dump(mode="json", exclude_defaults=True)


# Criteria the analytics snapshot answers as well (what members bought and claimed, when they joined, their points).
KNOWN_TO_SNAPSHOT = frozenset(
    {
        "rfm",
        "platforms",
        "last_claim_from",
        "last_claim_to",
        "no_claim_days",
        "joined_from",
        "joined_to",
        "points_min",
        "points_max",
    }
)


def known_to_snapshot(scope: Scope, rules: SegmentFilter) -> tuple[analytics.Known | None, SegmentFilter]:
    """The filter split in two: its criteria the analytics snapshot answers (None: it has none), and the rest."""
    given = set(rules.model_dump(exclude_defaults=True))
    if not given & KNOWN_TO_SNAPSHOT:
        return None, rules
    claimed_from, claimed_before = _window(rules.last_claim_from, rules.last_claim_to, scope.timezone)
    joined_from, joined_before = _window(rules.joined_from, rules.joined_to, scope.timezone)
    known = analytics.Known(
        rfm=tuple(rules.rfm),
        platforms=tuple(str(p) for p in rules.platforms),
        account_kinds=tuple(str(kind) for p in rules.platforms for _, kind in claims.ORDER_ACCOUNTS.get(p, ())),
        claimed_from=claimed_from,
        claimed_before=claimed_before,
        no_claim_since=None if rules.no_claim_days is None else scope.now - timedelta(days=rules.no_claim_days),
        joined_from=joined_from,
        joined_before=joined_before,
        points_min=rules.points_min,
        points_max=rules.points_max,
    )
    rest = rules.model_copy(
        update={
            name: SegmentFilter.model_fields[name].get_default(call_default_factory=True)
            for name in given & KNOWN_TO_SNAPSHOT
        }
    )
    return known, rest


async def count_matching(session: AsyncSession, scope: Scope, rules: SegmentFilter) -> int:
    """How many members the filter matches. Its criteria on what members bought and claimed, when they joined and
    their points are answered by the analytics snapshot (as of its last refresh: column scans, where the database
    would read every claim), the others by the database as of now, and the two sets meet in the snapshot; while the
    tenant has no snapshot, the database answers for all of them."""
    known, rest = known_to_snapshot(scope, rules)
    if known is not None and scope.member_id is None:
        among = None
        if rest.model_dump(exclude_defaults=True):
            where = await conditions(session, scope, rest)
            among = members.id_frames_where(session, tenant_id=scope.tenant_id, where=where)
        counted = await analytics.count_known(
            session, tenant_id=scope.tenant_id, directory=scope.directory, known=known, now=scope.now, among=among
        )
        if counted is not None:
            return counted
    return await members.count_where(session, tenant_id=scope.tenant_id, where=await conditions(session, scope, rules))


async def matching_ids(session: AsyncSession, scope: Scope, rules: SegmentFilter) -> AsyncIterator[list[int]]:
    """Every matching member's id, batch by batch in id order."""
    where = await conditions(session, scope, rules)
    after = 0
    while True:
        batch = await members.ids_where(session, tenant_id=scope.tenant_id, where=where, after=after, size=BATCH)
        if batch:
            yield batch
        if len(batch) < BATCH:
            return
        after = batch[-1]


async def _check_filter(session: AsyncSession, tenant_id: int, rules: SegmentFilter) -> None:
    """Everything the filter names exists in the tenant."""
    if rules.tier_ids:
        known = {t.id for t in await loyalty.list_tiers(session, tenant_id=tenant_id)}
        if not set(rules.tier_ids) <= known:
            raise BadFilter("请选择已有的会员等级", code="segment_bad_tier")
    named_tags = set(rules.tags_any) | set(rules.tags_none)
    if named_tags:
        known = {t.id for t in await repository.tags(session, tenant_id=tenant_id)}
        if not named_tags <= known:
            raise BadFilter("请选择已有的标签", code="segment_bad_tag")
    if rules.live_show_id is not None:
        try:
            await live.get_show(session, tenant_id=tenant_id, show_id=rules.live_show_id)
        except NotFound:
            raise BadFilter("请选择已有的直播", code="segment_bad_show") from None


# A filter in words


@dataclass(frozen=True)
class Names:
    tiers: dict[int, str]
    tags: dict[int, str]
    shows: dict[int, str]


async def names_of(session: AsyncSession, *, tenant_id: int, filters: Sequence[SegmentFilter] = ()) -> Names:
    shows: dict[int, str] = {}
    for rules in filters:
        if rules.live_show_id is not None and rules.live_show_id not in shows:
            try:
                show = await live.get_show(session, tenant_id=tenant_id, show_id=rules.live_show_id)
                shows[show.id] = show.title
            except NotFound:
                pass
    return Names(
        tiers={t.id: t.name for t in await loyalty.list_tiers(session, tenant_id=tenant_id)},
        tags={t.id: t.name for t in await repository.tags(session, tenant_id=tenant_id)},
        shows=shows,
    )


def _days(first: date | None, last: date | None) -> str:
    if first is not None and last is not None:
        return f"{first:%Y-%m-%d} 至 {last:%Y-%m-%d}"
    if first is not None:
        return f"{first:%Y-%m-%d} 及以后"
    return f"{last:%Y-%m-%d} 及以前"


def describe(rules: SegmentFilter, names: Names) -> list[str]:
    """The filter in words, one line per criterion (none: every member)."""
    said: list[str] = []
    gone = "（已删除）"
    if rules.tier_ids:
        said.append("会员等级：" + "、".join(names.tiers.get(i, gone) for i in rules.tier_ids))
    if rules.rfm:
        said.append("会员价值：" + "、".join(analytics.SEGMENT_NAMES.get(k, k) for k in rules.rfm))
    if rules.tags_any:
        said.append("有标签（任一）：" + "、".join(names.tags.get(i, gone) for i in rules.tags_any))
    if rules.tags_none:
        said.append("没有标签：" + "、".join(names.tags.get(i, gone) for i in rules.tags_none))
    if rules.platforms:
        said.append("平台：" + "、".join(PLATFORM_LABELS.get(p, p) for p in rules.platforms))
    if rules.points_min is not None and rules.points_max is not None:
        said.append(f"可用积分 {rules.points_min} 至 {rules.points_max}")
    elif rules.points_min is not None:
        said.append(f"可用积分不少于 {rules.points_min}")
    elif rules.points_max is not None:
        said.append(f"可用积分不多于 {rules.points_max}")
    if rules.last_claim_from is not None or rules.last_claim_to is not None:
        said.append("最近一次订单换积分：" + _days(rules.last_claim_from, rules.last_claim_to))
    if rules.no_claim_days is not None:
        said.append(f"近 {rules.no_claim_days} 天没有订单换积分")
    if rules.cities:
        said.append("收货城市：" + "、".join(rules.cities))
    if rules.joined_from is not None or rules.joined_to is not None:
        said.append("入会时间：" + _days(rules.joined_from, rules.joined_to))
    if rules.live_show_id is not None:
        said.append(f"预约了直播：{names.shows.get(rules.live_show_id, '（已删除的直播）')}")
    if rules.live_from is not None or rules.live_to is not None:
        said.append("预约了开播时间在 " + _days(rules.live_from, rules.live_to) + " 的直播")
    return said


# Tags


async def get_tag(session: AsyncSession, *, tenant_id: int, tag_id: int) -> Tag:
    tag = await repository.get_tag(session, tenant_id=tenant_id, tag_id=tag_id)
    if tag is None:
        raise TagNotFound()
    return tag


async def list_tags(session: AsyncSession, *, tenant_id: int) -> list[Tag]:
    return await repository.tags(session, tenant_id=tenant_id)


async def tag_counts(session: AsyncSession, *, tenant_id: int) -> dict[int, int]:
    return await repository.tag_counts(session, tenant_id=tenant_id)


def _tag_view(tag: Tag) -> dict[str, Any]:
    return {"name": tag.name, "color": tag.color}


async def _unique_tag_name(session: AsyncSession, tenant_id: int, name: str, tag_id: int | None) -> None:
    same = await repository.tag_named(session, tenant_id=tenant_id, name=name)
    if same is not None and same.id != tag_id:
        raise TagNameTaken()


async def create_tag(session: AsyncSession, *, actor: Principal, data: TagIn) -> Tag:
    await _unique_tag_name(session, actor.tenant_id, data.name, None)
    tag = Tag(tenant_id=actor.tenant_id, id=new_id(), name=data.name, color=data.color, rule=None)
    repository.add(session, tag)
    await session.flush()
    audit.record(session, actor=actor, action="tags.create", target_type="tag", target_id=tag.id, after=_tag_view(tag))
    return tag


async def update_tag(session: AsyncSession, *, actor: Principal, tag_id: int, data: TagIn) -> Tag:
    tag = await get_tag(session, tenant_id=actor.tenant_id, tag_id=tag_id)
    await _unique_tag_name(session, actor.tenant_id, data.name, tag.id)
    before = _tag_view(tag)
    tag.name, tag.color = data.name, data.color
    await session.flush()
    audit.record_change(
        session,
        actor=actor,
        action="tags.update",
        target_type="tag",
        target_id=tag.id,
        before=before,
        after=_tag_view(tag),
    )
    return tag


async def delete_tag(session: AsyncSession, *, actor: Principal, tag_id: int) -> None:
    """Delete a tag: it comes off every member. Segments that name it no longer match on it."""
    tag = await get_tag(session, tenant_id=actor.tenant_id, tag_id=tag_id)
    count = (await repository.tag_counts(session, tenant_id=actor.tenant_id)).get(tag.id, 0)
    before = {**_tag_view(tag), "members": count}
    await repository.delete_row(session, tag)
    await session.flush()
    audit.record(session, actor=actor, action="tags.delete", target_type="tag", target_id=tag_id, before=before)


async def tags_of_members(
    session: AsyncSession, *, tenant_id: int, member_ids: Sequence[int]
) -> dict[int, list[tuple[Tag, str]]]:
    return await repository.tags_of_members(session, tenant_id=tenant_id, member_ids=member_ids)


async def add_tag(session: AsyncSession, *, actor: Principal, tag_id: int, member_ids: Sequence[int]) -> int:
    """Put a tag on these members by hand (one audit entry per member when a few, one for the lot when many); a tag
    the rule put on becomes a hand-put one (the rule no longer takes it off). Returns how many newly got it."""
    tag = await get_tag(session, tenant_id=actor.tenant_id, tag_id=tag_id)
    wanted = sorted(set(member_ids))
    known = set((await members.joined_at(session, tenant_id=actor.tenant_id, member_ids=wanted)).keys())
    if set(wanted) - known:
        raise MemberNotFound()
    has = await repository.tagged(session, tenant_id=actor.tenant_id, tag_id=tag.id, member_ids=wanted)
    new = [m for m in wanted if m not in has]
    by_rule = [m for m, source in has.items() if source == TagSource.rule]
    await repository.put_tags(
        session, tenant_id=actor.tenant_id, tag_id=tag.id, member_ids=new, source=TagSource.manual, now=utcnow()
    )
    await repository.mark_manual(session, tenant_id=actor.tenant_id, tag_id=tag.id, member_ids=by_rule)
    for member_id in new if len(new) <= 20 else []:
        audit.record(
            session, actor=actor, action="tags.add", target_type="member", target_id=member_id, after={"tag": tag.name}
        )
    if len(new) > 20:
        audit.record(
            session, actor=actor, action="tags.bulk", target_type="tag", target_id=tag.id, after={"tagged": len(new)}
        )
    await session.flush()
    return len(new)


async def remove_tag(session: AsyncSession, *, actor: Principal, tag_id: int, member_ids: Sequence[int]) -> int:
    """Take a tag off these members (however it came; a rule puts it back at its next refresh if they still
    match). Returns how many lost it."""
    tag = await get_tag(session, tenant_id=actor.tenant_id, tag_id=tag_id)
    wanted = sorted(set(member_ids))
    has = await repository.tagged(session, tenant_id=actor.tenant_id, tag_id=tag.id, member_ids=wanted)
    removed = await repository.take_tags(session, tenant_id=actor.tenant_id, tag_id=tag.id, member_ids=list(has))
    for member_id in sorted(has) if len(has) <= 20 else []:
        audit.record(
            session,
            actor=actor,
            action="tags.remove",
            target_type="member",
            target_id=member_id,
            before={"tag": tag.name},
        )
    if len(has) > 20:
        audit.record(
            session, actor=actor, action="tags.bulk", target_type="tag", target_id=tag.id, after={"untagged": removed}
        )
    await session.flush()
    return removed


async def set_rule(
    session: AsyncSession, *, actor: Principal, tag_id: int, rule: SegmentFilter | None, data_dir: Path | None = None
) -> tuple[Tag, tuple[int, int]]:
    """Give a tag a rule (or take it away: the tags the rule put on stay until taken off by hand), and apply it at
    once. Returns the tag and (added, removed)."""
    tag = await get_tag(session, tenant_id=actor.tenant_id, tag_id=tag_id)
    if rule is not None:
        if tag.id in rule.tags_any or tag.id in rule.tags_none:
            raise RuleNamesItself()
        await _check_filter(session, actor.tenant_id, rule)
    names = await names_of(session, tenant_id=actor.tenant_id, filters=[r for r in (rule, _rule_of(tag)) if r])
    before = {"rule": "；".join(describe(_rule_of(tag), names)) if tag.rule is not None else None}
    tag.rule = _stored(rule) if rule is not None else None
    if rule is None:
        tag.rule_refreshed_at = None
    await session.flush()
    audit.record_change(
        session,
        actor=actor,
        action="tags.rule",
        target_type="tag",
        target_id=tag.id,
        before=before,
        after={"rule": "；".join(describe(rule, names)) if rule is not None else None},
    )
    changed = (0, 0)
    if rule is not None:
        changed = await refresh_rule(session, actor=actor, tag_id=tag.id, data_dir=data_dir)
    return tag, changed


def _rule_of(tag: Tag) -> SegmentFilter:
    return parse_filter(tag.rule) if tag.rule is not None else SegmentFilter()


def rule_of(tag: Tag) -> SegmentFilter | None:
    return parse_filter(tag.rule) if tag.rule is not None else None


async def refresh_rule(
    session: AsyncSession,
    *,
    actor: Principal | None = None,
    tenant_id: int | None = None,
    tag_id: int,
    data_dir: Path | None = None,
    now: datetime | None = None,
) -> tuple[int, int]:
    """Apply a tag's rule now: members who match and lack the tag get it; those the rule tagged who no longer match
    lose it (a tag put on by hand stays). Audited when something changed. Returns (added, removed)."""
    tenant_id = actor.tenant_id if actor is not None else int(tenant_id or 0)
    tag = await get_tag(session, tenant_id=tenant_id, tag_id=tag_id)
    if tag.rule is None:
        return 0, 0
    now = now or utcnow()
    scope = await scope_of(session, tenant_id=tenant_id, data_dir=data_dir, now=now)
    matching: set[int] = set()
    async for batch in matching_ids(session, scope, parse_filter(tag.rule)):
        matching.update(batch)
    by_rule = await repository.rule_tagged(session, tenant_id=tenant_id, tag_id=tag.id)
    has_any = await repository.tagged(session, tenant_id=tenant_id, tag_id=tag.id, member_ids=matching)
    new = matching - set(has_any)
    gone = by_rule - matching
    await repository.put_tags(
        session, tenant_id=tenant_id, tag_id=tag.id, member_ids=new, source=TagSource.rule, now=now
    )
    removed = await repository.take_tags(
        session, tenant_id=tenant_id, tag_id=tag.id, member_ids=gone, source=TagSource.rule
    )
    tag.rule_refreshed_at = now
    await session.flush()
    if new or removed:
        audit.record(
            session,
            actor=actor or _system(tenant_id),
            action="tags.rule_refresh",
            target_type="tag",
            target_id=tag.id,
            after={"tagged": len(new), "untagged": removed},
        )
    return len(new), removed


async def follow_merge(session: AsyncSession, tenant_id: int, from_member_id: int, into_member_id: int) -> int:
    """A merged member's tags go with her into the member she became."""
    return await repository.move_tags(
        session, tenant_id=tenant_id, from_member_id=from_member_id, into_member_id=into_member_id
    )


# Segments


async def get_segment(session: AsyncSession, *, tenant_id: int, segment_id: int) -> Segment:
    segment = await repository.get_segment(session, tenant_id=tenant_id, segment_id=segment_id)
    if segment is None:
        raise SegmentNotFound()
    return segment


async def list_segments(session: AsyncSession, *, tenant_id: int) -> list[Segment]:
    return await repository.segments(session, tenant_id=tenant_id)


def filter_of(segment: Segment) -> SegmentFilter:
    return parse_filter(segment.filter)


async def _segment_view(session: AsyncSession, segment: Segment) -> dict[str, Any]:
    rules = filter_of(segment)
    names = await names_of(session, tenant_id=segment.tenant_id, filters=[rules])
    words = "；".join(describe(rules, names)) or "全部会员"
    return {"name": segment.name, "description": segment.description, "filter": words}


async def _unique_segment_name(session: AsyncSession, tenant_id: int, name: str, segment_id: int | None) -> None:
    same = await repository.segment_named(session, tenant_id=tenant_id, name=name)
    if same is not None and same.id != segment_id:
        raise SegmentNameTaken()


async def create_segment(
    session: AsyncSession, *, actor: Principal, data: SegmentIn, data_dir: Path | None = None
) -> Segment:
    """Save a segment and count it at once."""
    await _unique_segment_name(session, actor.tenant_id, data.name, None)
    await _check_filter(session, actor.tenant_id, data.filter)
    now = utcnow()
    segment = Segment(
        tenant_id=actor.tenant_id,
        id=new_id(),
        name=data.name,
        description=data.description,
        filter=_stored(data.filter),
        created_at=now,
        updated_at=now,
    )
    repository.add(session, segment)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="segments.create",
        target_type="segment",
        target_id=segment.id,
        after=await _segment_view(session, segment),
    )
    await refresh_count(session, tenant_id=actor.tenant_id, segment_id=segment.id, data_dir=data_dir)
    return segment


async def update_segment(
    session: AsyncSession, *, actor: Principal, segment_id: int, data: SegmentIn, data_dir: Path | None = None
) -> Segment:
    segment = await get_segment(session, tenant_id=actor.tenant_id, segment_id=segment_id)
    await _unique_segment_name(session, actor.tenant_id, data.name, segment.id)
    await _check_filter(session, actor.tenant_id, data.filter)
    before = await _segment_view(session, segment)
    segment.name, segment.description, segment.filter = data.name, data.description, _stored(data.filter)
    segment.updated_at = utcnow()
    await session.flush()
    audit.record_change(
        session,
        actor=actor,
        action="segments.update",
        target_type="segment",
        target_id=segment.id,
        before=before,
        after=await _segment_view(session, segment),
    )
    await refresh_count(session, tenant_id=actor.tenant_id, segment_id=segment.id, data_dir=data_dir)
    return segment


async def delete_segment(session: AsyncSession, *, actor: Principal, segment_id: int) -> None:
    """Delete a segment. Fan groups and trials that admit only its members admit nobody until changed."""
    segment = await get_segment(session, tenant_id=actor.tenant_id, segment_id=segment_id)
    before = await _segment_view(session, segment)
    await repository.delete_row(session, segment)
    await session.flush()
    audit.record(
        session, actor=actor, action="segments.delete", target_type="segment", target_id=segment_id, before=before
    )


async def refresh_count(
    session: AsyncSession, *, tenant_id: int, segment_id: int, data_dir: Path | None = None, now: datetime | None = None
) -> Segment:
    """Count the segment's members now and keep the count with its time."""
    segment = await get_segment(session, tenant_id=tenant_id, segment_id=segment_id)
    scope = await scope_of(session, tenant_id=tenant_id, data_dir=data_dir, now=now)
    segment.member_count = await count_matching(session, scope, filter_of(segment))
    segment.counted_at = scope.now
    await session.flush()
    return segment


async def refresh_tenant(session: AsyncSession, *, tenant_id: int, data_dir: Path | None = None) -> dict[str, int]:
    """Every tag rule of the tenant applied, then every segment counted (tags first: segments may name them)."""
    changed = 0
    for tag in await repository.tags_with_rules(session, tenant_id=tenant_id):
        added, removed = await refresh_rule(session, tenant_id=tenant_id, tag_id=tag.id, data_dir=data_dir)
        changed += added + removed
    counted = 0
    for segment in await repository.segments(session, tenant_id=tenant_id):
        await refresh_count(session, tenant_id=tenant_id, segment_id=segment.id, data_dir=data_dir)
        counted += 1
    return {"tag_changes": changed, "segments": counted}


async def tenants_with_work(session: AsyncSession) -> list[int]:
    return await repository.tenants_with_work(session)


async def preview_count(
    session: AsyncSession, *, tenant_id: int, rules: SegmentFilter, data_dir: Path | None = None
) -> int:
    """How many members an unsaved filter matches now."""
    scope = await scope_of(session, tenant_id=tenant_id, data_dir=data_dir)
    return await count_matching(session, scope, rules)


async def members_of(
    session: AsyncSession,
    *,
    tenant_id: int,
    segment_id: int,
    page: PageRequest,
    sort: Sort | None = None,
    sort_columns: dict[str, Any] | None = None,
    data_dir: Path | None = None,
) -> Page[Member]:
    """The segment's members as of now, a page at a time."""
    segment = await get_segment(session, tenant_id=tenant_id, segment_id=segment_id)
    scope = await scope_of(session, tenant_id=tenant_id, data_dir=data_dir)
    return await members.search(
        session,
        tenant_id=tenant_id,
        query=None,
        page=page,
        sort=sort,
        where=await conditions(session, scope, filter_of(segment)),
        sort_columns=sort_columns,
    )


# For other domains: fan groups and trials that admit a segment's members


async def condition_of(
    session: AsyncSession, *, tenant_id: int, segment_id: int, data_dir: Path | None = None
) -> ColumnElement[bool]:
    """In SQL over `Member`'s columns: she is in the segment now (nobody, for a segment that no longer exists)."""
    segment = await repository.get_segment(session, tenant_id=tenant_id, segment_id=segment_id)
    if segment is None:
        return false()
    scope = await scope_of(session, tenant_id=tenant_id, data_dir=data_dir)
    found = await conditions(session, scope, filter_of(segment))
    return and_(true(), *found)


async def contains(
    session: AsyncSession, *, tenant_id: int, segment_id: int, member_id: int, data_dir: Path | None = None
) -> bool:
    """Whether the member is in the segment now (never, for a segment that no longer exists)."""
    segment = await repository.get_segment(session, tenant_id=tenant_id, segment_id=segment_id)
    if segment is None:
        return False
    scope = replace(await scope_of(session, tenant_id=tenant_id, data_dir=data_dir), member_id=member_id)
    found = await conditions(session, scope, filter_of(segment))
    return await members.count_where(session, tenant_id=tenant_id, where=[*found, Member.id == member_id]) > 0


async def members_among(
    session: AsyncSession, *, tenant_id: int, segment_id: int, member_ids: Collection[int], data_dir: Path | None = None
) -> set[int]:
    """Those of `member_ids` in the segment now (SegmentNotFound: no such segment in the tenant)."""
    segment = await get_segment(session, tenant_id=tenant_id, segment_id=segment_id)
    if not member_ids:
        return set()
    scope = await scope_of(session, tenant_id=tenant_id, data_dir=data_dir)
    chosen = sorted(set(member_ids))
    kept: set[int] = set()
    for start in range(0, len(chosen), BATCH):
        part = chosen[start : start + BATCH]
        found = await conditions(session, replace(scope, among=frozenset(part)), filter_of(segment))
        where = [*found, Member.id.in_(part)]
        kept.update(await members.ids_where(session, tenant_id=tenant_id, where=where, size=len(part)))
    return kept


async def names(session: AsyncSession, *, tenant_id: int) -> dict[int, str]:
    """Every segment's name by id (for the pickers of other pages)."""
    return {s.id: s.name for s in await repository.segments(session, tenant_id=tenant_id)}


# Acting on a segment


async def tag_segment(
    session: AsyncSession, *, actor: Principal, segment_id: int, tag_id: int, data_dir: Path | None = None
) -> int:
    """Put a tag on every member of the segment now (by hand: no rule takes it off). Returns how many got it."""
    segment = await get_segment(session, tenant_id=actor.tenant_id, segment_id=segment_id)
    tag = await get_tag(session, tenant_id=actor.tenant_id, tag_id=tag_id)
    scope = await scope_of(session, tenant_id=actor.tenant_id, data_dir=data_dir)
    added = 0
    now = utcnow()
    async for batch in matching_ids(session, scope, filter_of(segment)):
        has = await repository.tagged(session, tenant_id=actor.tenant_id, tag_id=tag.id, member_ids=batch)
        new = [m for m in batch if m not in has]
        by_rule = [m for m, source in has.items() if source == TagSource.rule]
        await repository.put_tags(
            session, tenant_id=actor.tenant_id, tag_id=tag.id, member_ids=new, source=TagSource.manual, now=now
        )
        await repository.mark_manual(session, tenant_id=actor.tenant_id, tag_id=tag.id, member_ids=by_rule)
        added += len(new)
    audit.record(
        session,
        actor=actor,
        action="tags.bulk",
        target_type="tag",
        target_id=tag.id,
        after={"segment": segment.name, "tagged": added},
    )
    await session.flush()
    return added


async def send_notice(
    session: AsyncSession, *, actor: Principal, segment_id: int, data: NoticeIn, data_dir: Path | None = None
) -> SegmentSend:
    """Send a notice written by ops to the segment's members: one send per key (the same form sent twice is one
    send), each member told once per send through the notices (quiet hours, the daily cap and unsubscribing as
    for every notice). The members are those of the segment when the send job runs."""
    segment = await get_segment(session, tenant_id=actor.tenant_id, segment_id=segment_id)
    existing = await repository.send_of(session, tenant_id=actor.tenant_id, segment_id=segment.id, key=data.key)
    if existing is not None:
        return existing
    scope = await scope_of(session, tenant_id=actor.tenant_id, data_dir=data_dir)
    count = await count_matching(session, scope, filter_of(segment))
    send = SegmentSend(
        tenant_id=actor.tenant_id,
        id=new_id(),
        segment_id=segment.id,
        key=data.key,
        title=data.title,
        text=data.text,
        members=count,
        sent_by=actor.label[:100],
        created_at=utcnow(),
    )
    try:
        async with session.begin_nested():
            repository.add(session, send)
            await session.flush()
    except IntegrityError:  # the same form at the same moment
        found = await repository.send_of(session, tenant_id=actor.tenant_id, segment_id=segment.id, key=data.key)
        assert found is not None
        return found
    await jobs.enqueue(
        session,
        SEND_JOB,
        {"send_id": send.id, "after_member": 0},
        tenant_id=actor.tenant_id,
        dedupe_key=f"{SEND_JOB}:{actor.tenant_id}:{send.id}:0",
    )
    audit.record(
        session,
        actor=actor,
        action="segments.send",
        target_type="segment",
        target_id=segment.id,
        after={"notice_title": data.title, "notice_text": data.text, "members": count},
    )
    return send


async def get_send(session: AsyncSession, *, tenant_id: int, send_id: int) -> SegmentSend | None:
    return await repository.get_send(session, tenant_id=tenant_id, send_id=send_id)


async def sends_of(session: AsyncSession, *, tenant_id: int, segment_id: int) -> list[SegmentSend]:
    return await repository.sends_of(session, tenant_id=tenant_id, segment_id=segment_id)


async def send_batch(
    session: AsyncSession, *, tenant_id: int, send: SegmentSend, after_member: int, size: int
) -> list[int]:
    """The next members (by id) of the send's segment to tell; none when the segment is gone."""
    segment = await repository.get_segment(session, tenant_id=tenant_id, segment_id=send.segment_id)
    if segment is None:
        return []
    scope = await scope_of(session, tenant_id=tenant_id)
    where = await conditions(session, scope, filter_of(segment))
    return await members.ids_where(session, tenant_id=tenant_id, where=where, after=after_member, size=size)


def notice_payload(send: SegmentSend) -> dict[str, Any]:
    return {"kind": NOTICE_KIND, "subject": f"segment-send:{send.id}", "title": send.title, "text": send.text}


def stamp(moment: datetime | None, timezone: str) -> str:
    return format_local(moment, timezone)


# A segment's members as ops see them (the console's list, the API, the export)


@dataclass(frozen=True)
class MemberRow:
    member: Member
    points: int  # available
    tier: str
    tags: list[str]
    last_claim: datetime | None


async def rows_of(session: AsyncSession, *, tenant_id: int, items: Sequence[Member]) -> list[MemberRow]:
    ids = [m.id for m in items]
    balances = await ledger.balances(session, tenant_id=tenant_id, member_ids=ids)
    tiers = await loyalty.tiers_of(session, tenant_id=tenant_id, member_ids=ids)
    tags = await repository.tags_of_members(session, tenant_id=tenant_id, member_ids=ids)
    last = await claims_lookup.last_claims(session, tenant_id=tenant_id, member_ids=ids)
    return [
        MemberRow(
            member=m,
            points=balances[m.id].available if m.id in balances else 0,
            tier=tiers[m.id].name if m.id in tiers else "",
            tags=[tag.name for tag, _ in tags.get(m.id, [])],
            last_claim=last.get(m.id),
        )
        for m in items
    ]


RFM_SEGMENTS = analytics.RFM_SEGMENTS  # (key, name) of the RFM segments a filter can name

EXPORT_HEADERS = ["会员号", "昵称", "可用积分", "等级", "标签", "最近领取", "加入时间"]
EXPORT_WIDTHS = (21, 18, 10, 10, 24, 17, 17)
EXPORT_TEXT_COLUMNS = {0}


async def export_chunks(
    session: AsyncSession, *, tenant_id: int, segment_id: int, timezone: str, data_dir: Path | None = None
) -> AsyncIterator[list[list[object]]]:
    """The segment's members now, as rows of `EXPORT_HEADERS`, a batch at a time (by member number)."""
    segment = await get_segment(session, tenant_id=tenant_id, segment_id=segment_id)
    scope = await scope_of(session, tenant_id=tenant_id, data_dir=data_dir)
    async for batch in matching_ids(session, scope, filter_of(segment)):
        items = sorted(await members.get_many(session, tenant_id=tenant_id, member_ids=batch), key=lambda m: m.id)
        yield [
            [
                str(r.member.id),
                r.member.nickname,
                r.points,
                r.tier,
                "、".join(r.tags),
                format_local(r.last_claim, timezone),
                format_local(r.member.created_at, timezone),
            ]
            for r in await rows_of(session, tenant_id=tenant_id, items=items)
        ]


async def export_xlsx(
    session: AsyncSession, *, tenant_id: int, segment_id: int, data_dir: Path | None = None
) -> tuple[str, bytes]:
    """The segment's members now as an XLSX (every text cell made safe for spreadsheets), with its file name."""
    segment = await get_segment(session, tenant_id=tenant_id, segment_id=segment_id)
    timezone = (await tenants.get_tenant(session, tenant_id)).timezone
    body = await xlsx_bytes(
        "分群会员",
        EXPORT_HEADERS,
        export_chunks(session, tenant_id=tenant_id, segment_id=segment.id, timezone=timezone, data_dir=data_dir),
        EXPORT_TEXT_COLUMNS,
        EXPORT_WIDTHS,
    )
    return f"分群-{segment.name}-{format_local(utcnow(), timezone, '%Y%m%d%H%M')}.xlsx", body
