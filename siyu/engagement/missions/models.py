"""Tables of points tasks (积分任务): the tasks a tenant offers, what fans completed, and review screenshots.

- `mission_tasks`: one task per row (kind, title, points, period, cap per period, active window, kind-specific
  config such as a survey's questions or the channel to follow).
- `mission_completions`: one row per paid completion; (tenant, task, member, period key, n) is unique, so a
  double tap or a retry is one completion, and the cap per period is the highest n allowed.
- `mission_reviews`: a fan's review screenshot (评价有礼) for one of her credited orders: pending, then approved
  (paid once per order, through the ledger's unique source reference) or rejected with a reason she sees.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, Json, created_at_column


class TaskKind(StrEnum):
    profile = "profile"  # complete her profile: a nickname and a bound phone number
    bind_account = "bind_account"  # bind a platform account (淘宝, 抖音, 快手, 视频号)
    survey = "survey"  # answer the questionnaire in the task's config
    follow = "follow"  # follow a channel: her own confirmation
    review = "review"  # 评价有礼: a screenshot of her review, approved by ops, paid once per order
    reserve_live = "reserve_live"  # reserve a live show (siyu.live) in the task's period


KIND_LABELS: dict[str, str] = {
    TaskKind.profile: "完善资料",
    TaskKind.bind_account: "绑定平台账号",
    TaskKind.survey: "填写问卷",
    TaskKind.follow: "关注账号",
    TaskKind.review: "评价有礼",
    TaskKind.reserve_live: "预约直播",
}


class Period(StrEnum):
    one_time = "one_time"
    daily = "daily"
    weekly = "weekly"


PERIOD_LABELS: dict[str, str] = {Period.one_time: "一次性", Period.daily: "每天", Period.weekly: "每周"}


class ReviewStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    rejected = "rejected"


REVIEW_STATUS_LABELS: dict[str, str] = {
    ReviewStatus.pending: "审核中",
    ReviewStatus.approved: "已通过",
    ReviewStatus.rejected: "未通过",
}


class Task(Base):
    __tablename__ = "mission_tasks"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("points > 0", name="points_positive"),
        CheckConstraint("cap_per_period >= 1", name="cap_positive"),
        Index(None, "tenant_id", "enabled", "sort_order"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(500), default="")
    points: Mapped[int]
    period: Mapped[str] = mapped_column(String(10))
    cap_per_period: Mapped[int] = mapped_column(default=1)  # completions per period (review: screenshots sent)
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    config: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    sort_order: Mapped[int] = mapped_column(default=0)  # higher first
    created_at: Mapped[datetime] = created_at_column()


class Completion(Base):
    __tablename__ = "mission_completions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "task_id"], ["mission_tasks.tenant_id", "mission_tasks.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "task_id", "member_id", "period_key", "n"),
        Index(None, "tenant_id", "member_id"),
        Index(None, "tenant_id", "created_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    task_id: Mapped[int]
    member_id: Mapped[int]
    period_key: Mapped[str] = mapped_column(String(10))  # "once", a local day "2026-12-04" or ISO week "2026-W49"
    n: Mapped[int] = mapped_column(default=1)  # the how-many-th in its period (1 .. cap)
    points: Mapped[int]
    answers: Mapped[dict[str, Any] | None] = mapped_column(Json)  # a survey's answers
    created_at: Mapped[datetime] = created_at_column()


class Review(Base):
    __tablename__ = "mission_reviews"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "task_id"], ["mission_tasks.tenant_id", "mission_tasks.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "status", "created_at"),
        Index(None, "tenant_id", "member_id", "created_at"),
        Index(None, "tenant_id", "platform", "order_id"),
        Index(None, "tenant_id", "task_id", "member_id", "period_key"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    task_id: Mapped[int]
    member_id: Mapped[int]
    platform: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[str] = mapped_column(String(64))
    period_key: Mapped[str] = mapped_column(String(10))  # the task's period it was sent in (the cap counts them)
    image: Mapped[str] = mapped_column(String(80))  # stored name (content hash) in the tenant's review folder
    status: Mapped[str] = mapped_column(String(10), default=ReviewStatus.pending)
    reason: Mapped[str] = mapped_column(String(200), default="")  # why it was rejected, shown to the fan
    points: Mapped[int] = mapped_column(default=0)  # paid on approval
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
