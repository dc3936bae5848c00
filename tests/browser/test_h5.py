"""The fan H5 on a phone-sized screen."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_SLUG

pytestmark = pytest.mark.browser

DEMO_PLATFORMS = {"淘宝/天猫", "抖音", "快手", "视频号", "拼多多"}


def test_fan_opens_the_member_center(mobile_page: Page, screenshot: Callable[[Page, str], Path]) -> None:
    page = mobile_page
    response = page.goto(f"/h5/{DEMO_SLUG}/")
    assert response is not None and response.status == 200

    title = page.get_by_role("heading", level=1)
    expect(title).to_be_visible()
    tenant_name = title.inner_text().strip()
    assert tenant_name
    expect(page).to_have_title(f"{tenant_name} · 会员中心")
    expect(page.get_by_role("contentinfo")).to_have_text(f"{tenant_name} 会员中心")
    expect(page.get_by_text("下单就能攒积分")).to_be_visible()

    expect(page.get_by_text("在这些平台下单都算数")).to_be_visible()
    chips = {text.strip() for text in page.locator(".h5-platforms span").all_inner_texts()}
    assert chips >= DEMO_PLATFORMS, chips

    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the H5 scrolls sideways ({width}px wide)"
    screenshot(page, "h5-home")


def test_unknown_tenant_is_a_chinese_404(mobile_page: Page, screenshot: Callable[[Page, str], Path]) -> None:
    page = mobile_page
    response = page.goto("/h5/no-such-host/")
    assert response is not None and response.status == 404

    message = page.get_by_role("heading", level=1)
    expect(message).to_have_text(re.compile(r"[\u4e00-\u9fff]"))
    expect(message).to_have_attribute("data-code", re.compile(r"not_found"))
    expect(page.get_by_text("请检查链接是否正确")).to_be_visible()
    screenshot(page, "h5-404")
