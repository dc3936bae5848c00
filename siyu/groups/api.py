"""The API of the tiered fan groups (分层社群).

- Fans (their own bearer tokens, paths under /fan/{slug}/groups): every group as she sees it (may she join, why
  not, the QR code), the QR code picture of the group offered to her, and "我已入群".
- Staff (sessions or API keys): groups with thresholds, caps, overflow groups, member counts and QR code state;
  create, edit, add an overflow group, replace the QR code, delete; members who joined and members who qualify
  but have not joined.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile

from siyu.fans.api import CurrentFan
from siyu.groups import service
from siyu.groups.models import FanGroup
from siyu.groups.schemas import (
    CandidateOut,
    FanGroupOut,
    GroupIn,
    GroupMemberOut,
    GroupOut,
    JoinOut,
    OverflowIn,
    OverflowOut,
)
from siyu.kit import images
from siyu.kit.pagination import PageRequest
from siyu.kit.web import DbSession, Principal, ResourceId, require

fan_router = APIRouter(tags=["粉丝：粉丝群"])
router = APIRouter(tags=["粉丝群"])


def fan_group_out(slug: str, view: service.FanView) -> FanGroupOut:
    return FanGroupOut(
        id=view.group.id,
        name=view.group.name,
        intro=view.main.intro,
        thresholds=view.thresholds,
        qualified=view.qualified,
        reasons=view.reasons,
        joined=view.joined,
        full=view.full,
        qr_url=f"/fan/{slug}/groups/{view.group.id}/qr" if view.shows_qr else None,
        qr_expires_at=view.group.qr_expires_at if view.shows_qr else None,
        message=view.message,
    )


def group_out(family: service.Family) -> GroupOut:
    main = family.main
    return GroupOut(
        id=main.id,
        name=main.name,
        intro=main.intro,
        sort_order=main.sort_order,
        min_tier_id=main.min_tier_id,
        min_points=main.min_points,
        min_orders=main.min_orders,
        min_paid_fen=main.min_paid_fen,
        window_days=main.window_days,
        segment_id=main.segment_id,
        thresholds=family.thresholds,
        cap=main.cap,
        members=family.counts.get(main.id, 0),
        qr_state=service.qr_state(main),
        qr_state_label=service.qr_label(main),
        qr_expires_at=main.qr_expires_at,
        overflow=[overflow_out(g, family.counts.get(g.id, 0)) for g in family.groups[1:]],
    )


def overflow_out(group: FanGroup, members: int) -> OverflowOut:
    return OverflowOut(
        id=group.id,
        name=group.name,
        seq=group.seq,
        cap=group.cap,
        members=members,
        qr_state=service.qr_state(group),
        qr_state_label=service.qr_label(group),
        qr_expires_at=group.qr_expires_at,
    )


def qr_response(data_dir: Path, group: FanGroup) -> Response:
    path = service.qr_path(data_dir, group.tenant_id, group.qr_image)
    if group.qr_image is None or path is None:
        raise service.GroupNotFound("群二维码已不存在")
    media_type = images.MEDIA_TYPES[group.qr_image.rsplit(".", 1)[1]]
    return Response(path.read_bytes(), media_type=media_type, headers={"Cache-Control": "private, max-age=300"})


async def read_image(file: UploadFile) -> bytes:
    data = await file.read(images.MAX_BYTES + 1)
    if len(data) > images.MAX_BYTES:
        raise images.ImageTooLarge()
    return data


# Fans


@fan_router.get("/fan/{slug}/groups", response_model=list[FanGroupOut], summary="粉丝群（我能进哪些群、差什么）")
async def fan_list(fan: CurrentFan, session: DbSession) -> list[FanGroupOut]:
    views = await service.fan_groups(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return [fan_group_out(fan.tenant.slug, v) for v in views]


@fan_router.get(
    "/fan/{slug}/groups/{group_id}/qr",
    summary="群二维码图片（只有可以加入时才能查看）",
    responses={200: {"content": {"image/png": {}}}},
)
async def fan_qr(group_id: ResourceId, request: Request, fan: CurrentFan, session: DbSession) -> Response:
    group = await service.fan_can_see_qr(session, tenant_id=fan.tenant.id, member_id=fan.member.id, group_id=group_id)
    return qr_response(request.app.state.settings.data_dir, group)


@fan_router.post("/fan/{slug}/groups/{group_id}/join", response_model=JoinOut, summary="我已入群（重复点不会重复记）")
async def fan_join(group_id: ResourceId, fan: CurrentFan, session: DbSession) -> JoinOut:
    row = await service.join(session, tenant_id=fan.tenant.id, member_id=fan.member.id, group_id=group_id)
    return JoinOut(group_id=row.group_id, joined=True, message="已记录，欢迎入群")


# Staff


@router.get("/groups", response_model=list[GroupOut], summary="粉丝群（含溢出群、人数和二维码状态）")
async def list_groups(session: DbSession, principal: Annotated[Principal, require("members.read")]) -> list[GroupOut]:
    return [group_out(f) for f in await service.overview(session, tenant_id=principal.tenant_id)]


@router.post("/groups", response_model=GroupOut, status_code=201, summary="新建粉丝群（记入操作日志）")
async def create_group(
    body: GroupIn, session: DbSession, principal: Annotated[Principal, require("members.write")]
) -> GroupOut:
    group = await service.create_group(session, actor=principal, data=body)
    return group_out(await service.family_of(session, tenant_id=principal.tenant_id, group_id=group.id))


@router.get("/groups/{group_id}", response_model=GroupOut, summary="一个粉丝群（主群或溢出群所在的一档）")
async def get_group(
    group_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.read")]
) -> GroupOut:
    return group_out(await service.family_of(session, tenant_id=principal.tenant_id, group_id=group_id))


@router.put("/groups/{group_id}", response_model=GroupOut, summary="修改主群（进群条件对溢出群同样有效）")
async def update_group(
    group_id: ResourceId, body: GroupIn, session: DbSession, principal: Annotated[Principal, require("members.write")]
) -> GroupOut:
    await service.update_group(session, actor=principal, group_id=group_id, data=body)
    return group_out(await service.family_of(session, tenant_id=principal.tenant_id, group_id=group_id))


@router.delete("/groups/{group_id}", status_code=204, summary="删除粉丝群（主群要先删除溢出群）")
async def delete_group(
    group_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.write")]
) -> Response:
    await service.delete_group(session, actor=principal, group_id=group_id)
    return Response(status_code=204)


@router.post(
    "/groups/{group_id}/overflow",
    response_model=OverflowOut,
    status_code=201,
    summary="新开溢出群（前面的群满了才显示）",
)
async def add_overflow(
    group_id: ResourceId,
    body: OverflowIn,
    session: DbSession,
    principal: Annotated[Principal, require("members.write")],
) -> OverflowOut:
    return overflow_out(await service.add_overflow(session, actor=principal, group_id=group_id, data=body), 0)


@router.put(
    "/groups/{group_id}/qr", response_model=GroupOut, summary="更换群二维码（JPG/PNG/GIF/WebP，≤ 2 MB，7 天后过期）"
)
async def put_qr(
    group_id: ResourceId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require("members.write")],
    file: Annotated[UploadFile, File(description="群二维码图片")],
) -> GroupOut:
    data = await read_image(file)
    await service.set_qr(
        session, actor=principal, group_id=group_id, data=data, data_dir=request.app.state.settings.data_dir
    )
    return group_out(await service.family_of(session, tenant_id=principal.tenant_id, group_id=group_id))


@router.get("/groups/{group_id}/members", response_model=list[GroupMemberOut], summary="已确认入群的会员（新的在前）")
async def group_members(
    group_id: ResourceId,
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> list[GroupMemberOut]:
    group = await service.get_group(session, tenant_id=principal.tenant_id, group_id=group_id)
    found, names = await service.members_of(
        session, tenant_id=principal.tenant_id, family_id=group.family_id, page=PageRequest(page, 100)
    )
    return [
        GroupMemberOut(
            member_id=m.member_id, nickname=names.get(m.member_id, ""), group_id=m.group_id, joined_at=m.joined_at
        )
        for m in found.items
    ]


@router.get("/groups/{group_id}/candidates", response_model=list[CandidateOut], summary="符合条件但还没入群的会员")
async def group_candidates(
    group_id: ResourceId,
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
) -> list[CandidateOut]:
    group = await service.get_group(session, tenant_id=principal.tenant_id, group_id=group_id)
    found = await service.candidates(
        session, tenant_id=principal.tenant_id, family_id=group.family_id, page=PageRequest(page, 100)
    )
    return [CandidateOut(member_id=m.id, nickname=m.nickname or "", joined_at=m.created_at) for m in found.items]


@router.delete("/groups/{group_id}/members/{member_id}", status_code=204, summary="把会员移出名单（她退群了）")
async def remove_member(
    group_id: ResourceId,
    member_id: ResourceId,
    session: DbSession,
    principal: Annotated[Principal, require("members.write")],
) -> Response:
    await service.remove_member(session, actor=principal, group_id=group_id, member_id=member_id)
    return Response(status_code=204)
