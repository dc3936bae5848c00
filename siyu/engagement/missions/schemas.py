"""Requests and answers of points tasks: a task as ops define it, a task as a fan sees it with her progress, a
survey's answers, a review screenshot and its decision."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from siyu.engagement.missions.models import Period, ReviewStatus, TaskKind
from siyu.kit.time import aware
from siyu.kit.types import NOT_BLANK
from siyu.tenants.models import Platform

MAX_POINTS = 100_000


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    text: str = Field(min_length=1, max_length=100, pattern=NOT_BLANK, description="题目")
    kind: Literal["choice", "text"] = Field(default="choice", description="choice：单选；text：填空")
    options: list[str] = Field(default_factory=list, max_length=10, description="单选题的选项（2 到 10 个）")

    @model_validator(mode="after")
    def _options(self) -> Question:
        self.options = [o.strip()[:40] for o in self.options if o.strip()]
        if self.kind == "choice" and len(self.options) < 2:
            raise ValueError("单选题至少需要两个选项")
        if self.kind == "text":
            self.options = []
        return self


class TaskConfig(BaseModel):
    """What a kind of task needs: a survey's questions; the account to follow (its name, platform and link)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    questions: list[Question] = Field(default_factory=list, max_length=20, description="问卷的题目（填写问卷）")
    channel: str = Field(default="", max_length=40, description="要关注的账号名称（关注账号）")
    channel_platform: str = Field(default="", max_length=20, description="账号所在平台，如 抖音、视频号、公众号")
    link: str = Field(default="", max_length=300, pattern=r"^(https://\S+)?$", description="账号的链接（https://）")


class TaskIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    kind: TaskKind = Field(
        description="profile 完善资料 / bind_account 绑定平台账号 / survey 填写问卷 / follow 关注账号 / "
        "review 评价有礼 / reserve_live 预约直播"
    )
    title: str = Field(min_length=1, max_length=40, pattern=NOT_BLANK)
    description: str = Field(default="", max_length=500)
    points: int = Field(ge=1, le=MAX_POINTS, description="完成一次（评价有礼：审核通过一单）得多少积分")
    period: Period = Field(
        default=Period.one_time, description="one_time 一次性 / daily 每天 / weekly 每周（按店铺时区）"
    )
    cap_per_period: int = Field(
        default=1, ge=1, le=100, description="每个周期每人最多完成几次（评价有礼：最多提交几单）"
    )
    starts_at: datetime | None = Field(default=None, description="何时开始；空：立即")
    ends_at: datetime | None = Field(default=None, description="何时结束；空：一直有效")
    config: TaskConfig = Field(default_factory=TaskConfig)
    enabled: bool = True
    sort_order: int = Field(default=0, ge=-10_000, le=10_000, description="数字大的排在前面")

    @model_validator(mode="after")
    def _consistent(self) -> TaskIn:
        if self.starts_at is not None and self.ends_at is not None and aware(self.ends_at) <= aware(self.starts_at):
            raise ValueError("结束时间必须晚于开始时间")
        if self.kind == TaskKind.survey and not self.config.questions:
            raise ValueError("问卷至少需要一道题")
        if self.kind == TaskKind.follow and not self.config.channel:
            raise ValueError("请填写要关注的账号名称")
        if self.kind in (TaskKind.profile, TaskKind.bind_account) and self.period != Period.one_time:
            raise ValueError("完善资料和绑定平台账号只能是一次性任务")
        if self.period == Period.one_time and self.kind != TaskKind.review:
            self.cap_per_period = 1
        return self


class TaskOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    kind: TaskKind
    title: str
    description: str
    points: int
    period: Period
    cap_per_period: int
    starts_at: datetime | None
    ends_at: datetime | None
    config: dict[str, Any]
    enabled: bool
    sort_order: int
    created_at: datetime


class FanTaskOut(BaseModel):
    """A task as the fan sees it, with her progress in the current period."""

    id: int
    kind: TaskKind
    title: str
    description: str
    points: int
    period: Period
    period_label: str = Field(description="一次性 / 每天 / 每周")
    cap_per_period: int
    done: int = Field(description="这个周期已完成几次（评价有礼：已提交几单）")
    state: Literal["todo", "claimable", "done"] = Field(
        description="todo：还没满足条件（去完成）；claimable：可以领取；done：这个周期已完成"
    )
    hint: str = Field(description="给粉丝看的一句说明，如 “绑定淘宝、抖音等平台账号后可领取”")
    config: dict[str, Any]


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirm: bool = Field(default=False, description="关注账号：粉丝确认已关注")


class SurveyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: dict[str, str] = Field(description='按题号作答：{"1": "选项或文字", "2": "..."}', max_length=20)


class CompletionOut(BaseModel):
    task_id: int
    period_key: str
    points: int
    message: str = Field(description="给粉丝看的结果，如 “已领取 20 积分”")


class ReviewOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    task_id: int
    member_id: int
    platform: Platform
    order_id: str
    status: ReviewStatus
    status_label: str = ""
    reason: str
    points: int
    decided_at: datetime | None
    created_at: datetime


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    approve: bool
    reason: str = Field(default="", max_length=200, description="拒绝时必填，粉丝会看到")


class CreditedOrderOut(BaseModel):
    platform: Platform
    order_id: str
    label: str = Field(description="如 “淘宝/天猫 订单 …1234”")


class TaskStatOut(BaseModel):
    task_id: int
    title: str
    completions: int
    members: int
    points: int
