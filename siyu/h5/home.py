"""The member-center home of one tenant."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims import service as claims
from siyu.claims.models import OUTCOME_LABELS, Claim, Outcome, Via
from siyu.fans import service as fans
from siyu.h5.fans import Fan
from siyu.h5.live import next_show
from siyu.h5.referrals import remember_invite, welcome
from siyu.kit.time import utcnow
from siyu.kit.web import DbSession
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.mall import service as mall
from siyu.mall.models import Redemption, Status
from siyu.members import service as members
from siyu.members.models import Member
from siyu.templating import templates
from siyu.tenants import service as tenants
from siyu.tenants.models import PLATFORM_LABELS

router = APIRouter()


@router.get("/{slug}/", response_class=HTMLResponse)
async def home(fan: Fan, request: Request, session: DbSession) -> HTMLResponse:
    tenant = fan.tenant
    channels = [c for c in await tenants.list_channels(session, tenant_id=tenant.id) if c.active]
    platforms = sorted({c.platform for c in channels}, key=list(PLATFORM_LABELS).index)
    who = None if fan.member is None else await _who(session, tenant.id, fan.member)
    response = templates.TemplateResponse(
        request,
        "h5/home.html",
        {
            "tenant": tenant,
            "brand_color": (tenant.settings or {}).get("brand_color", "#e8336d"),
            "welcome": (tenant.settings or {}).get("welcome_text") or f"欢迎来到{tenant.name}会员中心",
            "platforms": [PLATFORM_LABELS[p] for p in platforms],
            "who": who,
            "fan_points": None
            if fan.member is None
            else await ledger.balance(session, tenant_id=tenant.id, member_id=fan.member.id),
            "shipped": []
            if fan.member is None
            else _on_its_way(
                await mall.redemptions_of(session, tenant_id=tenant.id, member_id=fan.member.id, limit=20)
            ),
            "auto_credited": []
            if fan.member is None
            else _recent_bound(await claims.claims_of(session, tenant_id=tenant.id, member_id=fan.member.id, limit=20)),
            "settled": []
            if fan.member is None
            else await claims.settled_since(
                session, tenant_id=tenant.id, member_id=fan.member.id, since=utcnow() - timedelta(days=7)
            ),
            "next_show": await next_show(
                session, tenant_id=tenant.id, member_id=None if fan.member is None else fan.member.id
            ),
            "outcome_labels": OUTCOME_LABELS,
            "platform_labels": PLATFORM_LABELS,
            "invited": await welcome(request, session, fan),
        },
    )
    remember_invite(request, response, fan)
    return response


@dataclass(frozen=True)
class Who:
    """The signed-in fan as her home page greets her."""

    name: str
    tier: str
    expiring: loyalty.ExpiringSoon


async def _who(session: AsyncSession, tenant_id: int, member: Member) -> Who:
    identities = await members.identities_of(session, tenant_id=tenant_id, member_id=member.id)
    standing = await loyalty.standing(session, tenant_id=tenant_id, member_id=member.id)
    return Who(
        name=fans.display_name(member, next((i.value for i in identities if i.kind == "phone"), None)),
        tier=standing.tier.name if standing.tier else "普通会员",
        expiring=await loyalty.expiring_soon(session, tenant_id=tenant_id, member_id=member.id),
    )


def _recent_bound(rows: list[Claim]) -> list[Claim]:
    """Orders credited on their own through a bound account in the last week: she is told on her home page."""
    week_ago = utcnow() - timedelta(days=7)
    return [r for r in rows if r.via == Via.bound and r.outcome == Outcome.credited and r.created_at >= week_ago]


def _on_its_way(rows: list[Redemption]) -> list[Redemption]:
    """Rewards shipped in the last two weeks and not yet signed for: the home page tells her."""
    since = utcnow() - timedelta(days=14)
    return [r for r in rows if r.status == Status.shipped and r.shipped_at is not None and r.shipped_at >= since]
