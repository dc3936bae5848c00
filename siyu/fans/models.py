"""Fan sessions for API clients (refresh tokens, stored hashed) and one-time codes sent by SMS (hashed too)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, created_at_column


class RefreshToken(Base):
    """One refresh token of a fan's API session. Each refresh uses it up and issues the next of its family;
    a used token coming back means it was copied, and the whole family is revoked."""

    __tablename__ = "fan_refresh_tokens"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        Index(None, "token_hash", unique=True),
        Index(None, "tenant_id", "family_id"),
        Index(None, "tenant_id", "member_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int]
    family_id: Mapped[int]
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class SmsCode(Base):
    """A one-time sign-in code sent to a phone. Neither the phone nor the code is stored in plaintext."""

    __tablename__ = "fan_sms_codes"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "phone_hash", "created_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    phone_hash: Mapped[str] = mapped_column(String(64))
    code_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()
