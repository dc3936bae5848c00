"""The API of member tags and saved segments (staff sessions or API keys).

- /tags: tags with member counts and rules; create, rename, delete; a rule (a segment filter) applied at once and
  on a schedule; putting a tag on members and taking it off.
- /segments: saved segments with their counts and when they were computed; create, edit, delete; count again now;
  the members (paged), an XLSX export, a tag on every member, a notice to every member.

Reading needs 查看会员 (members.read); changing needs 管理会员 (members.write).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from siyu.kit.pagination import PageRequest
from siyu.kit.spreadsheet import XLSX_TYPE, attachment
from siyu.kit.time import utcnow
from siyu.kit.web import DbSession, Principal, ResourceId, require
from siyu.segments import service
from siyu.segments.models import Segment, Tag
from siyu.segments.schemas import (
    CountOut,
    NoticeIn,
    SegmentFilter,
    SegmentIn,
    SegmentMemberOut,
    SegmentOut,
    SegmentTagIn,
    SendOut,
    TagChangeOut,
    TagIn,
    TagMembersIn,
    TagOut,
    TagRuleIn,
)

router = APIRouter(tags=["会员标签与分群"])
Reader = Annotated[Principal, require("members.read")]
Writer = Annotated[Principal, require("members.write")]


def _data_dir(request: Request) -> Path:
    return Path(request.app.state.settings.data_dir)


async def _tag_out(session: DbSession, tag: Tag, counts: dict[int, int] | None = None) -> TagOut:
    counts = counts if counts is not None else await service.tag_counts(session, tenant_id=tag.tenant_id)
    rule = service.rule_of(tag)
    names = await service.names_of(session, tenant_id=tag.tenant_id, filters=[rule] if rule else [])
    return TagOut(
        id=tag.id,
        name=tag.name,
        color=tag.color,
        members=counts.get(tag.id, 0),
        rule=rule,
        rule_words=service.describe(rule, names) if rule else [],
        rule_refreshed_at=tag.rule_refreshed_at,
    )


async def _segment_out(session: DbSession, segment: Segment) -> SegmentOut:
    rules = service.filter_of(segment)
    names = await service.names_of(session, tenant_id=segment.tenant_id, filters=[rules])
    return SegmentOut(
        id=segment.id,
        name=segment.name,
        description=segment.description,
        filter=rules,
        filter_words=service.describe(rules, names),
        member_count=segment.member_count,
        counted_at=segment.counted_at,
    )


# Tags


@router.get("/tags", response_model=list[TagOut], summary="会员标签（含人数和规则）")
async def list_tags(session: DbSession, principal: Reader) -> list[TagOut]:
    counts = await service.tag_counts(session, tenant_id=principal.tenant_id)
    return [await _tag_out(session, t, counts) for t in await service.list_tags(session, tenant_id=principal.tenant_id)]


@router.post("/tags", response_model=TagOut, status_code=201, summary="新建标签（记入操作日志）")
async def create_tag(body: TagIn, session: DbSession, principal: Writer) -> TagOut:
    return await _tag_out(session, await service.create_tag(session, actor=principal, data=body))


@router.get("/tags/{tag_id}", response_model=TagOut, summary="一个标签")
async def get_tag(tag_id: ResourceId, session: DbSession, principal: Reader) -> TagOut:
    return await _tag_out(session, await service.get_tag(session, tenant_id=principal.tenant_id, tag_id=tag_id))


@router.put("/tags/{tag_id}", response_model=TagOut, summary="修改标签名称和颜色")
async def update_tag(tag_id: ResourceId, body: TagIn, session: DbSession, principal: Writer) -> TagOut:
    return await _tag_out(session, await service.update_tag(session, actor=principal, tag_id=tag_id, data=body))


@router.delete("/tags/{tag_id}", status_code=204, summary="删除标签（所有会员身上的这个标签一并去掉）")
async def delete_tag(tag_id: ResourceId, session: DbSession, principal: Writer) -> Response:
    await service.delete_tag(session, actor=principal, tag_id=tag_id)
    return Response(status_code=204)


@router.put("/tags/{tag_id}/rule", response_model=TagOut, summary="设置或取消标签规则（设置后立即执行一次）")
async def set_rule(
    tag_id: ResourceId, body: TagRuleIn, request: Request, session: DbSession, principal: Writer
) -> TagOut:
    tag, _ = await service.set_rule(
        session, actor=principal, tag_id=tag_id, rule=body.rule, data_dir=_data_dir(request)
    )
    return await _tag_out(session, tag)


@router.post("/tags/{tag_id}/refresh", response_model=TagChangeOut, summary="立即按规则更新标签")
async def refresh_rule(tag_id: ResourceId, request: Request, session: DbSession, principal: Writer) -> TagChangeOut:
    added, removed = await service.refresh_rule(session, actor=principal, tag_id=tag_id, data_dir=_data_dir(request))
    return TagChangeOut(added=added, removed=removed)


@router.post("/tags/{tag_id}/members", response_model=TagChangeOut, summary="给会员打上标签（手动）")
async def add_members(tag_id: ResourceId, body: TagMembersIn, session: DbSession, principal: Writer) -> TagChangeOut:
    return TagChangeOut(
        added=await service.add_tag(session, actor=principal, tag_id=tag_id, member_ids=body.member_ids)
    )


@router.post("/tags/{tag_id}/members/remove", response_model=TagChangeOut, summary="去掉会员的标签")
async def remove_members(tag_id: ResourceId, body: TagMembersIn, session: DbSession, principal: Writer) -> TagChangeOut:
    removed = await service.remove_tag(session, actor=principal, tag_id=tag_id, member_ids=body.member_ids)
    return TagChangeOut(removed=removed)


# Segments


@router.get("/segments", response_model=list[SegmentOut], summary="会员分群（含人数和计算时间）")
async def list_segments(session: DbSession, principal: Reader) -> list[SegmentOut]:
    return [await _segment_out(session, s) for s in await service.list_segments(session, tenant_id=principal.tenant_id)]


@router.post("/segments", response_model=SegmentOut, status_code=201, summary="新建分群（保存后立即计算人数）")
async def create_segment(body: SegmentIn, request: Request, session: DbSession, principal: Writer) -> SegmentOut:
    segment = await service.create_segment(session, actor=principal, data=body, data_dir=_data_dir(request))
    return await _segment_out(session, segment)


@router.post("/segments/preview", response_model=CountOut, summary="预估人数（不保存）")
async def preview(body: SegmentFilter, request: Request, session: DbSession, principal: Reader) -> CountOut:
    count = await service.preview_count(session, tenant_id=principal.tenant_id, rules=body, data_dir=_data_dir(request))
    return CountOut(member_count=count, counted_at=utcnow())


@router.get("/segments/{segment_id}", response_model=SegmentOut, summary="一个分群")
async def get_segment(segment_id: ResourceId, session: DbSession, principal: Reader) -> SegmentOut:
    segment = await service.get_segment(session, tenant_id=principal.tenant_id, segment_id=segment_id)
    return await _segment_out(session, segment)


@router.put("/segments/{segment_id}", response_model=SegmentOut, summary="修改分群（保存后立即重新计算人数）")
async def update_segment(
    segment_id: ResourceId, body: SegmentIn, request: Request, session: DbSession, principal: Writer
) -> SegmentOut:
    segment = await service.update_segment(
        session, actor=principal, segment_id=segment_id, data=body, data_dir=_data_dir(request)
    )
    return await _segment_out(session, segment)


@router.delete("/segments/{segment_id}", status_code=204, summary="删除分群（用它做条件的粉丝群和试用将不再有人符合）")
async def delete_segment(segment_id: ResourceId, session: DbSession, principal: Writer) -> Response:
    await service.delete_segment(session, actor=principal, segment_id=segment_id)
    return Response(status_code=204)


@router.post("/segments/{segment_id}/count", response_model=CountOut, summary="立即重新计算人数")
async def refresh_count(segment_id: ResourceId, request: Request, session: DbSession, principal: Reader) -> CountOut:
    segment = await service.refresh_count(
        session, tenant_id=principal.tenant_id, segment_id=segment_id, data_dir=_data_dir(request)
    )
    assert segment.member_count is not None and segment.counted_at is not None
    return CountOut(member_count=segment.member_count, counted_at=segment.counted_at)


@router.get(
    "/segments/{segment_id}/members", response_model=list[SegmentMemberOut], summary="分群里的会员（新入会的在前）"
)
async def segment_members(
    segment_id: ResourceId,
    request: Request,
    session: DbSession,
    principal: Reader,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 100,
) -> list[SegmentMemberOut]:
    found = await service.members_of(
        session,
        tenant_id=principal.tenant_id,
        segment_id=segment_id,
        page=PageRequest(page, size),
        data_dir=_data_dir(request),
    )
    rows = await service.rows_of(session, tenant_id=principal.tenant_id, items=found.items)
    return [
        SegmentMemberOut(
            member_id=r.member.id,
            nickname=r.member.nickname,
            points=r.points,
            tier=r.tier,
            tags=r.tags,
            joined_at=r.member.created_at,
        )
        for r in rows
    ]


@router.get(
    "/segments/{segment_id}/export.xlsx",
    summary="导出分群会员（Excel）",
    responses={200: {"content": {XLSX_TYPE: {}}}},
)
async def export_segment(segment_id: ResourceId, request: Request, session: DbSession, principal: Reader) -> Response:
    name, body = await service.export_xlsx(
        session, tenant_id=principal.tenant_id, segment_id=segment_id, data_dir=_data_dir(request)
    )
    return Response(body, media_type=XLSX_TYPE, headers={"Content-Disposition": attachment(name)})


@router.post("/segments/{segment_id}/tag", response_model=TagChangeOut, summary="给分群里的所有会员打上标签")
async def tag_segment(
    segment_id: ResourceId, body: SegmentTagIn, request: Request, session: DbSession, principal: Writer
) -> TagChangeOut:
    added = await service.tag_segment(
        session, actor=principal, segment_id=segment_id, tag_id=body.tag_id, data_dir=_data_dir(request)
    )
    return TagChangeOut(added=added)


@router.post(
    "/segments/{segment_id}/notices",
    response_model=SendOut,
    status_code=202,
    summary="给分群里的会员发通知（同一个 key 只发一次；每位会员只收到一次）",
)
async def send_notice(
    segment_id: ResourceId, body: NoticeIn, request: Request, session: DbSession, principal: Writer
) -> SendOut:
    send = await service.send_notice(
        session, actor=principal, segment_id=segment_id, data=body, data_dir=_data_dir(request)
    )
    return SendOut(id=send.id, members=send.members, created_at=send.created_at)
