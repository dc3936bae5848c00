"""直播预约 in Chromium: the demo fan opens the calendar from the H5 home at 375 px, reserves a show in place (htmx),
cancels and reserves again, and finds it among her reservations; ops read the calendar, a past show's attribution
report (charts drawn, real orders attributed) and the month's, and a show with its end before its start is refused
beside what was typed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_SLUG, OPERATOR, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]


def _no_sideways_scroll(page: Page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{what} scrolls sideways ({width}px wide)"


def test_the_fan_reserves_a_show_on_the_h5(mobile_page: Page, screenshot: Screenshot) -> None:
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/live/mine")
    fan.get_by_role("button", name="以演示会员身份体验").click()
    expect(fan.get_by_role("heading", level=1, name="我的预约")).to_be_visible()
    expect(fan.locator("#live-mine [data-show]").filter(has_text="双12 护肤狂欢夜")).to_be_visible()
    fan.goto(f"/h5/{DEMO_SLUG}/")
    expect(fan.locator("#next-show")).to_contain_text("双12 护肤狂欢夜")
    expect(fan.locator("#next-show")).to_contain_text("已预约")
    fan.locator("#entries").get_by_role("link", name="直播预约").click()
    expect(fan.get_by_role("heading", level=1, name="直播预告")).to_be_visible()
    expect(fan.locator("[data-day]")).to_have_count(3)  # three coming shows on three days
    _no_sideways_scroll(fan, "the live calendar")
    screenshot(fan, "live-h5-calendar")

    fan.get_by_role("link", name="年货零食节").click()
    expect(fan.locator("#live-benefits")).to_contain_text("整点抽免单")
    expect(fan.locator("#live-products")).to_contain_text("¥99.00")
    fan.get_by_role("button", name="预约直播").click()
    expect(fan.locator("#live-reserved")).to_contain_text("已预约")
    _no_sideways_scroll(fan, "the show page")
    screenshot(fan, "live-h5-show")
    fan.get_by_role("button", name="取消预约").click()
    expect(fan.get_by_role("button", name="预约直播")).to_be_visible()
    fan.get_by_role("button", name="预约直播").click()
    expect(fan.locator("#live-reserved")).to_be_visible()

    fan.goto(f"/h5/{DEMO_SLUG}/live/mine")
    expect(fan.locator("#live-mine [data-show]").filter(has_text="年货零食节")).to_be_visible()
    screenshot(fan, "live-h5-mine")


def test_ops_read_a_shows_attribution_report(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OPERATOR)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="直播预告").click()
    expect(page.get_by_role("heading", level=1, name="直播预告")).to_be_visible()
    expect(page.locator("#live-shows [data-show]").first).to_be_visible()
    screenshot(page, "live-console-calendar")

    page.goto("/console/live/new")
    page.get_by_label("直播标题（粉丝可见）").fill("周末清仓专场")
    page.get_by_label("渠道").select_option(index=1)
    page.get_by_label("开播时间").fill("2030-06-01T20:00")
    page.get_by_label("计划下播时间").fill("2030-06-01T19:00")
    page.get_by_role("button", name="保存").click()
    expect(page.locator("#form-error")).to_contain_text("下播时间要晚于开播时间")
    expect(page.get_by_label("直播标题（粉丝可见）")).to_have_value("周末清仓专场")
    screenshot(page, "live-console-refused")

    page.goto("/console/live")
    row = page.locator("#live-shows [data-show]").filter(has_text="抖音宠粉夜")
    if row.count() == 0:  # the demo's past shows fall in last month in the first days of a month
        page.get_by_role("link", name="上个月").click()
        row = page.locator("#live-shows [data-show]").filter(has_text="抖音宠粉夜")
    row.get_by_role("link", name="归因报告").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("归因报告")
    expect(page.locator("#report-orders")).not_to_have_text("0")
    expect(page.locator("#live-split-chart canvas")).to_be_visible()
    expect(page.locator("#live-reservations-chart canvas")).to_be_visible()
    screenshot(page, "live-console-report")
    with page.expect_download() as download:
        page.get_by_role("link", name="导出 XLSX").click()
    assert download.value.suggested_filename.endswith(".xlsx")

    page.get_by_role("link", name="直播预告").first.click()
    page.locator("#live-month-report").click()
    expect(page.locator("#live-month-chart canvas")).to_be_visible()
    screenshot(page, "live-console-month")
