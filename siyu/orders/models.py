from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, Json, created_at_column


class OrderStatus(StrEnum):
    unpaid = "unpaid"
    paid = "paid"
    shipped = "shipped"
    completed = "completed"
    refunding = "refunding"
    refunded = "refunded"
    closed = "closed"


# Statuses whose orders earn no points (not paid yet, or gone for good), and those that take back what was earned.
EARNS_NOTHING = frozenset({OrderStatus.unpaid, OrderStatus.closed, OrderStatus.refunded})
ENDED = frozenset({OrderStatus.closed, OrderStatus.refunded})


STATUS_LABELS: dict[str, str] = {
    OrderStatus.unpaid: "待付款",
    OrderStatus.paid: "已付款",
    OrderStatus.shipped: "已发货",
    OrderStatus.completed: "已完成",
    OrderStatus.refunding: "退款中",
    OrderStatus.refunded: "已退款",
    OrderStatus.closed: "已关闭",
}

# An order only moves forward: a file that says less than we know (an older export) changes nothing.
STATUS_RANK: dict[str, int] = {
    OrderStatus.unpaid: 0,
    OrderStatus.paid: 1,
    OrderStatus.shipped: 2,
    OrderStatus.completed: 3,
    OrderStatus.refunding: 4,
    OrderStatus.refunded: 5,
    OrderStatus.closed: 5,
}
# The status of an order listed line by line is its lowest line's, unless every line is refunded (refunded) or one
# is being refunded (refunding). Lowest by rank, a closed line before a refunded one: an order is refunded only
# when all its lines are, so one refunded line of an otherwise closed order leaves it closed.
LINE_ORDER: dict[str, int] = {
    status: 2 * rank + (status == OrderStatus.refunded) for status, rank in STATUS_RANK.items()
}


class Order(Base):
    """One main order of one platform. Amounts in fen; times in UTC."""

    __tablename__ = "orders"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "paid_at"),
        # The orders one import wrote: crediting bound accounts after an import (migration 0011).
        Index(None, "tenant_id", "last_import_id"),
        # Only orders that carry an open uid (most exports have none); no index on the nickname: nothing can
        # use one (migration 0004).
        Index(
            None,
            "tenant_id",
            "buyer_open_uid",
            postgresql_where=text("buyer_open_uid IS NOT NULL"),
            sqlite_where=text("buyer_open_uid IS NOT NULL"),
        ),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    status_rank: Mapped[int] = mapped_column(Integer)
    paid_fen: Mapped[int]
    refund_fen: Mapped[int]
    item_count: Mapped[int] = mapped_column(Integer)
    title: Mapped[str | None] = mapped_column(String(200))
    buyer_nick: Mapped[str | None] = mapped_column(String(100))
    buyer_open_uid: Mapped[str | None] = mapped_column(String(100))
    receiver_phone: Mapped[str | None] = mapped_column(String(20))  # as the file shows it, usually masked
    shop: Mapped[str | None] = mapped_column(String(100))
    author: Mapped[str | None] = mapped_column(String(100))
    live_room: Mapped[str | None] = mapped_column(String(64))
    placed_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    first_import_id: Mapped[int | None]
    last_import_id: Mapped[int | None]
    first_seen_at: Mapped[datetime]
    last_changed_at: Mapped[datetime]


class SubOrder(Base):
    """One line of an order (a product), when the file lists them."""

    __tablename__ = "order_items"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "platform", "order_id"],
            ["orders.tenant_id", "orders.platform", "orders.order_id"],
            ondelete="CASCADE",
        ),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    sub_id: Mapped[str] = mapped_column(String(48), primary_key=True)
    title: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    paid_fen: Mapped[int]
    refund_fen: Mapped[int]
    status: Mapped[str] = mapped_column(String(16))


class OrderChange(Base):
    """A change of status or refund seen in an import: the order's history and the ledger's input."""

    __tablename__ = "order_changes"
    __table_args__ = (Index(None, "tenant_id", "platform", "order_id"),)

    # One change per order per import (from its state before the import to its state after it): re-running an
    # import records nothing twice.
    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    from_refund_fen: Mapped[int]
    to_refund_fen: Mapped[int]
    created_at: Mapped[datetime] = created_at_column()


class OrderImport(Base):
    """One uploaded file and what its import did. The file itself is kept by content hash."""

    __tablename__ = "order_imports"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "sha256"),
        Index(None, "tenant_id", "created_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    size: Mapped[int]
    requested_platform: Mapped[str] = mapped_column(String(16), default="auto")
    platform: Mapped[str | None] = mapped_column(String(16))
    layout: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16))  # queued | running | done | refused | failed
    rows: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str | None] = mapped_column(String(200))
    job_id: Mapped[int | None]
    created_at: Mapped[datetime] = created_at_column()
    finished_at: Mapped[datetime | None]


class ImportRejection(Base):
    """A row of a file that could not be trusted, with its row number and reason."""

    __tablename__ = "order_import_rejections"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    import_id: Mapped[int] = mapped_column(primary_key=True)
    row: Mapped[int] = mapped_column(Integer, primary_key=True)
    reason: Mapped[str] = mapped_column(String(200))
    order_id: Mapped[str | None] = mapped_column(String(80))


class ColumnMapping(Base):
    """Ops' mapping of an unknown layout's columns, reused whenever the same header row comes again."""

    __tablename__ = "order_column_mappings"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "name"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    header_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    platform: Mapped[str] = mapped_column(String(16))
    columns: Mapped[dict[str, Any]] = mapped_column(Json)  # canonical field -> column header
    created_at: Mapped[datetime] = created_at_column()


@dataclass(frozen=True)
class OrderView:
    """What a claim needs of an order, read as plain values (no object tracked by the session)."""

    tenant_id: int
    platform: str
    order_id: str
    status: str
    paid_fen: int
    refund_fen: int
    buyer_nick: str | None
    buyer_open_uid: str | None
    receiver_phone: str | None
    shop: str | None
    author: str | None
    live_room: str | None
    placed_at: datetime | None
    paid_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True)
class ChangeView:
    """One import's change to one order, with what the order is now (paid amount, completion time)."""

    platform: str
    order_id: str
    from_status: str
    to_status: str
    from_refund_fen: int
    to_refund_fen: int
    paid_fen: int
    completed_at: datetime | None
