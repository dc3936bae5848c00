"""The points policy of a tenant, campaigns, tiers and previews, as the API and the console read and write them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from siyu.kit.ids import RowId
from siyu.kit.types import NOT_BLANK

MAX_MULTIPLIER_PCT = 1000  # 10 times
MAX_BONUS = 1_000_000
MAX_FEN = 100_000_000_000  # a billion yuan: an order is far below


class Rounding(StrEnum):
    down = "down"
    nearest = "nearest"
    up = "up"


class HoldMode(StrEnum):
    immediate = "immediate"  # points are available as soon as they are credited
    after_completion = "after_completion"  # held until the order is completed, plus hold_days


class ExpiryMode(StrEnum):
    never = "never"
    days = "days"  # expiry_days after earning
    month_end = "month_end"  # end of the month of earning, plus expiry_months
    year_end = "year_end"  # end of the year of earning, plus expiry_years


ROUNDING_LABELS = {Rounding.down: "向下取整", Rounding.nearest: "四舍五入", Rounding.up: "向上取整"}
HOLD_LABELS = {HoldMode.immediate: "立即入账", HoldMode.after_completion: "确认收货后 N 天入账"}
EXPIRY_LABELS = {
    ExpiryMode.never: "永不过期",
    ExpiryMode.days: "获得后 N 天过期",
    ExpiryMode.month_end: "获得当月月底过期（可延后 N 个月）",
    ExpiryMode.year_end: "获得当年年底过期（可延后 N 年）",
}


Rate = Annotated[int, Field(ge=1, le=10_000_000)]
ChannelKey = Annotated[str, Field(pattern=r"^[1-9][0-9]{0,18}$")]


class PointsPolicy(BaseModel):
    """How a tenant's orders turn into points. Stored in the tenant's settings; defaults: 10 yuan = 1 point,
    rounded down, held until 7 days after the order is completed, expiring at the end of next year."""

    model_config = ConfigDict(extra="forbid")

    fen_per_point: Rate = Field(default=1000, description="多少分钱换 1 积分（1000 = 10 元）")
    rounding: Rounding = Rounding.down
    channel_fen_per_point: dict[ChannelKey, Rate] = Field(
        default_factory=dict,
        max_length=200,
        description="按渠道覆盖的兑换比例：渠道 id -> 多少分钱换 1 积分",
        json_schema_extra={"additionalProperties": False},
    )
    hold_mode: HoldMode = HoldMode.after_completion
    hold_days: int = Field(default=7, ge=0, le=90, description="确认收货后再等几天入账（退货期）")
    expiry_mode: ExpiryMode = ExpiryMode.year_end
    expiry_days: int = Field(default=365, ge=1, le=3650)
    expiry_months: int = Field(default=0, ge=0, le=120)
    expiry_years: int = Field(default=1, ge=0, le=10)
    warn_days: int = Field(default=7, ge=0, le=90, description="过期前几天提醒会员；0 不提醒")
    tier_window_days: int = Field(default=365, ge=30, le=1095, description="成长值统计最近多少天")


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=40, pattern=NOT_BLANK)
    priority: int = Field(default=0, ge=-1000, le=1000, description="数字大的先计算")
    starts_at: datetime
    ends_at: datetime
    channel_ids: list[RowId] = Field(default_factory=list, max_length=50, description="空：所有渠道")
    tier_ids: list[RowId] = Field(default_factory=list, max_length=20, description="空：所有会员")
    live_room: str | None = Field(default=None, max_length=64, description="只算这个直播间/主播的订单")
    multiplier_pct: int = Field(default=100, ge=100, le=MAX_MULTIPLIER_PCT, description="200 表示 2 倍积分")
    bonus_points: int = Field(default=0, ge=0, le=MAX_BONUS, description="每笔订单额外奖励")
    first_claim_bonus: int = Field(default=0, ge=0, le=MAX_BONUS, description="会员第一笔订单额外奖励")
    cap_per_member_day: int | None = Field(default=None, ge=1, le=MAX_BONUS * 10)
    cap_total: int | None = Field(default=None, ge=1, le=1_000_000_000)
    exclusive: bool = Field(default=False, description="命中后不再计算优先级更低的活动")
    active: bool = True

    @model_validator(mode="after")
    def window_and_effect(self) -> CampaignIn:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise ValueError("活动时间必须带时区")
        if self.ends_at <= self.starts_at:
            raise ValueError("活动结束时间必须晚于开始时间")
        if self.multiplier_pct == 100 and not self.bonus_points and not self.first_claim_bonus:
            raise ValueError("活动至少要有倍数、每单奖励或首单奖励之一")
        if self.live_room is not None:
            self.live_room = self.live_room.strip() or None
        return self


class CampaignOut(CampaignIn):
    id: int
    awarded_total: int
    created_at: datetime


class TierIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=20, pattern=NOT_BLANK)
    threshold: int = Field(ge=1, le=1_000_000_000, description="需要的成长值")
    multiplier_pct: int = Field(default=100, ge=100, le=MAX_MULTIPLIER_PCT, description="120 表示 1.2 倍积分")


class TierOut(TierIn):
    id: int


class PreviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    paid_fen: int = Field(ge=0, le=MAX_FEN, description="实付金额（分）")
    refund_fen: int = Field(default=0, ge=0, le=MAX_FEN)
    platform: str = Field(default="taobao", pattern=r"^(taobao|douyin|kuaishou|channels|jd|pdd)$")
    channel_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    live_room: str | None = Field(default=None, max_length=64)
    tier_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    first_claim: bool = False
    at: datetime | None = Field(default=None, description="下单时间；默认现在")


class PartOut(BaseModel):
    label: str
    points: int
    capped: bool = False


class PreviewOut(BaseModel):
    points: int
    base: int
    parts: list[PartOut] = Field(description="基础积分之后的每一项：活动倍数、等级倍数、奖励")
    explanation: str


class TierChangeOut(BaseModel):
    from_tier: str | None
    to_tier: str | None
    growth: int
    reason: str = Field(description="upgrade（成长值达到立即升级）/ review（定期评估）")
    created_at: datetime


class TierStandingOut(BaseModel):
    member_id: int
    tier: TierOut | None = Field(description="当前等级；null 为普通会员")
    growth: int = Field(description="统计窗口内已入账的订单积分")
    next_tier: TierOut | None
    history: list[TierChangeOut]
