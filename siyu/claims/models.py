"""Claims: a fan asking for the points of one order, and what came of it (the attempt log too)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, created_at_column


class Outcome(StrEnum):
    credited = "credited"  # points credited (held or available)
    claimed_by_you = "claimed_by_you"  # she claimed it before
    claimed_by_other = "claimed_by_other"  # another member did
    pending = "pending"  # the order is not in our files yet: credited when it arrives
    expired = "expired"  # a pending claim whose order never arrived in time
    not_eligible = "not_eligible"  # unpaid, closed, refunded, too old, too small
    check_failed = "check_failed"  # the tenant's secondary check did not match
    locked = "locked"  # too many failed attempts: claiming is paused for a while
    invalid = "invalid"  # no order number could be read from what she typed
    review = "review"  # a velocity rule fired: ops approve (then it is settled as usual) or reject
    rejected = "rejected"  # ops rejected it after review, with a reason she is told


OUTCOME_LABELS: dict[str, str] = {
    Outcome.credited: "已获得积分",
    Outcome.claimed_by_you: "已经领取过",
    Outcome.claimed_by_other: "已被其他会员领取",
    Outcome.pending: "等待订单同步",
    Outcome.expired: "未等到订单",
    Outcome.not_eligible: "不符合条件",
    Outcome.check_failed: "信息核对不一致",
    Outcome.locked: "领取暂停中",
    Outcome.invalid: "订单号无法识别",
    Outcome.review: "人工审核中",
    Outcome.rejected: "审核未通过",
}

# Why a claim went to review (velocity rules of the claim policy).
REVIEW_REASONS: dict[str, str] = {
    "large_order": "大额订单",
    "many_claims": "24 小时内领取次数多",
    "shared_ip": "同一网络多个会员领取",
    "shared_device": "同一设备多个会员领取",
    "order_in_review": "订单已有其他领取在审核",
}


class Via(StrEnum):
    claim = "claim"  # she typed the order number
    bound = "bound"  # the order carries an account bound to her: credited without asking


# Outcomes that may count toward the lock (service._is_guess decides): a wrong check value, and a waiting claim
# that looks guessed. Claimed by someone else, unreadable text, a plausible wait: normal, never counted.
FAILURES = frozenset({Outcome.pending, Outcome.check_failed})


class Claim(Base):
    __tablename__ = "claims"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "member_id", "created_at"),
        Index(None, "tenant_id", "platform", "order_id"),
        Index(None, "tenant_id", "outcome", "created_at"),
        Index(None, "tenant_id", "ip_hash", "created_at"),
        Index(None, "tenant_id", "device_hash", "created_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int]
    platform: Mapped[str] = mapped_column(String(16))
    order_id: Mapped[str] = mapped_column(String(40))  # as cleaned from what she typed ("" when unreadable)
    outcome: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str | None] = mapped_column(String(40))  # e.g. unpaid / closed / too_old for not_eligible
    message: Mapped[str] = mapped_column(String(300))  # what she was told
    points: Mapped[int | None]
    check_value: Mapped[str | None] = mapped_column(String(64))  # her answer to the tenant's secondary check
    ip_hash: Mapped[str | None] = mapped_column(String(16))  # a keyed hash: attempts per IP without the IP
    device_hash: Mapped[str | None] = mapped_column(String(16))  # a keyed hash of the device id she sent
    via: Mapped[str] = mapped_column(String(8), default=Via.claim, server_default=Via.claim)
    reviewed_by: Mapped[str | None] = mapped_column(String(100))  # the staff member who approved or rejected
    review_note: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None]  # a pending claim gives up then
    resolved_at: Mapped[datetime | None]  # a pending claim credited or expired
    created_at: Mapped[datetime] = created_at_column()
