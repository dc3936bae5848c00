"""Requests and answers of member tags and saved segments, and the segment filter itself.

A filter's criteria are all optional and all must hold (AND); a list inside a criterion is any of its values (OR).
Days are the tenant's local days, both ends included."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from siyu.kit.ids import RowId
from siyu.kit.types import NOT_BLANK
from siyu.tenants.models import Platform

MAX_POINTS = 100_000_000
RfmKey = Literal["top", "win_back", "new", "potential", "sleeping", "other"]
RFM_ORDER = ["top", "win_back", "new", "potential", "sleeping", "other"]  # as analytics names them


class SegmentFilter(BaseModel):
    """Who belongs: every criterion given must hold."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    tier_ids: list[RowId] = Field(default_factory=list, max_length=20, description="会员等级（任一）")
    rfm: list[RfmKey] = Field(
        default_factory=list,
        max_length=6,
        description=(
            "会员价值分层（任一）：top 重要价值、win_back 重要挽留、new 新客、potential 高潜、sleeping 沉睡、other 一般"
        ),
    )
    tags_any: list[RowId] = Field(default_factory=list, max_length=50, description="有以下任一标签")
    tags_none: list[RowId] = Field(default_factory=list, max_length=50, description="没有以下任何标签")
    platforms: list[Platform] = Field(
        default_factory=list, max_length=6, description="在这些平台绑定了账号或领取过订单积分（任一）"
    )
    points_min: int | None = Field(default=None, ge=0, le=MAX_POINTS, description="可用积分不少于")
    points_max: int | None = Field(default=None, ge=0, le=MAX_POINTS, description="可用积分不多于")
    last_claim_from: date | None = Field(default=None, description="最近一次订单换积分在这天或之后")
    last_claim_to: date | None = Field(default=None, description="最近一次订单换积分在这天或之前")
    no_claim_days: int | None = Field(default=None, ge=1, le=3650, description="最近 N 天没有订单换积分（含从未领取）")
    cities: list[str] = Field(default_factory=list, max_length=20, description="收货地址所在城市（任一），如 杭州")
    joined_from: date | None = Field(default=None, description="在这天或之后成为会员")
    joined_to: date | None = Field(default=None, description="在这天或之前成为会员")
    live_show_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="预约了这场直播")
    live_from: date | None = Field(default=None, description="预约了在这天或之后开播的直播")
    live_to: date | None = Field(default=None, description="预约了在这天或之前开播的直播")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        pairs = (
            (self.points_min, self.points_max, "可用积分的下限不能大于上限"),
            (self.last_claim_from, self.last_claim_to, "最近领取的开始日期不能晚于结束日期"),
            (self.joined_from, self.joined_to, "入会的开始日期不能晚于结束日期"),
            (self.live_from, self.live_to, "直播预约的开始日期不能晚于结束日期"),
        )
        for low, high, message in pairs:
            if low is not None and high is not None and low > high:  # type: ignore[operator]
                raise ValueError(message)
        cities = []
        for city in self.cities:
            name = city.strip().removesuffix("市").strip()
            if not name or len(name) > 20:
                raise ValueError("城市请写名称，如 杭州")
            if name not in cities:
                cities.append(name)
        self.cities = cities
        self.tier_ids = sorted(set(self.tier_ids))
        self.tags_any = sorted(set(self.tags_any))
        self.tags_none = sorted(set(self.tags_none))
        self.rfm = sorted(set(self.rfm), key=RFM_ORDER.index)
        self.platforms = sorted(set(self.platforms))
        return self

    @property
    def empty(self) -> bool:
        return self == SegmentFilter()


class TagIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=20, pattern=NOT_BLANK, description="标签名，如“高客单”")
    color: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$", description="颜色，如 #E4572E")


class TagRuleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rule: SegmentFilter | None = Field(description="符合这些条件的会员自动打上标签；为空：只手动打标签")


class TagOut(BaseModel):
    id: int
    name: str
    color: str | None
    members: int = Field(description="有这个标签的会员数")
    rule: SegmentFilter | None
    rule_words: list[str] = Field(description="规则（文字）")
    rule_refreshed_at: datetime | None


class TagMembersIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_ids: list[RowId] = Field(min_length=1, max_length=1000, description="会员号")


class TagChangeOut(BaseModel):
    added: int = 0
    removed: int = 0


class SegmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=30, pattern=NOT_BLANK, description="分群名称，如“沉睡金卡会员”")
    description: str = Field(default="", max_length=200, description="备注")
    filter: SegmentFilter = Field(default_factory=SegmentFilter)


class SegmentOut(BaseModel):
    id: int
    name: str
    description: str
    filter: SegmentFilter
    filter_words: list[str] = Field(description="条件（文字）")
    member_count: int | None = Field(description="上次计算的人数；为空：还没有计算")
    counted_at: datetime | None


class CountOut(BaseModel):
    member_count: int
    counted_at: datetime


class SegmentMemberOut(BaseModel):
    member_id: int
    nickname: str
    points: int
    tier: str
    tags: list[str]
    joined_at: datetime


class SegmentTagIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tag_id: int = Field(ge=1, le=2**63 - 1)


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    title: str = Field(min_length=1, max_length=20, pattern=NOT_BLANK, description="标题，如“会员专享福利”")
    text: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK, description="通知内容")
    key: str = Field(
        min_length=8,
        max_length=64,
        pattern=r"^[A-Za-z0-9_-]+$",
        description="这次发送的幂等键：同一个键重复提交只发送一次",
    )


class SendOut(BaseModel):
    id: int
    members: int = Field(description="发送时分群里的会员数；每位会员只收到一次")
    created_at: datetime
