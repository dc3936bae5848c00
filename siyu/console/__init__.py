"""The ops web console (/console/): server-rendered pages that call the domain services."""

from fastapi import APIRouter

from siyu.console import (
    analytics,
    api_keys,
    audit,
    auth,
    channels,
    claims,
    dashboard,
    lottery,
    mall,
    members,
    orders,
    points,
    settings,
    staff,
)

router = APIRouter(prefix="/console")
for module in (
    auth,
    dashboard,
    analytics,
    orders,
    members,
    claims,
    points,
    mall,
    lottery,
    channels,
    staff,
    api_keys,
    audit,
    settings,
):
    router.include_router(module.router)
