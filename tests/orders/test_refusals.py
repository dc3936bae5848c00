"""Files refused whole (a clear code, nothing stored) and rows rejected one by one (the rest imports)."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from siyu.orders import reading, service
from siyu.orders.reading import FileRefused
from tests.orders import exports
from tests.orders.conftest import Shop

REFUSED = [
    pytest.param("会员列表.csv", exports.member_list(), "not_an_order_export", id="member-list"),
    pytest.param("orders.xlsx", exports.corrupt_xlsx(), "corrupt_xlsx", id="corrupt-xlsx"),
    pytest.param("bomb.xlsx", exports.zip_bomb_xlsx(), "xlsx_too_large", id="zip-bomb"),
    pytest.param("blank.csv", b"\r\n\r\n\r\n", "empty_file", id="blank-lines"),
    pytest.param("bom.csv", codecs.BOM_UTF8, "empty_file", id="bom-only"),
    pytest.param("京东订单.csv", exports.unknown_layout(), "unknown_layout", id="jd-unknown-layout"),
    pytest.param("binary.csv", bytes(range(256)) * 16, "unknown_encoding", id="binary"),
]


@pytest.mark.parametrize(("filename", "data", "code"), REFUSED)
async def test_a_refused_file_stores_nothing(shop: Shop, filename: str, data: bytes, code: str) -> None:
    import_id = await shop.create_import(filename, data)
    with pytest.raises(FileRefused) as refused:
        await shop.run(import_id)
    assert refused.value.code == code
    assert refused.value.message

    row = await shop.import_row(import_id)
    assert (row.status, row.error) == ("refused", refused.value.message)
    assert (row.rows, row.inserted, row.updated, row.unchanged, row.rejected) == (0, 0, 0, 0, 0)
    assert await shop.orders() == {}
    assert await shop.items() == {}
    assert await shop.rejection_count() == 0
    assert await shop.jobs("orders.changed") == []


@pytest.mark.parametrize(("filename", "data", "code"), REFUSED)
async def test_the_upload_check_refuses_with_the_same_code(
    shop: Shop, tmp_path: Path, filename: str, data: bytes, code: str
) -> None:
    """The API refuses at upload from the head of the file alone, with the code the import would give."""
    path = tmp_path / filename
    path.write_bytes(data)
    with pytest.raises(FileRefused) as refused:
        headers = reading.peek_headers(path)
        async with shop.db() as session:
            await service.choose_layout(session, tenant_id=shop.id, headers=headers, platform=None)
    assert refused.value.code == code


async def test_an_unknown_layout_names_its_headers_for_the_mapping_form(shop: Shop) -> None:
    import_id = await shop.create_import("jd.csv", exports.unknown_layout())
    with pytest.raises(FileRefused) as refused:
        await shop.run(import_id)
    assert refused.value.detail["headers"] == exports.JD_HEADERS


async def test_an_empty_file_is_refused_before_anything_is_kept(shop: Shop) -> None:
    with pytest.raises(FileRefused) as refused:
        await shop.create_import("empty.csv", b"")
    assert refused.value.code == "empty_file"
    assert await shop.imports() == []
    assert not shop.storage.exists() or not any(shop.storage.rglob("*"))


async def test_a_header_only_file_imports_nothing_and_is_done(shop: Shop) -> None:
    done = await shop.load("header.csv", exports.taobao_new_csv([]))
    assert (done.totals.rows, done.totals.inserted, done.totals.rejected) == (0, 0, 0)
    assert (await shop.import_row(done.import_id)).status == "done"


def _row(order_id: str, paid: str = "10.00", status: str = "交易成功", refund: str = "0.00") -> dict[str, object]:
    return exports.taobao_new_row(order_id, paid=paid, status=status, refund=refund)


async def test_bad_rows_are_rejected_with_their_row_number_and_reason_and_the_rest_imports(shop: Shop) -> None:
    rows = [
        _row("1930679858170647901"),  # row 2
        _row("1.93068E+15"),  # 3: Excel turned the id into a float
        _row("1930679858170647903", paid="12.3.4"),  # 4
        _row(""),  # 5: no id, the rest of the row filled
        _row("1930679858170647905", paid="１２３.００"),  # 6: full-width digits are not an amount
        _row("1930679858170647906", paid="12,99"),  # 7: a decimal comma is not a thousands separator
        _row("1930679858170647907", status="火星状态"),  # 8
        _row("1930679858170647908", refund="退了"),  # 9
        _row("12345"),  # 10: too short for a Taobao id
        _row("1930679858170647911", paid="¥1,234,567.8"),  # 11: fine
        _row("1930679858170647912", paid="99999999999999999999"),  # 12: not an amount (would overflow)
    ]
    done = await shop.load("ExportOrderList.csv", exports.taobao_new_csv(rows))

    expected = [
        {
            "row": 3,
            "order_id": "1.93068E+15",
            "reason": "订单编号被 Excel 改成了科学计数法（1.93068E+15），请把该列设为文本后重新导出",
        },
        {"row": 4, "order_id": "1930679858170647903", "reason": "实付金额无法识别：12.3.4"},
        {"row": 5, "order_id": None, "reason": "缺少订单编号"},
        {"row": 6, "order_id": "1930679858170647905", "reason": "实付金额无法识别：１２３.００"},
        {"row": 7, "order_id": "1930679858170647906", "reason": "实付金额无法识别：12,99"},
        {"row": 8, "order_id": "1930679858170647907", "reason": "无法识别的订单状态：火星状态"},
        {"row": 9, "order_id": "1930679858170647908", "reason": "退款金额无法识别"},
        {"row": 10, "order_id": "12345", "reason": "订单编号格式不正确：12345"},
        {"row": 12, "order_id": "1930679858170647912", "reason": "实付金额无法识别：99999999999999999999"},
    ]
    assert await shop.rejections(done.import_id) == expected
    assert done.totals.rejected == len(expected)
    assert done.totals.rejections == [{"row": r["row"], "reason": r["reason"]} for r in expected]

    orders = await shop.orders()
    assert sorted(orders) == ["1930679858170647901", "1930679858170647911"]
    assert orders["1930679858170647911"].paid_fen == 123456780
    row = await shop.import_row(done.import_id)
    assert (row.status, row.rows, row.inserted, row.rejected) == ("done", 11, 2, 9)


async def test_rejected_sub_order_rows_do_not_stop_the_other_lines(shop: Shop) -> None:
    rows = [
        exports.douyin_row(
            "6931234567890200000", "6931234567890200001", title="a", quantity="1", paid="10.00", status="已完成"
        ),
        exports.douyin_row(
            "6931234567890200000", "6931234567890200002", title="b", quantity="1", paid="abc", status="已完成"
        ),
        exports.douyin_row(
            "6931234567890300000", "6931234567890300001", title="c", quantity="1", paid="5", status="待发货"
        ),
    ]
    done = await shop.load("douyin.csv", exports.douyin(rows))
    assert await shop.rejections(done.import_id) == [
        {"row": 3, "order_id": "6931234567890200000", "reason": "实付金额无法识别：abc"}
    ]
    orders = await shop.orders()
    assert (orders["6931234567890200000"].paid_fen, orders["6931234567890300000"].status) == (1000, "paid")


async def test_the_same_import_run_again_stores_each_rejection_once(shop: Shop) -> None:
    import_id = await shop.create_import("x.csv", exports.taobao_new_csv([_row("1.93068E+15"), _row("")]))
    await shop.run(import_id)
    await shop.run(import_id)
    assert [r["row"] for r in await shop.rejections(import_id)] == [2, 3]
    assert await shop.rejection_count() == 2


async def test_an_absurd_quantity_does_not_fail_the_batch(shop: Shop) -> None:
    """order_items.quantity and orders.item_count are 32-bit: PostgreSQL refused the whole batch when a
    quantity cell held an id-sized number; such a quantity now counts as 1."""
    rows = [
        exports.kuaishou_row("2411111234567893", paid="¥8.00", status="已发货", quantity="3000000000"),
        exports.kuaishou_row("2411111234567894", paid="¥9.00", status="已发货", quantity="2"),
    ]
    done = await shop.load("快手.csv", exports.kuaishou(rows))
    assert (await shop.import_row(done.import_id)).status == "done"
    orders = await shop.orders()
    assert (orders["2411111234567893"].item_count, orders["2411111234567894"].item_count) == (1, 2)


def test_a_sheet_with_too_many_rows_is_refused_before_it_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "XLSX_MAX_ROWS", 3)
    path = tmp_path / "orders.xlsx"
    path.write_bytes(exports.taobao_new_xlsx())
    with pytest.raises(FileRefused) as refused:
        reading.peek_headers(path)
    assert refused.value.code == "xlsx_too_many_rows" and "超过一次最多 3 行" in refused.value.message


def test_a_zip_bomb_is_refused_in_moments(tmp_path: Path) -> None:
    import time

    path = tmp_path / "bomb.xlsx"
    path.write_bytes(exports.zip_bomb_xlsx())
    assert path.stat().st_size < 3 << 20
    started = time.monotonic()
    with pytest.raises(FileRefused) as refused:
        reading.peek_headers(path)
    assert time.monotonic() - started < 1
    assert refused.value.code == "xlsx_too_large" and "解压后超过" in refused.value.message


async def test_cells_that_would_break_a_batch_are_rejected_rows(shop: Shop) -> None:
    """Over-long sub-order ids, NUL characters and orders whose lines overflow their columns: rejected with a
    reason, row by row; the rest of the file imports."""

    def line(main: str, sub: str, *, quantity: str = "1", paid: str = "50.00", title: str = "面膜") -> dict:
        return exports.douyin_row(main, sub, title=title, quantity=quantity, paid=paid, status="已完成")

    good = line("6931234567892000000", "6931234567892000001")
    long_sub = line("6931234567892100000", "6" * 60)
    nul = line("6931234567892200000", "6931234567892200001", title="面\x00膜")
    many = [line("6931234567892300000", f"69312345678923{n:05d}", quantity="1000000") for n in range(2148)]
    rich = [line("6931234567892400000", f"69312345678924{n:05d}", paid="999999999999999.99") for n in range(100)]
    done = await shop.load("dy.csv", exports.douyin([good, long_sub, nul, *many, *rich]))

    assert set(await shop.orders()) == {"6931234567892000000"}
    reasons = {r["row"]: r["reason"] for r in await shop.rejections(done.import_id)}
    assert reasons[3] == "子订单编号太长（超过 48 个字符）"
    assert reasons[4] == "含有不允许的字符（空字符），请检查这一行"
    assert {reasons[n] for n in range(5, 5 + 2148)} == {"这笔订单的商品数量合计过大，无法保存"}
    assert {reasons[n] for n in range(5 + 2148, 5 + 2148 + 100)} == {"这笔订单的金额合计过大，无法保存"}
    assert done.totals.rejected == 2 + 2148 + 100
    row = await shop.import_row(done.import_id)
    assert (row.status, row.inserted, row.rejected) == ("done", 1, 2250)
