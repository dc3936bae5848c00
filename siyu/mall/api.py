"""HTTP API of the points mall for staff and systems: the catalogue, code pools, redemptions and fulfilment."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Query, Request, Response, UploadFile

from siyu.kit.errors import InvalidInput
from siyu.kit.pagination import PageRequest
from siyu.kit.web import DbSession, Principal, ResourceId, require
from siyu.mall import fulfil, images, lottery, service
from siyu.mall.models import STATUS_LABELS, Lottery, Redemption, Reward, Status
from siyu.mall.schemas import (
    CancelIn,
    DrawOut,
    ImportReport,
    LotteryIn,
    LotteryOut,
    PrizeOut,
    RedemptionOut,
    RewardIn,
    RewardOut,
    ShipIn,
    StatsOut,
)

router = APIRouter(tags=["积分商城"])
MAX_FILE = 20 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class FileTooLarge(InvalidInput):
    code = "file_too_large"
    message = "文件太大"


async def _read(file: UploadFile, limit: int) -> bytes:
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise (images.ImageTooLarge() if limit == images.MAX_BYTES else FileTooLarge())
    return data


def _reward(row: Reward) -> RewardOut:
    return RewardOut.model_validate(row)


def redemption_out(row: Redemption) -> RedemptionOut:
    out = RedemptionOut.model_validate(row)
    out.status_label = STATUS_LABELS.get(row.status, row.status)
    return out


@router.get("/mall/rewards", response_model=list[RewardOut], summary="积分商城奖品列表")
async def list_rewards(session: DbSession, principal: Annotated[Principal, require("mall.read")]) -> list[RewardOut]:
    return [_reward(r) for r in await service.list_rewards(session, tenant_id=principal.tenant_id)]


@router.post("/mall/rewards", response_model=RewardOut, status_code=201, summary="新建奖品（记入操作日志）")
async def create_reward(
    body: RewardIn, session: DbSession, principal: Annotated[Principal, require("mall.manage")]
) -> RewardOut:
    return _reward(await service.create_reward(session, actor=principal, data=body))


@router.get("/mall/rewards/{reward_id}", response_model=RewardOut, summary="奖品详情")
async def get_reward(
    reward_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("mall.read")]
) -> RewardOut:
    return _reward(await service.get_reward(session, tenant_id=principal.tenant_id, reward_id=reward_id))


@router.put("/mall/rewards/{reward_id}", response_model=RewardOut, summary="修改奖品（记入操作日志）")
async def update_reward(
    reward_id: ResourceId, body: RewardIn, session: DbSession, principal: Annotated[Principal, require("mall.manage")]
) -> RewardOut:
    return _reward(await service.update_reward(session, actor=principal, reward_id=reward_id, data=body))


@router.delete("/mall/rewards/{reward_id}", status_code=204, summary="删除没人兑换过的奖品（兑换过的请下架）")
async def delete_reward(
    reward_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("mall.manage")]
) -> Response:
    await service.delete_reward(session, actor=principal, reward_id=reward_id)
    return Response(status_code=204)


@router.put(
    "/mall/rewards/{reward_id}/image", response_model=RewardOut, summary="上传奖品图片（JPG/PNG/GIF/WebP，≤ 2 MB）"
)
async def put_image(
    reward_id: ResourceId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require("mall.manage")],
    file: Annotated[UploadFile, File(description="图片文件")],
) -> RewardOut:
    data = await _read(file, images.MAX_BYTES)
    data_dir = request.app.state.settings.data_dir
    return _reward(await service.set_image(session, actor=principal, reward_id=reward_id, data=data, data_dir=data_dir))


@router.post("/mall/rewards/{reward_id}/codes", response_model=ImportReport, summary="导入兑换码（TXT/CSV，每行一个）")
async def import_codes(
    reward_id: ResourceId,
    session: DbSession,
    principal: Annotated[Principal, require("mall.manage")],
    file: Annotated[UploadFile, File(description="每行一个兑换码；CSV 取第一列")],
) -> ImportReport:
    data = await _read(file, MAX_FILE)
    return await service.import_codes(
        session, actor=principal, reward_id=reward_id, data=data, filename=file.filename or ""
    )


@router.get("/mall/redemptions", response_model=list[RedemptionOut], summary="兑换订单（按状态、奖品、会员）")
async def list_redemptions(
    session: DbSession,
    principal: Annotated[Principal, require("mall.read")],
    status: Annotated[Status | None, Query()] = None,
    reward_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    member_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    size: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[RedemptionOut]:
    result = await service.search(
        session,
        tenant_id=principal.tenant_id,
        status=status,
        reward_id=reward_id,
        member_id=member_id,
        page=PageRequest(page=page, size=size),
    )
    return [redemption_out(r) for r in result.items]


@router.get(
    "/mall/redemptions/pick-list",
    summary="待发货拣货单（XLSX；填好快递公司和运单号后可直接导入）",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "XLSX 文件"}},
)
async def pick_list(session: DbSession, principal: Annotated[Principal, require("mall.read")]) -> Response:
    data = await fulfil.pick_list(session, tenant_id=principal.tenant_id)
    return Response(data, media_type=XLSX, headers={"Content-Disposition": 'attachment; filename="pick-list.xlsx"'})


@router.get("/mall/stats", response_model=StatsOut, summary="兑换统计：各状态数量、消耗积分、各奖品兑换量")
async def stats(session: DbSession, principal: Annotated[Principal, require("mall.read")]) -> StatsOut:
    return await service.stats(session, tenant_id=principal.tenant_id)


@router.get("/mall/redemptions/{redemption_id}", response_model=RedemptionOut, summary="兑换订单详情")
async def get_redemption(
    redemption_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("mall.read")]
) -> RedemptionOut:
    row = await service.get_redemption(session, tenant_id=principal.tenant_id, redemption_id=redemption_id)
    return redemption_out(row)


@router.post("/mall/redemptions/{redemption_id}/ship", response_model=RedemptionOut, summary="发货：快递公司和运单号")
async def ship(
    redemption_id: ResourceId, body: ShipIn, session: DbSession, principal: Annotated[Principal, require("mall.fulfil")]
) -> RedemptionOut:
    return redemption_out(await fulfil.ship(session, actor=principal, redemption_id=redemption_id, data=body))


@router.post("/mall/redemptions/{redemption_id}/deliver", response_model=RedemptionOut, summary="确认签收")
async def deliver(
    redemption_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("mall.fulfil")]
) -> RedemptionOut:
    return redemption_out(await fulfil.deliver(session, actor=principal, redemption_id=redemption_id))


@router.post(
    "/mall/redemptions/{redemption_id}/cancel", response_model=RedemptionOut, summary="取消：退回库存和积分（原批次）"
)
async def cancel(
    redemption_id: ResourceId,
    body: CancelIn,
    session: DbSession,
    principal: Annotated[Principal, require("mall.fulfil")],
) -> RedemptionOut:
    row = await fulfil.cancel(session, actor=principal, redemption_id=redemption_id, reason=body.reason)
    return redemption_out(row)


@router.post("/mall/tracking-imports", response_model=ImportReport, summary="批量导入运单号（CSV/XLSX）：逐行报告")
async def import_tracking(
    session: DbSession,
    principal: Annotated[Principal, require("mall.fulfil")],
    file: Annotated[UploadFile, File(description="列：兑换单号、快递公司、运单号")],
) -> ImportReport:
    data = await _read(file, MAX_FILE)
    return await fulfil.import_tracking(session, actor=principal, data=data, filename=file.filename or "")


# 积分抽奖


async def _lottery(session: DbSession, row: Lottery) -> LotteryOut:
    out = LotteryOut.model_validate(row)
    prizes = await lottery.prizes_of(session, tenant_id=row.tenant_id, lottery_id=row.id)
    out.prizes = [PrizeOut.model_validate(p) for p in prizes]
    return out


@router.get("/mall/lotteries", response_model=list[LotteryOut], summary="积分抽奖活动列表")
async def list_lotteries(session: DbSession, principal: Annotated[Principal, require("mall.read")]) -> list[LotteryOut]:
    return [await _lottery(session, r) for r in await lottery.list_lotteries(session, tenant_id=principal.tenant_id)]


@router.post(
    "/mall/lotteries", response_model=LotteryOut, status_code=201, summary="新建抽奖活动和奖项（记入操作日志）"
)
async def create_lottery(
    body: LotteryIn, session: DbSession, principal: Annotated[Principal, require("mall.manage")]
) -> LotteryOut:
    body = await service.local_times(session, tenant_id=principal.tenant_id, data=body)  # no zone: the shop's time
    return await _lottery(session, await lottery.create_lottery(session, actor=principal, data=body))


@router.get("/mall/lotteries/{lottery_id}", response_model=LotteryOut, summary="抽奖活动详情（含奖项、已抽中数量）")
async def get_lottery(
    lottery_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("mall.read")]
) -> LotteryOut:
    return await _lottery(
        session, await lottery.get_lottery(session, tenant_id=principal.tenant_id, lottery_id=lottery_id)
    )


@router.put(
    "/mall/lotteries/{lottery_id}",
    response_model=LotteryOut,
    summary="修改抽奖活动：带编号的奖项修改，不带的新增，没列出的删除（有人抽中过的不能删，可把权重改成 0）",
)
async def update_lottery(
    lottery_id: ResourceId, body: LotteryIn, session: DbSession, principal: Annotated[Principal, require("mall.manage")]
) -> LotteryOut:
    body = await service.local_times(session, tenant_id=principal.tenant_id, data=body)  # no zone: the shop's time
    return await _lottery(
        session, await lottery.update_lottery(session, actor=principal, lottery_id=lottery_id, data=body)
    )


@router.delete("/mall/lotteries/{lottery_id}", status_code=204, summary="删除没人抽过的抽奖活动（抽过的请停用）")
async def delete_lottery(
    lottery_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("mall.manage")]
) -> Response:
    await lottery.delete_lottery(session, actor=principal, lottery_id=lottery_id)
    return Response(status_code=204)


@router.get("/mall/lotteries/{lottery_id}/draws", response_model=list[DrawOut], summary="抽奖记录（最近的在前）")
async def list_draws(
    lottery_id: ResourceId,
    session: DbSession,
    principal: Annotated[Principal, require("mall.read")],
    member_id: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DrawOut]:
    rows = await lottery.draws_of(
        session, tenant_id=principal.tenant_id, lottery_id=lottery_id, member_id=member_id, limit=limit
    )
    return [DrawOut.model_validate(r) for r in rows]
