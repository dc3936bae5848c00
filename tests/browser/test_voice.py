"""粉丝心声 in Chromium: the demo fan opens the wish list from the H5 home at 375 px, "+1"s a wish (a second "+1" is
not offered), reads the host's reply, votes for an encore and answers the survey; ops read the rankings at 1440 px
(three charts drawn, the same product written differently grouped), narrow them to a saved segment's members and
reply to a wish."""

from __future__ import annotations

import re
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


def test_the_fan_plus_ones_a_wish_on_the_h5(mobile_page: Page, screenshot: Screenshot) -> None:
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/voice")
    fan.get_by_role("button", name="以演示会员身份体验").click()
    fan.goto(f"/h5/{DEMO_SLUG}/")
    fan.locator("#entries").get_by_role("link", name="粉丝心声").click()
    expect(fan.get_by_role("heading", level=1, name="粉丝心声")).to_be_visible()
    expect(fan.locator("#wish-list [data-wish]").first).to_be_visible()
    mine = fan.locator("#wish-list [data-wish]").filter(has_text="兰蔻小黑瓶精华 50ml")
    expect(mine).to_contain_text("我许的")
    expect(mine).to_contain_text("主播回复：已安排在")
    row = fan.locator("#wish-list [data-wish]").filter(has=fan.get_by_role("button", name="+1")).first
    before = int(row.locator(".wish-count").inner_text())
    wish_id = row.get_attribute("data-wish")
    row.get_by_role("button", name="+1").click()
    expect(fan.locator("#voice-done")).to_contain_text("已 +1")
    done = fan.locator(f"#wish-{wish_id}")
    expect(done.locator(".wish-count")).to_have_text(str(before + 1))
    expect(done).to_contain_text("已 +1")
    expect(done.get_by_role("button", name="+1")).to_have_count(0)
    _no_sideways_scroll(fan, "the wish list")
    screenshot(fan, "voice-h5-wishes")

    fan.get_by_placeholder("商品名称，如 兰蔻小黑瓶 50ml").fill("   ")
    fan.get_by_role("button", name="发布愿望").click()
    expect(fan.locator("#voice-error")).to_contain_text("请填写商品")

    fan.locator("#voice-tabs").get_by_role("link", name="想买什么").click()
    fan.get_by_label("想买的商品").fill("保湿面霜")
    fan.get_by_label("想对主播说的话（可不填）").fill("冬天太干了")
    fan.get_by_role("button", name="提交").click()
    expect(fan.locator("#voice-done")).to_be_visible()
    expect(fan.locator("#demand-mine")).to_contain_text("保湿面霜")
    _no_sideways_scroll(fan, "the demand form")
    screenshot(fan, "voice-h5-demand")

    fan.locator("#voice-tabs").get_by_role("link", name="返场投票").click()
    fan.get_by_role("button", name="想要返场").first.click()
    expect(fan.locator("#voice-done")).to_be_visible()
    _no_sideways_scroll(fan, "the encore votes")
    screenshot(fan, "voice-h5-encore")

    fan.locator("#voice-tabs").get_by_role("link", name="问卷").click()
    fan.locator("#survey-list [data-survey]").first.click()
    fan.get_by_text("护肤", exact=True).click()
    fan.get_by_text("晚上 8 点").click()
    fan.get_by_text("5 分").click()
    fan.get_by_label("还想对主播说什么？").fill("多讲讲成分")
    fan.get_by_role("button", name="提交").click()
    expect(fan.locator("#voice-done")).to_contain_text("积分已到账")
    screenshot(fan, "voice-h5-survey")

    fan.locator("#voice-tabs").get_by_role("link", name="回复我的").click()
    expect(fan.locator("#reply-list [data-reply]").first).to_contain_text("已安排在")
    screenshot(fan, "voice-h5-replies")


def test_ops_read_the_rankings_and_reply(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OPERATOR)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="粉丝心声").click()
    expect(page.get_by_role("heading", level=1, name="粉丝心声")).to_be_visible()
    for chart in ("#voice-wish-chart", "#voice-demand-chart", "#voice-encore-chart"):
        expect(page.locator(f"{chart} canvas")).to_be_visible()
    expect(page.locator("#wish-table [data-group-size]").first).to_be_visible()  # near-duplicates grouped
    screenshot(page, "voice-console-rankings")
    page.locator("#voice-segment").select_option(label="分群：积分够换奖品")  # only that segment's voices
    expect(page).to_have_url(re.compile(r"segment=\d+"))
    expect(page.locator("#voice-segment")).to_have_value(re.compile(r"\d+"))
    expect(page.locator("#voice-wish-chart canvas")).to_be_visible()
    screenshot(page, "voice-console-segment")
    page.locator("#voice-segment").select_option(label="全部会员")
    expect(page.locator("#voice-segment")).to_have_value("")
    row = page.locator("#wish-table [data-wish]").filter(has_text="戴森吹风机").first
    row.get_by_label("回复").fill("已安排在 12月8日 直播")
    row.get_by_role("button", name="回复").click()
    expect(page.get_by_role("status")).to_contain_text("回复已保存")
    with page.expect_download() as download:
        page.locator("#wishes-export").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    page.locator("#voice-tabs").get_by_role("link", name="需求收集").click()
    expect(page.locator("#demand-table [data-demand]").first).to_be_visible()
    screenshot(page, "voice-console-demands")
    page.locator("#voice-tabs").get_by_role("link", name="问卷").click()
    page.locator("#survey-table [data-survey] a").first.click()
    expect(page.locator("#answer-table tbody tr").first).to_be_visible()
    screenshot(page, "voice-console-survey")
