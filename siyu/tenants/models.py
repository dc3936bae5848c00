from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, BigId, Json, created_at_column
from siyu.kit.time import DEFAULT_TIMEZONE


class Platform(StrEnum):
    taobao = "taobao"
    douyin = "douyin"
    kuaishou = "kuaishou"
    channels = "channels"
    jd = "jd"
    pdd = "pdd"


PLATFORM_LABELS: dict[str, str] = {
    Platform.taobao: "淘宝/天猫",
    Platform.douyin: "抖音",
    Platform.kuaishou: "快手",
    Platform.channels: "视频号",
    Platform.jd: "京东",
    Platform.pdd: "拼多多",
}


class Tenant(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default=DEFAULT_TIMEZONE)
    settings: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    # Bumped in the transaction of every change to the settings, channels, campaigns or tiers: what a process
    # derived from them (siyu.kit.cache) is good while the number it was read with is still the stored one.
    config_version: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    created_at: Mapped[datetime] = created_at_column()


class Channel(Base):
    """A shop or live account of the tenant on one platform."""

    __tablename__ = "channels"
    __table_args__ = (UniqueConstraint("tenant_id", "platform", "name"),)

    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    platform: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    shop_id: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at_column()
