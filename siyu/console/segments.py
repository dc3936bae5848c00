"""会员标签 and 会员分群 in the console: tags (create, rename, colour, a rule and its refresh, delete), a member's
tags on her page, saved segments with their counts and when they were computed, the segment editor (the filter
form, with an estimate before saving), and a segment's page: its count (computed again on demand), its members,
an Excel export, a tag on all of them and a notice to all of them.

Every change goes through siyu.segments' service inside `attempt` (a savepoint): a refusal is said beside what was
typed and leaves nothing behind."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import escape
from starlette.datastructures import FormData

from siyu.console.deps import Console, ConsoleContext, text
from siyu.console.forms import Refusal, attempt
from siyu.console.listing import Listing
from siyu.console.members import _member_page
from siyu.kit.errors import InvalidInput
from siyu.kit.spreadsheet import XLSX_TYPE, attachment
from siyu.kit.time import utcnow
from siyu.kit.web import DbSession, ResourceId
from siyu.ledger import service as ledger
from siyu.live import service as live
from siyu.loyalty import service as loyalty
from siyu.members import service as members
from siyu.members.models import Member
from siyu.segments import service
from siyu.segments.models import Segment, Tag
from siyu.segments.schemas import NoticeIn, SegmentFilter, SegmentIn, TagIn
from siyu.tenants.models import PLATFORM_LABELS

router = APIRouter()

FILTER_LABELS = {
    "tier_ids": "会员等级",
    "rfm": "会员价值",
    "tags_any": "有标签",
    "tags_none": "没有标签",
    "platforms": "平台",
    "points_min": "可用积分下限",
    "points_max": "可用积分上限",
    "last_claim_from": "最近领取开始日期",
    "last_claim_to": "最近领取结束日期",
    "no_claim_days": "没有领取的天数",
    "cities": "收货城市",
    "joined_from": "入会开始日期",
    "joined_to": "入会结束日期",
    "live_show_id": "预约的直播",
    "live_from": "直播开始日期",
    "live_to": "直播结束日期",
}
LISTS = ("tier_ids", "rfm", "tags_any", "tags_none", "platforms")
SCALARS = tuple(k for k in FILTER_LABELS if k not in LISTS and k != "cities")
SEGMENT_LABELS = {"name": "分群名称", "description": "备注", **FILTER_LABELS}
TAG_LABELS = {"name": "标签名", "color": "颜色"}
MEMBER_SORTS = {"created_at": Member.created_at, "nickname": Member.nickname}
POINTS_SORT = {"points": ledger.available_of(Member.tenant_id, Member.id)}
TAG_COLORS = ["#E4572E", "#F3A712", "#29335C", "#4C956C", "#2E86AB", "#A23B72", "#6C757D"]


def _data_dir(request: Request) -> Path:
    return Path(request.app.state.settings.data_dir)


# The filter form (shared by the segment editor and a tag's rule)


def _filter_values(form: FormData) -> dict[str, Any]:
    values: dict[str, Any] = {key: [str(v) for v in form.getlist(key) if str(v).strip()] for key in LISTS}
    values.update({key: text(form, key) for key in SCALARS})
    values["cities"] = text(form, "cities")
    return values


def _filter_in(values: dict[str, Any]) -> SegmentFilter:
    data: dict[str, Any] = {}
    for key in LISTS:
        if values[key]:
            data[key] = values[key]
    for key in SCALARS:
        if values[key]:
            data[key] = values[key]
    cities = [c for c in re.split(r"[\s,，、;；]+", values["cities"]) if c]
    if cities:
        data["cities"] = cities
    return SegmentFilter.model_validate(data)


def _values_of(rules: SegmentFilter | None) -> dict[str, Any]:
    rules = rules or SegmentFilter()
    dumped = rules.model_dump(mode="json")
    values: dict[str, Any] = {key: [str(v) for v in dumped[key]] for key in LISTS}
    values.update({key: "" if dumped[key] is None else str(dumped[key]) for key in SCALARS})
    values["cities"] = "、".join(rules.cities)
    return values


async def _choices(session: DbSession, tenant_id: int, *, except_tag: int | None = None) -> dict[str, Any]:
    """What the filter form offers: tiers, RFM segments, tags, platforms and recent and coming live shows."""
    now = utcnow()
    shows = await live.calendar(
        session, tenant_id=tenant_id, start=now - timedelta(days=90), end=now + timedelta(days=60)
    )
    tags = [t for t in await service.list_tags(session, tenant_id=tenant_id) if t.id != except_tag]
    return {
        "c": {
            "tier_options": [(t.id, t.name) for t in await loyalty.list_tiers(session, tenant_id=tenant_id)],
            "rfm_segments": service.RFM_SEGMENTS,
            "tag_options": [(t.id, t.name) for t in tags],
            "platform_options": list(PLATFORM_LABELS.items()),
            "shows": shows,
        }
    }


# Tags


async def _tags_page(
    console: Console,
    session: DbSession,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    saved: bool = False,
    deleted: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    tags = await service.list_tags(session, tenant_id=tenant_id)
    rules = [r for t in tags if (r := service.rule_of(t)) is not None]
    names = await service.names_of(session, tenant_id=tenant_id, filters=rules)
    words = {t.id: service.describe(r, names) for t in tags if (r := service.rule_of(t)) is not None}
    return console.render(
        "console/tags.html",
        "tags",
        tags=tags,
        counts=await service.tag_counts(session, tenant_id=tenant_id),
        words=words,
        colors=TAG_COLORS,
        values=values or {"color": TAG_COLORS[0]},
        error=error,
        saved=saved,
        deleted=deleted,
        status_code=status_code,
    )


@router.get("/tags", response_class=HTMLResponse)
async def tags_page(console: ConsoleContext, session: DbSession, saved: int = 0, deleted: int = 0) -> HTMLResponse:
    console.require("members.read")
    return await _tags_page(console, session, saved=bool(saved), deleted=bool(deleted))


@router.post("/tags")
async def create_tag(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("members.write")
    form = await request.form()
    values = {"name": text(form, "name"), "color": text(form, "color")}
    outcome = await attempt(
        session,
        lambda: service.create_tag(
            session, actor=console.principal, data=TagIn(name=values["name"], color=values["color"] or None)
        ),
        labels=TAG_LABELS,
    )
    if isinstance(outcome, Refusal):
        return await _tags_page(console, session, values=values, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/tags/{outcome.id}?saved=1", status_code=303)


async def _tag_page(
    console: Console,
    session: DbSession,
    tag: Tag,
    *,
    values: dict[str, str] | None = None,
    rule_values: dict[str, Any] | None = None,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    rule = service.rule_of(tag)
    names = await service.names_of(session, tenant_id=tenant_id, filters=[rule] if rule else [])
    return console.render(
        "console/tag.html",
        "tags",
        tag=tag,
        members=(await service.tag_counts(session, tenant_id=tenant_id)).get(tag.id, 0),
        rule_words=service.describe(rule, names) if rule else [],
        has_rule=rule is not None,
        values=values or {"name": tag.name, "color": tag.color or ""},
        f=rule_values if rule_values is not None else _values_of(rule),
        colors=TAG_COLORS,
        error=error,
        notice=notice,
        status_code=status_code,
        **await _choices(session, tenant_id, except_tag=tag.id),
    )


@router.get("/tags/{tag_id}", response_class=HTMLResponse)
async def tag_page(
    console: ConsoleContext,
    session: DbSession,
    tag_id: ResourceId,
    saved: int = 0,
    added: Annotated[int | None, Query(ge=0, le=100_000_000)] = None,
    removed: Annotated[int | None, Query(ge=0, le=100_000_000)] = None,
) -> HTMLResponse:
    console.require("members.read")
    tag = await service.get_tag(session, tenant_id=console.tenant.id, tag_id=tag_id)
    notice = "已保存，已记入操作日志。" if saved else None
    if added is not None or removed is not None:
        notice = f"已按规则更新：新打上 {added or 0} 位，去掉 {removed or 0} 位。"
    return await _tag_page(console, session, tag, notice=notice)


@router.post("/tags/{tag_id}")
async def update_tag(request: Request, console: ConsoleContext, session: DbSession, tag_id: ResourceId) -> Response:
    console.require("members.write")
    tag = await service.get_tag(session, tenant_id=console.tenant.id, tag_id=tag_id)
    form = await request.form()
    values = {"name": text(form, "name"), "color": text(form, "color")}
    outcome = await attempt(
        session,
        lambda: service.update_tag(
            session,
            actor=console.principal,
            tag_id=tag_id,
            data=TagIn(name=values["name"], color=values["color"] or None),
        ),
        labels=TAG_LABELS,
    )
    if isinstance(outcome, Refusal):
        return await _tag_page(console, session, tag, values=values, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/tags/{tag_id}?saved=1", status_code=303)


@router.post("/tags/{tag_id}/rule")
async def set_rule(request: Request, console: ConsoleContext, session: DbSession, tag_id: ResourceId) -> Response:
    """Save the tag's rule (or take it away) and apply it at once."""
    console.require("members.write")
    tag = await service.get_tag(session, tenant_id=console.tenant.id, tag_id=tag_id)
    form = await request.form()
    remove = text(form, "remove") == "1"
    rule_values = _filter_values(form)

    async def step() -> tuple[Tag, tuple[int, int]]:
        rule = None if remove else _filter_in(rule_values)
        if rule is not None and rule.empty:
            raise InvalidInput("请至少选一个条件；不需要规则时点“取消规则”", code="rule_empty")
        return await service.set_rule(
            session, actor=console.principal, tag_id=tag_id, rule=rule, data_dir=_data_dir(request)
        )

    outcome = await attempt(session, step, labels=FILTER_LABELS)
    if isinstance(outcome, Refusal):
        return await _tag_page(
            console, session, tag, rule_values=rule_values, error=outcome.message, status_code=outcome.status
        )
    _, (added, removed) = outcome
    if remove:
        return RedirectResponse(f"/console/tags/{tag_id}?saved=1", status_code=303)
    return RedirectResponse(f"/console/tags/{tag_id}?added={added}&removed={removed}", status_code=303)


