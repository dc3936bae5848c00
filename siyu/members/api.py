from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from siyu.kit.pagination import PageRequest
from siyu.kit.web import DbSession, Principal, ResourceId, require
from siyu.members import service
from siyu.members.schemas import IdentityOut, MemberDetail, MemberIn, MemberOut, MemberPage

router = APIRouter(tags=["会员"])


@router.get("/members", response_model=MemberPage, summary="会员列表与搜索（昵称、手机号、账号、会员号）")
async def list_members(
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
    q: Annotated[str | None, Query(max_length=100)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 20,
) -> MemberPage:
    result = await service.search(
        session, tenant_id=principal.tenant_id, query=q, page=PageRequest(page=page, size=size)
    )
    return MemberPage(
        items=[MemberOut.model_validate(m) for m in result.items],
        total=result.total,
        page=page,
        pages=result.pages,
    )


@router.post("/members", response_model=MemberDetail, status_code=201, summary="新建会员")
async def create_member(
    body: MemberIn, session: DbSession, principal: Annotated[Principal, require("members.write")]
) -> MemberDetail:
    member = await service.create_member(
        session,
        tenant_id=principal.tenant_id,
        nickname=body.nickname,
        identities=body.identities,
        actor=principal,
    )
    return await _detail(session, principal.tenant_id, member.id)


@router.get("/members/{member_id}", response_model=MemberDetail, summary="会员详情")
async def get_member(
    member_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.read")]
) -> MemberDetail:
    return await _detail(session, principal.tenant_id, member_id)


async def _detail(session: DbSession, tenant_id: ResourceId, member_id: ResourceId) -> MemberDetail:
    member = await service.get_member(session, tenant_id=tenant_id, member_id=member_id)
    identities = await service.identities_of(session, tenant_id=tenant_id, member_id=member_id)
    return MemberDetail(
        **MemberOut.model_validate(member).model_dump(),
        identities=[IdentityOut.model_validate(i) for i in identities],
    )
