"""Request and response bodies of product trials, and the tenant's trial settings."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from siyu.kit.ids import RowId
from siyu.mall.schemas import AddressIn
from siyu.trials.models import DrawMethod, Penalty

MAX_QUESTIONS = 5


class TrialSettings(BaseModel):
    """What a new trial starts with (ops may change it per trial)."""

    model_config = ConfigDict(extra="ignore")

    penalty: Penalty = Penalty.bar
    bar_days: int = Field(default=90, ge=1, le=365)
    report_days: int = Field(default=7, ge=1, le=60)


def _text(value: str) -> str:
    return " ".join(value.split())


class TrialIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=60)
    description: str = Field(default="", max_length=1000)
    value_fen: int = Field(default=0, ge=0, le=100_000_000)
    quota: int = Field(ge=1, le=10_000)
    apply_from: datetime
    apply_until: datetime
    min_tier_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    min_points: int = Field(default=0, ge=0, le=100_000_000)
    min_orders: int = Field(default=0, ge=0, le=1000)
    segment_id: int | None = Field(default=None, ge=1, le=2**63 - 1, description="只有这个会员分群里的会员可以申请")
    points_cost: int = Field(default=0, ge=0, le=1_000_000)
    questions: list[str] = Field(default_factory=list, max_length=MAX_QUESTIONS)
    report_days: int = Field(default=7, ge=1, le=60)
    penalty: Penalty = Penalty.bar
    penalty_points: int = Field(default=0, ge=0, le=1_000_000)
    bar_days: int = Field(default=90, ge=1, le=365)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        value = _text(value)
        if not value:
            raise ValueError("请填写商品名称")
        return value

    @field_validator("questions")
    @classmethod
    def _questions(cls, values: list[str]) -> list[str]:
        kept = [_text(v) for v in values if v.strip()]
        if any(len(v) > 60 for v in kept):
            raise ValueError("每个问题最多 60 个字")
        return kept

    @model_validator(mode="after")
    def _window(self) -> TrialIn:
        if self.apply_until <= self.apply_from:
            raise ValueError("申请截止时间要晚于开始时间")
        if self.penalty == Penalty.clawback and not self.penalty_points:
            raise ValueError("选择扣回积分时，请填写扣回多少积分")
        return self


class ApplyIn(BaseModel):
    """Her application: a saved address (address_id) or a new one, and her answers in the order of the questions."""

    model_config = ConfigDict(extra="forbid")

    address_id: int | None = Field(default=None, ge=1, le=2**63 - 1)
    address: AddressIn | None = None
    answers: list[str] = Field(default_factory=list, max_length=MAX_QUESTIONS)

    @field_validator("answers")
    @classmethod
    def _answers(cls, values: list[str]) -> list[str]:
        values = [v.strip() for v in values]
        if any(len(v) > 200 for v in values):
            raise ValueError("每个回答最多 200 个字")
        return values


class DrawIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: DrawMethod = DrawMethod.random
    picked: list[RowId] = Field(default_factory=list, max_length=10_000)  # application ids, for a manual pick


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    featured: bool = False
    note: str = Field(default="", max_length=200)


class TrialOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    title: str
    description: str
    value_fen: int
    quota: int
    apply_from: datetime
    apply_until: datetime
    min_tier_id: int | None
    min_points: int
    min_orders: int
    segment_id: int | None
    points_cost: int
    questions: list[str]
    report_days: int
    penalty: str
    penalty_points: int
    bar_days: int
    seed: str | None
    seed_at: datetime | None
    draw_method: str | None
    drawn_at: datetime | None
    status_label: str = ""
    applications: int = 0


class ApplicationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    trial_id: int
    member_id: int
    number: int = 0
    address: dict[str, Any]
    answers: list[str]
    points_cost: int
    weight: int
    tier_name: str
    status: str
    status_label: str = ""
    refunded_at: datetime | None
    report_due_at: datetime | None
    reported_at: datetime | None
    penalised_at: datetime | None
    created_at: datetime


class DrawEntryOut(BaseModel):
    """One line of the published list: her number in the order of applications, a masked name, the weight, and
    (after the draw) her key and whether she won."""

    number: int
    name: str
    weight: int
    key: str | None = None
    won: bool = False


class DrawOut(BaseModel):
    """Everything needed to run the draw again: the seed, the quota, the method and the ordered list."""

    trial_id: int
    seed: str | None
    quota: int
    method: str | None
    method_label: str
    drawn_at: datetime | None
    algorithm: str
    entries: list[DrawEntryOut]
    winners: list[int]  # numbers, best key first


class FanTrialOut(BaseModel):
    id: int
    title: str
    description: str
    value_fen: int
    quota: int
    apply_from: datetime
    apply_until: datetime
    points_cost: int
    questions: list[str]
    report_days: int
    image_url: str | None
    status_label: str
    applied: bool
    my_status: str | None
    my_status_label: str | None
    can_apply: bool
    refusal: str | None
    seed: str | None
    drawn: bool


class MyTrialOut(BaseModel):
    trial_id: int
    title: str
    status: str
    status_label: str
    points_cost: int
    refunded: bool
    report_due_at: datetime | None
    reported: bool
    can_report: bool
    shipping_label: str | None


class ApplyOut(BaseModel):
    trial_id: int
    status: str
    message: str


class ReportOut(BaseModel):
    id: int
    trial_id: int
    application_id: int
    member_id: int
    text: str
    photos: int = 0
    featured: bool
    review_note: str
    reviewed_at: datetime | None
    created_at: datetime