@router.post("/tags/{tag_id}/refresh")
async def refresh_rule(request: Request, console: ConsoleContext, session: DbSession, tag_id: ResourceId) -> Response:
    console.require("members.write")
    tag = await service.get_tag(session, tenant_id=console.tenant.id, tag_id=tag_id)
    outcome = await attempt(
        session,
        lambda: service.refresh_rule(session, actor=console.principal, tag_id=tag_id, data_dir=_data_dir(request)),
    )
    if isinstance(outcome, Refusal):
        return await _tag_page(console, session, tag, error=outcome.message, status_code=outcome.status)
    added, removed = outcome
    return RedirectResponse(f"/console/tags/{tag_id}?added={added}&removed={removed}", status_code=303)


@router.post("/tags/{tag_id}/delete")
async def delete_tag(console: ConsoleContext, session: DbSession, tag_id: ResourceId) -> Response:
    console.require("members.write")
    tag = await service.get_tag(session, tenant_id=console.tenant.id, tag_id=tag_id)
    outcome = await attempt(session, lambda: service.delete_tag(session, actor=console.principal, tag_id=tag_id))
    if isinstance(outcome, Refusal):
        return await _tag_page(console, session, tag, error=outcome.message, status_code=outcome.status)
    return RedirectResponse("/console/tags?deleted=1", status_code=303)


