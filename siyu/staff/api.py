from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Response

from siyu.kit.web import CurrentPrincipal, DbSession, Principal, ResourceId, require
from siyu.staff import api_keys, service
from siyu.staff.models import ApiKey, Role, StaffUser
from siyu.staff.schemas import ApiKeyCreated, ApiKeyIn, ApiKeyOut, Me, StaffIn, StaffOut, StaffUpdate

router = APIRouter(tags=["员工与密钥"])


@router.get("/me", response_model=Me, summary="当前调用者")
async def me(principal: CurrentPrincipal) -> Me:
    return Me(
        tenant_id=principal.tenant_id,
        kind=principal.kind,
        label=principal.label,
        role=principal.role,
        permissions=sorted(principal.permissions),
    )


@router.get("/staff", response_model=list[StaffOut], summary="员工列表")
async def list_staff(session: DbSession, principal: Annotated[Principal, require("staff.read")]) -> list[StaffOut]:
    rows = await service.list_staff(session, tenant_id=principal.tenant_id)
    return [StaffOut(**service.staff_view(user, membership)) for user, membership in rows]


@router.post("/staff", response_model=StaffOut, status_code=201, summary="添加员工")
async def add_staff(
    body: StaffIn, session: DbSession, principal: Annotated[Principal, require("staff.write")]
) -> StaffOut:
    user, membership = await service.add_staff(
        session,
        tenant_id=principal.tenant_id,
        email=body.email,
        role=body.role,
        password=body.password,
        name=body.name,
        actor=principal,
    )
    return StaffOut(**service.staff_view(user, membership))


@router.get("/staff/{staff_id}", response_model=StaffOut, summary="员工详情")
async def get_staff(
    staff_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("staff.read")]
) -> StaffOut:
    user, membership = await service.get_staff(session, tenant_id=principal.tenant_id, staff_id=staff_id)
    return StaffOut(**service.staff_view(user, membership))


@router.patch("/staff/{staff_id}", response_model=StaffOut, summary="修改员工角色")
async def update_staff(
    staff_id: ResourceId,
    body: StaffUpdate,
    session: DbSession,
    principal: Annotated[Principal, require("staff.write")],
) -> StaffOut:
    await service.change_role(session, actor=principal, staff_id=staff_id, role=Role(body.role))
    user, membership = await service.get_staff(session, tenant_id=principal.tenant_id, staff_id=staff_id)
    return StaffOut(**service.staff_view(user, membership))


@router.delete("/staff/{staff_id}", status_code=204, summary="移除员工")
async def remove_staff(
    staff_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("staff.write")]
) -> Response:
    await service.remove_staff(session, actor=principal, staff_id=staff_id)
    return Response(status_code=204)


def _key_out(key: ApiKey, creator: StaffUser | None) -> ApiKeyOut:
    return ApiKeyOut(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        permissions=api_keys.permissions_of(key),
        created_by=key.created_by,
        created_by_name=f"{creator.name} <{creator.email}>" if creator is not None else None,
        created_at=key.created_at,
        expires_at=key.expires_at,
        last_used_at=key.last_used_at,
        revoked_at=key.revoked_at,
    )


@router.get("/api-keys", response_model=list[ApiKeyOut], summary="API 密钥列表")
async def list_api_keys(
    session: DbSession, principal: Annotated[Principal, require("api_keys.manage")]
) -> list[ApiKeyOut]:
    return [_key_out(k, creator) for k, creator in await api_keys.list_keys(session, tenant_id=principal.tenant_id)]


@router.post(
    "/api-keys",
    response_model=ApiKeyCreated,
    status_code=201,
    summary="创建 API 密钥（完整密钥只返回这一次）",
)
async def create_api_key(
    body: ApiKeyIn, session: DbSession, principal: Annotated[Principal, require("api_keys.manage")]
) -> ApiKeyCreated:
    key, secret = await api_keys.create(
        session,
        actor=principal,
        name=body.name,
        permissions=[str(p) for p in body.permissions],
        expires_at=body.expires_at,
    )
    creator = await api_keys.creator_of(session, key)
    return ApiKeyCreated(**_key_out(key, creator).model_dump(), secret=secret)


@router.get("/api-keys/{api_key_id}", response_model=ApiKeyOut, summary="API 密钥详情")
async def get_api_key(
    api_key_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("api_keys.manage")]
) -> ApiKeyOut:
    key = await api_keys.get(session, tenant_id=principal.tenant_id, api_key_id=api_key_id)
    return _key_out(key, await api_keys.creator_of(session, key))


@router.delete("/api-keys/{api_key_id}", response_model=ApiKeyOut, summary="吊销 API 密钥")
async def revoke_api_key(
    api_key_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("api_keys.manage")]
) -> ApiKeyOut:
    key = await api_keys.revoke(session, actor=principal, api_key_id=api_key_id)
    return _key_out(key, await api_keys.creator_of(session, key))
