from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from siyu.kit.web import DbSession, Principal, ResourceId, require
from siyu.ledger import service
from siyu.ledger.models import KIND_LABELS, Entry
from siyu.ledger.schemas import AdjustmentIn, AdjustmentOut, EntryOut, PointsOut

router = APIRouter(tags=["积分"])


def _entry(entry: Entry) -> EntryOut:
    return EntryOut(
        id=entry.id,
        kind=entry.kind,
        kind_label=KIND_LABELS.get(entry.kind, entry.kind),
        amount=entry.amount,
        pending_amount=entry.pending_amount,
        source_ref=entry.source_ref,
        explanation=entry.explanation,
        created_by=entry.created_by,
        created_at=entry.created_at,
    )


@router.get("/members/{member_id}/points", response_model=PointsOut, summary="会员积分：余额与最近的积分记录")
async def get_points(
    member_id: ResourceId,
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> PointsOut:
    points = await service.balance(session, tenant_id=principal.tenant_id, member_id=member_id)
    entries = await service.recent_entries(session, tenant_id=principal.tenant_id, member_id=member_id, limit=limit)
    return PointsOut(
        member_id=member_id,
        available=points.available,
        pending=points.pending,
        debt=points.debt,
        entries=[_entry(e) for e in entries],
    )


@router.post(
    "/members/{member_id}/points/adjustments",
    response_model=AdjustmentOut,
    status_code=201,
    summary="人工调整会员积分（需填写原因，记入操作日志）",
)
async def adjust_points(
    member_id: ResourceId,
    body: AdjustmentIn,
    session: DbSession,
    principal: Annotated[Principal, require("points.adjust")],
) -> AdjustmentOut:
    entry = await service.adjust(
        session,
        tenant_id=principal.tenant_id,
        member_id=member_id,
        amount=body.amount,
        reason=body.reason,
        actor=principal,
    )
    points = await service.balance(session, tenant_id=principal.tenant_id, member_id=member_id)
    return AdjustmentOut(entry=_entry(entry), available=points.available, pending=points.pending, debt=points.debt)
