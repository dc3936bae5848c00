"""Every layout, written in its real byte form, imported through the real pipeline into exact canonical rows."""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from typing import Any

import pytest

from siyu.orders import layouts, reading, service
from tests.orders import exports
from tests.orders.conftest import Shop, canonical, utc

COMMON = {"buyer_nick": None, "buyer_open_uid": None, "receiver_phone": None, "shop": None, "author": None}
COMMON.update(live_room=None, completed_at=None)


def order(platform: str, order_id: str, status: str, paid: int, refund: int, count: int, **fields: Any) -> dict:
    return {
        **COMMON,
        "platform": platform,
        "order_id": order_id,
        "status": status,
        "paid_fen": paid,
        "refund_fen": refund,
        "item_count": count,
        **fields,
    }


TAOBAO_SHOP = {"shop": "星河旗舰店"}
TAOBAO_CLASSIC = [
    order(
        "taobao",
        "1930679858170647123",
        "paid",
        129900,
        0,
        2,
        title="珀莱雅双抗精华液 30ml",
        buyer_nick="小鱼儿",
        receiver_phone="138****1234",
        placed_at=utc("2026-11-10T16:00:05"),
        paid_at=utc("2026-11-10T16:01:30"),
        **TAOBAO_SHOP,
    ),
    order(
        "taobao",
        "3930679858170647",
        "completed",
        8990,
        0,
        1,
        title="珀莱雅红宝石面霜",
        buyer_nick="tb_阿青",
        receiver_phone="138****1234",
        placed_at=utc("2026-11-01T12:15:00"),
        paid_at=utc("2026-11-01T12:16:00"),
        **TAOBAO_SHOP,
    ),
    order(
        "taobao",
        "2930679858170647001",
        "shipped",
        5900,
        0,
        1,
        title="珀莱雅双抗精华液 30ml",
        buyer_nick="星星",
        placed_at=utc("2026-11-10T15:59:00"),
        paid_at=utc("2026-11-10T15:59:59"),
        **TAOBAO_SHOP,
    ),
    order(
        "taobao",
        "4930679858170647002",
        "closed",
        100000,
        0,
        1,
        title="珀莱雅双抗精华液 30ml",
        buyer_nick="momo",
        receiver_phone="138****1234",
        placed_at=utc("2026-11-09T00:00:00"),
        paid_at=utc("2026-11-09T00:00:30"),
        **TAOBAO_SHOP,
    ),
    order(
        "taobao",
        "5930679858170647003",
        "unpaid",
        0,
        0,
        1,
        title="珀莱雅双抗精华液 30ml",
        buyer_nick="小鹿",
        receiver_phone="138****1234",
        placed_at=utc("2026-11-12T01:30:00"),
        paid_at=None,
        **TAOBAO_SHOP,
    ),
]
TAOBAO_NEW_COMMON = {
    "title": "珀莱雅源力精华 50ml",
    "receiver_phone": "186****0000",
    "placed_at": utc("2026-11-10T16:00:10"),
    "paid_at": utc("2026-11-10T16:01:30"),
    **TAOBAO_SHOP,
}
TAOBAO_NEW = [
    order(
        "taobao",
        "1930679858170647501",
        "completed",
        129900,
        0,
        1,
        **{**TAOBAO_NEW_COMMON, "completed_at": utc("2026-11-18T02:00:00")},
    ),
    order("taobao", "1930679858170647502", "refunded", 39900, 39900, 1, **TAOBAO_NEW_COMMON),
    order("taobao", "1930679858170647503", "paid", 4550, 0, 1, **TAOBAO_NEW_COMMON),
]
ITEM_TIMES = {"placed_at": utc("2026-11-10T16:00:05"), "paid_at": utc("2026-11-10T16:01:30")}
TAOBAO_ITEM = [
    order("taobao", "1930679858170647600", "completed", 12990, 0, 3, title="双抗精华 30ml", **ITEM_TIMES),
    order("taobao", "1930679858170647700", "refunded", 105000, 105000, 1, title="防晒霜", **ITEM_TIMES),
]
DOUYIN_TIMES = {"placed_at": utc("2026-11-10T16:00:40"), "paid_at": utc("2026-11-10T16:01:30"), "author": "星河主播"}
DOUYIN = [
    # Two sub-orders, one of them refunded after sale: a partial refund of a completed order.
    order(
        "douyin",
        "6931234567890123456",
        "completed",
        329950,
        200050,
        3,
        title="珀莱雅双抗精华液",
        completed_at=utc("2026-11-20T04:00:00"),
        **DOUYIN_TIMES,
    ),
    order("douyin", "6931234567890123999", "shipped", 7990, 0, 1, title="洁面乳", **DOUYIN_TIMES),
]
KUAISHOU_TIMES = {"placed_at": utc("2026-11-10T16:00:50"), "paid_at": utc("2026-11-10T16:01:30")}
KUAISHOU = [
    order("kuaishou", "2411111234567890", "shipped", 8800, 0, 2, title="快手同款面膜", **KUAISHOU_TIMES),
    order("kuaishou", "2411111234567891", "completed", 158880, 0, 1, title="精华套装", **KUAISHOU_TIMES),
    order("kuaishou", "2411111234567892", "refunded", 3990, 3990, 1, title="快手同款面膜", **KUAISHOU_TIMES),
]
CHANNELS_COMMON = {
    "receiver_phone": "137****5678",
    "placed_at": utc("2026-11-10T16:01:00"),
    "paid_at": utc("2026-11-10T16:01:30"),
}
CHANNELS = [
    # 订单实际支付金额 repeats the order's amount on each product row; 商品已退款金额 adds up.
    order("channels", "3720000000000000001", "completed", 19980, 9990, 2, title="双抗精华", **CHANNELS_COMMON),
    order("channels", "3720000000000000002", "shipped", 120000, 0, 3, title="洁面乳", **CHANNELS_COMMON),
    order("channels", "3720000000000000003", "completed", 15000, 5000, 3, title="面膜", **CHANNELS_COMMON),
]
PDD_TITLE = "拼多多百亿补贴 精华"
PDD_TIME = {"placed_at": utc("2026-11-10T16:01:30"), "paid_at": utc("2026-11-10T16:01:30")}  # 订单成交时间
PDD = [
    order("pdd", "261111-123456789012", "shipped", 2990, 0, 1, title=PDD_TITLE, **PDD_TIME),
    order(
        "pdd",
        "261111-123456789013",
        "completed",
        109900,
        0,
        1,
        title=PDD_TITLE,
        completed_at=utc("2026-11-15T00:00:00"),
        **PDD_TIME,
    ),
    order(
        "pdd",
        "261110-987654321098",
        "refunded",
        990,
        990,
        1,
        title=PDD_TITLE,
        placed_at=utc("2026-11-10T04:00:00"),
        paid_at=utc("2026-11-10T04:00:00"),
    ),
]
for _row in (*TAOBAO_CLASSIC, *TAOBAO_NEW, *TAOBAO_ITEM, *DOUYIN, *KUAISHOU, *CHANNELS, *PDD):
    _row.setdefault("placed_at", None)
    _row.setdefault("paid_at", None)


