"""积分任务 in Chromium: the demo fan opens her tasks at 375 px from the home page, confirms a follow, answers the
weekly survey, reads why her first review screenshot was turned down and sends a new one (a file that is not a
picture is refused in words first); ops see it in the console's review queue with the picture, refuse to reject
without a reason, approve it, and read the completions chart."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from siyu.demo.engagement_tasks import screenshot as review_picture
from tests.browser.conftest import DEMO_SLUG, OPERATOR, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]


def _no_sideways_scroll(page: Page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{what} scrolls sideways ({width}px wide)"


def test_the_fan_does_her_tasks_on_the_h5(mobile_page: Page, screenshot: Screenshot, tmp_path: Path) -> None:
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/tasks")
    fan.get_by_role("button", name="以演示会员身份体验").click()
    expect(fan.get_by_role("heading", level=1, name="积分任务")).to_be_visible()
    fan.goto(f"/h5/{DEMO_SLUG}/")
    fan.locator("#entries").get_by_role("link", name="积分任务").click()
    expect(fan.get_by_role("heading", level=1, name="积分任务")).to_be_visible()
    cards = fan.locator("#task-list [data-task]")
    expect(cards).to_have_count(5)
    mine = fan.locator("#my-reviews")
    expect(mine).to_contain_text("未通过")
    expect(mine).to_contain_text("原因：截图里看不到订单号，请重新截图上传")
    _no_sideways_scroll(fan, "the tasks page")
    screenshot(fan, "tasks-h5")

    follow = cards.filter(has_text="关注星河抖音号")
    follow.get_by_role("button", name="去完成").click()
    expect(follow).to_contain_text("星河好物直播间")
    follow.get_by_role("button", name="我已关注，领取 10 积分").click()
    expect(fan.locator("#task-done")).to_contain_text("已领取 10 积分")
    expect(cards.filter(has_text="关注星河抖音号")).to_contain_text("已完成")

    survey = cards.filter(has_text="每周直播小调查")
    survey.get_by_role("button", name="去完成").click()
    survey.get_by_text("抖音", exact=True).click()
    survey.get_by_role("button", name="提交问卷，领取 5 积分").click()
    expect(fan.locator("#task-refused")).to_contain_text("请回答第 2 题")
    survey = cards.filter(has_text="每周直播小调查")
    expect(survey.locator(".h5-task-form")).to_be_visible()  # open again, her first answer kept
    expect(survey.locator("input[value='抖音']")).to_be_checked()
    survey.get_by_text("美妆护肤", exact=True).click()
    survey.get_by_label("想对主播说的话").fill("多播点平价好物")
    survey.get_by_role("button", name="提交问卷，领取 5 积分").click()
    expect(fan.locator("#task-done")).to_contain_text("已领取 5 积分")

    not_a_picture = tmp_path / "评价.txt"
    not_a_picture.write_text("这不是图片")
    picture = tmp_path / "评价截图.png"
    picture.write_bytes(review_picture(7))
    review = cards.filter(has_text="晒好评得积分")
    review.get_by_role("button", name="去完成").click()
    review.get_by_label("选择订单").select_option(index=1)
    review.get_by_label("评价截图（JPG、PNG，不超过 2 MB）").set_input_files(not_a_picture)
    review.get_by_role("button", name="提交评价截图").click()
    expect(fan.locator("#task-refused")).to_contain_text("请上传 JPG、PNG、GIF 或 WebP 格式的图片")
    review = cards.filter(has_text="晒好评得积分")
    review.get_by_label("选择订单").select_option(index=1)
    review.get_by_label("评价截图（JPG、PNG，不超过 2 MB）").set_input_files(picture)
    review.get_by_role("button", name="提交评价截图").click()
    expect(fan.locator("#task-done")).to_contain_text("评价截图已提交")
    expect(fan.locator("#my-reviews [data-status='pending']")).to_have_count(1)
    _no_sideways_scroll(fan, "the tasks page after sending")
    screenshot(fan, "tasks-h5-done")


def test_ops_work_the_review_queue_and_read_the_chart(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OPERATOR)
    page.get_by_role("navigation", name="主导航").get_by_role("link", name="评价审核").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("评价审核")
    rows = page.locator("#review-queue [data-review]")
    expect(rows.first).to_be_visible()
    count = rows.count()
    assert count >= 3
    shot = rows.first.locator("img.review-shot")
    expect(shot).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=shot.element_handle())  # lazy: loads
    screenshot(page, "tasks-review-queue")

    first = rows.first
    first.get_by_role("button", name="拒绝").click()
    expect(page.locator("#review-error")).to_contain_text("拒绝时请写明原因")
    rows.first.get_by_role("button", name="通过").click()
    expect(page.locator("#review-done")).to_contain_text("已通过，积分已到账")
    expect(page.locator("#review-queue [data-review]")).to_have_count(count - 1)
    page.locator("#review-queue [data-review]").first.get_by_label("拒绝原因").fill("评价内容与订单商品不符")
    page.locator("#review-queue [data-review]").first.get_by_role("button", name="拒绝").click()
    expect(page.locator("#review-done")).to_contain_text("已拒绝")
    page.get_by_role("link", name="已通过").click()
    expect(page.locator("#review-queue")).to_contain_text("+30 积分")
    screenshot(page, "tasks-review-approved")

    page.get_by_role("navigation", name="主导航").get_by_role("link", name="积分任务").click()
    expect(page.locator("#tasks [data-task]")).to_have_count(5)
    expect(page.locator("#tasks-chart canvas")).to_be_visible()
    screenshot(page, "tasks-console")
    page.get_by_role("link", name="每周直播小调查").click()
    questions = [
        "你最常在哪个平台下单？ | 淘宝 | 抖音 | 快手 | 视频号",
        "下周最想看哪类好物？ | 美妆护肤 | 零食饮料 | 家居日用",
        "想对主播说的话",
    ]
    expect(page.get_by_label("问卷题目")).to_have_value("\n".join(questions))
    expect(page.locator("#answers tbody tr").first).to_be_visible()
    screenshot(page, "tasks-console-survey")
