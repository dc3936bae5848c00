"""Cell cleaning at the Polars-expression level: generated amounts, times and protected ids (Hypothesis)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from siyu.orders import layouts
from siyu.orders.normalise import EMPTY, ROW, china_time, clean, fen, normalise, refund_state, status_of

CHINA = "Asia/Shanghai"
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
INVALID = "invalid"


def amounts(cells: list[str]) -> list[tuple[int | None, bool]]:
    value, bad = fen(clean(pl.col("v")))
    frame = pl.DataFrame({"v": cells}, schema={"v": pl.String}).select(value.alias("fen"), bad.alias("bad"))
    return list(frame.iter_rows())


def reference_fen(cell: str) -> int | str | None:
    """What a yuan cell means: None when empty, the exact fen, or INVALID. No float anywhere."""
    text = cell.strip()
    if text in EMPTY:
        return None
    text = re.sub(r"[¥￥元\s]", "", text).replace("，", ",")
    match = re.fullmatch(r"-?([0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)(\.[0-9]{1,2})?", text)
    if match is None or len(match.group(1).replace(",", "")) > 15:
        return INVALID
    return int(Decimal(text.replace(",", "")) * 100)


@st.composite
def yuan_cells(draw: st.DrawFn) -> tuple[str, int]:
    """A yuan amount as exports write it: ¥/￥, thousands separators, 0-2 decimals, stray spaces."""
    fen_value = draw(st.integers(min_value=0, max_value=10**13))
    whole, cents = divmod(fen_value, 100)
    decimals = draw(st.sampled_from([d for d in (0, 1, 2) if cents % 10 ** (2 - d) == 0]))
    fraction = "" if decimals == 0 else "." + f"{cents:02d}"[:decimals]
    digits = f"{whole:,}".replace(",", draw(st.sampled_from([",", "，"]))) if draw(st.booleans()) else str(whole)
    sign = draw(st.sampled_from(["", "¥", "￥", "¥ "]))
    suffix = draw(st.sampled_from(["", "元"]))
    pad = draw(st.sampled_from(["", " ", "\t", "\u3000"]))
    return f"{pad}{sign}{digits}{fraction}{suffix}{pad}", fen_value


@FAST
@given(st.lists(yuan_cells(), min_size=1, max_size=40))
def test_generated_yuan_cells_give_exact_fen(cells: list[tuple[str, int]]) -> None:
    assert amounts([c for c, _ in cells]) == [(f, False) for _, f in cells]


JUNK = st.text(alphabet="0123456789０１２٣.,，¥￥元-+eE xa/ \t", max_size=14)


@FAST
@given(st.lists(JUNK, min_size=1, max_size=40))
def test_any_cell_is_exact_fen_or_marked_invalid(cells: list[str]) -> None:
    """Never a silent wrong number: the value is the exact fen, or the row is marked invalid, or it was empty."""
    for cell, (value, bad) in zip(cells, amounts(cells), strict=True):
        expected = reference_fen(cell)
        if expected is INVALID:
            assert (value, bad) == (None, True), repr(cell)
        else:
            assert (value, bad) == (expected, False), repr(cell)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("¥1,299.00", (129900, False)),
        ("￥1,299", (129900, False)),
        ("1，299.5", (129950, False)),
        ("0.01", (1, False)),
        ("-", (None, False)),
        ("--", (None, False)),
        ("", (None, False)),
        ("12,99", (None, True)),  # a decimal comma is not 1299 yuan
        ("1,2,3", (None, True)),
        ("１２３", (None, True)),  # full-width digits used to pass the check and become 0 fen
        ("12.5５", (None, True)),
        ("99999999999999999999", (None, True)),  # used to overflow into a "valid" null, stored as 0
        ("1.005", (None, True)),
        ("1e3", (None, True)),
    ],
)
def test_known_amount_cells(cell: str, expected: tuple[int | None, bool]) -> None:
    assert amounts([cell]) == [expected]


TIME_FORMATS = [
    ("%Y-%m-%d %H:%M:%S", True),
    ("%Y/%m/%d %H:%M:%S", True),
    ("%Y-%m-%d %H:%M", False),
    ("%Y/%m/%d %H:%M", False),
]
# China has kept UTC+8 without daylight saving since 1992 (it did observe DST from 1986 to 1991).
CHINA_TIMES = st.datetimes(min_value=datetime(1992, 1, 1), max_value=datetime(2099, 12, 31, 23, 59, 59))


@FAST
@given(st.lists(st.tuples(CHINA_TIMES, st.sampled_from(TIME_FORMATS), st.sampled_from(["", " ", "\t"])), min_size=1))
def test_generated_china_times_become_utc(values: list[tuple[datetime, tuple[str, bool], str]]) -> None:
    cells = [f"{pad}{moment.strftime(fmt)}{pad}" for moment, (fmt, _), pad in values]
    frame = pl.DataFrame({"t": cells}).select(china_time(clean(pl.col("t")), CHINA).alias("utc"))
    expected = [
        (moment.replace(microsecond=0) if seconds else moment.replace(second=0, microsecond=0)) - timedelta(hours=8)
        for moment, (_, seconds), _ in values
    ]
    assert frame["utc"].to_list() == [e.replace(tzinfo=UTC) for e in expected]


def test_the_example_china_time() -> None:
    frame = pl.DataFrame({"t": ["2026-11-11 00:01:30", "2026/11/11 0:01:30", "-", "not a time"]})
    got = frame.select(china_time(clean(pl.col("t")), CHINA)).to_series().to_list()
    expected = datetime(2026, 11, 10, 16, 1, 30, tzinfo=UTC)
    assert got == [expected, expected, None, None]


WRAPPERS = ["{}", '="{}"', "{}\t", "'{}", '"{}"', " {} ", '="{}"\t', "'{}\t", "\t{}", "={}"]


@FAST
@given(
    st.lists(
        st.tuples(st.from_regex(r"[0-9]{15,20}", fullmatch=True), st.sampled_from(WRAPPERS)),
        min_size=1,
        max_size=40,
    )
)
def test_protected_ids_come_back_as_the_same_digits(ids: list[tuple[str, str]]) -> None:
    cells = [wrapper.format(digits) for digits, wrapper in ids]
    frame = pl.DataFrame({"id": cells}).select(clean(pl.col("id")).alias("id"))
    assert frame["id"].to_list() == [digits for digits, _ in ids]
    assert frame["id"].str.contains(layouts.DIGITS_ID).all()


@FAST
@given(
    st.lists(
        st.tuples(st.from_regex(r"[0-9]{6}-[0-9]{6,20}", fullmatch=True), st.sampled_from(WRAPPERS)),
        min_size=1,
        max_size=20,
    )
)
def test_protected_pinduoduo_ids_come_back_intact(ids: list[tuple[str, str]]) -> None:
    cells = [wrapper.format(order_id) for order_id, wrapper in ids]
    frame = pl.DataFrame({"id": cells}).select(clean(pl.col("id")).alias("id"))
    assert frame["id"].to_list() == [order_id for order_id, _ in ids]
    assert frame["id"].str.contains(layouts.PDD_ID).all()


def test_full_width_digit_ids_are_not_taken_for_order_ids() -> None:
    frame = pl.DataFrame({"id": ["１９３０６７９８５８１７０６４７１２３", "1930679858170647123"]})
    assert frame.select(pl.col("id").str.contains(layouts.DIGITS_ID)).to_series().to_list() == [False, True]


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("买家已付款，等待卖家发货", "paid"),
        ("交易成功", "completed"),
        ("交易关闭", "closed"),
        ("等待买家付款", "unpaid"),
        # Wording not in the table falls back to keywords; "已付款" is paid, not "付款" (unpaid).
        ("已付款", "paid"),
        ("买家已付款 等待卖家发货", "paid"),
        ("待发货（已付款）", "paid"),
        ("卖家已发货", "shipped"),
        ("退款成功", "refunded"),
        ("火星状态", None),
    ],
)
def test_status_text(text: str, status: str | None) -> None:
    frame = pl.DataFrame({"s": [text]}).select(status_of(clean(pl.col("s")), layouts.TAOBAO_STATUS))
    assert frame.to_series().to_list() == [status]


@pytest.mark.parametrize(
    ("text", "state"),
    [("退款成功", "refunded"), ("退款完成", "refunded"), ("售后待处理", "refunding"), ("售后关闭", None), ("-", None)],
)
def test_after_sale_text(text: str, state: str | None) -> None:
    assert pl.DataFrame({"r": [text]}).select(refund_state(clean(pl.col("r")))).to_series().to_list() == [state]


def test_quantities_stay_small_integers() -> None:
    """A quantity column mapped onto an id column must not overflow the 32-bit column (PostgreSQL refused
    the whole batch); absurd or non-ASCII quantities count as 1."""
    cells = ["2", "2件", "3000000000", "１２", None, "-", "1000000", "1930679858170647123"]
    raw = pl.DataFrame(
        {
            ROW: list(range(2, 2 + len(cells))),
            "订单号": [f"24111112345678{n:02d}" for n in range(len(cells))],
            "实付款": ["1.00"] * len(cells),
            "成交数量": cells,
            "订单状态": ["已发货"] * len(cells),
        },
        schema_overrides={"成交数量": pl.String},
    )
    good, rejected, _ = normalise(raw, layouts.KUAISHOU, list(raw.columns[1:]), CHINA)
    assert rejected.height == 0
    assert good["quantity"].to_list() == [2, 2, 1, 1, 1, 1, 1_000_000, 1]