@dataclass(frozen=True)
class Sample:
    filename: str
    data: bytes
    layout: str
    platform: str
    rows: int  # data lines the reader saw (including skipped ones)
    skipped: int
    orders: list[dict]
    # (order_id, sub_id) -> (status, paid_fen, refund_fen, quantity); None when the layout keeps no lines
    items: dict[tuple[str, str], tuple[str, int | None, int, int]] | None


SAMPLES = [
    Sample(
        "ExportOrderList202611111200.csv",
        exports.taobao_classic(),
        "taobao_order",
        "taobao",
        8,
        3,
        TAOBAO_CLASSIC,
        None,
    ),
    Sample(
        "ExportOrderList202611181000.csv", exports.taobao_new_csv(), "taobao_order", "taobao", 3, 0, TAOBAO_NEW, None
    ),
    Sample(
        "ExportOrderList202611181000.xlsx", exports.taobao_new_xlsx(), "taobao_order", "taobao", 3, 0, TAOBAO_NEW, None
    ),
    Sample(
        "宝贝报表.csv",
        exports.taobao_item(),
        "taobao_item",
        "taobao",
        3,
        0,
        TAOBAO_ITEM,
        {
            ("1930679858170647600", "1930679858170647601"): ("completed", 10000, 0, 1),
            ("1930679858170647600", "1930679858170647602"): ("completed", 2990, 0, 2),
            ("1930679858170647700", "1930679858170647701"): ("refunded", 105000, 105000, 1),
        },
    ),
    Sample(
        "抖店订单.csv",
        exports.douyin(),
        "douyin",
        "douyin",
        3,
        0,
        DOUYIN,
        {
            ("6931234567890123456", "6931234567890123457"): ("completed", 129900, 0, 1),
            ("6931234567890123456", "6931234567890123458"): ("refunded", 200050, 200050, 2),
            ("6931234567890123999", "6931234567890124000"): ("shipped", 7990, 0, 1),
        },
    ),
    Sample(
        "快手订单.csv",
        exports.kuaishou(),
        "kuaishou",
        "kuaishou",
        3,
        0,
        KUAISHOU,
        {
            ("2411111234567890", "2411111234567890#1"): ("shipped", 8800, 0, 2),
            ("2411111234567891", "2411111234567891#1"): ("completed", 158880, 0, 1),
            ("2411111234567892", "2411111234567892#1"): ("refunded", 3990, 3990, 1),
        },
    ),
    Sample(
        "视频号订单.csv",
        exports.channels(),
        "channels",
        "channels",
        6,
        0,
        CHANNELS,
        {
            # The lines carry the order-level amount (the only paid column of this layout): not asserted.
            ("3720000000000000001", "3720000000000000001#1"): ("refunded", None, 9990, 1),
            ("3720000000000000001", "3720000000000000001#2"): ("completed", None, 0, 1),
            ("3720000000000000002", "3720000000000000002#1"): ("shipped", None, 0, 3),
            ("3720000000000000003", "3720000000000000003#1"): ("refunded", None, 3000, 1),
            ("3720000000000000003", "3720000000000000003#2"): ("refunded", None, 2000, 1),
            ("3720000000000000003", "3720000000000000003#3"): ("completed", None, 0, 1),
        },
    ),
    Sample(
        "拼多多订单.csv",
        exports.pdd(),
        "pdd",
        "pdd",
        3,
        0,
        PDD,
        {
            ("261111-123456789012", "261111-123456789012#1"): ("shipped", 2990, 0, 1),
            ("261111-123456789013", "261111-123456789013#1"): ("completed", 109900, 0, 1),
            ("261110-987654321098", "261110-987654321098#1"): ("refunded", 990, 990, 1),
        },
    ),
]


