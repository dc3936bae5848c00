"""The canonical order table as CSV (UTF-8 with BOM, so Excel opens Chinese correctly)."""

from __future__ import annotations

from siyu.kit.time import format_local
from siyu.orders.models import Order

EXPORT_COLUMNS = [
    "platform",
    "order_id",
    "status",
    "paid_fen",
    "refund_fen",
    "item_count",
    "title",
    "buyer_nick",
    "buyer_open_uid",
    "receiver_phone",
    "shop",
    "author",
    "live_room",
    "placed_at",
    "paid_at",
    "completed_at",
    "first_seen_at",
    "last_changed_at",
]
TIME_COLUMNS = {"placed_at", "paid_at", "completed_at", "first_seen_at", "last_changed_at"}


def export_row(order: Order, timezone: str) -> list[object]:
    values: list[object] = []
    for column in EXPORT_COLUMNS:
        value = getattr(order, column)
        if column in TIME_COLUMNS:
            value = format_local(value, timezone, "%Y-%m-%d %H:%M:%S")
        values.append("" if value is None else value)
    return values
