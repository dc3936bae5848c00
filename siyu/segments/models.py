"""Tables of member tags and saved segments.

- `tags`: a tag ops made (name, an optional colour) and, optionally, its rule: a segment filter whose
  members get the tag when the rule is refreshed (and lose it when they no longer match).
- `member_tags`: a tag on a member, put there by hand (`manual`) or by the tag's rule (`rule`). A rule only ever
  takes off what it put on.
- `segments`: a named saved filter over members, with how many members it matched and when that was computed.
- `segment_sends`: a notice ops sent to a segment's members (one per form sent: its key makes a second click the
  same send); each member is told once per send.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, Json, created_at_column


class TagSource(StrEnum):
    manual = "manual"
    rule = "rule"


TAG_SOURCE_LABELS: dict[str, str] = {TagSource.manual: "手动", TagSource.rule: "规则"}


class Tag(Base):
    __tablename__ = "tags"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "name"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(20))
    color: Mapped[str | None] = mapped_column(String(7))  # #RRGGBB
    rule: Mapped[dict[str, Any] | None] = mapped_column(Json)  # a segment filter; None: by hand only
    rule_refreshed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class MemberTag(Base):
    __tablename__ = "member_tags"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "tag_id"], ["tags.tenant_id", "tags.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "tag_id", "member_id"),
        Index(None, "tenant_id", "member_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    tag_id: Mapped[int]
    member_id: Mapped[int]
    source: Mapped[str] = mapped_column(String(8), default=TagSource.manual)
    created_at: Mapped[datetime] = created_at_column()


class Segment(Base):
    __tablename__ = "segments"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "name"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(30))
    description: Mapped[str] = mapped_column(String(200), default="")
    filter: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    member_count: Mapped[int | None]  # None: not counted yet
    counted_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
    updated_at: Mapped[datetime] = created_at_column()


class SegmentSend(Base):
    __tablename__ = "segment_sends"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "segment_id"], ["segments.tenant_id", "segments.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "segment_id", "key"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    segment_id: Mapped[int]
    key: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(20))
    text: Mapped[str] = mapped_column(String(200))
    members: Mapped[int] = mapped_column(default=0)  # members of the segment when it was sent
    sent_by: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = created_at_column()
