"""Tables of the tiered fan groups (分层社群).

- `fan_groups`: one WeChat group. A main group (`family_id == id`, `seq == 1`) carries the entry thresholds;
  its overflow groups (二群, 三群 …: the same `family_id`, `seq` 2, 3 …) share them. Each group has its own cap
  and its own QR code image (stored name in the tenant's folder), uploaded at `qr_uploaded_at` and valid until
  `qr_expires_at` (WeChat group codes last 7 days).
- `fan_group_members`: a member who confirmed she joined a group, at most once per family (一群 or 二群, not both).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, created_at_column


class FanGroup(Base):
    __tablename__ = "fan_groups"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("cap > 0", name="cap_positive"),
        CheckConstraint("seq > 0", name="seq_positive"),
        CheckConstraint("window_days > 0", name="window_positive"),
        UniqueConstraint("tenant_id", "family_id", "seq"),
        Index(None, "tenant_id", "qr_expires_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    family_id: Mapped[int]  # the main group's id (its own id for a main group)
    seq: Mapped[int] = mapped_column(default=1)  # 1: the main group; 2, 3 …: its overflow groups in order
    name: Mapped[str] = mapped_column(String(30))
    intro: Mapped[str] = mapped_column(String(200), default="")
    sort_order: Mapped[int] = mapped_column(default=0)
    min_tier_id: Mapped[int | None]  # a loyalty tier: members in it or a higher one
    min_points: Mapped[int | None]  # available points at least
    min_orders: Mapped[int | None]  # orders credited to her, paid in the last window_days
    min_paid_fen: Mapped[int | None]  # what those orders paid (less refunds)
    window_days: Mapped[int] = mapped_column(default=30)
    segment_id: Mapped[int | None]  # a saved segment: only its members (siyu.segments decides who they are)
    cap: Mapped[int] = mapped_column(default=200)
    qr_image: Mapped[str | None] = mapped_column(String(80))
    qr_uploaded_at: Mapped[datetime | None]
    qr_expires_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class GroupMember(Base):
    __tablename__ = "fan_group_members"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "group_id"], ["fan_groups.tenant_id", "fan_groups.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "family_id", "member_id"),
        Index(None, "tenant_id", "group_id", "joined_at"),
        Index(None, "tenant_id", "member_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    family_id: Mapped[int]
    group_id: Mapped[int]
    member_id: Mapped[int]
    joined_at: Mapped[datetime]
