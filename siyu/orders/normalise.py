"""Raw export cells to canonical order rows, column-wise with Polars (no Python loop per row).

Every quirk of real exports is handled here: `="..."`, trailing tabs and leading apostrophes that
protect long numbers from Excel; `-`/`--` for empty; `¥`, `￥` and thousands separators; China-time
timestamps; blank, summary and repeated header rows (skipped); ids in scientific notation, bad amounts
and missing ids (rejected with their row number and reason).
"""

from __future__ import annotations

import polars as pl

from siyu.orders.layouts import KEYWORDS, NO_REFUND, REFUND_STATUS, Layout
from siyu.orders.models import STATUS_RANK, OrderStatus

ROW = "__row"
EMPTY = ["", "-", "--", "null", "NULL", "None", "无"]
SUMMARY = r"^(合计|总计|汇总|小计|共\d*)"
TIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
)
SCIENTIFIC = r"^\d(\.\d+)?[eE]\+?\d+$"
# ASCII digits only (the regex engine's \d also matches full-width and other Unicode digits, which the
# Int64 cast then turns into null); thousands separators only between groups of three digits.
AMOUNT = r"^-?([0-9]{1,3}(,[0-9]{3})+|[0-9]+)(\.[0-9]{1,2})?$"
MAX_QUANTITY = 1_000_000
MAX_WHOLE_DIGITS = 15  # 10^15 yuan: far beyond any order, and whole * 100 stays inside Int64

ORDER_COLUMNS = [
    "row",
    "order_id",
    "sub_id",
    "title",
    "quantity",
    "paid_fen",
    "refund_fen",
    "status",
    "placed_at",
    "paid_at",
    "completed_at",
    "buyer_nick",
    "buyer_open_uid",
    "receiver_phone",
    "shop",
    "author",
    "live_room",
]


def clean(expr: pl.Expr) -> pl.Expr:
    """Strip protection and blanks: ="123", 123<TAB>, '123, -, -- and surrounding spaces."""
    value = expr.cast(pl.String).str.strip_chars()
    value = value.str.replace(r'^="(.*)"$', "${1}").str.replace(r"^=(.*)$", "${1}")
    value = value.str.replace(r"^'", "").str.strip_chars().str.strip_chars('"').str.strip_chars()
    return pl.when(value.is_in(EMPTY) | value.is_null()).then(None).otherwise(value)


