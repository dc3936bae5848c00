"""会员分群 and 会员标签 in Chromium at 1440 px: ops build a segment from the filter form (an estimate first), see
its count with when it was computed, open its members, export them to Excel and tag them all; the tags page shows
the demo's tags and the rule of 高客单. Every segment this test makes has a name of its own (the demo server is
shared)."""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import OPERATOR, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]


def test_ops_build_a_segment_see_its_count_export_and_open_its_members(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OPERATOR)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="会员分群").click()
    expect(page.get_by_role("heading", level=1, name="会员分群")).to_be_visible()
    expect(page.locator("#segments-table")).to_contain_text("预约了下一场直播")
    expect(page.locator("#segments-table")).to_contain_text("计算于")  # wait: a count has a time
    screenshot(page, "segments")

    page.get_by_role("link", name="新建分群").click()
    name = f"有积分的会员{secrets.token_hex(2)}"
    page.get_by_label("分群名称").fill(name)
    page.get_by_label("可用积分不少于").fill("1")
    page.get_by_role("button", name="预估人数").click()
    expect(page.locator("#preview-count")).to_contain_text("现在符合条件的会员约")
    estimate = int(page.locator("#preview-count").get_attribute("data-count") or "-1")
    assert estimate > 0
    screenshot(page, "segment-new")
    page.get_by_role("button", name="保存并计算人数").click()

    expect(page.get_by_role("heading", level=1, name=name)).to_be_visible()
    expect(page.locator("#segment-count")).to_have_text(str(estimate))
    expect(page.locator("#counted-at")).to_contain_text("计算于")
    expect(page.locator("#segment-words")).to_contain_text("可用积分不少于 1")
    rows = page.locator("#segment-members tbody tr[data-member]")
    expect(rows.first).to_be_visible()
    expect(page.locator("[data-count]").last).to_have_attribute("data-count", str(estimate))
    page.get_by_role("button", name="重新计算").click()
    expect(page.locator("#form-notice")).to_contain_text("人数已重新计算")
    screenshot(page, "segment")

    with page.expect_download() as download:
        page.locator("#export-xlsx").click()
    assert download.value.suggested_filename.endswith(".xlsx")
    frame = pl.read_excel(io.BytesIO(Path(download.value.path()).read_bytes()), infer_schema_length=0)
    assert frame.height == estimate and "标签" in frame.columns

    page.once("dialog", lambda dialog: dialog.accept())
    page.locator("#segment-tag-form select").select_option(label="爱抽奖")
    page.locator("#segment-tag-form").get_by_role("button", name="打标签").click()
    expect(page.locator("#form-notice")).to_contain_text("位会员打上标签")

    first = rows.first.get_by_role("link")
    nickname = first.inner_text()
    first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(nickname)
    expect(page.locator("#member-tags")).to_contain_text("爱抽奖")
    screenshot(page, "segment-member")


def test_ops_see_tags_and_a_rule(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OPERATOR)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="会员标签").click()
    expect(page.get_by_role("heading", level=1, name="会员标签")).to_be_visible()
    table = page.locator("#tags-table")
    for tag in ("高客单", "爱抽奖", "宝妈"):
        expect(table).to_contain_text(tag)
    expect(table.locator("tr[data-tag='高客单']")).to_contain_text("会员价值：重要价值、高潜")
    screenshot(page, "tags")
    table.locator("tr[data-tag='高客单']").get_by_role("link").click()
    expect(page.locator("#rule-words")).to_contain_text("会员价值")
    expect(page.locator("#rfm-top")).to_be_checked()
    screenshot(page, "tag")
