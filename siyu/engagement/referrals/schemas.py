"""Request and response models of invitations and share leaderboards (staff API and fan API)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, model_validator

from siyu.engagement.referrals import models as rules
from siyu.kit.ids import RowId


class RulesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    inviter_points: int = Field(rules.DEFAULT_INVITER_POINTS, ge=0, le=rules.MAX_POINTS, description="邀请人得积分")
    invitee_points: int = Field(rules.DEFAULT_INVITEE_POINTS, ge=0, le=rules.MAX_POINTS, description="被邀请人得积分")
    cap: int = Field(rules.DEFAULT_CAP, ge=0, le=10_000, description="每位会员最多获得几次邀请奖励")
    network_limit: int = Field(
        rules.DEFAULT_NETWORK_LIMIT,
        ge=0,
        le=10_000,
        description="同一网络一小时内超过几位受邀人就转人工审核（0：不限）",
    )


class RulesOut(RulesIn):
    model_config = ConfigDict(from_attributes=True)


class ReferralOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    inviter_id: int
    invitee_id: int
    state: str
    state_label: str = ""
    suspicion: str | None
    suspicion_label: str | None = None
    inviter_points: int
    invitee_points: int
    note: str | None
    reviewed_by: str | None
    rewarded_at: datetime | None
    created_at: datetime


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    approve: bool
    note: str = Field("", max_length=200, description="原因（驳回时必填）")


class StatsOut(BaseModel):
    sharers: int = Field(description="生成过邀请码的会员")
    signed_up: int = Field(description="通过邀请注册的新会员")
    suspected: int = Field(description="审核中")
    rewarded: int = Field(description="完成首单、双方得积分")
    capped: int = Field(description="邀请人已达上限（只奖励被邀请人）")
    rejected: int = Field(description="审核未通过")


class BoardIn(BaseModel):
    """A leaderboard. Of a live show or a points campaign, the window may be left out: a show's runs from now to
    its end, a campaign's is the campaign's own."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=40, examples=["双11 邀请排行榜"])
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    prizes: list[int] = Field(
        default_factory=list, max_length=100, description="第 1 名、第 2 名……各得多少积分（0：这一名不给积分）"
    )
    reward_ids: list[RowId | None] = Field(
        default_factory=list, max_length=100, description="第 1 名、第 2 名……另得哪个商城奖品（空：不给奖品）"
    )
    show_id: int | None = Field(None, ge=1, le=2**63 - 1, description="属于哪场直播")
    campaign_id: int | None = Field(None, ge=1, le=2**63 - 1, description="属于哪个积分活动")
    metric: rules.BoardMetric = Field(
        rules.BoardMetric.invitations,
        description="排名依据：invitations 邀请注册人数；sign_ins 分享带来的登录人次"
        "（新会员注册和老会员通过分享链接登录，同一好友每天算一次）",
    )

    @model_validator(mode="after")
    def _window(self) -> BoardIn:
        if self.show_id is not None and self.campaign_id is not None:
            raise ValueError("排行榜只能属于一场直播或一个活动")
        if (self.starts_at is None) != (self.ends_at is None):
            raise ValueError("开始和结束时间要一起填写")
        if self.starts_at is None and self.show_id is None and self.campaign_id is None:
            raise ValueError("请填写开始和结束时间，或选择所属的直播或活动")
        if self.starts_at is not None and self.ends_at is not None:
            if (self.starts_at.tzinfo is None) != (self.ends_at.tzinfo is None):
                raise ValueError("开始和结束时间要么都带时区，要么都不带（不带时按店铺所在时区）")
            if self.ends_at <= self.starts_at:
                raise ValueError("结束时间要晚于开始时间")
        if any(p < 0 or p > rules.MAX_POINTS for p in self.prizes):
            raise ValueError("奖励积分要在 0 到 100000 之间")
        if not any(self.prizes) and not any(self.reward_ids):
            raise ValueError("至少一名要有奖励积分或奖品")
        return self


class BoardOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    prizes: list[int]
    reward_ids: list[int | None] = []
    show_id: int | None = None
    campaign_id: int | None = None
    metric: str | None = None
    status: str
    status_label: str = ""
    settled_at: datetime | None
    created_at: datetime


class StandingOut(BaseModel):
    rank: int
    member_id: int | None = Field(None, description="会员编号（仅员工接口）")
    name: str = Field(description="会员昵称（粉丝接口中打码）")
    invitations: int
    reached_at: datetime
    prize_points: int = 0
    prize_reward: str | None = Field(None, description="这一名另得的商城奖品")


class BoardDetailOut(BoardOut):
    standings: list[StandingOut] = []


class PrizeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    rank: int
    member_id: int
    invitations: int
    points: int
    reward_title: str | None = None
    redemption_id: int | None = None
    created_at: datetime


class FanInvitationOut(BaseModel):
    name: str = Field(description="好友昵称（打码）")
    state_label: str
    points: int = Field(description="这次邀请她得到的积分")
    created_at: datetime


class FanInviteOut(BaseModel):
    code: str
    link: str
    qr_url: str
    enabled: bool
    inviter_points: int
    invitee_points: int
    cap: int
    rewarded: int = Field(description="已获奖励的邀请")
    points_earned: int
    invitations: list[FanInvitationOut]


class FanBoardOut(BaseModel):
    id: int
    title: str
    starts_at: datetime
    ends_at: datetime
    status_label: str
    prizes: list[int]
    prize_rewards: list[str | None] = Field(default_factory=list, description="各名次另得的商城奖品")
    metric: str = Field("invitations", description="排名依据：invitations 邀请注册人数；sign_ins 分享带来的登录人次")
    mine: StandingOut | None = Field(None, description="她的名次（还没有邀请时为空）")
    top: list[StandingOut]
