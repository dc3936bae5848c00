"""Raw export cells to canonical order rows, column-wise with Polars (no Python loop per row).

Every quirk of real exports is handled here: `="..."`, trailing tabs and leading apostrophes that
protect long numbers from Excel; `-`/`--` for empty; `¥`, `￥` and thousands separators; China-time
timestamps; blank, summary and repeated header rows (skipped); ids in scientific notation, bad amounts
and missing ids (rejected with their row number and reason).
"""

from __future__ import annotations

import polars as pl

from siyu.orders.layouts import FIELDS, KEYWORDS, NO_REFUND, REFUND_STATUS, Layout
from siyu.orders.models import LINE_ORDER, STATUS_RANK, OrderStatus

ROW = "__row"
FILLED = "__filled"  # optional: a reader that parsed only the layout's columns counts non-blank cells (see _filled)
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
# What the database columns hold; a cell past them is a rejected row, never a failed batch.
MAX_SUB_ID = 48  # order_items.sub_id
MAX_ITEM_COUNT = 2**31 - 1  # orders.item_count, a 32-bit integer: the sum of an order's quantities
MAX_ORDER_FEN = 10**17  # an order's summed paid or refund amount, far inside a 64-bit integer
NUL = "\x00"  # no text column of PostgreSQL can hold it

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
    return value.replace(EMPTY, None)


# Once spaces are stripped, `clean`'s other steps can only change a value that starts with = ' or " or ends with ".
PROTECTED = r"""^[='"]|"$"""


def clean_column(values: pl.Series) -> pl.Series:
    """`clean` of a whole column, doing its protection-stripping steps only for the values that can need them
    (usually an id column; elsewhere a few values): most of a large file's cells are stripped and compared only."""
    stripped = values.cast(pl.String).str.strip_chars()
    protected = stripped.str.contains(PROTECTED).fill_null(False)
    if protected.any():
        rows = protected.arg_true()
        stripped = stripped.scatter(rows, _clean_protected(stripped.gather(rows)))
    return stripped.replace(EMPTY, None)


def _clean_protected(values: pl.Series) -> pl.Series:
    """`clean` of stripped values that carry protection. The usual forms, ="123456" and '13800001234, are
    unwrapped directly; anything else goes through every step of `clean`."""
    v = pl.col("v")
    inner, tail = v.str.strip_prefix('="').str.strip_suffix('"'), v.str.strip_prefix("'")
    quoted_number = v.str.starts_with('="') & v.str.ends_with('"') & inner.str.contains("^[0-9]+$")
    apostrophe = v.str.starts_with("'") & ~tail.str.contains(r'^[\s"]|[\s"]$')
    fast = values.to_frame("v").select(
        pl.when(quoted_number).then(inner).otherwise(tail).alias("value"),
        (quoted_number | apostrophe).fill_null(False).alias("done"),
    )
    if fast["done"].all():
        return fast["value"]
    rest = (~fast["done"]).arg_true()
    return fast["value"].scatter(rest, values.gather(rest).to_frame().select(clean(pl.first())).to_series())


def by_distinct(values: pl.Series, outputs: dict[str, pl.Expr]) -> list[pl.Series]:
    """Each output (an expression of pl.col("value")) for every row of `values`, computed once per distinct value
    and looked up: amounts, statuses and counts repeat a lot in a large file."""
    distinct = values.unique() if len(values) else pl.Series([None], dtype=values.dtype)  # (typed even if empty)
    table = distinct.to_frame("value").select(**outputs)
    return [
        values.replace_strict(distinct, table[name], return_dtype=table[name].dtype).alias(name) for name in outputs
    ]


def china_time_column(values: pl.Series, timezone: str) -> pl.Series:
    """`china_time` of a whole column: the other formats are tried only where the first one does not parse."""
    parsed = values.str.to_datetime(TIME_FORMATS[0], strict=False, time_unit="us")
    unparsed = parsed.is_null() & values.is_not_null()
    if unparsed.any():
        rows = unparsed.arg_true()
        others = pl.coalesce([pl.first().str.to_datetime(f, strict=False, time_unit="us") for f in TIME_FORMATS[1:]])
        parsed = parsed.scatter(rows, values.gather(rows).to_frame().select(others).to_series())
    return parsed.to_frame().select(china_time(pl.first(), timezone, formats=())).to_series()


