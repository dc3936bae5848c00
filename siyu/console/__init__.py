"""The ops web console (/console/): server-rendered pages that call the domain services."""

from fastapi import APIRouter

from siyu.console import (
    api_keys,
    audit,
    auth,
    channels,
    claims,
    dashboard,
    lottery,
    mall,
    members,
    notices,
    orders,
    points,
    settings,
    staff,
    tasks,
)

router = APIRouter(prefix="/console")
for module in (
    auth,
    dashboard,
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
    tasks,
    notices,
):
    router.include_router(module.router)
