"""The fan API of notices: the mini-program reports her subscribe consents (each allows one message)."""

from __future__ import annotations

from fastapi import APIRouter

from siyu.fans.api import CurrentFan, Slug
from siyu.kit.web import DbSession
from siyu.notices import service
from siyu.notices.schemas import ConsentIn, ConsentOut

router = APIRouter(tags=["粉丝"])


@router.post(
    "/fan/{slug}/notices/consents",
    response_model=ConsentOut,
    summary="记录粉丝在小程序里同意的订阅消息（每同意一次可发一条）",
)
async def record_consents(slug: Slug, body: ConsentIn, fan: CurrentFan, session: DbSession) -> ConsentOut:
    accepted, remaining = await service.record_consents(
        session, tenant_id=fan.tenant.id, member_id=fan.member.id, results=body.results
    )
    return ConsentOut(accepted=accepted, remaining=remaining)
