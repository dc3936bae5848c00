"""积分商城 in Chromium: a fan redeems a reward on her phone and is told plainly when she cannot; ops ship and
cancel redemptions in the fulfilment queue."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_SLUG, OWNER, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]


def no_sideways_scroll(page: Page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{what} scrolls sideways ({width}px wide)"


def test_a_fan_redeems_goods_with_an_address_and_sees_why_she_cannot_twice(
    mobile_page: Page, screenshot: Screenshot
) -> None:
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/")
    fan.get_by_role("link", name="积分商城", exact=True).click()
    expect(fan.get_by_role("heading", level=1, name="积分商城")).to_be_visible()
    expect(fan.locator("#rewards [data-reward]")).to_have_count(9)
    expect(fan.locator(".h5-countdown").first).to_have_text(re.compile(r"^距开抢 "))  # tonight's flash reward
    no_sideways_scroll(fan, "the mall")
    screenshot(fan, "h5-mall")

    fan.locator("#rewards").get_by_role("link", name=re.compile("补水面膜")).click()
    expect(fan.get_by_role("heading", level=1, name="补水面膜 5 片装")).to_be_visible()
    expect(fan.locator("#reward")).to_contain_text("每人每天限兑 1 次")
    no_sideways_scroll(fan, "a reward")
    screenshot(fan, "h5-reward")
    fan.get_by_role("link", name="立即兑换").click()
    fan.get_by_role("button", name="以演示会员身份体验").click()
    expect(fan.get_by_role("heading", level=1, name="确认兑换")).to_be_visible()

    # A wrong phone number is refused on the page and what she typed stays.
    fan.get_by_label("收件人").fill("林小鱼")
    fan.get_by_label("手机号").fill("12345")
    # The region is picked province > city > district from the division data.
    fan.get_by_label("省份").select_option("浙江省")
    fan.get_by_label("城市").select_option("杭州市")
    fan.get_by_label("区县").select_option("西湖区")
    fan.get_by_label("详细地址").fill("文三路 90 号 3 幢 501")
    fan.locator("#redeem-submit").click()
    expect(fan.get_by_role("alert")).to_have_text("请填写 11 位手机号")
    expect(fan.get_by_label("详细地址")).to_have_value("文三路 90 号 3 幢 501")
    fan.get_by_label("手机号").fill("13800138000")
    no_sideways_scroll(fan, "the redeem form")
    screenshot(fan, "h5-redeem")
    fan.locator("#redeem-submit").click()

    # The button posts in place (htmx): the result takes the form's place, in words.
    result = fan.locator("#redeem-result")
    expect(result).to_have_attribute("data-status", "pending_shipment")
    expect(result.get_by_role("heading", name="兑换成功")).to_be_visible()
    expect(result).to_contain_text("使用 30 积分")
    expect(result).to_contain_text("文三路 90 号 3 幢 501")
    expect(fan.locator("#redeem-form")).to_have_count(0)
    expect(fan.get_by_role("heading", level=1, name="兑换成功")).to_be_visible()
    assert fan.url.endswith("/redeem"), "the result came in place, without leaving the page"
    no_sideways_scroll(fan, "the redeem result")
    screenshot(fan, "h5-redeem-done")
    result.get_by_role("link", name="查看兑换详情").click()

    expect(fan.get_by_role("heading", level=1, name="兑换成功")).to_be_visible()
    expect(fan.locator("#redemption")).to_have_attribute("data-status", "pending_shipment")
    expect(fan.locator("#redemption")).to_contain_text("待发货：我们会尽快为你寄出")
    expect(fan.locator("#redemption")).to_contain_text("文三路 90 号 3 幢 501")
    screenshot(fan, "h5-redemption")

    fan.get_by_role("link", name="我的兑换 ›").click()
    first = fan.locator("#redemptions [data-status]").first
    expect(first).to_contain_text("补水面膜 5 片装")
    expect(first).to_contain_text("待发货")
    expect(first).to_contain_text("-30 积分")
    screenshot(fan, "h5-redemptions")

    # Again today: the daily limit is said on the reward in words and its button is off; nothing is spent.
    fan.goto(f"/h5/{DEMO_SLUG}/mall")
    before = int(fan.locator("#mall-points").inner_text())
    fan.locator("#rewards").get_by_role("link", name=re.compile("补水面膜")).click()
    expect(fan.locator("#redeem-blocked")).to_have_text("每人每天限兑 1 次，明天再来吧")
    expect(fan.get_by_role("button", name="已达兑换上限")).to_be_disabled()
    no_sideways_scroll(fan, "a refusal")
    screenshot(fan, "h5-redeem-refused")

    # Not enough points: the reward says how many are missing and its button is off; she is not sent to fill
    # in an address first (the form, opened all the same, says the same and asks for nothing).
    fan.goto(f"/h5/{DEMO_SLUG}/mall")
    expect(fan.locator("#mall-points")).to_have_text(str(before))
    assert before < 3000, "the demo fan can afford the 3,000-point scarf; the test needs a reward she cannot"
    fan.locator("#rewards").get_by_role("link", name=re.compile("羊绒围巾")).click()
    expect(fan.locator("#redeem-blocked")).to_have_text(f"你有 {before} 积分，还差 {3000 - before} 积分")
    expect(fan.get_by_role("button", name="积分不足")).to_be_disabled()
    expect(fan.get_by_role("link", name="立即兑换")).to_have_count(0)
    no_sideways_scroll(fan, "a reward she cannot afford")
    screenshot(fan, "h5-reward-short-of-points")
    fan.goto(fan.url + "/redeem")
    expect(fan.locator("#redeem-blocked")).to_contain_text(f"需要 3000 积分，还差 {3000 - before} 积分")
    expect(fan.locator("#redeem-submit")).to_be_disabled()
    expect(fan.get_by_label("详细地址")).to_have_count(0)


def test_ops_ship_one_redemption_and_cancel_another(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="兑换发货").click()
    expect(page.get_by_role("heading", level=1, name="兑换发货")).to_be_visible()
    waiting = page.locator("#redemptions tbody tr[data-status=pending_shipment]")
    expect(waiting.first).to_be_visible()
    count = waiting.count()
    assert count >= 2, "the demo has at least two redemptions waiting for shipment"
    screenshot(page, "console-fulfilment")

    row = waiting.first
    shipped_id = row.get_attribute("data-redemption")
    row.get_by_label("快递公司").fill("中通快递")
    row.get_by_label("运单号").fill("ZT7730012345678")
    row.get_by_role("button", name="发货").click()
    expect(waiting).to_have_count(count - 1)
    expect(page.locator(f"tr[data-redemption='{shipped_id}']")).to_have_count(0)

    row = waiting.first
    cancelled_id = row.get_attribute("data-redemption")
    row.get_by_label("取消原因").fill("缺货，积分已退回")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="取消").click()
    expect(waiting).to_have_count(count - 2)

    page.locator("#status-filter").get_by_role("link", name=re.compile("^已发货")).click()
    shipped = page.locator(f"tr[data-redemption='{shipped_id}']")
    expect(shipped).to_have_attribute("data-status", "shipped")
    expect(shipped).to_contain_text("中通快递 ZT7730012345678")
    screenshot(page, "console-fulfilment-shipped")

    page.locator("#status-filter").get_by_role("link", name=re.compile("^已取消")).click()
    cancelled = page.locator(f"tr[data-redemption='{cancelled_id}']")
    expect(cancelled).to_have_attribute("data-status", "cancelled")
    expect(cancelled).to_contain_text("缺货，积分已退回")


def test_a_fan_draws_in_the_lottery_and_ops_see_the_draw(mobile_page: Page, page: Page, screenshot: Screenshot) -> None:
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/")
    fan.get_by_role("link", name="积分抽奖", exact=True).click()
    fan.locator("#lotteries").get_by_role("link", name=re.compile("直播间幸运大转盘")).click()
    fan.get_by_role("link", name="登录后抽奖").click()
    fan.get_by_role("button", name="以演示会员身份体验").click()
    expect(fan.get_by_role("heading", level=1, name="直播间幸运大转盘")).to_be_visible()
    expect(fan.locator("#lottery-chances")).to_contain_text("今天还能抽 3 次")
    before = int(fan.locator("#lottery-points").inner_text())
    fan.get_by_role("button", name=re.compile("^抽一次")).click()
    result = fan.locator("#draw-result")
    expect(result).to_be_visible()
    expect(result).to_contain_text("消耗 5 积分")
    expect(fan.locator("#lottery-chances")).to_contain_text("今天还能抽 2 次")
    won = 50 if "50 积分" in result.inner_text() and result.get_attribute("data-kind") == "points" else 0
    won = 10 if won == 0 and result.get_attribute("data-kind") == "points" else won
    expect(fan.locator("#lottery-points")).to_have_text(str(before - 5 + won))
    expect(fan.locator("#my-draws")).to_be_visible()
    no_sideways_scroll(fan, "the lottery")
    screenshot(fan, "h5-lottery")

    log_in(page, OWNER)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="积分抽奖").click()
    expect(page.get_by_role("heading", level=1, name="积分抽奖")).to_be_visible()
    page.get_by_role("link", name="直播间幸运大转盘").click()
    expect(page.locator("#prizes tbody tr[data-prize]")).to_have_count(7)  # four prizes and three blank rows
    expect(page.locator("#draws tbody tr[data-draw]").first).to_be_visible()
    screenshot(page, "console-lottery")
