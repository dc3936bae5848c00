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
