"""Tables of product trials (商品试用).

- `trials`: one campaign: the product (name, picture, value in fen), the quota, the application window, who may
  apply (a minimum tier, a points balance, claimed orders), the points cost (0: free), a short questionnaire, the
  report rule (due N days after delivery, the penalty when none comes) and the draw: its seed, recorded and shown
  before the draw, and when the draw ran. `shipping_reward_id` is the hidden mall item winners are shipped as.
- `trial_applications`: one per (trial, member): her address and answers as given, the points she paid (held
  through the ledger), her weight in a weighted draw, and what became of it (won, lost and refunded, reported,
  reminded, penalised).
- `trial_reports`: a winner's report (text and photos), one per application.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, Json, created_at_column


class Penalty(StrEnum):
    clawback = "clawback"  # the points named on the trial are taken back through the ledger
    bar = "bar"  # no trial applications for a number of days


PENALTY_LABELS: dict[str, str] = {Penalty.clawback: "扣回积分", Penalty.bar: "暂停申请资格"}


class DrawMethod(StrEnum):
    random = "random"
    weighted = "weighted"  # by tier
    manual = "manual"  # picked by hand


DRAW_LABELS: dict[str, str] = {
    DrawMethod.random: "随机抽取",
    DrawMethod.weighted: "按会员等级加权抽取",
    DrawMethod.manual: "人工挑选",
}


class AppStatus(StrEnum):
    applied = "applied"
    won = "won"
    lost = "lost"


APP_STATUS_LABELS: dict[str, str] = {AppStatus.applied: "待开奖", AppStatus.won: "已中选", AppStatus.lost: "未中选"}


class Trial(Base):
    __tablename__ = "trials"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("quota > 0", name="quota_positive"),
        CheckConstraint("points_cost >= 0", name="cost_not_negative"),
        CheckConstraint("apply_until > apply_from", name="window_ordered"),
        Index(None, "tenant_id", "apply_from"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(60))  # the product's name
    description: Mapped[str] = mapped_column(String(1000), default="")
    image: Mapped[str | None] = mapped_column(String(80))
    value_fen: Mapped[int] = mapped_column(default=0)
    quota: Mapped[int]
    apply_from: Mapped[datetime]
    apply_until: Mapped[datetime]
    min_tier_id: Mapped[int | None]
    min_points: Mapped[int] = mapped_column(default=0)
    min_orders: Mapped[int] = mapped_column(default=0)
    segment_id: Mapped[int | None]  # a saved segment: only its members may apply (siyu.segments decides)
    points_cost: Mapped[int] = mapped_column(default=0)
    questions: Mapped[list[Any]] = mapped_column(Json, default=list)
    report_days: Mapped[int] = mapped_column(default=7)
    penalty: Mapped[str] = mapped_column(String(16), default=Penalty.bar)
    penalty_points: Mapped[int] = mapped_column(default=0)
    bar_days: Mapped[int] = mapped_column(default=90)
    seed: Mapped[str | None] = mapped_column(String(64))
    seed_at: Mapped[datetime | None]
    draw_method: Mapped[str | None] = mapped_column(String(16))
    drawn_at: Mapped[datetime | None]
    drawn_by: Mapped[str | None] = mapped_column(String(80))
    shipping_reward_id: Mapped[int | None]
    created_at: Mapped[datetime] = created_at_column()


class Application(Base):
    __tablename__ = "trial_applications"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "trial_id"], ["trials.tenant_id", "trials.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "trial_id", "member_id"),
        Index(None, "tenant_id", "member_id"),
        Index(None, "tenant_id", "status", "report_due_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    trial_id: Mapped[int]
    member_id: Mapped[int]
    address: Mapped[dict[str, Any]] = mapped_column(Json)  # snapshot: name, phone, region, detail
    answers: Mapped[list[Any]] = mapped_column(Json, default=list)
    points_cost: Mapped[int] = mapped_column(default=0)
    weight: Mapped[int] = mapped_column(default=1)  # her tier's weight when she applied
    tier_name: Mapped[str] = mapped_column(String(20), default="")
    status: Mapped[str] = mapped_column(String(16), default=AppStatus.applied)
    refunded_at: Mapped[datetime | None]
    redemption_id: Mapped[int | None]  # the mall fulfilment entry that ships her the product
    report_due_at: Mapped[datetime | None]
    reported_at: Mapped[datetime | None]
    reminded_at: Mapped[datetime | None]
    penalised_at: Mapped[datetime | None]
    penalty: Mapped[str | None] = mapped_column(String(16))
    barred_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class Report(Base):
    __tablename__ = "trial_reports"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "application_id"],
            ["trial_applications.tenant_id", "trial_applications.id"],
            ondelete="CASCADE",
        ),
        UniqueConstraint("tenant_id", "application_id"),
        Index(None, "tenant_id", "trial_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    trial_id: Mapped[int]
    application_id: Mapped[int]
    member_id: Mapped[int]
    text: Mapped[str] = mapped_column(String(2000))
    photos: Mapped[list[Any]] = mapped_column(Json, default=list)
    featured: Mapped[bool] = mapped_column(Boolean, default=False)  # ops liked it
    review_note: Mapped[str] = mapped_column(String(200), default="")
    reviewed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
