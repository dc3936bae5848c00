"""Points in Chromium: ops set the rules, add a tier and a campaign, preview, adjust a member's points;
a fan sees her balance, pending points and history on the H5."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ANALYST, DEMO_SLUG, OWNER, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]


def test_owner_sets_rules_tiers_and_a_campaign_and_previews(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="积分规则").click()
    expect(page.get_by_role("heading", level=1, name="积分规则")).to_be_visible()
    expect(page.locator("[data-tier]")).to_have_count(3)  # the demo's silver, gold, black-gold
    expect(page.locator("[data-campaign]").first).to_be_visible()

    # A bad rate is refused with a message and the stored rate stays.
    page.get_by_label("每多少元换 1 积分").fill("0")
    page.get_by_role("button", name="保存规则").click()
    expect(page.get_by_role("alert")).to_have_text("兑换比例填写不正确")
    page.get_by_label("每多少元换 1 积分").fill("5")
    page.get_by_label("什么时候入账").select_option("after_completion")
    page.get_by_role("button", name="保存规则").click()
    expect(page.get_by_role("status")).to_contain_text("已保存")
    expect(page.get_by_label("每多少元换 1 积分")).to_have_value("5")

    # A new tier; a second one at the same threshold is refused.
    page.get_by_label("新等级名称").fill("钻石会员")
    page.get_by_label("新等级门槛").fill("5000")
    page.get_by_label("新等级倍数").fill("2")
    page.get_by_role("button", name="添加等级").click()
    expect(page.locator("[data-tier]")).to_have_count(4)
    page.get_by_label("新等级名称").fill("重复")
    page.get_by_label("新等级门槛").fill("5000")
    page.get_by_role("button", name="添加等级").click()
    expect(page.get_by_role("alert")).to_have_text("已有等级使用这个成长值门槛")

    # A campaign: ends before it starts is refused, then saved.
    page.get_by_role("link", name="新建活动").click()
    expect(page.get_by_role("heading", level=1, name="新建积分活动")).to_be_visible()
    page.get_by_label("活动名称").fill("会员日 3 倍")
    page.get_by_label("开始时间").fill("2030-01-10T00:00")
    page.get_by_label("结束时间").fill("2030-01-09T00:00")
    page.get_by_label("积分倍数").fill("3")
    page.get_by_role("button", name="保存活动").click()
    expect(page.get_by_role("alert")).to_have_text("活动结束时间必须晚于开始时间")
    expect(page.get_by_label("活动名称")).to_have_value("会员日 3 倍")  # nothing typed is lost
    page.get_by_label("结束时间").fill("2030-01-11T00:00")
    page.get_by_label("每人每天最多多得").fill("200")
    page.get_by_role("button", name="保存活动").click()
    row = page.locator("[data-campaign]", has_text="会员日 3 倍")
    expect(row).to_contain_text("3 倍")
    expect(row).to_contain_text("未开始")

    # The preview: 139.90 yuan at 5 yuan a point, as a member's first order (the demo's first-claim bonus).
    page.get_by_label("实付金额").fill("139.90")
    page.get_by_text("会员的第一笔订单").click()
    page.get_by_role("button", name="试算").click()
    result = page.locator("[data-preview-points]")
    expect(result).to_be_visible()
    assert int(result.get_attribute("data-preview-points") or "0") >= 27
    expect(page.locator("#preview-result")).to_contain_text("基础 27")
    screenshot(page, "points-rules")

    # Put the rate back so the other tests see the demo's rules.
    page.get_by_label("每多少元换 1 积分").fill("10")
    page.get_by_role("button", name="保存规则").click()
    expect(page.get_by_role("status")).to_contain_text("已保存")


def test_analyst_reads_the_rules_but_cannot_change_them(page: Page) -> None:
    log_in(page, ANALYST)
    page.goto("/console/points")
    expect(page.get_by_role("heading", level=1, name="积分规则")).to_be_visible()
    expect(page.get_by_role("button", name="保存规则")).to_have_count(0)
    expect(page.get_by_label("每多少元换 1 积分")).to_be_disabled()
    expect(page.get_by_role("link", name="新建活动")).to_have_count(0)


def test_ops_see_a_members_ledger_and_adjust_with_a_reason(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    page.goto("/console/members")
    page.locator("table a[href^='/console/members/']").first.click()
    expect(page.locator("#entries")).to_be_visible()
    available = int(page.locator("[data-available]").get_attribute("data-available") or "0")

    page.get_by_label("积分数").fill("25")
    page.get_by_label("原因").fill("直播间抽奖补发")
    page.get_by_role("button", name="确认调整").click()
    expect(page.get_by_role("status")).to_contain_text("积分已调整")
    expect(page.locator("[data-available]")).to_have_attribute("data-available", str(available + 25))
    expect(page.locator("#entries tbody tr").first).to_contain_text("积分调整：直播间抽奖补发")

    page.locator("label[for=dir-deduct]").click()
    page.get_by_label("积分数").fill(str(available + 10_000))
    page.get_by_label("原因").fill("测试扣减")
    page.get_by_role("button", name="确认调整").click()
    expect(page.get_by_role("alert")).to_have_text("可用积分不足")
    expect(page.locator("[data-available]")).to_have_attribute("data-available", str(available + 25))
    screenshot(page, "member-points")


def test_fan_sees_balance_pending_and_history_on_the_h5(mobile_page: Page, screenshot: Screenshot) -> None:
    page = mobile_page
    page.goto(f"/h5/{DEMO_SLUG}/")
    page.get_by_role("link", name="查看我的积分").click()
    expect(page).to_have_url(re.compile(r"/login\?next="))
    page.get_by_role("button", name="以演示会员身份体验").click()
    expect(page).to_have_url(re.compile(rf"/h5/{DEMO_SLUG}/points$"))
    expect(page.locator("#available")).to_have_text(re.compile(r"^-?\d+$"))
    expect(page.get_by_text("积分明细")).to_be_visible()
    history = page.locator("#history [data-kind]")
    expect(history.first).to_be_visible()
    expect(page.locator("#history")).to_contain_text(re.compile(r"订单 \d+ 获得 \d+ 积分：基础 \d+"))
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the points page scrolls sideways ({width}px wide)"
    screenshot(page, "h5-points")

    page.get_by_role("link", name="‹ 会员中心").click()
    expect(page.locator("#my-points")).to_contain_text("我的积分")
    page.goto(f"/h5/{DEMO_SLUG}/points")
    page.get_by_role("button", name="退出").click()
    page.goto(f"/h5/{DEMO_SLUG}/points")
    expect(page).to_have_url(re.compile(r"/login\?next="))
