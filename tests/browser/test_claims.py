"""订单换积分 in Chromium: a fan pastes an order number on her phone; ops look claims up in the console."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_SLUG, OWNER, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]


def an_unclaimed_order(server: str, page: Page) -> tuple[str, str]:
    """A completed order of the demo nobody has claimed: read from the console's order list as the owner."""
    log_in(page, OWNER)
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    claimed = {
        c["order_id"]
        for c in httpx.get(f"{server}/api/v1/claims", params={"size": 200}, cookies=cookies, timeout=10).json()
    }
    page.goto("/console/orders?status=completed&platform=douyin")
    for link in page.locator("a[href^='/console/orders/douyin/']").all():
        order_id = (link.get_attribute("href") or "").rsplit("/", 1)[-1]
        if order_id not in claimed:
            return "douyin", order_id
    pytest.fail("the demo has no unclaimed completed Douyin order")


def test_a_fan_pastes_an_order_number_and_gets_points(
    mobile_page: Page, page: Page, server: str, screenshot: Screenshot
) -> None:
    _platform, order_id = an_unclaimed_order(server, page)

    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/")
    fan.get_by_role("link", name="订单换积分").click()
    fan.get_by_role("button", name="以演示会员身份体验").click()
    expect(fan).to_have_url(re.compile(rf"/h5/{DEMO_SLUG}/claim$"))
    fan.get_by_text("抖音", exact=True).click()
    fan.get_by_label("订单号").fill("这是个错误的订单号")
    fan.get_by_role("button", name="领取积分").click()
    expect(fan.locator("#claim-result")).to_have_attribute("data-outcome", "invalid")
    expect(fan.get_by_text("没有识别出订单号")).to_be_visible()

    fan.get_by_role("link", name="再领一单").click()
    fan.get_by_text("抖音", exact=True).click()
    fan.get_by_label("订单号").fill(f"订单编号：{order_id} 复制")
    fan.get_by_role("button", name="领取积分").click()
    result = fan.locator("#claim-result")
    expect(result).to_have_attribute("data-outcome", "credited")
    expect(result).to_contain_text(re.compile(r"已获得 \d+ 积分"))
    expect(result).to_contain_text(f"订单 {order_id} 获得")
    width = fan.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the claim result scrolls sideways ({width}px wide)"
    screenshot(fan, "h5-claim-result")

    fan.goto(f"/h5/{DEMO_SLUG}/claims")
    expect(fan.locator("#claims [data-outcome]").first).to_have_attribute("data-outcome", "credited")
    screenshot(fan, "h5-claims")

    # Ops find it by the order number.
    page.goto("/console/claims")
    expect(page.get_by_role("heading", level=1, name="订单换积分")).to_be_visible()
    expect(page.locator("[data-stat=credited]")).to_have_text(re.compile(r"^[1-9]\d*$"))
    page.get_by_label("订单号、会员号、昵称或手机号").fill(order_id)
    page.get_by_role("button", name="查找").click()
    expect(page.locator("#claims tbody tr")).to_have_count(1)
    expect(page.locator("#claims tbody tr")).to_contain_text("已获得积分")
    page.get_by_label("订单号、会员号、昵称或手机号").fill("")
    page.get_by_label("结果").select_option("pending")
    page.get_by_role("button", name="查找").click()
    expect(page.locator("#claims tbody tr[data-outcome=pending]").first).to_be_visible()
    screenshot(page, "console-claims")


def _sign_in_to_claim(fan: Page) -> None:
    fan.goto(f"/h5/{DEMO_SLUG}/claim")
    if fan.get_by_role("button", name="以演示会员身份体验").count():
        fan.get_by_role("button", name="以演示会员身份体验").click()
    expect(fan).to_have_url(re.compile(rf"/h5/{DEMO_SLUG}/claim$"))


