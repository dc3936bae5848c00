"""/docs and /redoc render the API reference from vendored files: no request leaves the server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, Request, expect

pytestmark = pytest.mark.browser


@pytest.mark.parametrize(("path", "ready"), [("/docs", ".swagger-ui .info .title"), ("/redoc", "redoc h1")])
def test_the_api_reference_loads_without_a_cdn(
    page: Page, server: str, screenshot: Callable[[Page, str], Path], path: str, ready: str
) -> None:
    elsewhere: list[str] = []

    def on_request(request: Request) -> None:
        if urlparse(request.url).netloc not in ("", urlparse(server).netloc) and not request.url.startswith("data:"):
            elsewhere.append(request.url)

    page.on("request", on_request)
    response = page.goto(path)
    assert response is not None and response.status == 200
    expect(page.locator(ready).first).to_contain_text("siyu", timeout=20_000)
    assert elsewhere == [], elsewhere
    screenshot(page, f"api-{path.strip('/')}")