def test_the_fixtures_are_in_their_real_byte_form() -> None:
    """The files really are what the platforms write, not tidy UTF-8: guard the fixtures themselves."""
    classic = exports.taobao_classic()
    assert not classic.startswith(codecs.BOM_UTF8)
    with pytest.raises(UnicodeDecodeError):
        classic.decode("utf-8")
    text = classic.decode("gb18030")
    assert '\r\n="1930679858170647123",' in text  # Excel formula protection, unquoted
    assert '\r\n"=""4930679858170647002""",' in text  # the same after an Excel round trip
    assert "\r\n3930679858170647\t," in text and "\r\n'2930679858170647001," in text
    assert "订单付款时间 ," in text and '"¥1,299.00"' in text
    assert text.count("订单编号,买家会员名") == 2  # the header repeated in the middle
    assert text.endswith("\r\n\r\n") and "\r\n合计," in text
    assert exports.taobao_item().decode("gbk").startswith("子订单编号,主订单编号")
    for data in (exports.douyin(), exports.channels()):
        assert data.startswith(codecs.BOM_UTF8)
    assert "\t," in exports.douyin().decode("utf-8-sig") and '"1,299.00"' in exports.douyin().decode("utf-8-sig")
    assert "买家会员名" not in exports.taobao_new_csv().decode("utf-8")
    assert exports.taobao_new_xlsx().startswith(b"PK\x03\x04")


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (exports.taobao_classic(), "gb18030"),
        (exports.taobao_item(), "gb18030"),
        (exports.douyin(), "utf-8-sig"),
        (exports.channels(), "utf-8-sig"),
        (exports.taobao_new_csv(), "utf-8"),
        (codecs.BOM_UTF16_LE + "订单号\t实付款\r\n".encode("utf-16-le"), "utf-16"),
    ],
)
def test_encodings_are_sniffed(data: bytes, encoding: str) -> None:
    assert reading.sniff_encoding(data) == encoding


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.filename for s in SAMPLES])
def test_each_layout_is_detected_from_its_header_row(sample: Sample, tmp_path) -> None:
    path = tmp_path / sample.filename
    path.write_bytes(sample.data)
    headers = [layouts.clean_header(h) for h in reading.peek_headers(path)]
    detected = layouts.detect(headers)
    assert detected is not None and detected.key == sample.layout and detected.platform == sample.platform


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.filename for s in SAMPLES])
async def test_each_layout_imports_into_exact_canonical_rows(sample: Sample, shop: Shop) -> None:
    done = await shop.load(sample.filename, sample.data)

    stored = await shop.orders()
    assert sorted(stored) == sorted(o["order_id"] for o in sample.orders)
    for expected in sample.orders:
        got = canonical(stored[expected["order_id"]])
        assert got == expected, expected["order_id"]
        assert isinstance(got["order_id"], str)

    row = await shop.import_row(done.import_id)
    assert (row.status, row.platform, row.layout) == ("done", sample.platform, sample.layout)
    assert (row.rows, row.inserted, row.updated, row.unchanged) == (sample.rows, len(sample.orders), 0, 0)
    assert (row.rejected, row.skipped) == (0, sample.skipped)
    assert (done.totals.rows, done.totals.inserted, done.totals.skipped) == (
        sample.rows,
        len(sample.orders),
        sample.skipped,
    )
    assert await shop.rejections(done.import_id) == []

    items = await shop.items()
    if sample.items is None:
        assert items == {}
        return
    assert set(items) == set(sample.items)
    for key, (status, paid, refund, quantity) in sample.items.items():
        item = items[key]
        assert (item.status, item.refund_fen, item.quantity) == (status, refund, quantity), key
        if paid is not None:
            assert item.paid_fen == paid, key


