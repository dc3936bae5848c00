"""Requests and answers of the live calendar: shows and featured products as ops define them, a show as a fan
sees it (with her reservation), reservation counts over time and the attribution report."""

from __future__ import annotations

from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from siyu.kit.types import NOT_BLANK

MAX_PRICE_FEN = 100_000_000  # ¥1,000,000


class ShowIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    channel_id: int = Field(ge=1, le=2**63 - 1, description="直播所在的渠道（店铺 / 直播账号）")
    title: str = Field(min_length=1, max_length=60, pattern=NOT_BLANK, description="直播标题（粉丝可见）")
    live_room: str | None = Field(default=None, max_length=64, description="直播间 ID（订单导出里的写法，可留空）")
    author_id: str | None = Field(default=None, max_length=100, description="达人 ID（订单导出里的写法，可留空）")
    starts_at: AwareDatetime = Field(description="开播时间（带时区）")
    ends_at: AwareDatetime = Field(description="计划下播时间（带时区），须晚于开播时间")
    benefits: list[str] = Field(default_factory=list, max_length=10, description="直播福利，如“预约抽 100 份小样”")

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _plausible(cls, value: datetime) -> datetime:
        if not 2000 <= value.year <= 2100:
            raise ValueError("时间不在合理范围内")
        return value


class ProductIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=60, pattern=NOT_BLANK, description="商品名称")
    price_fen: int | None = Field(default=None, ge=1, le=MAX_PRICE_FEN, description="直播价（分），必填")
    sort_order: int = Field(default=0, ge=-1000, le=1000, description="大的排在前面")


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    show_id: int
    title: str
    price_fen: int
    has_image: bool = False
    sort_order: int


class ShowOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    channel_id: int | None
    platform: str
    live_room: str | None
    author_id: str | None
    title: str
    has_cover: bool = False
    benefits: list[str]
    starts_at: datetime
    ends_at: datetime
    status: str = ""
    status_label: str = ""
    cancelled_at: datetime | None
    notice: str
    reservations: int = 0
    products: list[ProductOut] = Field(default_factory=list)


class FanProductOut(BaseModel):
    title: str
    price_fen: int
    image_url: str | None


class FanShowOut(BaseModel):
    id: int
    title: str
    platform: str
    platform_label: str
    starts_at: datetime
    ends_at: datetime
    status: str
    status_label: str
    benefits: list[str]
    cover_url: str | None
    notice: str
    reserved: bool
    can_reserve: bool
    products: list[FanProductOut]


class ReservationOut(BaseModel):
    show_id: int
    reserved: bool
    message: str


class CountPoint(BaseModel):
    day: str
    reservations: int


class BucketOut(BaseModel):
    orders: int
    gmv_fen: int


class ReportOut(BaseModel):
    show_id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    reservations: int
    reserved_buyers: BucketOut = Field(description="预约了这场直播的会员下的订单")
    other_members: BucketOut = Field(description="没有预约的会员下的订单")
    non_members: BucketOut = Field(description="认不出是会员的买家下的订单")
    orders: int
    gmv_fen: int
    claimed_orders: int
    claim_rate: float = Field(description="下播后已换成积分的订单占比")
    new_members: int = Field(description="这场直播带来的新会员：预告发布后加入、预约了它或买了它的会员")
    private_share: float = Field(description="会员订单金额占这场直播公域成交额的比例")


class MonthReportOut(BaseModel):
    month: str
    shows: list[ReportOut]
    orders: int
    gmv_fen: int
    private_gmv_fen: int
    private_share: float


class LiveSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    remind_minutes: int = Field(default=15, ge=0, le=1440, description="开播前多少分钟提醒预约的粉丝（0：不提醒）")
