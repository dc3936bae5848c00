"""HTTP API of analytics: the dashboard figures, RFM, the churn-risk list, the snapshot refresh, settings."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request

from siyu.analytics import service
from siyu.analytics.contribution import MonthFigures, Repeat
from siyu.analytics.periods import months_of, period_of
from siyu.analytics.schemas import (
    AtRiskOut,
    ContributionMonthOut,
    ContributionOut,
    DashboardOut,
    EdgesIn,
    EdgesOut,
    PairOut,
    PlatformClaimsOut,
    RefreshOut,
    RepeatOut,
    RfmOut,
    SegmentOut,
    SettingsIn,
    SettingsOut,
)
from siyu.analytics.ties import RfmView
from siyu.kit.time import to_local, utcnow
from siyu.kit.web import DbSession, Principal, require
from siyu.tenants import service as tenants

router = APIRouter(prefix="/analytics", tags=["数据分析"])
Reader = Annotated[Principal, require("analytics.read")]
Day = Annotated[str | None, Query(max_length=10, description="YYYY-MM-DD，店铺时区")]
Month = Annotated[str | None, Query(max_length=7, description="YYYY-MM，店铺时区；看不懂时用默认的近 12 个月")]
View = Annotated[
    RfmView,
    Query(description="claimed：会员领取（含绑定账号自动积分）的订单；tied：能对应到会员的全部导入订单"),
]


def _dir(request: Request) -> Path:
    return Path(request.app.state.settings.data_dir) / "analytics"


def _pair(pair: service.Pair) -> PairOut:
    return PairOut(now=pair.now, before=pair.before, change=pair.change)


def _claims(p: service.PlatformClaims) -> PlatformClaimsOut:
    return PlatformClaimsOut(
        platform=p.platform,
        label=p.label,
        orders=_pair(p.orders),
        claimed=_pair(p.claimed),
        gmv_fen=_pair(p.gmv_fen),
        claimed_fen=_pair(p.claimed_fen),
        rate=p.rate[0],
        rate_before=p.rate[1],
        gmv_rate=p.gmv_rate[0],
        gmv_rate_before=p.gmv_rate[1],
    )


@router.get("/dashboard", response_model=DashboardOut, summary="概览数据：本期与上期")
async def dashboard(
    request: Request, session: DbSession, principal: Reader, first: Day = None, last: Day = None
) -> DashboardOut:
    tenant = await tenants.get_tenant(session, principal.tenant_id)
    period = period_of(first, last, today=to_local(utcnow(), tenant.timezone).date())
    b = await service.dashboard(
        session, tenant_id=tenant.id, timezone=tenant.timezone, period=period, directory=_dir(request)
    )
    return DashboardOut(
        first=b.period.first,
        last=b.period.last,
        previous_first=b.previous.first,
        previous_last=b.previous.last,
        members=b.members,
        new_members=_pair(b.new_members),
        platforms=[_claims(p) for p in b.platforms],
        total=_claims(b.total),
        points_issued=_pair(b.issued),
        points_spent=_pair(b.spent),
        points_expired=_pair(b.expired),
        points_available=b.available,
        points_pending=b.pending,
        points_debt=b.debt,
        yuan_per_point=b.yuan_per_point,
        liability_fen=b.liability_fen,
        redemptions=_pair(b.redemptions),
        redemption_points=_pair(b.redemption_points),
        draws=_pair(b.draws),
        draw_points=_pair(b.draw_points),
        orders_as_of=b.orders_as_of,
    )


@router.get("/rfm", response_model=RfmOut, summary="会员价值（RFM）：5×5 分布与分层")
async def rfm(request: Request, session: DbSession, principal: Reader, view: View = "claimed") -> RfmOut:
    state = await service.snapshot_state(session, tenant_id=principal.tenant_id)
    result = await service.rfm_of(session, tenant_id=principal.tenant_id, directory=_dir(request), reading=view)
    return RfmOut(
        computed_at=state.refreshed_at if state else None,
        members=result.members,
        monetary_fen=result.monetary_fen,
        at_risk=result.at_risk,
        edges=EdgesOut(r=list(result.edges.r), f=list(result.edges.f), m=list(result.edges.m), own=result.edges.own),
        grid=[[n for n, _ in row] for row in result.grid],
        grid_fen=[[fen for _, fen in row] for row in result.grid],
        segments=[SegmentOut(key=k, name=name, members=n, monetary_fen=fen) for k, name, n, fen in result.segments],
    )


@router.get("/rfm/at-risk", response_model=list[AtRiskOut], summary="流失风险会员（按消费金额排序）")
async def at_risk(
    request: Request,
    session: DbSession,
    principal: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    view: View = "claimed",
) -> list[AtRiskOut]:
    _, rows = await service.at_risk(
        session, tenant_id=principal.tenant_id, directory=_dir(request), limit=limit, offset=offset, reading=view
    )
    return [AtRiskOut.model_validate(row) for row in rows]


def _month_out(month: str, m: MonthFigures) -> ContributionMonthOut:
    return ContributionMonthOut(
        month=month,
        orders=m.orders,
        gmv_fen=m.gmv_fen,
        member_orders=m.member_orders,
        member_gmv_fen=m.member_gmv_fen,
        reserved_orders=m.reserved_orders,
        reserved_gmv_fen=m.reserved_gmv_fen,
        unknown_orders=m.unknown_orders,
        unknown_gmv_fen=m.unknown_gmv_fen,
        member_share=m.share,
    )


def _repeat_out(r: Repeat) -> RepeatOut:
    return RepeatOut(buyers=r.buyers, repeat_buyers=r.repeat_buyers, rate=r.rate)


@router.get("/contribution", response_model=ContributionOut, summary="私域贡献：每月会员与非会员的成交、复购率")
async def contribution(
    request: Request, session: DbSession, principal: Reader, first: Month = None, last: Month = None
) -> ContributionOut:
    tenant = await tenants.get_tenant(session, principal.tenant_id)
    months = months_of(first, last, today=to_local(utcnow(), tenant.timezone).date())
    found = await service.contribution(
        session, tenant_id=tenant.id, timezone=tenant.timezone, months=months, directory=_dir(request)
    )
    if found is None:
        empty = Repeat(0, 0)
        return ContributionOut(
            first=months[0],
            last=months[-1],
            computed_at=None,
            months=[_month_out(m, MonthFigures()) for m in months],
            members_repeat=_repeat_out(empty),
            others_repeat=_repeat_out(empty),
            unidentified_orders=0,
        )
    return ContributionOut(
        first=months[0],
        last=months[-1],
        computed_at=found.as_of,
        months=[_month_out(month, m) for month, m in found.months],
        members_repeat=_repeat_out(found.members),
        others_repeat=_repeat_out(found.others),
        unidentified_orders=found.unidentified_orders,
    )


@router.post("/refresh", response_model=RefreshOut, summary="更新分析快照（只读取上次之后变化的订单）")
async def refresh(request: Request, session: DbSession, principal: Reader) -> RefreshOut:
    done = await service.refresh(session, tenant_id=principal.tenant_id, directory=_dir(request))
    return RefreshOut(full=done.full, read=done.read, rows=done.rows, refreshed_at=done.refreshed_at)


def _settings_out(settings: service.Settings) -> SettingsOut:
    edges = settings.rfm_edges
    return SettingsOut(yuan_per_point=settings.yuan_per_point, rfm_edges=EdgesIn(**edges) if edges else None)


@router.get("/settings", response_model=SettingsOut, summary="分析设置：每积分价值与 RFM 分界值")
async def get_settings(session: DbSession, principal: Reader) -> SettingsOut:
    return _settings_out(await service.settings_of(session, tenant_id=principal.tenant_id))


@router.put("/settings", response_model=SettingsOut, summary="修改分析设置")
async def put_settings(
    body: SettingsIn, session: DbSession, principal: Annotated[Principal, require("tenant.write")]
) -> SettingsOut:
    saved = await service.save_settings(
        session,
        tenant_id=principal.tenant_id,
        yuan_per_point=body.yuan_per_point,
        rfm_edges=body.rfm_edges.model_dump() if body.rfm_edges else None,
        clear_edges=body.clear_edges,
    )
    return _settings_out(saved)
