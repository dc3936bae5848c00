"""Notices in Chromium: the owner chooses channels and quiet hours, is told in words why a webhook address is
refused, adds one and rotates its secret (1440 px); the demo fan turns a kind of notice off on her phone (375 px)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_SLUG, OWNER, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]


def test_the_owner_sets_up_notices(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    page.get_by_role("link", name="粉丝通知").click()
    expect(page.get_by_role("heading", level=1, name="粉丝通知")).to_be_visible()
    page.get_by_label("抽奖中奖用短信").uncheck()
    page.get_by_label("免打扰开始").fill("22:30")
    page.get_by_role("button", name="保存", exact=True).click()
    expect(page.get_by_label("免打扰开始")).to_have_value("22:30")
    expect(page.get_by_label("抽奖中奖用短信")).not_to_be_checked()

    page.get_by_label("回调地址", exact=True).fill("https://192.168.1.10/hook")
    page.get_by_role("button", name="添加地址").click()
    expect(page.get_by_role("alert")).to_contain_text("地址指向内网或本机，不能用作 Webhook")
    page.get_by_label("回调地址", exact=True).fill("http://127.0.0.1:9/siyu-notices")  # the demo allows this machine
    page.get_by_role("button", name="添加地址").click()
    row = page.locator("[data-endpoint]")
    expect(row).to_contain_text("127.0.0.1:9/siyu-notices")
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="更换密钥").click()
    expect(page.get_by_role("status")).to_contain_text("已换上新密钥")
    expect(page.locator("[data-endpoint]")).to_contain_text("旧密钥签名到")
    page.get_by_role("button", name="测试发送").click()
    expect(page.get_by_role("alert")).to_contain_text("测试通知没有送达")
    screenshot(page, "notices-console")


def test_the_fan_turns_a_notice_off(mobile_page: Page, screenshot: Screenshot) -> None:
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/notices")
    fan.get_by_role("button", name="以演示会员身份体验").click()
    fan.goto(f"/h5/{DEMO_SLUG}/")
    fan.locator("#fan-links").get_by_role("link", name="消息通知").click()
    expect(fan.get_by_role("heading", level=1, name="消息通知")).to_be_visible()
    fan.get_by_label("抽奖中奖").uncheck()
    fan.get_by_role("button", name="保存").click()
    expect(fan.locator("#notices-saved")).to_contain_text("已保存")
    expect(fan.get_by_label("抽奖中奖")).not_to_be_checked()
    expect(fan.get_by_label("积分即将过期")).to_be_checked()
    assert fan.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(fan, "notices-h5")


def test_the_fan_subscribes_to_the_official_accounts_reminders(mobile_page: Page, screenshot: Screenshot) -> None:
    """On the demo the official account's JS-SDK is the fake WeChat's: its sheet asks 允许 / 取消 like WeChat's."""
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/notices")
    fan.get_by_role("button", name="以演示会员身份体验").click()
    fan.goto(f"/h5/{DEMO_SLUG}/notices")
    section = fan.locator("#notice-official")
    expect(section).to_contain_text("公众号提醒")
    row = section.locator("[data-oa-row]").filter(has_text="预约的直播即将开播")
    before = row.locator("[data-oa-left]").inner_text()
    row.get_by_role("button", name="订阅").click()
    sheet = fan.locator("[data-fake-wechat-sheet]")
    expect(sheet).to_contain_text("想给你发送以下通知")
    screenshot(fan, "notices-h5-official-sheet")
    sheet.get_by_role("button", name="允许").click()
    expect(section.locator("[data-oa-done]")).to_contain_text("订阅成功，到时公众号会提醒你")
    expect(row.locator("[data-oa-left]")).to_contain_text("还能收到")
    expect(row.locator("[data-oa-left]")).not_to_have_text(before)
    assert fan.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(fan, "notices-h5-official")

    fan.goto(f"/h5/{DEMO_SLUG}/live")
    fan.get_by_role("link", name="双12 护肤狂欢夜").click()  # she reserved it
    box = fan.locator("#live-subscribe")
    expect(box).to_contain_text("订阅开播提醒")
    box.get_by_role("button", name="订阅提醒").click()
    fan.locator("[data-fake-wechat-sheet]").get_by_role("button", name="取消").click()
    expect(box.locator("[data-oa-done]")).to_contain_text("你没有同意")
    assert fan.evaluate("document.documentElement.scrollWidth") <= 375
    screenshot(fan, "live-h5-subscribe")
