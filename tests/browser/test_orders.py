"""Orders in the console: the list with filters, an order's detail, and importing files by drag and drop."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OPERATOR, OWNER, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]

TAOBAO_HEADER = (
    "订单编号,买家会员名,买家实际支付金额,订单状态,订单创建时间,订单付款时间 ,宝贝标题 ,宝贝总数量,店铺名称,退款金额"
)


def _taobao_file(directory: Path, name: str, rows: list[str]) -> Path:
    path = directory / name
    path.write_bytes(("\r\n".join([TAOBAO_HEADER, *rows]) + "\r\n").encode("gb18030"))
    return path


def test_orders_list_filters_and_detail(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="订单", exact=True).click()
    expect(page.get_by_role("heading", level=1, name="订单")).to_be_visible()
    screenshot(page, "orders")
    for key, label in (
        ("taobao", "淘宝/天猫"),
        ("douyin", "抖音"),
        ("kuaishou", "快手"),
        ("channels", "视频号"),
        ("pdd", "拼多多"),
    ):
        page.goto(f"/console/orders?platform={key}")
        expect(page.locator("tbody tr[data-order] td:first-child").first).to_have_text(label)
    page.goto("/console/orders")

    page.get_by_label("平台").select_option("douyin")
    page.get_by_label("状态").select_option("refunded")
    page.get_by_role("button", name="筛选").click()
    rows = page.locator("tbody tr[data-order]")
    expect(rows.first).to_be_visible()
    for text in rows.locator("td:first-child").all_inner_texts():
        assert text == "抖音"
    rows.first.locator("a").click()
    expect(page.locator("h1 .badge")).to_have_text("已退款")
    expect(page.get_by_role("heading", name="商品")).to_be_visible()
    screenshot(page, "order-detail")

    page.goto("/console/orders?q=000000000000")
    expect(page.get_by_text("没有符合条件的订单")).to_be_visible()


def test_import_shows_progress_summary_and_rejected_rows(page: Page, tmp_path: Path, screenshot: Screenshot) -> None:
    good = _taobao_file(
        tmp_path,
        "ExportOrderList202611150101.csv",
        [
            '="1988800000000000101",小鱼儿tb,"¥1,299.00",交易成功,2026-11-11 00:01,2026-11-11 00:01,精华液,1,店,0',
            "1988800000000000102\t,t**1,59.90,买家已付款，等待卖家发货,2026-11-11 00:02,2026-11-11 00:02,面膜,2,店,-",
            "1.98880E+18,t**2,100.00,交易成功,2026-11-11 00:03:00,2026-11-11 00:03:10,口红,1,旗舰店,0",
            "合计,,1458.90,,,,,,,",
        ],
    )
    log_in(page, OPERATOR)
    page.goto("/console/orders/import")
    page.locator("#file").set_input_files(str(good))
    expect(page.locator("#file-name")).to_have_text(good.name)
    page.get_by_role("button", name="开始导入").click()
    card = page.locator("#import-card[data-status=done]")
    expect(card).to_be_visible(timeout=30_000)
    expect(card.locator("[data-summary]")).to_contain_text("新增 2")
    expect(card).to_contain_text("订单编号被 Excel 改成了科学计数法")
    expect(card.get_by_role("link", name="下载全部")).to_be_visible()
    screenshot(page, "orders-import")

    with page.expect_download() as download:
        card.get_by_role("link", name="下载全部").click()
    content = Path(download.value.path()).read_text(encoding="utf-8-sig")
    assert "行号" in content and "科学计数法" in content

    page.goto("/console/orders?q=1988800000000000101")
    expect(page.locator("tbody tr[data-order]")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("¥1,299.00")

    # The same file again is recognised and skipped.
    page.goto("/console/orders/import")
    page.locator("#file").set_input_files(str(good))
    page.get_by_role("button", name="开始导入").click()
    expect(page.locator("#import-card [data-summary]")).to_contain_text("同一个文件")


def test_refusals_and_column_mapping(page: Page, tmp_path: Path, screenshot: Screenshot) -> None:
    members = tmp_path / "会员名单.csv"
    members.write_text("昵称,手机号\n小鱼,13800000000\n", encoding="utf-8")
    log_in(page, OWNER)
    page.goto("/console/orders/import")
    page.locator("#file").set_input_files(str(members))
    page.get_by_role("button", name="开始导入").click()
    expect(page.locator("[data-code=not_an_order_export]")).to_contain_text("找不到“订单编号”或“订单号”列")

    jd = tmp_path / "京东订单.csv"
    jd.write_text("订单号,订单状态,应付金额,下单时间\n300123456789,完成,88.00,2026-11-11 10:00:00\n", encoding="utf-8")
    page.locator("#file").set_input_files(str(jd))
    page.get_by_role("button", name="开始导入").click()
    expect(page.locator("[data-code=unknown_layout]")).to_be_visible()
    form = page.locator("#mapping-form")
    form.get_by_label("名称").fill("京东后台导出")
    form.get_by_label("平台").select_option("jd")
    form.get_by_label("订单编号（必填）").select_option("订单号")
    form.get_by_label("实付金额（必填）").select_option("应付金额")
    form.get_by_label("订单状态（必填）").select_option("订单状态")
    form.get_by_label("下单时间").select_option("下单时间")
    screenshot(page, "orders-mapping")
    form.get_by_role("button", name="保存列映射").click()
    expect(page.get_by_text("列映射已保存")).to_be_visible()
    expect(page.get_by_text("京东后台导出（京东）")).to_be_visible()

    page.locator("#file").set_input_files(str(jd))
    page.get_by_role("button", name="开始导入").click()
    card = page.locator("#import-card[data-status=done]")
    expect(card).to_be_visible(timeout=30_000)
    expect(card.locator("[data-summary]")).to_contain_text("新增 1")
    page.goto("/console/orders/jd/300123456789")
    expect(page.locator("h1 .badge")).to_have_text("已完成")