def test_a_number_of_another_platform_is_questioned_and_a_wait_does_not_look_like_success(
    mobile_page: Page, screenshot: Screenshot
) -> None:
    fan = mobile_page
    _sign_in_to_claim(fan)
    # Where to find the order number: a picture per platform, folded away until she opens it.
    help_douyin = fan.locator("#claim-help details[data-platform=douyin]")
    expect(help_douyin.locator("img")).to_be_hidden()
    help_douyin.locator("summary").click()
    expect(help_douyin.locator("img")).to_be_visible()
    # Lazy: it loads once shown, so wait for the picture rather than look at it once.
    help_douyin.locator("img").evaluate(
        "img => img.complete && img.naturalWidth > 0 || new Promise((ok, no) => {"
        " img.addEventListener('load', () => ok(true)); img.addEventListener('error', no); })"
    )
    assert help_douyin.locator("img").evaluate("img => img.naturalWidth > 0")
    expect(help_douyin).to_contain_text("订单编号")
    screenshot(fan, "h5-claim-help")

    # A 16-digit Taobao number under 抖音: asked before it waits days for an order that never comes.
    fan.get_by_text("抖音", exact=True).click()
    fan.get_by_label("订单号").fill("订单编号：1930679858999647 复制")
    fan.get_by_role("button", name="领取积分").click()
    question = fan.locator("#platform-question")
    expect(question).to_contain_text("这看起来是淘宝/天猫")
    expect(question.get_by_role("button", name="没选错，就是抖音")).to_be_visible()
    expect(fan.get_by_label("订单号")).to_have_value("订单编号：1930679858999647 复制")  # what she typed stays
    width = fan.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the platform question scrolls sideways ({width}px wide)"
    screenshot(fan, "h5-claim-platform-question")

    question.get_by_role("button", name="改成淘宝/天猫").click()
    result = fan.locator("#claim-result")
    expect(result).to_have_attribute("data-outcome", "pending")
    expect(result).to_contain_text("等待订单同步")
    expect(result).to_contain_text("淘宝/天猫订单 1930679858999647")
    expect(result.locator(".h5-result-icon.wait")).to_be_visible()
    expect(result.locator(".h5-result-icon.ok")).to_have_count(0)
    expect(fan.locator("#claim-waits")).to_contain_text(re.compile(r"\d\d月\d\d日 前同步到这笔订单就会自动发放"))
    screenshot(fan, "h5-claim-waiting")

    fan.goto(f"/h5/{DEMO_SLUG}/claims")
    waiting = fan.locator("#claims [data-outcome=pending]").first
    expect(waiting).to_contain_text(re.compile(r"\d\d月\d\d日 前等待同步"))
    expect(waiting.locator(".text-success")).to_have_count(0)


def test_guesses_pause_claiming_until_a_time_she_is_told_and_ops_can_lift_it(
    mobile_page: Page, page: Page, screenshot: Screenshot
) -> None:
    fan = mobile_page
    _sign_in_to_claim(fan)
    fan.get_by_label("订单号").fill("1930679858000001")  # her real order, typed while guesses go on elsewhere
    other_tab = fan.context.new_page()
    for n in range(5):  # numbers of no platform's shape: guesses
        other_tab.goto(f"/h5/{DEMO_SLUG}/claim")
        other_tab.get_by_text("淘宝/天猫", exact=True).click()
        other_tab.get_by_label("订单号").fill(f"19306798{n:05d}")
        other_tab.get_by_role("button", name="领取积分").click()
        expect(other_tab.locator("#claim-result")).to_have_attribute("data-outcome", "pending")
    other_tab.close()
    fan.get_by_role("button", name="领取积分").click()
    result = fan.locator("#claim-result")
    expect(result).to_have_attribute("data-outcome", "locked")
    expect(result).to_contain_text(re.compile(r"可在 (\d\d月\d\d日 )?\d\d:\d\d 后再试"))
    expect(result).not_to_contain_text("失败")
    expect(fan.get_by_role("link", name="再领一单")).to_have_count(0)
    screenshot(fan, "h5-claim-locked")

    fan.goto(f"/h5/{DEMO_SLUG}/claim")
    expect(fan.locator("#claim-locked")).to_contain_text(re.compile(r"可在 (\d\d月\d\d日 )?\d\d:\d\d 后再试"))
    expect(fan.locator("#claim-form button[type=submit]")).to_be_disabled()
    screenshot(fan, "h5-claim-form-locked")
    fan.goto(f"/h5/{DEMO_SLUG}/claims")
    expect(fan.locator("#claims [data-outcome=locked]").first).to_contain_text("暂停期间的提交，没有处理")
    expect(fan.locator("#claims")).not_to_contain_text("未识别订单号")

    # Ops see the pause on her member page and lift it.
    log_in(page, OWNER)
    page.goto("/console/claims?q=1930679800000")
    page.locator("#claims tbody tr a[href^='/console/members/']").first.click()
    lock = page.locator("#claim-lock")
    expect(lock).to_contain_text("订单换积分已暂停到")
    expect(lock).to_contain_text("有 5 次像是猜测的失败")
    screenshot(page, "console-member-claim-lock")
    page.once("dialog", lambda dialog: dialog.accept())
    lock.get_by_role("button", name="解除暂停").click()
    expect(page.get_by_role("status").filter(has_text="已解除订单换积分的暂停")).to_be_visible()
    expect(page.locator("#claim-lock")).to_have_count(0)
    page.goto("/console/audit")
    expect(page.locator("tbody").get_by_text("解除会员的领取暂停").first).to_be_visible()

    fan.goto(f"/h5/{DEMO_SLUG}/claim")
    expect(fan.locator("#claim-locked")).to_have_count(0)
    expect(fan.get_by_role("button", name="领取积分")).to_be_enabled()
