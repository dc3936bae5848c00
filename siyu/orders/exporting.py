"""The canonical order table as CSV (UTF-8 with BOM, so Excel opens Chinese correctly), formula-safe."""

from __future__ import annotations

from siyu.kit.spreadsheet import safe_cell, safe_row
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
    """One order's cells; text a spreadsheet would run as a formula (a nickname "=...") starts with an apostrophe."""
    values: list[object] = []
    for column in EXPORT_COLUMNS:
        value = getattr(order, column)
        if column in TIME_COLUMNS:
            value = format_local(value, timezone, "%Y-%m-%d %H:%M:%S")
        values.append("" if value is None else safe_cell(value))
    return values


REJECTION_COLUMNS = ["行号", "订单编号", "原因"]


def rejection_row(item: dict[str, object]) -> list[object]:
    """A rejected row as the rejected-rows file lists it (the file's own text, so formula-safe as well)."""
    return safe_row([item["row"], item["order_id"] or "", item["reason"]])
