"""The export layouts we recognise, detected from the header row.

Each layout names, for every canonical field, the header(s) that carry it (first present wins), how
its order ids look, how its status text maps to a canonical status and whether a row is an order or
one line (sub-order) of it. Facts come from the platforms' real exports.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from siyu.orders.models import OrderStatus

S = OrderStatus

# Canonical fields a layout can fill.
FIELDS = (
    "order_id",
    "sub_id",
    "title",
    "quantity",
    "paid",
    "refund",
    "status",
    "refund_status",
    "placed_at",
    "paid_at",
    "completed_at",
    "buyer_nick",
    "buyer_open_uid",
    "receiver_phone",
    "shop",
    "author",
    "live_room",
)
FIELD_LABELS: dict[str, str] = {
    "order_id": "订单编号（必填）",
    "sub_id": "子订单编号",
    "title": "商品标题",
    "quantity": "数量",
    "paid": "实付金额（必填）",
    "refund": "退款金额",
    "status": "订单状态（必填）",
    "refund_status": "售后/退款状态",
    "placed_at": "下单时间",
    "paid_at": "付款时间",
    "completed_at": "完成/确认收货时间",
    "buyer_nick": "买家昵称",
    "buyer_open_uid": "买家 open uid",
    "receiver_phone": "收件人手机",
    "shop": "店铺",
    "author": "达人/主播",
    "live_room": "直播间",
}
REQUIRED = ("order_id", "paid", "status")

DIGITS_ID = r"^[0-9]{15,20}$"  # ASCII: the regex \d also matches full-width digits
PDD_ID = r"^[0-9]{6}-[0-9]{6,20}$"

# Text seen in exports, by platform. Anything not listed falls back to KEYWORDS, then is rejected.
TAOBAO_STATUS = {
    "等待买家付款": S.unpaid,
    "没有创建支付宝交易": S.unpaid,
    "等待付款": S.unpaid,
    "买家已付款，等待卖家发货": S.paid,
    "买家已确认，等待卖家发货": S.paid,
    "买家已付款,等待卖家发货": S.paid,
    "等待卖家发货": S.paid,
    "卖家已发货，等待买家确认": S.shipped,
    "卖家已发货,等待买家确认": S.shipped,
    "卖家已发货，等待买家确认收货并付款": S.shipped,
    "买家已签收": S.shipped,
    "卖家部分发货": S.shipped,
    "交易成功": S.completed,
    "交易关闭": S.closed,
    "交易被淘宝关闭": S.closed,
}
DOUYIN_STATUS = {
    "待支付": S.unpaid,
    "待付款": S.unpaid,
    "待发货": S.paid,
    "备货中": S.paid,
    "已支付": S.paid,
    "已发货": S.shipped,
    "部分发货": S.shipped,
    "已完成": S.completed,
    "已关闭": S.closed,
    "已取消": S.closed,
}
KUAISHOU_STATUS = {
    "待付款": S.unpaid,
    "待发货": S.paid,
    "已发货": S.shipped,
    "待收货": S.shipped,
    "已收货": S.completed,
    "交易成功": S.completed,
    "已完成": S.completed,
    "交易关闭": S.closed,
    "已关闭": S.closed,
    "已取消": S.closed,
}
CHANNELS_STATUS = {
    "待付款": S.unpaid,
    "待发货": S.paid,
    "部分发货": S.shipped,
    "已发货": S.shipped,
    "待收货": S.shipped,
    "已完成": S.completed,
    "已取消": S.closed,
    "已关闭": S.closed,
    "售后中": S.refunding,
}
PDD_STATUS = {
    "待支付": S.unpaid,
    "待付款": S.unpaid,
    "待发货": S.paid,
    "已发货，待收货": S.shipped,
    "已发货,待收货": S.shipped,
    "待收货": S.shipped,
    "已收货": S.completed,
    "交易成功": S.completed,
    "已签收": S.completed,
    "已取消": S.closed,
    "交易已取消": S.closed,
    "已关闭": S.closed,
}
JD_STATUS = {
    "等待出库": S.paid,
    "等待发货": S.paid,
    "等待确认收货": S.shipped,
    "完成": S.completed,
    "已完成": S.completed,
    "已取消": S.closed,
    "锁定": S.closed,
}
# Refund / after-sale column text: refunded, refunding, or no refund.
REFUND_STATUS = {
    "退款成功": S.refunded,
    "退款完成": S.refunded,
    "已退款": S.refunded,
    "退货退款成功": S.refunded,
    "售后待处理": S.refunding,
    "退款中": S.refunding,
    "等待卖家同意": S.refunding,
    "售后中": S.refunding,
    "待商家处理": S.refunding,
    "等待买家退货": S.refunding,
    "等待卖家确认收货": S.refunding,
}
NO_REFUND = {
    "",
    "-",
    "--",
    "无",
    "没有申请退款",
    "售后关闭",
    "退款关闭",
    "退款失败",
    "卖家拒绝退款",
    "补寄",
    "无售后",
}

# Last resort for wording a platform changes: ordered, first match wins.
KEYWORDS: list[tuple[str, OrderStatus]] = [
    ("退款成功", S.refunded),
    ("退款完成", S.refunded),
    ("退款中", S.refunding),
    ("关闭", S.closed),
    ("取消", S.closed),
    ("待发货", S.paid),
    ("已付款", S.paid),
    ("付款", S.unpaid),
    ("发货", S.shipped),
    ("成功", S.completed),
    ("完成", S.completed),
]


@dataclass(frozen=True)
class Layout:
    key: str
    label: str
    platform: str
    columns: dict[str, tuple[str, ...]]
    statuses: dict[str, OrderStatus]
    id_pattern: str = DIGITS_ID
    line_items: bool = False  # one row per sub-order; rows of an order are folded
    order_level_amount: bool = False  # the paid amount repeats the whole order's on each line
    signature: tuple[str, ...] = ()  # headers that must all be present
    excludes: tuple[str, ...] = ()  # headers that must be absent
    mapping_name: str | None = None  # set for a saved column mapping

    def header_for(self, fieldname: str, headers: list[str]) -> str | None:
        for candidate in self.columns.get(fieldname, ()):
            if candidate in headers:
                return candidate
        return None

    def matches(self, headers: list[str]) -> bool:
        return all(h in headers for h in self.signature) and not any(h in headers for h in self.excludes)


TAOBAO_ORDER = Layout(
    key="taobao_order",
    label="淘宝/天猫 订单报表",
    platform="taobao",
    columns={
        "order_id": ("订单编号",),
        "buyer_nick": ("买家会员名",),
        "paid": ("买家实际支付金额", "买家实付金额"),
        "refund": ("退款金额",),
        "status": ("订单状态",),
        "placed_at": ("订单创建时间",),
        "paid_at": ("订单付款时间",),
        "completed_at": ("确认收货时间",),
        "title": ("宝贝标题", "商品标题"),
        "quantity": ("宝贝总数量",),
        "receiver_phone": ("联系手机",),
        "shop": ("店铺名称",),
        "buyer_open_uid": ("买家open_uid", "buyer_open_uid"),
    },
    statuses=TAOBAO_STATUS,
    signature=("订单编号", "订单状态"),
    excludes=("子订单编号", "主订单编号", "标题", "价格"),
)
TAOBAO_ITEM = Layout(
    key="taobao_item",
    label="淘宝/天猫 宝贝报表",
    platform="taobao",
    columns={
        "order_id": ("主订单编号", "订单编号"),
        "sub_id": ("子订单编号",),
        "title": ("标题",),
        "quantity": ("购买数量",),
        "paid": ("买家实际支付金额", "买家实付金额", "买家应付货款"),
        "refund": ("退款金额",),
        "status": ("订单状态",),
        "refund_status": ("退款状态",),
        "placed_at": ("订单创建时间",),
        "paid_at": ("订单付款时间",),
    },
    statuses=TAOBAO_STATUS,
    line_items=True,
    signature=("标题", "购买数量", "订单状态"),
)
DOUYIN = Layout(
    key="douyin",
    label="抖店 订单",
    platform="douyin",
    columns={
        "order_id": ("主订单编号",),
        "sub_id": ("子订单编号",),
        "title": ("选购商品",),
        "quantity": ("商品数量",),
        "paid": ("订单应付金额", "商品金额"),
        "status": ("订单状态",),
        "refund_status": ("售后状态",),
        "placed_at": ("订单提交时间",),
        "paid_at": ("支付完成时间",),
        "completed_at": ("订单完成时间",),
        "author": ("达人昵称", "达人ID"),
        "live_room": ("直播间ID", "直播间id"),
    },
    statuses=DOUYIN_STATUS,
    line_items=True,
    signature=("主订单编号", "子订单编号", "选购商品"),
)
KUAISHOU = Layout(
    key="kuaishou",
    label="快手小店 订单",
    platform="kuaishou",
    columns={
        "order_id": ("订单号",),
        "placed_at": ("订单创建时间",),
        "paid_at": ("订单支付时间",),
        "status": ("订单状态",),
        "paid": ("实付款",),
        "quantity": ("成交数量",),
        "refund_status": ("退货退款",),
        "title": ("商品名称",),
        "buyer_nick": ("买家昵称",),
        "author": ("达人昵称", "主播昵称"),
    },
    statuses=KUAISHOU_STATUS,
    line_items=True,
    signature=("订单号", "实付款", "成交数量"),
)
CHANNELS = Layout(
    key="channels",
    label="视频号小店 订单",
    platform="channels",
    columns={
        "order_id": ("订单号",),
        "status": ("订单状态",),
        "title": ("商品名称",),
        "quantity": ("商品数量",),
        "paid": ("订单实际支付金额",),
        "refund": ("商品已退款金额",),
        "refund_status": ("商品售后",),
        "receiver_phone": ("收件人手机",),
        "placed_at": ("订单下单时间", "下单时间", "订单创建时间"),
        "paid_at": ("支付时间", "订单支付时间"),
        "author": ("带货达人昵称", "达人昵称"),
    },
    statuses=CHANNELS_STATUS,
    line_items=True,
    order_level_amount=True,
    signature=("订单号", "订单实际支付金额"),
)
PDD = Layout(
    key="pdd",
    label="拼多多 订单",
    platform="pdd",
    columns={
        "order_id": ("订单号",),
        "title": ("商品",),
        "quantity": ("商品数量(件)",),
        "paid": ("用户实付金额(元)",),
        "status": ("订单状态",),
        "refund_status": ("售后状态",),
        "placed_at": ("订单成交时间",),
        "paid_at": ("订单成交时间",),
        "completed_at": ("确认收货时间",),
    },
    statuses=PDD_STATUS,
    id_pattern=PDD_ID,
    line_items=True,
    signature=("订单号", "用户实付金额(元)"),
)

LAYOUTS: list[Layout] = [TAOBAO_ITEM, TAOBAO_ORDER, DOUYIN, KUAISHOU, CHANNELS, PDD]
# Every header a known layout reads (an XLSX is read for these columns, see siyu.orders.service.open_file).
KNOWN_HEADERS = frozenset(h for layout in LAYOUTS for candidates in layout.columns.values() for h in candidates)
PLATFORM_STATUSES: dict[str, dict[str, OrderStatus]] = {
    "taobao": TAOBAO_STATUS,
    "douyin": DOUYIN_STATUS,
    "kuaishou": KUAISHOU_STATUS,
    "channels": CHANNELS_STATUS,
    "pdd": PDD_STATUS,
    "jd": JD_STATUS,
}
PLATFORM_ID_PATTERNS: dict[str, str] = {"pdd": PDD_ID, "jd": r"^[0-9]{8,20}$"}


@dataclass(frozen=True)
class Detection:
    layout: Layout | None
    headers: list[str] = field(default_factory=list)


def clean_header(name: str) -> str:
    return name.replace("\ufeff", "").strip().strip('"').strip()


def detect(headers: list[str], platform: str | None = None) -> Layout | None:
    """The first layout whose signature the headers carry (limited to `platform` when given)."""
    for layout in LAYOUTS:
        if platform and layout.platform != platform:
            continue
        if layout.matches(headers):
            return layout
    return None


def from_mapping(name: str, platform: str, columns: dict[str, str]) -> Layout:
    """A layout made from a saved column mapping."""
    return Layout(
        key="mapping",
        label=f"自定义映射：{name}",
        platform=platform,
        columns={fieldname: (header,) for fieldname, header in columns.items() if header},
        statuses=PLATFORM_STATUSES.get(platform, {}),
        id_pattern=PLATFORM_ID_PATTERNS.get(platform, DIGITS_ID),
        line_items=True,
        mapping_name=name,
    )


def looks_like_order_export(headers: list[str]) -> bool:
    """Whether any header could be an order-number column (for the refusal message)."""
    return any(re.search(r"订单(编号|号)", h) for h in headers)
