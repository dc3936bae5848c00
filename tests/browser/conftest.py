"""A real `siyu serve` on a fresh database with the demo tenant, driven by Debian's Chromium."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Response, sync_playwright

from tests.support.databases import fresh_database
from tests.support.server import served

CHROMIUM = os.environ.get("SIYU_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "siyu-demo-2026"
OWNER = "owner@demo.siyu.local"
OPERATOR = "ops@demo.siyu.local"
FULFILLMENT = "ship@demo.siyu.local"
ANALYST = "data@demo.siyu.local"
DEMO_SLUG = "xinghe"
DEMO_MEMBERS = 30
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the browser tests last, in their original order.

    While Playwright's sync API is started, its event loop counts as running in this thread, so
    `asyncio.run()` and pytest-asyncio tests would fail. The `browser` fixture lives for the session;
    putting these tests at the end keeps the rest of the suite out of its lifetime.
    """
    here = Path(__file__).parent
    browser_items = [item for item in items if here in Path(str(item.path)).parents]
    if browser_items:
        others = [item for item in items if here not in Path(str(item.path)).parents]
        items[:] = others + browser_items


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of `siyu serve` on a migrated database loaded by `siyu demo`."""
    directory = tmp_path_factory.mktemp("browser")
    with fresh_database(directory, "browser") as url:
        try:
            with served(url, directory, demo_members=DEMO_MEMBERS) as running:
                yield running.base_url
        except RuntimeError as error:
            pytest.fail(str(error))


@pytest.fixture(scope="session")
def browser(server: str) -> Iterator[Browser]:
    """Chromium through Playwright's sync API. It depends on `server` so that the database is made
    (with asyncio.run) before Playwright's event loop exists in this thread, and dropped after it is gone."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (run `make browser`)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield browser
        finally:
            browser.close()


def _watched_page(context: BrowserContext) -> Iterator[Page]:
    """A page that fails the test on a JavaScript error or a missing static asset."""
    problems: list[str] = []

    def on_response(response: Response) -> None:
        if "/static/" in response.url and response.status >= 400:
            problems.append(f"{response.status} {response.url}")

    page = context.new_page()
    page.on("pageerror", lambda error: problems.append(f"JavaScript error: {error}"))
    page.on("response", on_response)
    try:
        yield page
    finally:
        context.close()
    assert not problems, "browser problems: " + "; ".join(problems)


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    """A desktop page (1440x900, the width ops work at) in a fresh context: no cookies from other tests."""
    context = browser.new_context(
        base_url=server, viewport={"width": 1440, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    yield from _watched_page(context)


@pytest.fixture
def mobile_page(browser: Browser, server: str) -> Iterator[Page]:
    """A phone-sized page (375x812, touch, 2x) in a fresh context, as a fan opens the H5."""
    context = browser.new_context(
        base_url=server,
        viewport={"width": 375, "height": 812},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=2,
        locale="zh-CN",
        timezone_id="Asia/Shanghai",
    )
    yield from _watched_page(context)


@pytest.fixture(scope="session")
def screenshots_dir() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS


@pytest.fixture
def screenshot(screenshots_dir: Path) -> Callable[[Page, str], Path]:
    """Save a full-page PNG named `<name>.png` for people to look at."""

    def take(page: Page, name: str) -> Path:
        path = screenshots_dir / f"{name}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        return path

    return take


def log_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the login form and land on the console."""
    page.goto("/console/login")
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url("**/console/")