async def test_csv_and_xlsx_of_the_same_export_store_the_same_orders(shop: Shop) -> None:
    """The XLSX (numbers as numeric cells, a real date cell) says exactly what the CSV says: nothing changes."""
    first = await shop.load("new.csv", exports.taobao_new_csv())
    before = {k: canonical(v) for k, v in (await shop.orders()).items()}
    second = await shop.load("new.xlsx", exports.taobao_new_xlsx())
    assert (first.totals.inserted, second.totals.inserted, second.totals.updated) == (3, 0, 0)
    assert second.totals.unchanged == 3
    assert {k: canonical(v) for k, v in (await shop.orders()).items()} == before


def _sheet_reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, bool]]:
    """(all columns?, all rows?) of every XLSX read: fastexcel parses the whole sheet at each one."""
    reads: list[tuple[bool, bool]] = []
    read = reading.read_xlsx

    def counted(path: Any, columns: Any = None, rows: Any = None) -> reading.Sheet:
        reads.append((columns is None, rows is None))
        return read(path, columns, rows)

    monkeypatch.setattr(reading, "read_xlsx", counted)
    return reads


async def test_an_xlsx_is_read_once_for_the_columns_a_layout_reads(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    reads = _sheet_reads(monkeypatch)
    done = await shop.load("new.xlsx", exports.taobao_new_xlsx())
    assert done.totals.inserted == 3
    assert reads == [(False, True)]


async def test_stray_lines_of_an_xlsx_are_skipped_or_rejected_as_in_the_csv(
    shop: Shop, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Rows without an order id: a blank row and a row with one cell are skipped, a row with more is rejected,
    whether its cells are in columns the import reads or not (the sheet is read again for the other columns of
    such rows only), as in the CSV of the same export."""
    rows = [
        exports.taobao_new_row("1930679858170640101", paid="10.00", status="交易成功"),
        {},
        {"买家留言": "下面是第二次导出"},  # one cell, in a column no layout reads: skipped
        {"买家留言": "第二次导出", "订单备注": "11月"},  # two such cells: rejected
        {"商品标题": "赠品", "店铺名称": "星河旗舰店"},  # two cells the import reads: rejected
        exports.taobao_new_row("1930679858170640102", paid="20.00", status="交易成功"),
        {"订单编号": "合计", "买家实付金额": "30.00"},
    ]
    csv = await shop.load("stray.csv", exports.taobao_new_csv(rows))
    reads = _sheet_reads(monkeypatch)
    xlsx = await shop.load("stray.xlsx", exports.taobao_new_xlsx(rows))

    assert (csv.totals.rows, csv.totals.inserted, csv.totals.rejected, csv.totals.skipped) == (7, 2, 2, 3)
    assert (xlsx.totals.rows, xlsx.totals.unchanged, xlsx.totals.rejected, xlsx.totals.skipped) == (7, 2, 2, 3)
    assert await shop.rejections(xlsx.import_id) == await shop.rejections(csv.import_id)
    assert [r["row"] for r in await shop.rejections(xlsx.import_id)] == [5, 6]
    assert reads == [(False, True), (False, False)]  # the second read: the unsure rows' other columns


async def test_a_twenty_digit_id_and_trailing_space_headers_survive(shop: Shop) -> None:
    """Ids are never numbers: 20 digits and leading zeros come back as written."""
    rows = [
        exports.taobao_classic_row(
            exports.formula("01930679858170647123"),
            buyer="零",
            paid="1.00",
            status="交易成功",
            created="2026-11-11 00:00:00",
            paid_at="2026-11-11 00:01:30",
        ),
        exports.taobao_classic_row(
            exports.tab("99999999999999999999"),
            buyer="九",
            paid="2.00",
            status="交易成功",
            created="2026-11-11 00:00:00",
            paid_at="2026-11-11 00:01:30",
        ),
    ]
    await shop.load("ids.csv", exports.taobao_classic(rows, [], summary=False))
    assert sorted(await shop.orders()) == ["01930679858170647123", "99999999999999999999"]


def _straddling(build, encoding: str) -> bytes:
    """A file whose sniff window (reading.SNIFF_BYTES) ends inside a multi-byte character."""
    for pad in range(8):
        data = build("x" * pad)
        try:
            data[: reading.SNIFF_BYTES].decode(encoding)
        except UnicodeDecodeError:
            return data
    raise AssertionError("could not place a character across the sniff window")


def _classic_rows(count: int, pad: str) -> list[dict[str, object]]:
    return [
        exports.taobao_classic_row(
            exports.formula(f"19306798581{n:08d}"),
            buyer=f"买家{n}",
            paid=f"¥{n % 1000},{n % 1000:03d}.{n % 100:02d}",
            status="交易成功",
            created="2026-11-11 00:00:00",
            paid_at="2026-11-11 00:01:30",
            title=(pad if n == 0 else "") + "珀莱雅双抗精华液 30ml 大促",
        )
        for n in range(count)
    ]


@pytest.mark.parametrize("iconv", [True, False], ids=["iconv", "python-codec"])
async def test_a_large_gbk_file_in_several_batches(shop: Shop, monkeypatch: pytest.MonkeyPatch, iconv: bool) -> None:
    """Past the sniff window (a character cut at its end), transcoded by iconv or by Python in small chunks,
    read in several batches: every order arrives exactly."""
    count = 1500
    data = _straddling(lambda pad: exports.taobao_classic(_classic_rows(count, pad), [], summary=True), "gb18030")
    assert len(data) > reading.SNIFF_BYTES
    monkeypatch.setattr(service, "BATCH_ROWS", 400)
    if not iconv:
        monkeypatch.setattr(reading.shutil, "which", lambda _name: None)
        monkeypatch.setattr(reading, "CHUNK", 1001)  # odd: double-byte characters are cut between chunks
    done = await shop.load("big.csv", data)
    assert (done.totals.rows, done.totals.inserted, done.totals.rejected, done.totals.skipped) == (
        count + 2,
        count,
        0,
        2,
    )
    orders = await shop.orders()
    assert len(orders) == count
    sample = orders["1930679858100001234"]
    assert (sample.buyer_nick, sample.paid_fen) == ("买家1234", 23423434)


async def test_a_large_utf8_file_cut_inside_a_character(shop: Shop, monkeypatch: pytest.MonkeyPatch) -> None:
    count = 900
    main = [f"69312345678{n:08d}" for n in range(count)]

    def build(pad: str) -> bytes:
        rows = []
        for n, order_id in enumerate(main):
            title = (pad if n == 0 else "") + "珀莱雅双抗精华液礼盒装"
            rows.append(
                exports.douyin_row(
                    order_id, order_id[:-1] + "8", title=title, quantity="1", paid="1,000.00", status="已完成"
                )
            )
        return exports.douyin(rows)

    data = _straddling(build, "utf-8")
    assert len(data) > reading.SNIFF_BYTES
    monkeypatch.setattr(service, "BATCH_ROWS", 250)
    done = await shop.load("big-douyin.csv", data)
    assert (done.totals.rows, done.totals.inserted, done.totals.rejected) == (count, count, 0)
    assert {o.paid_fen for o in (await shop.orders()).values()} == {100000}


async def test_an_older_item_report_with_one_order_number_column(shop: Shop) -> None:
    """Older 宝贝报表 files have 订单编号 instead of 子/主订单编号: lines of one order are still folded."""
    headers = [
        "订单编号",
        "标题",
        "价格",
        "购买数量",
        "商品属性",
        "订单状态",
        "买家实际支付金额",
        "退款状态",
        "退款金额",
        "订单创建时间",
        "订单付款时间",
    ]
    rows = [
        {
            "订单编号": exports.formula("1930679858170647900"),
            "标题": "精华",
            "价格": "50.00",
            "购买数量": "1",
            "订单状态": "交易成功",
            "买家实际支付金额": "50.00",
            "退款状态": "没有申请退款",
            "退款金额": "0",
            "订单付款时间": "2026-11-11 00:01:30",
        },
        {
            "订单编号": exports.formula("1930679858170647900"),
            "标题": "面霜",
            "价格": "30.00",
            "购买数量": "2",
            "订单状态": "交易成功",
            "买家实际支付金额": "60.00",
            "退款状态": "退款成功",
            "退款金额": "60.00",
            "订单付款时间": "2026-11-11 00:01:30",
        },
    ]
    done = await shop.load("宝贝报表-旧.csv", exports.encode(exports.csv_text(headers, rows), "gbk"))
    assert (await shop.import_row(done.import_id)).layout == "taobao_item"
    order = await shop.order("1930679858170647900")
    assert (order.status, order.paid_fen, order.refund_fen, order.item_count) == ("completed", 11000, 6000, 3)
    assert order.paid_at == utc("2026-11-10T16:01:30")
    assert sorted(k[1] for k in await shop.items()) == ["1930679858170647900#1", "1930679858170647900#2"]
