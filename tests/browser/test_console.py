"""The ops console in Chromium: sign-in, navigation, API keys, channels, roles, settings, sign-out."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Dialog, Locator, Page, expect

from tests.browser.conftest import ANALYST, DEMO_MEMBERS, DEMO_SLUG, OPERATOR, OWNER, log_in

pytestmark = pytest.mark.browser

Screenshot = Callable[[Page, str], Path]
LOGIN_FAILED = "邮箱或密码不正确"

# (nav label, h1 heading, path, screenshot name)
PAGES = [
    ("会员", "会员", "/console/members", "members"),
    ("渠道", "销售渠道", "/console/channels", "channels"),
    ("员工", "员工与角色", "/console/staff", "staff"),
    ("API 密钥", "API 密钥", "/console/api-keys", "api-keys"),
    ("操作日志", "操作日志", "/console/audit", "audit"),
    ("店铺设置", "店铺设置", "/console/settings", "settings"),
]


def nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="主导航")


def heading(page: Page, name: str) -> Locator:
    return page.get_by_role("heading", level=1, name=name, exact=True)


def assert_no_sideways_scroll(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    viewport = page.viewport_size
    assert viewport is not None
    assert width <= viewport["width"], f"{page.url} scrolls sideways ({width}px > {viewport['width']}px)"


def bearer_status(base_url: str, secret: str) -> int:
    response = httpx.get(f"{base_url}/api/v1/me", headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    return response.status_code


def test_owner_logs_in_and_walks_the_navigation(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)

    expect(heading(page, "概览")).to_be_visible()
    expect(page.locator("[data-stat=members]")).to_have_text(str(DEMO_MEMBERS))
    expect(page.locator("#joined-line canvas")).to_be_visible()
    # the navigation is by area, each under its heading
    expect(nav(page).locator("[data-area]")).to_have_text(
        ["数据", "会员", "订单与积分", "积分商城", "粉丝互动", "设置"]
    )
    page.wait_for_timeout(800)  # let the chart finish drawing before the picture
    assert_no_sideways_scroll(page)
    screenshot(page, "dashboard")

    for label, title, path, shot in PAGES:
        link = nav(page).get_by_role("link", name=label, exact=True)
        link.click()
        page.wait_for_url(f"**{path}")
        expect(heading(page, title)).to_be_visible()
        expect(nav(page).get_by_role("link", name=label, exact=True)).to_have_class(re.compile(r"\bactive\b"))
        assert_no_sideways_scroll(page)
        screenshot(page, shot)

    nav(page).get_by_role("link", name="概览", exact=True).click()
    page.wait_for_url("**/console/")
    expect(heading(page, "概览")).to_be_visible()


def test_api_key_is_shown_once_works_and_stops_working_when_revoked(
    page: Page, server: str, screenshot: Screenshot
) -> None:
    log_in(page, OWNER)
    page.goto("/console/api-keys")
    expect(heading(page, "API 密钥")).to_be_visible()
    name = f"ERP 同步 {secrets.token_hex(3)}"

    page.get_by_label("密钥名称").fill(name)
    page.get_by_role("checkbox", name=re.compile(r"^查看会员")).check()
    page.get_by_role("checkbox", name=re.compile(r"^查看渠道")).check()
    page.get_by_role("button", name="创建", exact=True).click()

    secret_box = page.locator("#created-key [data-secret]")
    expect(secret_box).to_be_visible()
    secret = secret_box.inner_text().strip()
    assert secret.startswith("sk_"), secret
    row = page.locator(f'tr[data-key="{name}"]')
    expect(row.get_by_text("有效", exact=True)).to_be_visible()
    expect(row).not_to_contain_text(secret)  # only the prefix is listed
    screenshot(page, "api-keys-created")

    assert bearer_status(server, secret) == 200
    me = httpx.get(f"{server}/api/v1/me", headers={"Authorization": f"Bearer {secret}"}, timeout=10).json()
    assert me["kind"] == "api_key"
    assert set(me["permissions"]) == {"members.read", "channels.read"}

    # Shown once: a fresh load of the page no longer has it.
    page.goto("/console/api-keys")
    expect(page.locator("#created-key")).to_have_count(0)
    expect(page.get_by_text(secret)).to_have_count(0)

    dialogs: list[str] = []

    def accept(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", accept)
    row.get_by_role("button", name="吊销").click()
    expect(row.get_by_text("已吊销", exact=True)).to_be_visible()
    expect(row.get_by_role("button", name="吊销")).to_have_count(0)
    assert dialogs and "吊销" in dialogs[0]

    assert bearer_status(server, secret) == 401


def test_wrong_password_and_unknown_email_get_the_same_message(page: Page, screenshot: Screenshot) -> None:
    page.goto("/console/login")
    page.get_by_label("邮箱").fill(OWNER)
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()

    alert = page.get_by_role("alert")
    expect(alert).to_have_text(LOGIN_FAILED)
    assert page.url.split("?")[0].endswith("/console/login")
    expect(page.get_by_label("邮箱")).to_have_value(OWNER)  # the email is kept, the password is not
    expect(page.get_by_label("密码")).to_have_value("")
    assert page.evaluate("document.documentElement.scrollHeight") <= 900, "the login page scrolls"
    screenshot(page, "login-error")

    page.get_by_label("邮箱").fill(f"nobody-{secrets.token_hex(3)}@demo.siyu.local")
    page.get_by_label("密码").fill("not-the-password")
    page.get_by_role("button", name="登录").click()
    expect(page.get_by_role("alert")).to_have_text(LOGIN_FAILED)
    assert page.url.split("?")[0].endswith("/console/login")

    # The right password still works afterwards.
    page.get_by_label("邮箱").fill(OWNER)
    page.get_by_label("密码").fill("siyu-demo-2026")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/")
    expect(heading(page, "概览")).to_be_visible()


def test_channel_added_by_owner_and_what_each_role_sees(page: Page, browser: Browser, server: str) -> None:
    log_in(page, OWNER)
    page.goto("/console/channels")
    name = f"星河京东自营 {secrets.token_hex(2)}"
    page.get_by_label("平台").select_option(label="京东")
    page.get_by_label("渠道名称").fill(name)
    page.get_by_label("店铺 ID").fill("jd-10086")
    page.get_by_role("button", name="添加", exact=True).click()
    page.wait_for_url("**/console/channels")

    row = page.locator("tr[data-channel]", has_text=name)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("京东")
    expect(row).to_contain_text("jd-10086")
    expect(row.get_by_text("启用", exact=True)).to_be_visible()

    # The audit log records it, with the Chinese name readable (not \uXXXX escapes).
    page.goto("/console/audit?action=channel.create")
    expect(page.locator("tbody tr", has_text=name)).to_have_count(1)
    assert_no_sideways_scroll(page)

    for email, sees_staff_pages in ((OPERATOR, False), (ANALYST, False), (OWNER, True)):
        context = browser.new_context(base_url=server, viewport={"width": 1366, "height": 900})
        try:
            other = context.new_page()
            log_in(other, email)
            menu = nav(other)
            expect(menu.get_by_role("link", name="渠道", exact=True)).to_be_visible()
            for item in ("员工", "API 密钥"):
                expect(menu.get_by_role("link", name=item, exact=True)).to_have_count(1 if sees_staff_pages else 0)
            if email == OPERATOR:
                menu.get_by_role("link", name="渠道", exact=True).click()
                expect(heading(other, "销售渠道")).to_be_visible()
                expect(other.locator("tr[data-channel]", has_text=name)).to_have_count(1)
                expect(other.get_by_role("button", name="添加", exact=True)).to_be_visible()
            if email == ANALYST:
                other.goto("/console/channels")
                expect(heading(other, "销售渠道")).to_be_visible()
                expect(other.get_by_role("button", name="添加", exact=True)).to_have_count(0)
                response = other.goto("/console/staff")
                assert response is not None and response.status == 403
                expect(other.get_by_role("link", name="回到后台首页")).to_be_visible()
        finally:
            context.close()


def test_settings_change_the_fan_h5(page: Page, screenshot: Screenshot) -> None:
    log_in(page, OWNER)
    page.goto("/console/settings")
    name_box, welcome_box = page.get_by_label("店铺名称"), page.get_by_label("H5 欢迎语")
    original_name, original_welcome = name_box.input_value(), welcome_box.input_value()
    new_name = f"星河好物 {secrets.token_hex(2)}"
    new_welcome = f"欢迎回家，今晚八点开播 {secrets.token_hex(2)}"
    try:
        name_box.fill(new_name)
        welcome_box.fill(new_welcome)
        page.get_by_role("button", name="保存").click()
        page.wait_for_url("**/console/settings?saved=1")
        expect(page.get_by_text("已保存", exact=True)).to_be_visible()
        expect(page.get_by_label("店铺名称")).to_have_value(new_name)
        expect(page.get_by_label("H5 欢迎语")).to_have_value(new_welcome)
        expect(nav(page)).to_contain_text(new_name)
        screenshot(page, "settings-saved")

        page.goto(f"/h5/{DEMO_SLUG}/")
        expect(page.get_by_role("heading", level=1)).to_have_text(new_name)
        expect(page.get_by_text(new_welcome, exact=True)).to_be_visible()
    finally:
        page.goto("/console/settings")
        page.get_by_label("店铺名称").fill(original_name)
        page.get_by_label("H5 欢迎语").fill(original_welcome)
        page.get_by_role("button", name="保存").click()
        page.wait_for_url("**/console/settings?saved=1")
    expect(page.get_by_label("店铺名称")).to_have_value(original_name)


def test_logout_returns_to_login_and_closes_the_console(page: Page) -> None:
    log_in(page, OWNER)
    page.get_by_role("button", name="退出").click()
    page.wait_for_url("**/console/login")
    expect(page.get_by_role("button", name="登录")).to_be_visible()

    page.goto("/console/")
    page.wait_for_url(re.compile(r"/console/login\?next=(/|%2F)console(/|%2F)$"))
    expect(page.get_by_label("邮箱")).to_be_visible()
    page.goto("/console/members")
    page.wait_for_url(re.compile(r"/console/login\?next=(/|%2F)console(/|%2F)members$"))

    # Signing in again goes back to the page that asked for it.
    page.get_by_label("邮箱").fill(OWNER)
    page.get_by_label("密码").fill("siyu-demo-2026")
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/members")
    expect(heading(page, "会员")).to_be_visible()
