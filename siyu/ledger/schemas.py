from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from siyu.kit.types import NOT_BLANK

MAX_ADJUSTMENT = 1_000_000_000


class EntryOut(BaseModel):
    id: int
    kind: str = Field(
        description="earn_pending / post / void / earn / spend / refund / clawback / expire / adjust / ..."
    )
    kind_label: str
    amount: int = Field(description="可用积分的变化")
    pending_amount: int = Field(description="待入账积分的变化")
    source_ref: str
    explanation: str
    created_by: str | None
    created_at: datetime


class PointsOut(BaseModel):
    member_id: int
    available: int = Field(description="可用积分；有欠分时为负数")
    pending: int = Field(description="待入账积分")
    debt: int = Field(description="退款扣回时积分已用完而欠下的积分，之后获得的积分优先抵扣")
    entries: list[EntryOut] = Field(description="最近的积分记录，新的在前")


class AdjustmentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: int = Field(
        ge=-MAX_ADJUSTMENT,
        le=MAX_ADJUSTMENT,
        description="正数增加、负数扣减（不能为 0；扣减不能超过可用积分）",
        json_schema_extra={"not": {"const": 0}},
    )
    reason: str = Field(min_length=1, max_length=200, pattern=NOT_BLANK, description="调整原因（会员可见）")

    @field_validator("amount")
    @classmethod
    def not_zero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("amount must not be 0")
        return value


class AdjustmentOut(BaseModel):
    entry: EntryOut
    available: int
    pending: int
    debt: int
