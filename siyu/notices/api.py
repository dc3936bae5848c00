"""The fan API of notices: the mini-program (or an H5 page, for the official account's subscribe notices) reports
her subscribe consents (each allows one message); an H5 page gets what wx.config needs for the subscribe buttons."""

from __future__ import annotations

from fastapi import APIRouter

from siyu.fans.api import CurrentFan, Slug
from siyu.kit.web import DbSession
from siyu.notices import service
from siyu.notices.schemas import ConsentIn, ConsentOut, OfficialIn, OfficialOut, OfficialTemplateOut

router = APIRouter(tags=["粉丝"])


@router.post(
    "/fan/{slug}/notices/consents",
    response_model=ConsentOut,
    summary="记录粉丝同意的订阅消息（小程序订阅消息或公众号订阅通知；每同意一次可发一条）",
)
async def record_consents(slug: Slug, body: ConsentIn, fan: CurrentFan, session: DbSession) -> ConsentOut:
    accepted, remaining = await service.record_consents(
        session,
        tenant_id=fan.tenant.id,
        member_id=fan.member.id,
        results=body.results,
        tap=body.tap,
        openid=body.openid,
    )
    return ConsentOut(accepted=accepted, remaining=remaining)


@router.post(
    "/fan/{slug}/notices/official",
    response_model=OfficialOut,
    summary="H5 页面订阅公众号通知：wx.config 的签名和可订阅的通知",
)
async def official(slug: Slug, body: OfficialIn, fan: CurrentFan, session: DbSession) -> OfficialOut:
    config = await service.official_config(session, tenant_id=fan.tenant.id, url=body.url)
    templates = await service.official_templates(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return OfficialOut(
        app_id=config.app_id,
        timestamp=config.timestamp,
        nonce_str=config.nonce,
        signature=config.signature,
        templates=[OfficialTemplateOut(**t.__dict__) for t in templates],
    )
