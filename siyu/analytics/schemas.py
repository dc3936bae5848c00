"""Request and response models of the analytics API. Money in fen, rates as fractions (0.25 = 25 %), null
where a figure has nothing to be computed from (a rate over no orders)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, Field, WithJsonSchema


class PairOut(BaseModel):
    now: int = Field(description="本期")
    before: int = Field(description="上期（紧挨本期之前、天数相同）")
    change: float | None = Field(description="相对上期的变化（0.25 即增长 25%），上期为 0 时为 null")


class PlatformClaimsOut(BaseModel):
    platform: str = Field(description="平台代码；全部平台合计为 all")
    label: str
    orders: PairOut = Field(description="已付款订单数（不含待付款）")
    claimed: PairOut = Field(description="其中已被会员领取或绑定账号自动积分的订单数")
    gmv_fen: PairOut = Field(description="已付款订单的实付金额（分）")
    claimed_fen: PairOut = Field(description="已领取订单的实付金额（分）")
    rate: float | None = Field(description="本期领取率 = 已领取订单数 / 已付款订单数")
    rate_before: float | None
    gmv_rate: float | None = Field(description="本期金额领取率 = 已领取金额 / 已付款金额")
    gmv_rate_before: float | None


class DashboardOut(BaseModel):
    first: date = Field(description="本期第一天（店铺时区）")
    last: date = Field(description="本期最后一天（含）")
    previous_first: date
    previous_last: date
    members: int = Field(description="当前会员数（不含已合并的）")
    new_members: PairOut
    platforms: list[PlatformClaimsOut]
    total: PlatformClaimsOut
    points_issued: PairOut = Field(description="发放积分：订单积分（含待入账）、直接获得与人工增加")
    points_spent: PairOut = Field(description="兑换消耗积分：兑换扣除减去取消退回")
    points_expired: PairOut
    points_available: int = Field(description="会员手中可用积分（欠分的会员按 0 计）")
    points_pending: int
    points_debt: int = Field(description="会员欠分合计")
    yuan_per_point: Decimal
    liability_fen: int = Field(description="积分负债（分）= 可用积分 × 每积分价值")
    redemptions: PairOut = Field(description="兑换订单数（不含已取消）")
    redemption_points: PairOut
    draws: PairOut = Field(description="抽奖次数")
    draw_points: PairOut
    orders_as_of: datetime | None = Field(
        description="订单相关数字（领取率等）来自此时更新的分析快照；null 表示直接来自数据库"
    )


class EdgesOut(BaseModel):
    r: list[float] = Field(description="最近一单距今天数的 4 个分界值")
    f: list[float] = Field(description="订单数的 4 个分界值")
    m: list[float] = Field(description="消费金额（分）的 4 个分界值")
    own: bool = Field(description="店铺自己设置的分界值；false 为按数据的 20/40/60/80% 分位自动得出")


class SegmentOut(BaseModel):
    key: str
    name: str
    members: int
    monetary_fen: int


class RfmOut(BaseModel):
    computed_at: datetime | None = Field(description="快照更新时间；从未计算时为 null")
    members: int = Field(description="有计入订单的会员数")
    monetary_fen: int
    at_risk: int = Field(description="流失风险会员数")
    edges: EdgesOut
    grid: list[list[int]] = Field(description="5×5：grid[R 分-1][F 分-1] = 会员数")
    grid_fen: list[list[int]] = Field(description="同上格子的消费金额（分）")
    segments: list[SegmentOut]


class AtRiskOut(BaseModel):
    member_id: int
    nickname: str
    segment: str
    segment_name: str
    recency_days: int
    visit_days: int | None = Field(description="最近一次访问距今天数；没有访问记录时为 null")
    usual_gap_days: float
    frequency: int
    monetary_fen: int


class ContributionMonthOut(BaseModel):
    month: str = Field(description="月份 YYYY-MM（店铺时区）")
    orders: int = Field(description="付款时间在本月、不是待付款的订单数")
    gmv_fen: int = Field(description="这些订单的成交额（分）= 实付减退款，每单最少 0")
    member_orders: int = Field(description="其中会员的订单：会员领取的，或带有会员绑定的买家账号的")
    member_gmv_fen: int
    reserved_orders: int = Field(description="会员订单中，本月预约过直播（本月开播、未取消）的会员的订单")
    reserved_gmv_fen: int
    unknown_orders: int = Field(description="无法对应到会员的买家的订单")
    unknown_gmv_fen: int
    member_share: float | None = Field(description="会员成交额 / 成交额；本月没有成交时为 null")


class RepeatOut(BaseModel):
    buyers: int = Field(description="期间内有有效订单（已付款、未关闭、未全额退款）的买家数")
    repeat_buyers: int = Field(description="其中有效订单不少于 2 笔的买家数")
    rate: float | None = Field(description="复购率 = repeat_buyers / buyers；没有买家时为 null")


class ContributionOut(BaseModel):
    first: str = Field(description="第一个月 YYYY-MM")
    last: str = Field(description="最后一个月 YYYY-MM（含）")
    computed_at: datetime | None = Field(description="分析快照更新时间；从未计算时为 null，各月数字为 0")
    months: list[ContributionMonthOut]
    members_repeat: RepeatOut = Field(description="会员的复购率（整个期间）")
    others_repeat: RepeatOut = Field(description="非会员买家（按买家账号区分）的复购率")
    unidentified_orders: int = Field(description="没有可识别买家账号的非会员有效订单数（不计入复购率）")


class RefreshOut(BaseModel):
    full: bool = Field(description="是否整体重建（首次或快照文件丢失）")
    read: int = Field(description="本次从数据库读取的订单行数")
    rows: int = Field(description="快照中的订单数")
    refreshed_at: datetime


RatePerPoint = Annotated[
    Decimal, WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1000, "description": "每积分折合多少元"})
]


class SettingsIn(BaseModel):
    # a number in the schema (a decimal's JSON schema would admit any string); kept to 4 places when saved
    yuan_per_point: (
        Annotated[
            Decimal,
            WithJsonSchema({"type": "number", "minimum": 0, "maximum": 1000, "description": "每积分折合多少元"}),
        ]
        | None
    ) = Field(default=None, ge=0, le=1000)
    rfm_edges: EdgesIn | None = None
    clear_edges: bool = Field(default=False, description="清除自定义分界值，恢复按数据自动分档")


class EdgesIn(BaseModel):
    r: list[float] = Field(min_length=4, max_length=4)
    f: list[float] = Field(min_length=4, max_length=4)
    m: list[float] = Field(min_length=4, max_length=4, description="分")


class SettingsOut(BaseModel):
    yuan_per_point: Decimal
    rfm_edges: EdgesIn | None


SettingsIn.model_rebuild()
