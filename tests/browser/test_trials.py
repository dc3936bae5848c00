"""商品试用 in Chromium: the demo fan applies for the open trial at 375 px (a new address with the region picker and
her answers; a missing answer is refused beside what she typed), finds it in her trials and reads the drawn trial's
published draw; ops at 1440 px read the drawn trial's draw page (seed, winners, how to check them) and its report."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_SLUG, OPERATOR, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]


def _no_sideways_scroll(page: Page, what: str, width: int = 375) -> None:
    scrolled = page.evaluate("document.documentElement.scrollWidth")
    assert scrolled <= width, f"{what} scrolls sideways ({scrolled}px wide)"


def test_the_fan_applies_for_a_trial_on_the_h5(mobile_page: Page, screenshot: Screenshot) -> None:
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/trials/mine")
    fan.get_by_role("button", name="以演示会员身份体验").click()
    expect(fan.get_by_role("heading", level=1, name="我的试用")).to_be_visible()
    fan.goto(f"/h5/{DEMO_SLUG}/")
    fan.locator("#entries").get_by_role("link", name="新品试用").click()
    expect(fan.get_by_role("heading", level=1, name="新品试用")).to_be_visible()
    expect(fan.locator("#trials [data-trial]")).to_have_count(2)
    _no_sideways_scroll(fan, "the trial list")
    screenshot(fan, "trials-h5-list")

    fan.get_by_role("link", name="薇诺娜舒敏保湿霜").click()
    expect(fan.locator("#trial-rules")).to_contain_text("免费申请")
    new_address = fan.get_by_role("radio", name="寄到新地址")  # only there when she has saved addresses
    if new_address.count():
        new_address.check()
    fan.get_by_label("收件人").fill("林小鱼")
    fan.get_by_label("手机号").fill("13800138000")
    fan.get_by_label("省份").select_option("浙江省")
    fan.get_by_label("城市").select_option("杭州市")
    fan.get_by_label("区县").select_option("西湖区")
    fan.get_by_label("详细地址").fill("文三路 90 号")
    fan.locator("#answer-0").evaluate("input => input.removeAttribute('required')")  # the server says it too
    fan.get_by_role("button", name="免费申请").click()
    expect(fan.locator("#trial-error")).to_contain_text("请回答所有问题")
    expect(fan.get_by_label("详细地址")).to_have_value("文三路 90 号")
    fan.locator("#answer-0").fill("敏感肌，换季泛红")
    _no_sideways_scroll(fan, "the application form")
    screenshot(fan, "trials-h5-apply")
    fan.get_by_role("button", name="免费申请").click()
    expect(fan.locator("#trial-mine")).to_contain_text("已申请，等待抽选")
    screenshot(fan, "trials-h5-applied")

    fan.goto(f"/h5/{DEMO_SLUG}/trials/mine")
    expect(fan.locator("#trials-mine [data-trial]").filter(has_text="薇诺娜")).to_contain_text("待开奖")
    screenshot(fan, "trials-h5-mine")

    fan.goto(f"/h5/{DEMO_SLUG}/trials")
    fan.get_by_role("link", name="珀莱雅双抗精华液").click()
    expect(fan.locator("#trial-seed")).to_be_visible()
    fan.get_by_role("link", name="查看抽选结果和核对方法").click()
    expect(fan.locator("#draw-winners")).not_to_be_empty()
    expect(fan.locator("#draw-list [data-number]")).to_have_count(12)
    _no_sideways_scroll(fan, "the published draw")
    screenshot(fan, "trials-h5-draw")


def test_ops_read_the_draw_and_a_report(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OPERATOR)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="商品试用").click()
    expect(page.get_by_role("heading", level=1, name="商品试用")).to_be_visible()
    screenshot(page, "trials-console-list")
    row = page.locator("#trials-table [data-trial]").filter(has_text="珀莱雅双抗精华液")
    row.get_by_role("link", name="抽选").click()
    expect(page.locator("#draw-seed")).not_to_be_empty()
    expect(page.locator("#draw-result")).to_contain_text("中选编号")
    expect(page.locator("#draw-list tr.table-success")).to_have_count(3)
    expect(page.locator("#draw-verify")).to_contain_text("SHA-256")
    _no_sideways_scroll(page, "the draw page", 1440)
    screenshot(page, "trials-console-draw")
    page.locator("#trial-tabs").get_by_role("link", name="试用报告").click()
    expect(page.locator("[data-report]")).to_have_count(1)
    expect(page.locator("[data-report] img")).to_have_count(2)
    screenshot(page, "trials-console-reports")
    page.locator("#trial-tabs").get_by_role("link", name="申请名单").click()
    expect(page.locator("#applications-table [data-application]")).to_have_count(12)
    screenshot(page, "trials-console-applications")