def _filled(raw: pl.DataFrame, order_id: pl.Series) -> pl.Series:
    """How many non-blank cells each row has, counted where it matters: rows without an order id (blank,
    summary or stray lines). A row with an order id has at least that one (1 stands for "some"). A reader that
    parsed only the layout's columns gives the counts over all the file's columns in FILLED."""
    if FILLED in raw.columns:
        return raw[FILLED].cast(pl.Int64).alias("filled")
    missing = order_id.is_null()
    filled = pl.Series("filled", [1] * raw.height, dtype=pl.Int64) if raw.height else pl.Series("filled", [], pl.Int64)
    if missing.any():
        rows = missing.arg_true()
        cells = [
            pl.col(c).is_not_null() & (pl.col(c).cast(pl.String).str.strip_chars() != "")
            for c in raw.columns
            if c != ROW
        ]
        counts = raw[rows].select(pl.sum_horizontal(cells).cast(pl.Int64)).to_series()
        filled = filled.scatter(rows, counts)
    return filled


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


def china_time(expr: pl.Expr, timezone: str, formats: tuple[str, ...] = TIME_FORMATS) -> pl.Expr:
    """China-time text (or, with no `formats`, naive datetimes) as UTC datetimes."""
    parsed = (
        pl.coalesce([expr.str.to_datetime(fmt, strict=False, time_unit="us") for fmt in formats]) if formats else expr
    )
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
    # Each column the layout uses is cleaned once (expressions below read it many times); others are not touched.
    used = {fieldname: header for fieldname in FIELDS if (header := layout.header_for(fieldname, headers))}
    cleaned = {fieldname: clean_column(raw[header]).alias(fieldname) for fieldname, header in used.items()}
    no_id = pl.Series("order_id", [None] * raw.height, dtype=pl.String)
    # What is a function of one cell is computed column-wise here, the cheap way for a large file (see the
    # helpers); a field the layout lacks keeps the plain expression below (of an empty column).
    derived: list[pl.Series] = []
    for fieldname, outputs in {
        "paid": {"__paid_fen": fen(pl.col("value"))[0].fill_null(0), "__paid_bad": fen(pl.col("value"))[1]},
        "refund": {"__refund_fen": fen(pl.col("value"))[0].fill_null(0), "__refund_bad": fen(pl.col("value"))[1]},
        "status": {"__status": status_of(pl.col("value"), layout.statuses)},
        "refund_status": {"__refund_state": refund_state(pl.col("value"))},
        "quantity": {"__quantity": quantity(pl.col("value"))},
    }.items():
        if fieldname in cleaned:
            derived += by_distinct(cleaned[fieldname], outputs)
    for fieldname in ("placed_at", "paid_at", "completed_at"):
        if fieldname in cleaned:
            derived.append(china_time_column(cleaned[fieldname], timezone).alias(f"__{fieldname}"))
    carries_nul = pl.Series("__nul", [False] * raw.height, dtype=pl.Boolean)
    for values in cleaned.values():
        carries_nul = carries_nul | values.str.contains(NUL, literal=True).fill_null(False)
    raw = pl.DataFrame(
        [raw[ROW], *cleaned.values(), *derived, carries_nul, _filled(raw, cleaned.get("order_id", no_id))]
    )

    def computed(name: str, otherwise: pl.Expr) -> pl.Expr:
        return pl.col(f"__{name}") if f"__{name}" in raw.columns else otherwise

    def column(fieldname: str) -> pl.Expr:
        return pl.col(fieldname) if fieldname in used else pl.lit(None, dtype=pl.String)

    order_header = used.get("order_id")
    raw_id = column("order_id")
    paid, paid_bad = fen(column("paid"))
    refund, refund_bad = fen(column("refund"))
    status_text = column("status")
    frame = raw.select(
        pl.col(ROW).alias("row"),
        raw_id.alias("order_id"),
        column("sub_id").alias("sub_id"),
        column("title").str.slice(0, 200).alias("title"),
        computed("quantity", quantity(column("quantity"))).alias("quantity"),
        computed("paid_fen", paid.fill_null(0)).alias("paid_fen"),
        computed("paid_bad", paid_bad).alias("paid_bad"),
        column("paid").alias("paid_text"),
        computed("refund_fen", refund.fill_null(0)).alias("refund_fen"),
        computed("refund_bad", refund_bad).alias("refund_bad"),
        status_text.alias("status_text"),
        computed("status", status_of(status_text, layout.statuses)).alias("status"),
        computed("refund_state", refund_state(column("refund_status"))).alias("refund_state"),
        computed("placed_at", china_time(column("placed_at"), timezone)).alias("placed_at"),
        computed("paid_at", china_time(column("paid_at"), timezone)).alias("paid_at"),
        computed("completed_at", china_time(column("completed_at"), timezone)).alias("completed_at"),
        column("buyer_nick").str.slice(0, 100).alias("buyer_nick"),
        column("buyer_open_uid").str.slice(0, 100).alias("buyer_open_uid"),
        column("receiver_phone").str.slice(0, 20).alias("receiver_phone"),
        column("shop").str.slice(0, 100).alias("shop"),
        column("author").str.slice(0, 100).alias("author"),
        column("live_room").str.slice(0, 64).alias("live_room"),
        pl.col("__nul").alias("nul"),
        pl.col("filled"),
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
        pl.when(pl.col("nul"))
        .then(pl.lit("含有不允许的字符（空字符），请检查这一行"))
        .when(pl.col("order_id").is_null())
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
        .when(pl.col("sub_id").str.len_chars() > MAX_SUB_ID)
        .then(pl.lit(f"子订单编号太长（超过 {MAX_SUB_ID} 个字符）"))
        .otherwise(None)
    )
    frame = frame.with_columns(reason.alias("reason"))
    rejected = frame.filter(pl.col("reason").is_not_null()).select(
        "row", pl.col("order_id").str.replace_all(NUL, "", literal=True).str.slice(0, 80), "reason"
    )
    good = frame.filter(pl.col("reason").is_null())
    good = _apply_refunds(good, layout)
    return good.select(ORDER_COLUMNS), rejected, skipped