# A member's tags (on her page)


def _tag_id(form: FormData) -> int:
    typed = text(form, "tag_id")
    if not typed.isdigit() or len(typed) > 18:
        raise InvalidInput("请选择标签", code="tag_required")
    return int(typed)


@router.post("/members/{member_id}/tags")
async def tag_member(request: Request, console: ConsoleContext, session: DbSession, member_id: ResourceId) -> Response:
    console.require("members.write")
    await members.get_member(session, tenant_id=console.tenant.id, member_id=member_id)
    form = await request.form()
    outcome = await attempt(
        session,
        lambda: service.add_tag(session, actor=console.principal, tag_id=_tag_id(form), member_ids=[member_id]),
    )
    if isinstance(outcome, Refusal):
        return await _member_page(console, session, member_id, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/members/{member_id}?tagged=1#tags", status_code=303)


@router.post("/members/{member_id}/tags/{tag_id}/remove")
async def untag_member(
    console: ConsoleContext, session: DbSession, member_id: ResourceId, tag_id: ResourceId
) -> Response:
    console.require("members.write")
    await members.get_member(session, tenant_id=console.tenant.id, member_id=member_id)
    outcome = await attempt(
        session, lambda: service.remove_tag(session, actor=console.principal, tag_id=tag_id, member_ids=[member_id])
    )
    if isinstance(outcome, Refusal):
        return await _member_page(console, session, member_id, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/members/{member_id}?untagged=1#tags", status_code=303)


# Segments


@router.get("/segments", response_class=HTMLResponse)
async def segments_page(
    console: ConsoleContext, session: DbSession, deleted: int = 0, refreshed: int = 0
) -> HTMLResponse:
    console.require("members.read")
    tenant_id = console.tenant.id
    found = await service.list_segments(session, tenant_id=tenant_id)
    filters = {s.id: service.filter_of(s) for s in found}
    names = await service.names_of(session, tenant_id=tenant_id, filters=list(filters.values()))
    return console.render(
        "console/segments.html",
        "segments",
        segments=found,
        words={s.id: service.describe(filters[s.id], names) for s in found},
        deleted=bool(deleted),
        refreshed=bool(refreshed),
    )


@router.post("/segments/refresh")
async def refresh_all(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    """Apply every tag rule and count every segment of the tenant now."""
    console.require("members.read")
    await service.refresh_tenant(session, tenant_id=console.tenant.id, data_dir=_data_dir(request))
    return RedirectResponse("/console/segments?refreshed=1", status_code=303)


async def _editor(
    console: Console,
    session: DbSession,
    segment: Segment | None,
    *,
    values: dict[str, str] | None = None,
    f: dict[str, Any] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    return console.render(
        "console/segment_edit.html",
        "segments",
        segment=segment,
        values=values or ({"name": segment.name, "description": segment.description} if segment else {}),
        f=f if f is not None else _values_of(service.filter_of(segment) if segment else None),
        error=error,
        status_code=status_code,
        **await _choices(session, console.tenant.id),
    )


@router.get("/segments/new", response_class=HTMLResponse)
async def new_segment(console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("members.write")
    return await _editor(console, session, None)


async def _save(request: Request, console: Console, session: DbSession, segment: Segment | None) -> Response:
    console.require("members.write")
    form = await request.form()
    values = {"name": text(form, "name"), "description": text(form, "description")}
    f = _filter_values(form)

    async def step() -> Segment:
        rules = _filter_in(f)
        data = SegmentIn.model_validate({**values, "filter": rules})
        if segment is None:
            return await service.create_segment(
                session, actor=console.principal, data=data, data_dir=_data_dir(request)
            )
        return await service.update_segment(
            session, actor=console.principal, segment_id=segment.id, data=data, data_dir=_data_dir(request)
        )

    outcome = await attempt(session, step, labels=SEGMENT_LABELS)
    if isinstance(outcome, Refusal):
        return await _editor(
            console, session, segment, values=values, f=f, error=outcome.message, status_code=outcome.status
        )
    return RedirectResponse(f"/console/segments/{outcome.id}?saved=1", status_code=303)


@router.post("/segments/new")
async def create_segment(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    return await _save(request, console, session, None)


@router.post("/segments/preview", response_class=HTMLResponse)
async def preview(request: Request, console: ConsoleContext, session: DbSession) -> HTMLResponse:
    """How many members the filter as typed matches now (a fragment for the editor)."""
    console.require("members.read")
    form = await request.form()
    outcome = await attempt(
        session,
        lambda: service.preview_count(
            session,
            tenant_id=console.tenant.id,
            rules=_filter_in(_filter_values(form)),
            data_dir=_data_dir(request),
        ),
        labels=FILTER_LABELS,
    )
    if isinstance(outcome, Refusal):
        return HTMLResponse(f'<span class="text-danger" id="preview-count">{_escape(outcome.message)}</span>')
    return HTMLResponse(
        f'<span id="preview-count" data-count="{outcome}">现在符合条件的会员约 <strong>{outcome}</strong> 位</span>'
    )


def _escape(words: str) -> str:
    return str(escape(words))


async def _segment_page(
    console: Console,
    session: DbSession,
    segment: Segment,
    request: Request,
    *,
    page: int = 1,
    sort: str | None = None,
    error: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    rules = service.filter_of(segment)
    names = await service.names_of(session, tenant_id=tenant_id, filters=[rules])
    listing = Listing.of(
        f"/console/segments/{segment.id}",
        sort=sort,
        allowed=(*MEMBER_SORTS, *POINTS_SORT),
        default="-created_at",
        page=page,
    )
    found = await service.members_of(
        session,
        tenant_id=tenant_id,
        segment_id=segment.id,
        page=listing.request,
        sort=listing.sort,
        sort_columns=POINTS_SORT,
        data_dir=_data_dir(request),
    )
    return console.render(
        "console/segment.html",
        "segments",
        segment=segment,
        words=service.describe(rules, names),
        listing=listing,
        result=found,
        rows=await service.rows_of(session, tenant_id=tenant_id, items=found.items),
        all_tags=await service.list_tags(session, tenant_id=tenant_id),
        sends=await service.sends_of(session, tenant_id=tenant_id, segment_id=segment.id),
        send_key=secrets.token_urlsafe(16),
        error=error,
        notice=notice,
        status_code=status_code,
    )


SAVED_NOTICES = {
    "saved": "已保存并重新计算了人数，已记入操作日志。",
    "counted": "人数已重新计算。",
    "sent": "通知已排队发送：每位会员只会收到一次，免打扰时段内的会在时段结束后发出。",
}


@router.get("/segments/{segment_id}", response_class=HTMLResponse)
async def segment_page(
    request: Request,
    console: ConsoleContext,
    session: DbSession,
    segment_id: ResourceId,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    sort: Annotated[str | None, Query(max_length=20)] = None,
    done: Annotated[str | None, Query(max_length=20)] = None,
    tagged: Annotated[int | None, Query(ge=0, le=100_000_000)] = None,
) -> HTMLResponse:
    console.require("members.read")
    segment = await service.get_segment(session, tenant_id=console.tenant.id, segment_id=segment_id)
    notice = SAVED_NOTICES.get(done or "")
    if tagged is not None:
        notice = f"已给 {tagged} 位会员打上标签（已有这个标签的不重复打），已记入操作日志。"
    return await _segment_page(console, session, segment, request, page=page, sort=sort, notice=notice)


@router.get("/segments/{segment_id}/edit", response_class=HTMLResponse)
async def edit_segment(console: ConsoleContext, session: DbSession, segment_id: ResourceId) -> HTMLResponse:
    console.require("members.write")
    segment = await service.get_segment(session, tenant_id=console.tenant.id, segment_id=segment_id)
    return await _editor(console, session, segment)


@router.post("/segments/{segment_id}/edit")
async def update_segment(
    request: Request, console: ConsoleContext, session: DbSession, segment_id: ResourceId
) -> Response:
    segment = await service.get_segment(session, tenant_id=console.tenant.id, segment_id=segment_id)
    return await _save(request, console, session, segment)


@router.post("/segments/{segment_id}/count")
async def count_now(request: Request, console: ConsoleContext, session: DbSession, segment_id: ResourceId) -> Response:
    console.require("members.read")
    await service.refresh_count(
        session, tenant_id=console.tenant.id, segment_id=segment_id, data_dir=_data_dir(request)
    )
    return RedirectResponse(f"/console/segments/{segment_id}?done=counted", status_code=303)


@router.post("/segments/{segment_id}/delete")
async def delete_segment(console: ConsoleContext, session: DbSession, segment_id: ResourceId) -> Response:
    console.require("members.write")
    await service.get_segment(session, tenant_id=console.tenant.id, segment_id=segment_id)
    await service.delete_segment(session, actor=console.principal, segment_id=segment_id)
    return RedirectResponse("/console/segments?deleted=1", status_code=303)


@router.post("/segments/{segment_id}/tag")
async def tag_segment(
    request: Request, console: ConsoleContext, session: DbSession, segment_id: ResourceId
) -> Response:
    console.require("members.write")
    segment = await service.get_segment(session, tenant_id=console.tenant.id, segment_id=segment_id)
    form = await request.form()
    outcome = await attempt(
        session,
        lambda: service.tag_segment(
            session, actor=console.principal, segment_id=segment_id, tag_id=_tag_id(form), data_dir=_data_dir(request)
        ),
    )
    if isinstance(outcome, Refusal):
        return await _segment_page(
            console, session, segment, request, error=outcome.message, status_code=outcome.status
        )
    return RedirectResponse(f"/console/segments/{segment_id}?tagged={outcome}", status_code=303)


@router.post("/segments/{segment_id}/notice")
async def send_notice(
    request: Request, console: ConsoleContext, session: DbSession, segment_id: ResourceId
) -> Response:
    console.require("members.write")
    segment = await service.get_segment(session, tenant_id=console.tenant.id, segment_id=segment_id)
    form = await request.form()
    typed = {"title": text(form, "title"), "text": text(form, "text"), "key": text(form, "key")}
    outcome = await attempt(
        session,
        lambda: service.send_notice(
            session,
            actor=console.principal,
            segment_id=segment_id,
            data=NoticeIn.model_validate(typed),
            data_dir=_data_dir(request),
        ),
        labels={"title": "通知标题", "text": "通知内容", "key": "发送编号"},
    )
    if isinstance(outcome, Refusal):
        return await _segment_page(
            console, session, segment, request, error=outcome.message, status_code=outcome.status
        )
    return RedirectResponse(f"/console/segments/{segment_id}?done=sent#sends", status_code=303)


@router.get("/segments/{segment_id}/export.xlsx")
async def export_segment(
    request: Request, console: ConsoleContext, session: DbSession, segment_id: ResourceId
) -> Response:
    """The segment's members now, with points, tier, tags and latest claim (text cells made safe for Excel)."""
    console.require("members.read")
    name, body = await service.export_xlsx(
        session, tenant_id=console.tenant.id, segment_id=segment_id, data_dir=_data_dir(request)
    )
    return Response(body, media_type=XLSX_TYPE, headers={"Content-Disposition": attachment(name)})
