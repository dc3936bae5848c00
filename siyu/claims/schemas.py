"""The tenant's claim policy and claims as the API shows them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Check(StrEnum):
    none = "none"
    account = "account"  # the buyer account on the order (a masked "t**1" matches on its visible characters)
    amount = "amount"  # the paid amount, in yuan
    pay_date = "pay_date"  # the day it was paid (tenant's local date)
    phone_last4 = "phone_last4"  # last 4 digits of the receiver's phone


CHECK_LABELS = {
    Check.none: "不需要",
    Check.account: "下单账号（昵称）",
    Check.amount: "实付金额（元）",
    Check.pay_date: "付款日期",
    Check.phone_last4: "收货手机号后 4 位",
}
CHECK_PROMPTS = {
    Check.account: "下单时用的平台账号昵称",
    Check.amount: "订单实付金额，如 139.90",
    Check.pay_date: "付款日期，如 2026-11-20",
    Check.phone_last4: "收货手机号后 4 位",
}


class ClaimPolicy(BaseModel):
    """Stored in the tenant's settings under "claims"."""

    model_config = ConfigDict(extra="forbid")

    check: Check = Check.none
    window_days: int = Field(default=90, ge=1, le=730, description="下单多少天内的订单可以换积分")
    pending_days: int = Field(default=15, ge=1, le=90, description="还没同步到的订单，等待多少天")
    max_failures: int = Field(default=5, ge=1, le=100, description="失败多少次后暂停领取")
    lock_minutes: int = Field(default=30, ge=1, le=1440, description="暂停多少分钟")


class ClaimOut(BaseModel):
    id: int
    member_id: int
    platform: str
    order_id: str
    outcome: str
    outcome_label: str
    reason: str | None
    message: str
    points: int | None
    expires_at: datetime | None
    resolved_at: datetime | None
    created_at: datetime
