"""Tables of fan voice (粉丝心声): what fans want next and what they think.

- `voice_demands`: one entry of the weekly demand collection ("下一场想买什么"): category, brand, product, price
  range, free text, an optional photo, the tenant-local ISO week it was sent in, and ops' reply she sees.
- `voice_wishes`: a product a fan wants (愿望单), with its "+1" count and ops' reply.
- `voice_wish_votes`: one "+1" per (wish, member): unique, so a second tap is refused and never counted twice.
- `voice_encore_votes`: one 返场 vote per (featured product of a past live show, member).
- `voice_surveys`: a survey (single / multiple choice, rating, text questions) with optional points for answering.
- `voice_answers`: one answer per (survey, member); its points go through the ledger with a unique reference.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, Json, created_at_column


class QuestionKind(StrEnum):
    single = "single"
    multiple = "multiple"
    rating = "rating"
    text = "text"


QUESTION_LABELS: dict[str, str] = {
    QuestionKind.single: "单选",
    QuestionKind.multiple: "多选",
    QuestionKind.rating: "评分",
    QuestionKind.text: "填空",
}


class Demand(Base):
    __tablename__ = "voice_demands"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "week", "category"),
        Index(None, "tenant_id", "member_id", "week"),
        Index(None, "tenant_id", "created_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int]
    week: Mapped[str] = mapped_column(String(10))  # tenant-local ISO week, "2026-W49"
    category: Mapped[str] = mapped_column(String(20))
    brand: Mapped[str] = mapped_column(String(40), default="")
    product: Mapped[str] = mapped_column(String(60))
    price_range: Mapped[str] = mapped_column(String(20), default="")
    text: Mapped[str] = mapped_column(String(500), default="")
    photo: Mapped[str | None] = mapped_column(String(80))  # stored name (content hash) in the tenant's folder
    reply: Mapped[str] = mapped_column(String(200), default="")
    replied_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class Wish(Base):
    __tablename__ = "voice_wishes"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        CheckConstraint("plus_count >= 0", name="plus_not_negative"),
        Index(None, "tenant_id", "plus_count"),
        Index(None, "tenant_id", "member_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int]
    product: Mapped[str] = mapped_column(String(60))
    note: Mapped[str] = mapped_column(String(200), default="")
    plus_count: Mapped[int] = mapped_column(default=0)
    reply: Mapped[str] = mapped_column(String(200), default="")
    replied_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class WishVote(Base):
    __tablename__ = "voice_wish_votes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "wish_id"], ["voice_wishes.tenant_id", "voice_wishes.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "wish_id", "member_id"),
        Index(None, "tenant_id", "member_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    wish_id: Mapped[int]
    member_id: Mapped[int]
    created_at: Mapped[datetime] = created_at_column()


class EncoreVote(Base):
    __tablename__ = "voice_encore_votes"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "product_id", "member_id"),
        Index(None, "tenant_id", "member_id"),
        Index(None, "tenant_id", "created_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    show_id: Mapped[int]  # a show of siyu.live (read through its service)
    product_id: Mapped[int]  # one of its featured products
    member_id: Mapped[int]
    created_at: Mapped[datetime] = created_at_column()


class Survey(Base):
    __tablename__ = "voice_surveys"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("points >= 0", name="points_not_negative"),
        Index(None, "tenant_id", "created_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(40))
    intro: Mapped[str] = mapped_column(String(300), default="")
    questions: Mapped[list[dict[str, Any]]] = mapped_column(Json, default=list)
    points: Mapped[int] = mapped_column(default=0)  # for answering (0: none)
    open: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at_column()


class Answer(Base):
    __tablename__ = "voice_answers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "survey_id"], ["voice_surveys.tenant_id", "voice_surveys.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "survey_id", "member_id"),
        Index(None, "tenant_id", "member_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    survey_id: Mapped[int]
    member_id: Mapped[int]
    answers: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)  # by question number: str, list or int
    points: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_at_column()