def fen(expr: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(fen as Int64, is-invalid) from a yuan string such as ¥1,299.00 (no float on the way)."""
    text = expr.str.replace_all(r"[¥￥\s元]", "").str.replace_all("，", ",")
    digits = text.str.replace_all(",", "")
    negative = digits.str.starts_with("-")
    whole_text = digits.str.extract(r"^-?([0-9]+)", 1)
    valid = text.str.contains(AMOUNT) & (whole_text.str.len_chars() <= MAX_WHOLE_DIGITS)
    whole = whole_text.cast(pl.Int64, strict=False)
    cents = digits.str.extract(r"\.([0-9]{1,2})$", 1).str.pad_end(2, "0").cast(pl.Int64, strict=False).fill_null(0)
    amount = whole * 100 + cents
    value = pl.when(valid).then(pl.when(negative).then(-amount).otherwise(amount)).otherwise(None)
    return value, expr.is_not_null() & ~valid


def quantity(expr: pl.Expr) -> pl.Expr:
    """Leading ASCII digits ("2", "2件"); 1 when absent or absurd (the column is a 32-bit integer)."""
    digits = expr.str.extract(r"^([0-9]+)", 1)
    count = pl.when(digits.str.len_chars() <= 9).then(digits.cast(pl.Int64, strict=False))
    return pl.when(count <= MAX_QUANTITY).then(count).otherwise(None).fill_null(1)


def china_time(expr: pl.Expr, timezone: str) -> pl.Expr:
    parsed = pl.coalesce([expr.str.to_datetime(fmt, strict=False, time_unit="us") for fmt in TIME_FORMATS])
    return parsed.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null").dt.convert_time_zone("UTC")


def status_of(expr: pl.Expr, statuses: dict[str, OrderStatus]) -> pl.Expr:
    exact = expr.replace_strict({k: v.value for k, v in statuses.items()}, default=None, return_dtype=pl.String)
    fallback = pl.lit(None, dtype=pl.String)
    for keyword, status in reversed(KEYWORDS):
        fallback = pl.when(expr.str.contains(keyword, literal=True)).then(pl.lit(status.value)).otherwise(fallback)
    return pl.coalesce([exact, fallback])


def refund_state(expr: pl.Expr) -> pl.Expr:
    mapped = expr.replace_strict({k: v.value for k, v in REFUND_STATUS.items()}, default=None, return_dtype=pl.String)
    keyword = (
        pl.when(expr.str.contains("退款成功|退款完成|已退款"))
        .then(pl.lit(OrderStatus.refunded.value))
        .when(expr.str.contains("关闭|拒绝|失败|取消"))
        .then(None)
        .when(expr.str.contains("退款|售后"))
        .then(pl.lit(OrderStatus.refunding.value))
        .otherwise(None)
    )
    return pl.when(expr.is_null() | expr.is_in(list(NO_REFUND))).then(None).otherwise(pl.coalesce([mapped, keyword]))


def normalise(
    raw: pl.DataFrame, layout: Layout, headers: list[str], timezone: str
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(canonical rows, rejected rows [row, order_id, reason], skipped count) for one batch."""

    def column(fieldname: str) -> pl.Expr:
        header = layout.header_for(fieldname, headers)
        return clean(pl.col(header)) if header else pl.lit(None, dtype=pl.String)

    order_header = layout.header_for("order_id", headers)
    raw_id = clean(pl.col(order_header)) if order_header else pl.lit(None, dtype=pl.String)
    paid, paid_bad = fen(column("paid"))
    refund, refund_bad = fen(column("refund"))
    status_text = column("status")
    frame = raw.select(
        pl.col(ROW).alias("row"),
        raw_id.alias("order_id"),
        column("sub_id").alias("sub_id"),
        column("title").str.slice(0, 200).alias("title"),
        quantity(column("quantity")).alias("quantity"),
        paid.fill_null(0).alias("paid_fen"),
        paid_bad.alias("paid_bad"),
        column("paid").alias("paid_text"),
        refund.fill_null(0).alias("refund_fen"),
        refund_bad.alias("refund_bad"),
        status_text.alias("status_text"),
        status_of(status_text, layout.statuses).alias("status"),
        refund_state(column("refund_status")).alias("refund_state"),
        china_time(column("placed_at"), timezone).alias("placed_at"),
        china_time(column("paid_at"), timezone).alias("paid_at"),
        china_time(column("completed_at"), timezone).alias("completed_at"),
        column("buyer_nick").str.slice(0, 100).alias("buyer_nick"),
        column("buyer_open_uid").str.slice(0, 100).alias("buyer_open_uid"),
        column("receiver_phone").str.slice(0, 20).alias("receiver_phone"),
        column("shop").str.slice(0, 100).alias("shop"),
        column("author").str.slice(0, 100).alias("author"),
        column("live_room").str.slice(0, 64).alias("live_room"),
        pl.sum_horizontal(
            [
                pl.col(c).is_not_null() & (pl.col(c).cast(pl.String).str.strip_chars() != "")
                for c in raw.columns
                if c != ROW
            ]
        ).alias("filled"),
    )
    # Blank lines, summary lines and a header row repeated by concatenated files are not data.
    skip = (
        (pl.col("filled") == 0)
        | (pl.col("order_id").is_not_null() & pl.col("order_id").str.contains(SUMMARY))
        | (pl.col("order_id") == (order_header or ""))
        | (pl.col("order_id").is_null() & (pl.col("filled") <= 1))
    ).fill_null(False)  # `null == "订单编号"` is null, and filtering on null would drop a row missing its id
    frame = frame.filter(~skip)
    skipped = raw.height - frame.height
    reason = (
        pl.when(pl.col("order_id").is_null())
        .then(pl.lit("缺少订单编号"))
        .when(pl.col("order_id").str.contains(SCIENTIFIC))
        .then(pl.format("订单编号被 Excel 改成了科学计数法（{}），请把该列设为文本后重新导出", pl.col("order_id")))
        .when(~pl.col("order_id").str.contains(layout.id_pattern))
        .then(pl.format("订单编号格式不正确：{}", pl.col("order_id").str.slice(0, 40)))
        .when(pl.col("paid_bad"))
        .then(pl.format("实付金额无法识别：{}", pl.col("paid_text").str.slice(0, 30)))
        .when(pl.col("refund_bad"))
        .then(pl.lit("退款金额无法识别"))
        .when(pl.col("status").is_null())
        .then(pl.format("无法识别的订单状态：{}", pl.col("status_text").fill_null("（空）").str.slice(0, 30)))
        .otherwise(None)
    )
    frame = frame.with_columns(reason.alias("reason"))
    rejected = frame.filter(pl.col("reason").is_not_null()).select("row", pl.col("order_id").str.slice(0, 80), "reason")
    good = frame.filter(pl.col("reason").is_null())
    good = _apply_refunds(good, layout)
    return good.select(ORDER_COLUMNS), rejected, skipped


def _apply_refunds(frame: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """Combine the order status with the after-sale column and refund amounts."""
    has_refund_column = bool(layout.columns.get("refund"))
    refunded = pl.col("refund_state") == OrderStatus.refunded.value
    refund_fen = (
        pl.when(refunded & (pl.col("refund_fen") == 0) & ~pl.lit(has_refund_column or layout.order_level_amount))
        .then(pl.col("paid_fen"))
        .otherwise(pl.col("refund_fen"))
    )
    status = (
        pl.when(refunded & (pl.col("status") != OrderStatus.unpaid.value))
        .then(pl.lit(OrderStatus.refunded.value))
        .when(
            (pl.col("refund_state") == OrderStatus.refunding.value)
            & ~pl.col("status").is_in([OrderStatus.closed.value, OrderStatus.unpaid.value])
        )
        .then(pl.lit(OrderStatus.refunding.value))
        # Taobao: a closed order with money refunded was refunded, not merely closed.
        .when((pl.col("status") == OrderStatus.closed.value) & (pl.col("refund_fen") > 0))
        .then(pl.lit(OrderStatus.refunded.value))
        .otherwise(pl.col("status"))
    )
    return frame.with_columns(refund_fen.alias("refund_fen")).with_columns(status.alias("status"))


def rank_expr(expr: pl.Expr) -> pl.Expr:
    return expr.replace_strict(dict(STATUS_RANK), default=0, return_dtype=pl.Int32)


def fold_orders(items: pl.DataFrame, layout: Layout) -> pl.DataFrame:
    """One row per order from its lines: amounts summed (or the order-level amount), status combined."""
    if not layout.line_items:
        return items.unique(subset=["order_id"], keep="last", maintain_order=True)
    paid = pl.col("paid_fen").max() if layout.order_level_amount else pl.col("paid_fen").sum()
    all_refunded = (pl.col("status") == OrderStatus.refunded.value).all()
    any_refunding = (pl.col("status") == OrderStatus.refunding.value).any()
    main_status = pl.col("status").sort_by(rank_expr(pl.col("status"))).first()
    return items.group_by("order_id", maintain_order=True).agg(
        pl.col("row").first(),
        pl.col("title").drop_nulls().first(),
        pl.col("quantity").sum(),
        paid.alias("paid_fen"),
        pl.col("refund_fen").sum(),
        pl.when(all_refunded)
        .then(pl.lit(OrderStatus.refunded.value))
        .when(any_refunding)
        .then(pl.lit(OrderStatus.refunding.value))
        .otherwise(main_status)
        .alias("status"),
        *[
            pl.col(c).drop_nulls().first()
            for c in (
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
        ],
    )
