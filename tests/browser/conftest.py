"""A real `siyu serve` on a fresh database with the demo tenant, driven by Debian's Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Response, sync_playwright

from tests.support.databases import fresh_database

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
STARTUP_SECONDS = 30
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


def _siyu_command() -> str:
    """The `siyu` console script of the interpreter running the tests (the venv's)."""
    script = Path(sys.executable).parent / "siyu"
    if not script.exists():
        pytest.fail(f"找不到 siyu 命令：{script}（请先 pip install -e '.[test]'）")
    return str(script)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _wait_until_healthy(base_url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    last = "no answer"
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"siyu serve exited with {server.returncode}:\n{_tail(log)}")
        try:
            response = httpx.get(f"{base_url}/healthz", timeout=2)
            if response.status_code == 200:
                return
            last = f"HTTP {response.status_code}: {response.text[:200]}"
        except httpx.HTTPError as error:
            last = repr(error)
        time.sleep(0.2)
    pytest.fail(f"siyu serve not healthy after {STARTUP_SECONDS}s ({last}):\n{_tail(log)}")


def _stop(server: subprocess.Popen[bytes]) -> None:
    if server.poll() is not None:
        return
    server.terminate()
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(timeout=5)


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Base URL of `siyu serve` on a migrated database loaded by `siyu demo`."""
    directory = tmp_path_factory.mktemp("browser")
    siyu = _siyu_command()
    with fresh_database(directory, "browser") as url:
        env = {
            **{key: value for key, value in os.environ.items() if not key.startswith("SIYU_")},
            "SIYU_DATABASE_URL": url,
            "SIYU_DEMO": "true",
            "SIYU_ENV": "test",
            "PYTHONUNBUFFERED": "1",
        }
        demo = subprocess.run(
            [siyu, "demo", "--members", str(DEMO_MEMBERS)],
            env=env,
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if demo.returncode != 0:
            pytest.fail(f"siyu demo failed ({demo.returncode}):\n{demo.stdout}\n{demo.stderr}")
        port = _free_port()
        base_url = f"http://127.0.0.1:{port}"
        log = directory / "serve.log"
        with log.open("wb") as output:
            server = subprocess.Popen(
                [siyu, "serve", "--host", "127.0.0.1", "--port", str(port)],
                env=env,
                cwd=directory,
                stdout=output,
                stderr=subprocess.STDOUT,
            )
            try:
                _wait_until_healthy(base_url, server, log)
                yield base_url
            finally:
                _stop(server)


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
    """A desktop page (1366x900) in a fresh context: no cookies from other tests."""
    context = browser.new_context(
        base_url=server, viewport={"width": 1366, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
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
