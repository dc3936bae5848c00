"""Rewards, redemptions, addresses and import reports as the API and the pages read and write them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from siyu.kit.types import NOT_BLANK
from siyu.mall.models import RewardKind, Status

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
    tier_ids: list[int] = Field(default_factory=list, max_length=20, description="可兑换的会员等级；空：所有会员")
    visible_from: datetime | None = Field(default=None, description="何时起在商城展示；空：立即")
    visible_until: datetime | None = None
    redeem_from: datetime | None = Field(default=None, description="何时开抢；空：展示即可兑换")
    redeem_until: datetime | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _consistent(self) -> RewardIn:
        for start, end in ((self.visible_from, self.visible_until), (self.redeem_from, self.redeem_until)):
            if start is not None and end is not None and end <= start:
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


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=20, description="收件人")
    phone: str = Field(pattern=r"^1[3-9][0-9]{9}$", description="手机号")
    region: str = Field(min_length=2, max_length=60, description="省 市 区")
    detail: str = Field(min_length=2, max_length=120, description="详细地址")


class AddressOut(AddressIn):
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
