"""Notices to fans and their deliveries: the outbox of everything siyu tells a fan, one row per piece of news
(unique per tenant by its idempotency key), one delivery row per attempt on each channel."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKeyConstraint, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, Json, created_at_column


class NoticeStatus(StrEnum):
    queued = "queued"  # waiting for its time (quiet hours, the daily cap) or for a channel to answer
    sent = "sent"  # every chosen channel took it (or had nothing to reach her with)
    dropped = "dropped"  # she unsubscribed, revoked consent, or no channel could ever reach her
    parked = "parked"  # a channel kept failing; waits for a person to redeliver


class DeliveryStatus(StrEnum):
    sending = "sending"  # recorded before the call; stays so only while the call runs (or if its worker died)
    interrupted = "interrupted"  # its worker died mid-call; the next try asked the provider or sent again
    sent = "sent"
    failed = "failed"  # will be tried again
    dropped = "dropped"  # refused for good (no consent, no phone): not tried again
    parked = "parked"  # failed too often; redelivery from the console
    retried = "retried"  # was parked; a person asked for it to be tried again (attempts count afresh after it)


class Notice(Base):
    __tablename__ = "notices"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index(None, "tenant_id", "member_id", "created_at"),
        Index(None, "tenant_id", "status", "created_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(40))
    subject: Mapped[str] = mapped_column(String(120))
    idempotency_key: Mapped[str] = mapped_column(String(200))
    payload: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=NoticeStatus.queued)
    not_before: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class Delivery(Base):
    """One attempt to deliver a notice on one channel (to one webhook endpoint, for webhooks)."""

    __tablename__ = "notice_deliveries"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "notice_id"], ["notices.tenant_id", "notices.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "notice_id"),
        Index(None, "tenant_id", "created_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    notice_id: Mapped[int]
    channel: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(64), default="")  # endpoint id for webhooks, else ""
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16))
    error_code: Mapped[str | None] = mapped_column(String(40))
    response: Mapped[str | None] = mapped_column(Text)  # a short summary, never a phone number
    created_at: Mapped[datetime] = created_at_column()


class WebhookEndpoint(Base):
    """A URL of the tenant's that receives every notice, signed per Standard Webhooks with its whsec_ secret.
    While a rotation is under way the previous secret signs too, until `previous_until`."""

    __tablename__ = "notice_webhooks"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),)

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_until: Mapped[datetime | None]
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at_column()


class Consent(Base):
    """One subscribe consent a fan gave for one template (in the mini-program, or on the H5 for the official
    account's subscribe notices): it allows one message. A tap reported twice is one consent (`tap`)."""

    __tablename__ = "notice_consents"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "member_id", "template_id", "used_at"),
        UniqueConstraint("tenant_id", "member_id", "template_id", "tap"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int]
    template_id: Mapped[str] = mapped_column(String(64))
    tap: Mapped[str | None] = mapped_column(String(64))  # the tap that gave it, as its page reported it
    openid: Mapped[str] = mapped_column(String(128), default="", server_default="")  # who gave it; "" unknown
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class OptOut(Base):
    """A fan said she wants no notices of this kind."""

    __tablename__ = "notice_optouts"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = created_at_column()
