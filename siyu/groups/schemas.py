"""Requests and answers of the fan groups: a group as ops define it (thresholds, cap), an overflow group, a group
as ops see it (members, QR code state) and as a fan sees it (whether she may join, why not, the QR code)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from siyu.kit.types import NOT_BLANK

MAX_CAP = 500  # a WeChat group holds at most 500 people
MAX_POINTS = 100_000_000
MAX_FEN = 100_000_000_00  # ¥100,000,000


class GroupIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=30, pattern=NOT_BLANK, description="群名称（粉丝可见），如“金卡群”")
    intro: str = Field(default="", max_length=200, description="群介绍（粉丝可见），如“每周一次专属福利”")
    sort_order: int = Field(default=0, ge=-1000, le=1000, description="大的排在前面")
    min_tier_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="最低会员等级（该等级及以上可进）")
    min_points: int | None = Field(default=None, ge=1, le=MAX_POINTS, description="可用积分不少于")
    min_orders: int | None = Field(default=None, ge=1, le=10_000, description="近 window_days 天已领积分的订单不少于")
    min_paid_fen: int | None = Field(
        default=None, ge=1, le=MAX_FEN, description="近 window_days 天已领积分订单的实付金额（分，扣除退款）不少于"
    )
    window_days: int = Field(default=30, ge=1, le=365, description="订单数和消费金额按最近多少天计算")
    segment_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="只有这个会员分群里的会员可进")
    cap: int = Field(default=200, ge=1, le=MAX_CAP, description="群人数上限；满了粉丝会看到下一个溢出群")


class OverflowIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=30, pattern=NOT_BLANK, description="溢出群名称，如“金卡二群”")
    cap: int = Field(default=200, ge=1, le=MAX_CAP, description="群人数上限")


class OverflowOut(BaseModel):
    id: int
    name: str
    seq: int
    cap: int
    members: int
    qr_state: str = Field(description="missing / expired / expiring / valid")
    qr_state_label: str
    qr_expires_at: datetime | None


class GroupOut(BaseModel):
    id: int
    name: str
    intro: str
    sort_order: int
    min_tier_id: int | None
    min_points: int | None
    min_orders: int | None
    min_paid_fen: int | None
    window_days: int
    segment_id: int | None
    thresholds: list[str] = Field(description="进群条件（文字）")
    cap: int
    members: int
    qr_state: str = Field(description="missing / expired / expiring / valid")
    qr_state_label: str
    qr_expires_at: datetime | None
    overflow: list[OverflowOut] = Field(default_factory=list, description="溢出群（二群、三群……）")


class GroupMemberOut(BaseModel):
    member_id: int
    nickname: str
    group_id: int
    joined_at: datetime


class CandidateOut(BaseModel):
    member_id: int
    nickname: str
    joined_at: datetime = Field(description="成为会员的时间")


class FanGroupOut(BaseModel):
    id: int = Field(description="她可以加入（或已加入）的那个群；满了时是下一个溢出群")
    name: str
    intro: str
    thresholds: list[str]
    qualified: bool
    reasons: list[str] = Field(description="不能加入的原因，如“还差 320 积分”“需要金卡及以上”")
    joined: bool
    full: bool = Field(description="这一档的群都满了")
    qr_url: str | None = Field(description="群二维码图片；不能加入、已满或二维码过期时为空")
    qr_expires_at: datetime | None
    message: str = Field(description="给粉丝看的一句话")


class JoinOut(BaseModel):
    group_id: int
    joined: bool
    message: str
