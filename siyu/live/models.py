"""Tables of the live calendar.

- `live_shows`: one show on one channel (platform, live room / author id as the order exports spell them,
  title, cover, planned window, benefits). A show is planned, live or ended by the clock; only cancelling is
  stored. `version` counts the changes fans were told about (a cancel, a new time); `notice` is the latest such
  change in words, shown on the show page and in "my reservations".
- `live_show_products`: the products a show features, each with a price (fen) and an optional image.
- `live_reservations`: one row per (show, member): reserving again after cancelling reuses it.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, Json, created_at_column


class ShowStatus(StrEnum):
    planned = "planned"
    live = "live"
    ended = "ended"
    cancelled = "cancelled"


STATUS_LABELS: dict[str, str] = {
    ShowStatus.planned: "未开播",
    ShowStatus.live: "直播中",
    ShowStatus.ended: "已结束",
    ShowStatus.cancelled: "已取消",
}


class Show(Base):
    __tablename__ = "live_shows"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index(None, "tenant_id", "starts_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    channel_id: Mapped[int | None]
    platform: Mapped[str] = mapped_column(String(16))
    live_room: Mapped[str | None] = mapped_column(String(64))  # as the exports' room id column spells it
    author_id: Mapped[str | None] = mapped_column(String(100))  # as the exports' 达人ID / author column spells it
    title: Mapped[str] = mapped_column(String(60))
    cover: Mapped[str | None] = mapped_column(String(80))  # stored name (content hash) in the tenant's folder
    benefits: Mapped[list[str]] = mapped_column(Json, default=list)
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=0)
    notice: Mapped[str] = mapped_column(String(200), default="")
    notice_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class Product(Base):
    __tablename__ = "live_show_products"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "show_id"], ["live_shows.tenant_id", "live_shows.id"], ondelete="CASCADE"),
        CheckConstraint("price_fen > 0", name="price_positive"),
        Index(None, "tenant_id", "show_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    show_id: Mapped[int]
    title: Mapped[str] = mapped_column(String(60))
    price_fen: Mapped[int]
    image: Mapped[str | None] = mapped_column(String(80))
    sort_order: Mapped[int] = mapped_column(default=0)


class Reservation(Base):
    __tablename__ = "live_reservations"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "show_id"], ["live_shows.tenant_id", "live_shows.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "show_id", "member_id"),
        Index(None, "tenant_id", "member_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    show_id: Mapped[int]
    member_id: Mapped[int]
    reserved_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]
