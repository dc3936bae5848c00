"""The fan H5 member center (/h5/<tenant-slug>/): mobile pages in zh-CN."""

from fastapi import APIRouter

from siyu.h5 import (
    checkin,
    claims,
    groups,
    home,
    live,
    lottery,
    mall,
    notices,
    points,
    referrals,
    sign_in,
    tasks,
    trials,
    voice,
)

router = APIRouter(prefix="/h5")
router.include_router(home.router)
router.include_router(points.router)
router.include_router(claims.router)
router.include_router(sign_in.router)
router.include_router(mall.router)
router.include_router(lottery.router)
router.include_router(tasks.router)
router.include_router(referrals.router)
router.include_router(checkin.router)
router.include_router(live.router)
router.include_router(notices.router)
router.include_router(groups.router)
router.include_router(voice.router)
router.include_router(trials.router)
