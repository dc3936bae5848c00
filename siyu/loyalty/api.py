"""HTTP API of the loyalty programme: the points policy, campaigns, tiers, a preview, a member's tier."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from siyu.kit.web import DbSession, Principal, ResourceId, require
from siyu.loyalty import service
from siyu.loyalty.models import Campaign, Tier, TierChange
from siyu.loyalty.schemas import (
    CampaignIn,
    CampaignOut,
    PartOut,
    PointsPolicy,
    PreviewIn,
    PreviewOut,
    TierChangeOut,
    TierIn,
    TierOut,
    TierStandingOut,
)

router = APIRouter(tags=["积分规则"])


def _campaign(campaign: Campaign) -> CampaignOut:
    return CampaignOut.model_validate(campaign, from_attributes=True)


def _tier(tier: Tier) -> TierOut:
    return TierOut.model_validate(tier, from_attributes=True)


def _change(change: TierChange) -> TierChangeOut:
    return TierChangeOut.model_validate(change, from_attributes=True)


@router.get("/points/policy", response_model=PointsPolicy, summary="积分规则：兑换比例、取整、入账与过期")
async def get_policy(session: DbSession, principal: Annotated[Principal, require("tenant.read")]) -> PointsPolicy:
    policy, _tz = await service.policy_of(session, principal.tenant_id)
    return policy


@router.put("/points/policy", response_model=PointsPolicy, summary="修改积分规则（记入操作日志）")
async def put_policy(
    body: PointsPolicy, session: DbSession, principal: Annotated[Principal, require("points.rules")]
) -> PointsPolicy:
    return await service.save_policy(session, actor=principal, policy=body)


@router.post("/points/preview", response_model=PreviewOut, summary="试算：这样一笔订单现在能获得多少积分")
async def preview(
    body: PreviewIn, session: DbSession, principal: Annotated[Principal, require("tenant.read")]
) -> PreviewOut:
    calc = await service.preview(session, tenant_id=principal.tenant_id, data=body)
    return PreviewOut(
        points=calc.total,
        base=calc.base,
        parts=[PartOut(label=p.label, points=p.points, capped=p.capped) for p in calc.parts],
        explanation=calc.explanation(),
    )


@router.get("/points/campaigns", response_model=list[CampaignOut], summary="积分活动列表")
async def list_campaigns(
    session: DbSession, principal: Annotated[Principal, require("tenant.read")]
) -> list[CampaignOut]:
    return [_campaign(c) for c in await service.list_campaigns(session, tenant_id=principal.tenant_id)]


@router.post("/points/campaigns", response_model=CampaignOut, status_code=201, summary="新建积分活动")
async def create_campaign(
    body: CampaignIn, session: DbSession, principal: Annotated[Principal, require("points.rules")]
) -> CampaignOut:
    return _campaign(await service.create_campaign(session, actor=principal, data=body))


@router.get("/points/campaigns/{campaign_id}", response_model=CampaignOut, summary="积分活动详情")
async def get_campaign(
    campaign_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("tenant.read")]
) -> CampaignOut:
    return _campaign(await service.get_campaign(session, tenant_id=principal.tenant_id, campaign_id=campaign_id))


@router.put("/points/campaigns/{campaign_id}", response_model=CampaignOut, summary="修改积分活动")
async def update_campaign(
    campaign_id: ResourceId,
    body: CampaignIn,
    session: DbSession,
    principal: Annotated[Principal, require("points.rules")],
) -> CampaignOut:
    return _campaign(await service.update_campaign(session, actor=principal, campaign_id=campaign_id, data=body))


@router.delete("/points/campaigns/{campaign_id}", status_code=204, summary="删除还没发放过积分的活动（发放过的请停用）")
async def delete_campaign(
    campaign_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("points.rules")]
) -> Response:
    await service.delete_campaign(session, actor=principal, campaign_id=campaign_id)
    return Response(status_code=204)


@router.get("/points/tiers", response_model=list[TierOut], summary="会员等级（按成长值门槛从低到高）")
async def list_tiers(session: DbSession, principal: Annotated[Principal, require("tenant.read")]) -> list[TierOut]:
    return [_tier(t) for t in await service.list_tiers(session, tenant_id=principal.tenant_id)]


@router.post("/points/tiers", response_model=TierOut, status_code=201, summary="新建会员等级")
async def create_tier(
    body: TierIn, session: DbSession, principal: Annotated[Principal, require("points.rules")]
) -> TierOut:
    return _tier(await service.create_tier(session, actor=principal, data=body))


@router.put("/points/tiers/{tier_id}", response_model=TierOut, summary="修改会员等级（下次评估时生效）")
async def update_tier(
    tier_id: ResourceId, body: TierIn, session: DbSession, principal: Annotated[Principal, require("points.rules")]
) -> TierOut:
    return _tier(await service.update_tier(session, actor=principal, tier_id=tier_id, data=body))


@router.delete("/points/tiers/{tier_id}", status_code=204, summary="删除会员等级")
async def delete_tier(
    tier_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("points.rules")]
) -> Response:
    await service.delete_tier(session, actor=principal, tier_id=tier_id)
    return Response(status_code=204)


@router.get("/members/{member_id}/tier", response_model=TierStandingOut, summary="会员的等级、成长值与等级变化记录")
async def member_tier(
    member_id: ResourceId,
    session: DbSession,
    principal: Annotated[Principal, require("members.read")],
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> TierStandingOut:
    history = await service.tier_history(session, tenant_id=principal.tenant_id, member_id=member_id, limit=limit)
    standing = await service.standing(session, tenant_id=principal.tenant_id, member_id=member_id)
    return TierStandingOut(
        member_id=member_id,
        tier=_tier(standing.tier) if standing.tier else None,
        growth=standing.growth,
        next_tier=_tier(standing.next_tier) if standing.next_tier else None,
        history=[_change(c) for c in history],
    )
