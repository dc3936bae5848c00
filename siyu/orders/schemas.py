from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from siyu.kit.types import NOT_BLANK
from siyu.orders.models import OrderStatus


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    filename: str
    size: int
    sha256: str
    requested_platform: str
    platform: str | None
    layout: str | None
    status: str = Field(description="queued | running | done | refused | failed")
    rows: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    skipped: int
    error: str | None
    job_id: int | None
    duplicate_of: int | None = None
    created_at: datetime
    finished_at: datetime | None


class ImportPage(BaseModel):
    items: list[ImportOut]
    total: int
    page: int
    pages: int


class RejectedRow(BaseModel):
    row: int
    order_id: str | None
    reason: str


class OrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    platform: str
    order_id: str
    status: OrderStatus
    paid_fen: int
    refund_fen: int
    item_count: int
    title: str | None
    buyer_nick: str | None
    buyer_open_uid: str | None
    receiver_phone: str | None
    shop: str | None
    author: str | None
    live_room: str | None
    placed_at: datetime | None
    paid_at: datetime | None
    completed_at: datetime | None
    first_seen_at: datetime
    last_changed_at: datetime


class OrderPage(BaseModel):
    items: list[OrderOut]
    total: int
    page: int
    pages: int


class SubOrderOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sub_id: str
    title: str | None
    quantity: int
    paid_fen: int
    refund_fen: int
    status: OrderStatus


class ChangeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    import_id: int
    from_status: OrderStatus
    to_status: OrderStatus
    from_refund_fen: int
    to_refund_fen: int
    created_at: datetime


class OrderDetailOut(OrderOut):
    first_import_id: int | None
    last_import_id: int | None
    items: list[SubOrderOut]
    changes: list[ChangeOut]


class MappingIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, pattern=NOT_BLANK)
    platform: str = Field(pattern=r"^(taobao|douyin|kuaishou|channels|jd|pdd)$")
    headers: list[str] = Field(min_length=1, max_length=300, description="文件的表头（按原顺序）")
    columns: dict[str, str] = Field(description="标准字段 -> 表头名，至少 order_id、paid、status")


class MappingOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    header_key: str
    name: str
    platform: str
    columns: dict[str, str]
