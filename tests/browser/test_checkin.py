"""Daily check-in in Chromium: the demo fan's calendar at 375 px (done, missed, today; what tomorrow gives), one tap
on 签到 that turns the button into 已签到 with her streak, a make-up of a missed day at its cost; the console's rules
page at 1440 px with its 30-day preview, tried out and saved, and its statistics charts."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_SLUG, OWNER, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]


def test_the_fan_checks_in_and_makes_up_a_day_on_her_calendar(mobile_page: Page, screenshot: Screenshot) -> None:
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/checkin")
    fan.get_by_role("button", name="以演示会员身份体验").click()
    fan.wait_for_url(f"**/h5/{DEMO_SLUG}/checkin")
    expect(fan.get_by_role("heading", level=1, name="每日签到")).to_be_visible()
    calendar = fan.locator("#checkin-calendar")
    expect(calendar.locator('[data-state="today"]')).to_have_count(1)
    expect(fan.locator("#checkin-tomorrow")).to_contain_text(re.compile(r"明天接着签到可得 \d+ 积分"))
    button = fan.locator("#checkin-button")
    expect(button).to_have_text(re.compile(r"^签到 \+\d+ 积分$"))
    width = fan.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the check-in page scrolls sideways ({width}px wide)"
    screenshot(fan, "checkin-h5-before")
    streak = int(fan.locator("#checkin-streak").inner_text().split()[0])
    button.click()
    expect(fan.get_by_role("status").filter(has_text="签到成功")).to_be_visible()
    expect(fan.locator("#checkin-button")).to_be_disabled()
    expect(fan.locator("#checkin-button")).to_contain_text("已签到")
    expect(fan.locator("#checkin-streak")).to_contain_text(str(streak + 1))
    expect(calendar.locator('[data-state="today"]')).to_have_count(0)
    screenshot(fan, "checkin-h5")
    makeable = fan.locator("[data-make-up]")
    if makeable.count():  # the demo fan's missed day (unless it fell in last month)
        day = makeable.first.get_attribute("data-make-up")
        expect(makeable.first).to_contain_text("补签 · 10 积分")
        makeable.first.click()
        expect(calendar.locator(f'[data-day="{day}"]')).to_have_attribute("data-state", "made_up")


def test_ops_preview_and_save_the_rules_and_read_the_statistics(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    page.get_by_role("link", name="每日签到").click()
    expect(page.get_by_role("heading", level=1, name="每日签到")).to_be_visible()
    expect(page.locator("#checkins-chart canvas")).to_have_count(1)
    expect(page.locator("#streaks-chart canvas")).to_have_count(1)
    expect(page.locator("#preview-chart canvas")).to_have_count(1)
    expect(page.locator("#preview-table td")).to_have_count(30)
    page.get_by_label("每天基础积分").fill("3")
    page.get_by_role("button", name="试算").click()
    expect(page.locator("#trial-note")).to_be_visible()
    total = int(page.locator("#preview-total").inner_text())
    assert total > 30 * 3 - 1
    screenshot(page, "checkin-console")
    page.get_by_role("button", name="保存规则").click()
    expect(page.get_by_role("status").filter(has_text="签到规则已保存")).to_be_visible()
    expect(page.get_by_label("每天基础积分")).to_have_value("3")
    page.get_by_label("每天基础积分").fill("2")
    page.get_by_role("button", name="保存规则").click()
    expect(page.get_by_role("status").filter(has_text="签到规则已保存")).to_be_visible()
