"""HTTP API of claims for staff and systems: look claims up, approve or reject those in review; read and set
the claim policy."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from siyu.claims import service
from siyu.claims.models import Outcome
from siyu.claims.schemas import ClaimOut, ClaimPolicy, ReviewIn
from siyu.kit.pagination import PageRequest
from siyu.kit.web import DbSession, Principal, require

router = APIRouter(tags=["订单换积分"])


@router.get("/claims", response_model=list[ClaimOut], summary="查找领取记录（按订单号、会员、结果）")
async def list_claims(
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
    order_id: Annotated[str | None, Query(max_length=40)] = None,
    member_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    outcome: Annotated[Outcome | None, Query()] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[ClaimOut]:
    result = await service.search(
        session,
        tenant_id=principal.tenant_id,
        order_id=order_id,
        member_id=member_id,
        outcome=outcome,
        page=PageRequest(page=page, size=size),
    )
    return [ClaimOut.of(row) for row in result.items]


@router.get("/claims/policy", response_model=ClaimPolicy, summary="领取规则：核对方式、期限、等待天数、锁定")
async def get_policy(session: DbSession, principal: Annotated[Principal, require("tenant.read")]) -> ClaimPolicy:
    return await service.policy_of(session, principal.tenant_id)


@router.put("/claims/policy", response_model=ClaimPolicy, summary="修改领取规则（记入操作日志）")
async def put_policy(
    body: ClaimPolicy, session: DbSession, principal: Annotated[Principal, require("points.rules")]
) -> ClaimPolicy:
    return await service.save_policy(session, actor=principal, policy=body)


@router.post(
    "/claims/review",
    response_model=list[ClaimOut],
    summary="审核：通过（照常结算积分）或拒绝（原因会告诉会员），可批量；记入操作日志",
)
async def review(
    body: ReviewIn, session: DbSession, principal: Annotated[Principal, require("claims.review")]
) -> list[ClaimOut]:
    rows = await service.review(
        session, actor=principal, claim_ids=body.claim_ids, approve=body.approve, note=body.note
    )
    return [ClaimOut.of(row) for row in rows]
