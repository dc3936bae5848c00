"""The analytics pages in Chromium at 1440 px: the owner's dashboard with its charts and links, a period of her
choosing, the RFM page computed on demand with its heat map and segments, the churn list's export."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ANALYST, OWNER, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]


def test_the_owner_reads_the_dashboard_and_follows_a_number(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    expect(page.get_by_role("heading", level=1, name="概览")).to_be_visible()
    expect(page.locator("[data-stat=claim_rate]")).to_have_text(re.compile(r"^(\d+\.\d%|—)$"))
    expect(page.locator("[data-stat=liability]")).to_have_text(re.compile(r"^¥[\d,]+\.\d\d$"))
    for chart in ("joined-line", "claim-funnel", "rate-bars"):
        expect(page.locator(f"#{chart} canvas")).to_be_visible()
    expect(page.locator("#claim-rates tbody tr")).not_to_have_count(0)
    page.wait_for_timeout(800)  # let the charts finish drawing
    screenshot(page, "analytics-dashboard")

    page.get_by_role("link", name="近 7 天", exact=True).click()
    page.wait_for_url(re.compile(r"first=\d{4}-\d\d-\d\d"))
    expect(page.get_by_role("link", name="近 7 天", exact=True)).to_have_class(re.compile(r"btn-primary"))

    page.locator("#claim-rates tr[data-platform=all] td a").first.click()
    page.wait_for_url(re.compile(r"/console/orders\?paid_from="))
    expect(page.get_by_role("heading", level=1)).to_contain_text("订单")

    page.goto("/console/overview")
    expect(page.locator("[data-stat=channels]")).to_have_text(re.compile(r"^\d+$"))


def test_the_analyst_computes_member_value_and_exports_the_churn_list(page: Page, screenshot: Screenshot) -> None:
    log_in(page, ANALYST)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="会员价值", exact=True).click()
    page.wait_for_url("**/console/analytics/rfm")
    expect(page.get_by_role("heading", level=1, name="会员价值（RFM）")).to_be_visible()
    button = page.get_by_role("button", name=re.compile("立即计算|重新计算"))
    button.click()
    page.wait_for_url("**/console/analytics/rfm")
    expect(page.locator("#computed-at")).to_contain_text("数据计算于")
    expect(page.locator("#rfm-heat canvas")).to_be_visible()
    expect(page.locator("#segments tbody tr")).to_have_count(6)
    expect(page.locator("#segments tr[data-segment=top] td").first).to_have_text("重要价值")
    page.wait_for_timeout(800)
    screenshot(page, "analytics-rfm")
    export = page.get_by_role("link", name="导出 Excel")
    if export.count():
        with page.expect_download() as download:
            export.click()
        assert download.value.suggested_filename.endswith(".xlsx")


def test_the_analyst_reads_what_the_private_domain_contributes(page: Page, screenshot: Screenshot) -> None:
    log_in(page, ANALYST)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="私域贡献", exact=True).click()
    page.wait_for_url("**/console/analytics/contribution")
    expect(page.get_by_role("heading", level=1, name="私域贡献")).to_be_visible()
    compute = page.get_by_role("button", name="立即计算")
    if compute.count():  # the demo builds the snapshot; a server without one computes it here
        compute.click()
        page.wait_for_url("**/console/analytics/contribution")
    expect(page.locator("#computed-at")).to_contain_text("数据计算于")
    expect(page.locator("[data-stat=gmv]")).to_have_text(re.compile(r"^¥[\d,]+\.\d\d$"))
    expect(page.locator("[data-stat=member_repeat]")).to_have_text(re.compile(r"^(\d+\.\d%|—)$"))
    expect(page.locator("#contribution-chart canvas")).to_be_visible()
    expect(page.locator("#months tbody tr")).to_have_count(12)
    expect(page.locator("#months tbody tr").first.locator("td").first).to_have_text(
        re.compile(r"^\d{4} 年 \d{1,2} 月$")
    )
    assert page.evaluate("document.documentElement.scrollWidth") <= 1440
    page.wait_for_timeout(800)  # let the chart finish drawing
    screenshot(page, "analytics-contribution")

    with page.expect_download() as download:
        page.get_by_role("link", name="导出 Excel").click()
    assert download.value.suggested_filename.endswith(".xlsx")

    page.get_by_role("link", name="近 6 个月", exact=True).click()
    page.wait_for_url(re.compile(r"first=\d{4}-\d\d"))
    expect(page.locator("#months tbody tr")).to_have_count(6)
    # any range, from two lists of months in Chinese (not the browser's own month picker)
    first = page.get_by_label("第一个月")
    expect(first.locator("option").first).to_have_text(re.compile(r"^\d{4} 年 \d{1,2} 月$"))
    first.select_option(index=2)  # two months before this one
    page.get_by_role("button", name="查看").click()
    expect(page.locator("#months tbody tr")).to_have_count(3)
    shows = page.locator("#show-table tbody tr")
    expect(shows).not_to_have_count(0)

    page.goto("/console/analytics/rfm")
    page.get_by_role("link", name="可关联的全部订单").click()
    page.wait_for_url("**/console/analytics/rfm?view=tied")
    expect(page.locator("#rfm-view a[aria-current=true]")).to_have_text("可关联的全部订单")
