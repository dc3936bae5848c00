"""Tables of the points ledger.

- `ledger_entries`: what happened, append-only. `amount` is the change to the member's available points,
  `pending_amount` the change to her pending (held) points; every entry is unique per (kind, source_ref).
- `ledger_lots`: every credit (an order's points, a positive adjustment) is a lot with what is left of it,
  its state (pending, posted, voided) and expiry. One lot per credited source: an order is credited once.
- `ledger_allocations`: every change of a lot's `remaining`, by the entry that made it. A positive amount
  draws from the lot (spend, clawback, expiry, void, debt repayment), a negative one gives back (refund).
  So for every lot: amount - remaining == sum of its allocations.
- `ledger_balances`: the cached balance of a member, written in the same transaction as the entries;
  the row every operation on the member locks first.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, created_at_column
from siyu.kit.time import utcnow


class EntryKind(StrEnum):
    earn_pending = "earn_pending"  # an order's points, held until posted
    post = "post"  # held points become available
    void = "void"  # held points cancelled (order closed or refunded before posting)
    earn = "earn"  # points available at once
    spend = "spend"  # points redeemed
    refund = "refund"  # a cancelled redemption gives its points back to their lots
    clawback = "clawback"  # part of an order refunded: the same part of its points taken back
    expire = "expire"  # what was left of one lot when it expired
    adjust = "adjust"  # staff added or deducted points, with a reason
    merge_out = "merge_out"  # this member's points moved to another member
    merge_in = "merge_in"  # another member's points moved here


KIND_LABELS: dict[str, str] = {
    EntryKind.earn_pending: "订单积分（待入账）",
    EntryKind.post: "积分入账",
    EntryKind.void: "待入账积分取消",
    EntryKind.earn: "获得积分",
    EntryKind.spend: "积分兑换",
    EntryKind.refund: "兑换取消退回",
    EntryKind.clawback: "退款扣回",
    EntryKind.expire: "积分过期",
    EntryKind.adjust: "人工调整",
    EntryKind.merge_out: "账户合并转出",
    EntryKind.merge_in: "账户合并转入",
}


class LotStatus(StrEnum):
    pending = "pending"
    posted = "posted"
    voided = "voided"


class Entry(Base):
    __tablename__ = "ledger_entries"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        # A retried operation cannot post twice: one earn_pending, one post, one void per order ...
        UniqueConstraint("tenant_id", "kind", "source_ref"),
        Index(None, "tenant_id", "member_id", "created_at"),
        Index(None, "tenant_id", "lot_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[int]  # change to available points (negative: points out)
    pending_amount: Mapped[int]  # change to pending points
    source_ref: Mapped[str] = mapped_column(String(160))  # order:taobao:1930..., redemption:123, adjust:<uuid>
    lot_id: Mapped[int | None]  # the lot this entry created or acted on (earn, post, void, clawback, expire)
    explanation: Mapped[str] = mapped_column(String(300))  # for the fan, in Chinese
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()


class Lot(Base):
    __tablename__ = "ledger_lots"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["tenant_id", "entry_id"], ["ledger_entries.tenant_id", "ledger_entries.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "source_ref"),  # one credit per source, pending or not
        CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_within_amount"),
        Index(None, "tenant_id", "member_id", "status"),
        Index(None, "tenant_id", "status", "expires_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int]  # the current owner (a merge moves lots to the surviving member)
    entry_id: Mapped[int]  # the entry that credited it
    source_ref: Mapped[str] = mapped_column(String(160))
    amount: Mapped[int]
    remaining: Mapped[int]
    status: Mapped[str] = mapped_column(String(8))  # LotStatus
    post_after: Mapped[datetime | None]  # when the hold ends (pending lots)
    expires_at: Mapped[datetime | None]  # None: never expires
    created_at: Mapped[datetime] = created_at_column()


class Allocation(Base):
    __tablename__ = "ledger_allocations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "entry_id"], ["ledger_entries.tenant_id", "ledger_entries.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["tenant_id", "lot_id"], ["ledger_lots.tenant_id", "ledger_lots.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "lot_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    lot_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    amount: Mapped[int]  # > 0 drawn from the lot, < 0 given back to it


class Balance(Base):
    __tablename__ = "ledger_balances"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        CheckConstraint("pending >= 0 AND debt >= 0 AND available + debt >= 0", name="never_overdrawn"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    available: Mapped[int] = mapped_column(default=0)  # may be negative: -debt
    pending: Mapped[int] = mapped_column(default=0)
    debt: Mapped[int] = mapped_column(default=0)
    merged_into: Mapped[int | None]  # set when this member's ledger moved to another member
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
