"""Fan identity in Chromium: a fan signs in with her phone and a code on the H5 and sees her accounts; ops work
the claim review queue, bind an account to a member and merge two members who are one person."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.browser.conftest import DEMO_SLUG, OWNER, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]


def test_a_fan_signs_in_with_her_phone_and_a_code(mobile_page: Page, screenshot: Screenshot) -> None:
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/claims")
    expect(fan).to_have_url(re.compile(rf"/h5/{DEMO_SLUG}/login"))
    fan.get_by_label("手机号").fill("13712345678")
    fan.get_by_role("button", name="获取验证码").click()
    note = fan.locator("#code-note")
    expect(note).to_contain_text("验证码已发送")
    code = re.search(r"验证码是 (\d{6})", note.inner_text())
    assert code is not None, "a demo server shows the code it did not text"
    screenshot(fan, "h5-login-code")

    fan.get_by_label("验证码").fill("000000" if code.group(1) != "000000" else "111111")
    fan.get_by_role("button", name="登录").click()
    expect(fan.locator("#login-error")).to_contain_text("验证码不正确")
    expect(fan.get_by_label("手机号")).to_have_value("13712345678")  # what she typed is kept

    fan.get_by_label("验证码").fill(code.group(1))
    fan.get_by_role("button", name="登录").click()
    expect(fan).to_have_url(re.compile(rf"/h5/{DEMO_SLUG}/claims$"))

    fan.goto(f"/h5/{DEMO_SLUG}/")
    fan.get_by_role("link", name="我的账号").click()
    expect(fan.locator("#identities [data-identity=phone]")).to_contain_text("137****5678")
    width = fan.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the accounts page scrolls sideways ({width}px wide)"
    screenshot(fan, "h5-accounts")


def _accept(dialog: Dialog) -> None:
    dialog.accept()


def test_ops_work_the_review_queue(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    page.get_by_role("link", name="领取审核").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("领取审核")
    rows = page.locator("#review-queue tbody tr[data-claim]")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("大额订单")
    screenshot(page, "console-claims-review")

    page.get_by_role("button", name="拒绝所选").click()
    expect(page.get_by_role("alert")).to_contain_text("请先勾选")
    rows.first.get_by_role("checkbox").check()
    page.get_by_role("button", name="拒绝所选").click()
    expect(page.get_by_role("alert")).to_contain_text("拒绝时请写明原因")
    expect(rows).to_have_count(2)  # nothing happened

    rows.first.get_by_role("checkbox").check()
    page.get_by_label("拒绝原因").fill("订单收货人与会员信息不一致")
    page.get_by_role("button", name="拒绝所选").click()
    expect(page.get_by_role("status")).to_contain_text("已拒绝")
    expect(rows).to_have_count(1)
    rows.first.get_by_role("checkbox").check()
    page.get_by_role("button", name="通过所选").click()
    expect(page.get_by_role("status")).to_contain_text("已通过")
    expect(page.locator("#review-queue")).to_contain_text("没有待审核的领取")

    page.goto("/console/claims?outcome=rejected")
    expect(page.locator("#claims tbody tr[data-outcome=rejected]")).to_contain_text(
        "审核未通过：订单收货人与会员信息不一致"
    )


def test_ops_bind_an_account_and_merge_two_members(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    page.goto("/console/members")
    links = page.locator("#members a[href^='/console/members/']")
    first = (links.nth(0).get_attribute("href") or "").rsplit("/", 1)[-1]
    second = (links.nth(1).get_attribute("href") or "").rsplit("/", 1)[-1]

    page.goto(f"/console/members/{first}")
    into_points = int(page.locator("[data-available]").get_attribute("data-available") or 0)
    page.goto(f"/console/members/{second}")
    own_points = int(page.locator("[data-available]").get_attribute("data-available") or 0)
    form = page.locator("#bind-form")
    form.get_by_label("账号类型").select_option("kuaishou_id")
    form.get_by_label("账号", exact=True).fill("ks_fan_2026")
    form.get_by_role("button", name="绑定").click()
    expect(page.get_by_role("status")).to_contain_text("账号已绑定")
    expect(page.locator("#identities [data-identity=kuaishou_id]")).to_contain_text("ks_fan_2026")

    merge = page.locator("#merge-form")
    merge.get_by_label("并入的会员号或手机号").fill(second)
    merge.get_by_label("为什么是同一人").fill("同一手机号")
    page.once("dialog", _accept)
    merge.get_by_role("button", name="并入另一位会员").click()
    expect(page.get_by_role("alert")).to_contain_text("不能把会员合并到自己")
    screenshot(page, "console-member-identities")

    merge.get_by_label("并入的会员号或手机号").fill(first)
    page.once("dialog", _accept)
    merge.get_by_role("button", name="并入另一位会员").click()
    expect(page).to_have_url(re.compile(rf"/console/members/{first}\?merged={second}"))
    expect(page.get_by_role("status")).to_contain_text("已合并会员")
    expect(page.locator("[data-available]")).to_have_attribute("data-available", str(into_points + own_points))
    expect(page.locator("#identities [data-identity=kuaishou_id]")).to_contain_text("ks_fan_2026")
    page.goto(f"/console/members/{second}")
    expect(page.locator("#merged-banner")).to_contain_text("这位会员已并入")


def test_the_code_button_counts_down_and_a_refused_resend_keeps_the_code(
    mobile_page: Page, screenshot: Screenshot
) -> None:
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/login")
    fan.get_by_label("手机号").fill("13712340001")
    send = fan.locator("#send-code")
    send.click()
    note = fan.locator("#code-note")
    expect(note).to_contain_text("验证码是")
    shown = note.inner_text()
    expect(send).to_be_disabled()
    expect(send).to_have_text(re.compile(r"^(60|59|58) 秒后重发$"))

    fan.get_by_role("button", name="登录", exact=True).click()  # no code typed
    expect(fan.locator("#code-error")).to_have_text("请输入验证码")
    expect(fan).to_have_url(re.compile(rf"/h5/{DEMO_SLUG}/login$"))  # caught before it left the page
    screenshot(fan, "h5-login-countdown")

    # Asked again within the minute (say from another tab): refused under the button, the code stays on show.
    fan.evaluate("document.getElementById('send-code').disabled = false")
    send.click()
    expect(fan.locator("#code-error")).to_contain_text("太频繁")
    expect(note).to_have_text(shown)
    screenshot(fan, "h5-login-resend-refused")


def test_her_home_greets_her_with_her_tier_and_her_accounts_hide_every_id(
    mobile_page: Page, screenshot: Screenshot
) -> None:
    fan = mobile_page
    fan.goto(f"/h5/{DEMO_SLUG}/login")
    fan.get_by_role("button", name="以演示会员身份体验").click()
    expect(fan).to_have_url(re.compile(rf"/h5/{DEMO_SLUG}/$"))
    expect(fan.locator("#fan-name")).not_to_be_empty()
    expect(fan.locator("#fan-tier")).to_have_text(re.compile(r"\S+"))
    # The demo fan's gift expires at the start of the fifth local day from today: its last day is the fourth.
    last_day = (datetime.now(ZoneInfo("Asia/Shanghai")).date() + timedelta(days=4)).strftime("%Y年%m月%d日")
    expect(fan.locator("#home-expiring")).to_contain_text(f"积分有效期到 {last_day}")
    width = fan.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"the home page scrolls sideways ({width}px wide)"
    screenshot(fan, "h5-home-signed-in")

    fan.goto(f"/h5/{DEMO_SLUG}/points")
    expect(fan.locator("#expiring-last-day")).to_have_text(last_day)

    fan.goto(f"/h5/{DEMO_SLUG}/accounts")
    rows = fan.locator("#identities [data-identity]")
    expect(rows.first).to_be_visible()
    for n in range(rows.count()):
        expect(rows.nth(n)).to_contain_text("绑定")
    text = fan.locator("body").inner_text()
    for raw in ("openid", "open id", "oXh8", "dy_", "会员号"):
        assert raw not in text, f"the accounts page shows {raw!r}"
    assert "oXh8" not in fan.content() and "dy_" not in fan.content()  # not even in the unbind forms
    screenshot(fan, "h5-accounts-platforms")
