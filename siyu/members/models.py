from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKeyConstraint, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, created_at_column


class IdentityKind(StrEnum):
    wechat_openid = "wechat_openid"
    wechat_unionid = "wechat_unionid"
    phone = "phone"
    taobao_nick = "taobao_nick"
    taobao_open_uid = "taobao_open_uid"
    douyin_open_id = "douyin_open_id"
    kuaishou_id = "kuaishou_id"
    channels_openid = "channels_openid"


IDENTITY_LABELS: dict[str, str] = {
    IdentityKind.wechat_openid: "微信",
    IdentityKind.wechat_unionid: "微信（开放平台）",
    IdentityKind.phone: "手机号",
    IdentityKind.taobao_nick: "淘宝昵称",
    IdentityKind.taobao_open_uid: "淘宝账号",
    IdentityKind.douyin_open_id: "抖音账号",
    IdentityKind.kuaishou_id: "快手号",
    IdentityKind.channels_openid: "视频号账号",
}


class Member(Base):
    __tablename__ = "members"

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    nickname: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | merged
    merged_into: Mapped[int | None]
    created_at: Mapped[datetime] = created_at_column()
    # Her last signed-in visit (H5 page or fan API call), written at most once per tenant-local day (migration 0025).
    last_visit_at: Mapped[datetime | None]

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "created_at"),
        # The visits since a time, for the analytics snapshot's refresh.
        Index(None, "tenant_id", "last_visit_at"),
    )


class Identity(Base):
    """One identifier of a member; (tenant, kind, value) is unique, so it points at one person."""

    __tablename__ = "member_identities"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "member_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(24), primary_key=True)
    value: Mapped[str] = mapped_column(String(128), primary_key=True)
    member_id: Mapped[int]
    created_at: Mapped[datetime] = created_at_column()