def order_limits(items: pl.DataFrame) -> pl.DataFrame:
    """[order_id, reason] of the orders whose lines together pass what an order's columns hold: their quantities
    summing past a 32-bit integer, or their amounts past MAX_ORDER_FEN (summed as floats: no wrap-around)."""
    if items.height == 0:
        return pl.DataFrame(schema={"order_id": pl.String, "reason": pl.String})
    totals = items.group_by("order_id").agg(
        pl.col("quantity").cast(pl.Float64).sum().alias("quantity"),
        pl.col("paid_fen").cast(pl.Float64).sum().alias("paid"),
        pl.col("refund_fen").cast(pl.Float64).sum().alias("refund"),
    )
    reason = (
        pl.when(pl.col("quantity") > MAX_ITEM_COUNT)
        .then(pl.lit("这笔订单的商品数量合计过大，无法保存"))
        .when((pl.col("paid").abs() > MAX_ORDER_FEN) | (pl.col("refund").abs() > MAX_ORDER_FEN))
        .then(pl.lit("这笔订单的金额合计过大，无法保存"))
        .otherwise(None)
    )
    return totals.select("order_id", reason.alias("reason")).filter(pl.col("reason").is_not_null())


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
    """One row per order from its lines: amounts summed (or the order-level amount), status combined.

    The same rules as `siyu.orders.repository._settle`, which decides an order from all its stored lines."""
    if not layout.line_items:
        return items.unique(subset=["order_id"], keep="last", maintain_order=True)
    paid = pl.col("paid_fen").max() if layout.order_level_amount else pl.col("paid_fen").sum()
    all_refunded = (pl.col("status") == OrderStatus.refunded.value).all()
    any_refunding = (pl.col("status") == OrderStatus.refunding.value).any()
    line_order = pl.col("status").replace_strict(dict(LINE_ORDER), default=0, return_dtype=pl.Int32)
    main_status = pl.col("status").sort_by(line_order).first()
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
