"""What ops see at 1440 px: an all-digit order number finds its claim, lists page and sort, orders show who
claimed them, the audit log and a member's points read in words, the dashboard shows what waits."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OWNER, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]
RAW_CODES = re.compile(
    r"\b(order|claim|system|lottery|redeem|adjust):|\b[a-z_]+\.(create|update|delete|approve|draw)\b"
)


def test_a_kuaishou_order_number_finds_its_claim_and_lists_page(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    page.goto("/console/orders?platform=kuaishou&claimed=yes")
    first = page.locator("#export-csv")
    expect(first).to_be_visible()
    row = page.locator("tbody tr[data-order]").first
    order_id = row.get_attribute("data-order")
    assert order_id and order_id.isdigit() and len(order_id) < 19  # looked like a member number before
    expect(row.locator("[data-claimed=yes] a")).to_be_visible()  # who claimed it, linked

    page.goto("/console/claims")
    page.get_by_label("订单号、会员号、昵称或手机号").fill(order_id)
    page.get_by_role("button", name="查找").click()
    expect(page.locator("#claims tbody tr[data-outcome]")).to_have_count(1)
    expect(page.locator("#claims")).to_contain_text(order_id)
    screenshot(page, "console-claims-by-kuaishou-order")

    page.goto("/console/orders")
    expect(page.locator("[data-count]")).to_contain_text(re.compile(r"共 \d+ 个订单，第 1–50 个订单"))
    page.get_by_role("navigation", name="分页").get_by_role("link", name="2", exact=True).click()
    expect(page.locator("[data-count]")).to_contain_text("第 51–100 个订单")
    page.get_by_role("link", name="实付").click()
    expect(page.locator("th[aria-sort]")).to_contain_text("实付")
    amounts = [
        float(t.replace("¥", "").replace(",", "")) for t in page.locator("tbody tr td:nth-child(5)").all_inner_texts()
    ]
    assert amounts == sorted(amounts, reverse=True)
    screenshot(page, "console-orders-by-amount")


def test_the_audit_log_member_page_and_dashboard_read_in_words(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    expect(page.locator("[data-waiting-stat=review]")).to_have_text(re.compile(r"^\d+$"))
    page.locator("[data-waiting-stat=review]").click()
    page.wait_for_url("**/console/claims/review")

    page.goto("/console/audit")
    table = page.locator("#audit")
    expect(table.locator("tbody tr").first).to_be_visible()
    text = table.inner_text()  # the newest page, whatever the demo did last
    assert not RAW_CODES.search(text), RAW_CODES.search(text)
    assert "{" not in text and "会员抽奖" not in text
    screenshot(page, "console-audit-words")
    page.goto("/console/audit?action=reward.create")
    expect(table).to_contain_text("新建积分商城奖品")
    assert not RAW_CODES.search(table.inner_text())

    page.goto("/console/orders?claimed=yes")
    page.locator("tbody [data-claimed=yes] a").first.click()
    page.wait_for_url(re.compile(r"/console/members/\d+$"))
    lots = page.locator("#lots")
    expect(lots.locator("a[href^='/console/orders/']").first).to_be_visible()
    body = page.locator("main").inner_text()
    assert not RAW_CODES.search(body), RAW_CODES.search(body)
    screenshot(page, "console-member-sources")


def test_the_members_list_shows_tiers_and_accounts_in_words(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    page.goto("/console/members?sort=-points")
    badge = page.locator("#members tbody td .badge.bg-warning-subtle").first
    expect(badge).to_be_visible()
    text, color, background = badge.evaluate(
        "e => [e.innerText, getComputedStyle(e).color, getComputedStyle(e).backgroundColor]"
    )
    assert text.strip() and color != background and color != "rgb(255, 255, 255)", (text, color, background)
    body = page.locator("main").inner_text()
    assert "openid" not in body and "open id" not in body and "open uid" not in body
    screenshot(page, "console-members-tiers")
