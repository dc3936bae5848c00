"""The ops web console (/console/): server-rendered pages that call the domain services."""

from fastapi import APIRouter

from siyu.console import (
    analytics,
    api_keys,
    audit,
    auth,
    channels,
    checkin,
    claims,
    dashboard,
    groups,
    live,
    lottery,
    mall,
    members,
    notices,
    orders,
    points,
    referrals,
    segments,
    settings,
    staff,
    tasks,
    trials,
    voice,
)

router = APIRouter(prefix="/console")
for module in (
    auth,
    dashboard,
    analytics,
    orders,
    members,
    segments,
    claims,
    points,
    mall,
    lottery,
    referrals,
    checkin,
    channels,
    staff,
    api_keys,
    audit,
    settings,
    tasks,
    live,
    notices,
    groups,
    voice,
    trials,
):
    router.include_router(module.router)
