"""粉丝群 in Chromium: the demo fan opens 粉丝群 from the H5 home at 375 px, sees the groups she may join with their
QR codes (the full first group handing her on to its overflow group) and why not the others, and taps "我已入群";
ops at 1440 px see the warning about a QR code expiring within a day, are refused a file that is not a picture,
and replace the code, after which the warning is gone."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from siyu.demo.groups import qr_png
from tests.browser.conftest import DEMO_SLUG, OPERATOR, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]


def _no_sideways_scroll(page: Page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{what} scrolls sideways ({width}px wide)"


def test_the_fan_finds_her_groups_on_the_h5(mobile_page: Page, screenshot: Screenshot) -> None:
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/groups")
    expect(fan.locator("#groups-sign-in")).to_be_visible()
    fan.goto(f"/h5/{DEMO_SLUG}/login?next=/h5/{DEMO_SLUG}/")
    fan.get_by_role("button", name="以演示会员身份体验").click()
    fan.locator("#entries").get_by_role("link", name="粉丝群").click()
    expect(fan.get_by_role("heading", level=1, name="粉丝群")).to_be_visible()
    sections = fan.locator("[data-group]")
    expect(sections).to_have_count(3)
    everyone = sections.filter(has_text="普通粉丝二群")  # the first group is full: she is shown the second
    expect(everyone.locator("img[data-qr]")).to_be_visible()
    qr = everyone.locator("img[data-qr]").element_handle()
    fan.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr)  # the picture really loads
    expect(sections.filter(has_text="普通粉丝一群")).to_have_count(0)
    top = sections.filter(has_text="黑金会员群")
    expect(top).to_contain_text("需要黑金会员及以上")
    expect(top.locator("img[data-qr]")).to_have_count(0)
    _no_sideways_scroll(fan, "the groups page")
    screenshot(fan, "groups-h5")

    everyone.get_by_role("button", name="我已入群").click()
    expect(fan.locator("#group-joined")).to_contain_text("已记录，欢迎入群")
    joined = fan.locator("[data-group]").filter(has_text="普通粉丝二群")
    expect(joined).to_contain_text("已入群")
    expect(joined.locator("img[data-qr]")).to_have_count(0)
    _no_sideways_scroll(fan, "the groups page after joining")
    screenshot(fan, "groups-h5-joined")


def test_ops_are_warned_and_replace_an_expiring_qr_code(page: Page, screenshot: Screenshot, tmp_path: Path) -> None:
    log_in(page, OPERATOR)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="粉丝群").click()
    expect(page.get_by_role("heading", level=1, name="粉丝群")).to_be_visible()
    warning = page.locator("#qr-warnings")
    expect(warning).to_contain_text("银卡会员群")
    expect(warning).to_contain_text("一天内过期")
    expect(page.locator("#groups-table [data-group]")).to_have_count(4)
    screenshot(page, "groups-console-list")

    page.locator("#groups-table").get_by_role("link", name="银卡会员群").click()
    expect(page.get_by_role("heading", level=1, name="银卡会员群")).to_be_visible()
    expect(page.locator("#group-members [data-member]").first).to_be_visible()
    not_a_picture = tmp_path / "qr.png"
    not_a_picture.write_bytes(b"this is not a picture at all")
    page.get_by_label("银卡会员群二维码图片").set_input_files(str(not_a_picture))
    page.get_by_role("button", name="更换二维码").first.click()
    expect(page.locator("#form-error")).to_contain_text("请上传 JPG、PNG、GIF 或 WebP 格式的图片")
    picture = tmp_path / "new-qr.png"
    picture.write_bytes(qr_png("https://weixin.qq.com/g/siyu-browser"))
    page.get_by_label("银卡会员群二维码图片").set_input_files(str(picture))
    expect(page.get_by_text("new-qr.png")).to_be_visible()  # the chosen picture's name, in place of the browser's words
    page.get_by_role("button", name="更换二维码").first.click()
    expect(page.locator("[data-qr-state]").first).to_contain_text("群二维码有效")
    page.get_by_role("link", name="符合条件未入群").click()
    expect(page.locator("#group-candidates")).to_be_visible()
    screenshot(page, "groups-console-group")
    page.goto("/console/groups")
    expect(page.locator("#qr-warnings")).to_have_count(0)
