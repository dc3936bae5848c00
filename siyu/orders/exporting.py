"""Orders as files. Two shapes:

- for machines (`EXPORT_COLUMNS`, `export_row`): column names, fen, status codes, as the API speaks;
- for ops (`OPS_COLUMNS`, `ops_row`): Chinese headers, yuan, statuses in words, tenant-local times, and what
  the order earned (who claimed it, how many points), supplied by the caller from the claims domain.

The machine shape is formula-safe here; the ops shape is written through the console's table writer, which is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from siyu.kit.spreadsheet import safe_cell, safe_row
from siyu.kit.time import format_local
from siyu.orders.models import STATUS_LABELS, Order

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


@dataclass(frozen=True)
class Earned:
    """What an order earned: the member who claimed it and the points."""

    member: str
    points: int
    member_id: int | None = None


OPS_COLUMNS = [
    "平台",
    "订单号",
    "状态",
    "实付（元）",
    "退款（元）",
    "件数",
    "商品",
    "买家昵称",
    "收货手机",
    "店铺",
    "主播",
    "直播间",
    "下单时间",
    "付款时间",
    "完成时间",
    "领取会员",
    "获得积分",
]
OPS_TEXT_COLUMNS = frozenset({1, 8})  # order number and phone: text, so that Excel keeps every digit
OPS_WIDTHS = (10, 24, 8, 11, 11, 6, 36, 16, 14, 16, 12, 16, 19, 19, 19, 16, 9)


def yuan(fen: int | None) -> float | None:
    return None if fen is None else round(fen / 100, 2)


def ops_row(order: Order, timezone: str, platforms: dict[str, str], earned: Earned | None) -> list[object]:
    """One order as ops read it. Amounts are numbers in yuan (Excel can sum them); empty cells stay empty."""

    def when(value: datetime | None) -> str:
        return format_local(value, timezone, "%Y-%m-%d %H:%M:%S")

    return [
        platforms.get(order.platform, order.platform),
        order.order_id,
        STATUS_LABELS.get(order.status, order.status),
        yuan(order.paid_fen),
        yuan(order.refund_fen) if order.refund_fen else None,
        order.item_count,
        order.title or "",
        order.buyer_nick or "",
        order.receiver_phone or "",
        order.shop or "",
        order.author or "",
        order.live_room or "",
        when(order.placed_at),
        when(order.paid_at),
        when(order.completed_at),
        earned.member if earned else "",
        earned.points if earned else None,
    ]
