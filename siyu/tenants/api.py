from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter

from siyu.kit.web import DbSession, Principal, ResourceId, require
from siyu.tenants import service
from siyu.tenants.schemas import ChannelIn, ChannelOut, ChannelUpdate, TenantOut, TenantUpdate

router = APIRouter(tags=["店铺与渠道"])


@router.get("/tenant", response_model=TenantOut, summary="当前店铺")
async def get_tenant(session: DbSession, principal: Annotated[Principal, require("tenant.read")]) -> TenantOut:
    return TenantOut.model_validate(await service.get_tenant(session, principal.tenant_id))


@router.patch("/tenant", response_model=TenantOut, summary="修改店铺设置")
async def update_tenant(
    body: TenantUpdate, session: DbSession, principal: Annotated[Principal, require("tenant.write")]
) -> TenantOut:
    return TenantOut.model_validate(await service.update_tenant(session, actor=principal, changes=body))


@router.get("/channels", response_model=list[ChannelOut], summary="渠道列表")
async def list_channels(
    session: DbSession, principal: Annotated[Principal, require("channels.read")]
) -> list[ChannelOut]:
    channels = await service.list_channels(session, tenant_id=principal.tenant_id)
    return [ChannelOut.model_validate(c) for c in channels]


@router.post("/channels", response_model=ChannelOut, status_code=201, summary="新增渠道")
async def create_channel(
    body: ChannelIn, session: DbSession, principal: Annotated[Principal, require("channels.write")]
) -> ChannelOut:
    return ChannelOut.model_validate(await service.create_channel(session, actor=principal, data=body))


@router.get("/channels/{channel_id}", response_model=ChannelOut, summary="渠道详情")
async def get_channel(
    channel_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("channels.read")]
) -> ChannelOut:
    channel = await service.get_channel(session, tenant_id=principal.tenant_id, channel_id=channel_id)
    return ChannelOut.model_validate(channel)


@router.patch("/channels/{channel_id}", response_model=ChannelOut, summary="修改渠道")
async def update_channel(
    channel_id: ResourceId,
    body: ChannelUpdate,
    session: DbSession,
    principal: Annotated[Principal, require("channels.write")],
) -> ChannelOut:
    channel = await service.update_channel(session, actor=principal, channel_id=channel_id, changes=body)
    return ChannelOut.model_validate(channel)
