"""The tenant's claim policy and claims as the API shows them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from siyu.claims.models import OUTCOME_LABELS, Claim


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
    max_failures: int = Field(default=5, ge=1, le=10_000, description="失败多少次后暂停领取")
    lock_minutes: int = Field(default=30, ge=1, le=1440, description="暂停多少分钟")
    ip_max_failures: int = Field(
        default=100, ge=1, le=100_000, description="同一网络地址失败多少次后暂停（手机网络里很多粉丝共用一个出口地址）"
    )
    # Attempts of any outcome, per minute: a script is stopped before it costs the database anything.
    per_minute: int = Field(default=20, ge=1, le=100_000, description="同一会员（或同一设备）每分钟最多提交几次")
    ip_per_minute: int = Field(default=600, ge=1, le=1_000_000, description="同一网络地址每分钟最多提交几次")
    # Velocity rules: a claim that trips one waits for ops to approve or reject it. None: the rule is off.
    review_paid_yuan: int | None = Field(default=None, ge=1, le=10_000_000, description="实付达到多少元的订单人工审核")
    review_daily_claims: int | None = Field(
        default=None, ge=1, le=1000, description="同一会员 24 小时内已领取多少笔后，再领取需审核"
    )
    review_shared_members: int | None = Field(
        default=None, ge=2, le=1000, description="同一网络或设备 24 小时内有多少个会员领取后，再领取需审核"
    )

    @property
    def reviews(self) -> bool:
        """Whether any velocity rule is on."""
        return any(
            rule is not None for rule in (self.review_paid_yuan, self.review_daily_claims, self.review_shared_members)
        )


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
    via: str
    review_note: str | None
    expires_at: datetime | None
    resolved_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, row: Claim) -> ClaimOut:
        values = {name: getattr(row, name) for name in cls.model_fields if name != "outcome_label"}
        return cls.model_validate({**values, "outcome_label": OUTCOME_LABELS.get(row.outcome, row.outcome)})


class ClaimLockOut(BaseModel):
    """Whether her claiming is paused (after failures that looked like guesses), and until when."""

    locked: bool
    locked_until: datetime | None = Field(description="暂停到这个时间（UTC）；没有暂停时为 null")
    message: str = Field(description="给粉丝看的话，暂停时写明几点后可以再试")


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claim_ids: list[Annotated[int, Field(ge=1, le=2**63 - 1)]] = Field(min_length=1, max_length=200)
    approve: bool
    note: str = Field(default="", max_length=200, description="拒绝时必填：告诉会员的原因")
