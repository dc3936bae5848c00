"""邀请有礼 in Chromium: the demo fan's invite page (code, QR code, copy button, her invitations) and this week's
leaderboard with her rank at 375 px; ops' rules and funnel chart, the review queue and a settled leaderboard."""

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


def test_the_fan_shares_her_invite_and_finds_her_rank(mobile_page: Page, screenshot: Screenshot) -> None:
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/")
    fan.get_by_role("link", name="邀请有礼").click()
    fan.get_by_role("button", name="以演示会员身份体验").click()
    expect(fan.get_by_role("heading", level=1, name="邀请有礼")).to_be_visible()
    code = fan.locator("#invite-code")
    expect(code).to_have_text(re.compile(r"^[2-9A-HJ-NP-Z]{6}$"))
    link = fan.locator("#invite-url").input_value()
    assert link.endswith(f"/h5/{DEMO_SLUG}/?invite={code.inner_text()}") and link.startswith("http")
    qr = fan.get_by_role("img", name="邀请二维码，好友扫码即可加入")
    expect(qr).to_be_visible()
    # a function, not an expression: the page's CSP forbids the eval Playwright polls an expression with
    fan.wait_for_function("img => img.complete && img.naturalWidth > 100", arg=qr.element_handle())  # really loaded
    fan.get_by_role("button", name="复制链接").click()
    expect(fan.locator("#copy-note")).to_have_text("链接已复制，发给好友吧")
    expect(fan.locator("#my-invitations")).to_contain_text("我的邀请")
    no_sideways_scroll(fan, "the invite page")
    screenshot(fan, "h5-invite-375")

    fan.get_by_role("link", name="本周直播邀请榜").click()
    expect(fan.get_by_role("heading", level=1, name="本周直播邀请榜")).to_be_visible()
    expect(fan.locator("#my-rank")).to_contain_text(re.compile("我的排名|你还没有上榜"))
    expect(fan.locator("#board-top [data-rank]").first).to_be_visible()
    expect(fan.locator("#board-prizes")).to_contain_text("第 1 名 500 积分")
    no_sideways_scroll(fan, "the leaderboard")
    screenshot(fan, "h5-leaderboard-375")


def test_a_friend_opening_the_link_is_welcomed_with_what_she_will_get(
    mobile_page: Page, screenshot: Screenshot
) -> None:
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/invite")
    fan.get_by_role("button", name="以演示会员身份体验").click()
    link = fan.locator("#invite-url").input_value()
    fan.goto(f"/h5/{DEMO_SLUG}/")
    fan.get_by_role("button", name="退出登录").click()
    fan.goto(link)
    welcome = fan.locator("#invited")
    expect(welcome).to_contain_text("好友邀请你加入")
    expect(welcome.get_by_role("link", name="登录 / 注册")).to_be_visible()
    no_sideways_scroll(fan, "the home page of an invited friend")
    screenshot(fan, "h5-invited-375")


def test_ops_see_the_funnel_review_and_settled_leaderboard(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="邀请有礼").click()
    expect(page.get_by_role("heading", level=1, name="邀请有礼")).to_be_visible()
    expect(page.locator("#referral-funnel canvas")).to_be_visible()  # ECharts drew the funnel
    expect(page.locator("#referral-days canvas")).to_be_visible()
    screenshot(page, "console-referrals")

    page.get_by_role("link", name="可疑邀请审核").click()
    expect(page.locator("[data-referral]")).to_have_count(1)
    expect(page.locator("#review-queue")).to_contain_text("同一台设备")
    screenshot(page, "console-referrals-review")

    page.get_by_role("link", name="分享排行榜", exact=True).click()
    page.get_by_role("link", name="上周直播间邀请榜").click()
    expect(page.locator("#board-status")).to_have_text("已结算")
    expect(page.locator("[data-prize]")).to_have_count(3)
    screenshot(page, "console-referral-board")


def test_ops_create_a_sign_in_board_of_a_live_show_with_a_reward_prize(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    page.goto("/console/referrals/leaderboards")
    form = page.locator("#board-form")
    form.get_by_label("名称").fill("直播分享登录榜")
    show = form.get_by_label("所属直播或活动").locator("optgroup[label='直播'] option").first
    form.get_by_label("所属直播或活动").select_option(show.get_attribute("value"))
    form.get_by_label("排名依据").select_option(label="分享带来的登录人次")
    form.get_by_label("名次奖励积分").fill("0, 200, 100")
    prize = form.get_by_label("第 1 名另送奖品").locator("option").nth(1)
    prize_title = prize.inner_text()
    form.get_by_label("第 1 名另送奖品").select_option(prize.get_attribute("value"))
    screenshot(page, "console-referral-boards-form")
    form.get_by_role("button", name="创建").click()
    expect(page.locator("#board-title")).to_have_text("直播分享登录榜")
    expect(page.locator("#standings thead")).to_contain_text("分享带来的登录人次")
    page.goto("/console/referrals/leaderboards")
    row = page.locator("[data-board]", has_text="直播分享登录榜")
    expect(row).to_contain_text("直播：")
    expect(row).to_contain_text("另有奖品")
    assert prize_title
    screenshot(page, "console-referral-boards")
