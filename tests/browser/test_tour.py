"""One full-page screenshot of every console page at 1440 px, in test-artifacts/screenshots/console/, with an
index.html that shows them all at once for a reviewer. The pages come from the console's route table, so a
new page is photographed (or this test says where to find one of its objects)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from playwright.sync_api import Browser, Page

from siyu.console import router as console_router
from tests.browser.conftest import OWNER, SCREENSHOTS, log_in
from tests.support.routes import route_table

pytestmark = pytest.mark.browser

WIDTH = 1440
TOUR = SCREENSHOTS / "console"
NOT_PAGES = {"/console/login", "/console/orders/imports/{import_id}"}  # the sign-in form; an htmx fragment
# Pages of one object: the list that links to one, and the shape of that link.
OBJECT_PAGES = {
    "/console/members/{member_id}": ("/console/members", r"/console/members/\d+$"),
    "/console/orders/{platform}/{order_id}": ("/console/orders", r"/console/orders/[a-z]+/[0-9A-Za-z-]+$"),
    "/console/mall/rewards/{reward_id}": ("/console/mall", r"/console/mall/rewards/\d+$"),
    "/console/mall/lottery/{lottery_id}": ("/console/mall/lottery", r"/console/mall/lottery/\d+$"),
    "/console/referrals/leaderboards/{board_id}": (
        "/console/referrals/leaderboards",
        r"/console/referrals/leaderboards/\d+$",
    ),
    "/console/points/campaigns/{campaign_id}": ("/console/points", r"/console/points/campaigns/\d+$"),
    "/console/tasks/{task_id}": ("/console/tasks", r"/console/tasks/\d+$"),
    "/console/live/{show_id}": ("/console/live", r"/console/live/\d+$"),
    "/console/live/{show_id}/report": ("/console/live", r"/console/live/\d+/report$"),
    "/console/groups/{group_id}": ("/console/groups", r"/console/groups/\d+$"),
    "/console/voice/surveys/{survey_id}": ("/console/voice/surveys", r"/console/voice/surveys/\d+$"),
    "/console/trials/{trial_id}": ("/console/trials", r"/console/trials/\d+$"),
    "/console/trials/{trial_id}/applications": ("/console/trials", r"/console/trials/\d+/applications$"),
    "/console/trials/{trial_id}/draw": ("/console/trials", r"/console/trials/\d+/draw$"),
    "/console/trials/{trial_id}/reports": ("/console/trials", r"/console/trials/\d+/reports$"),
    "/console/tags/{tag_id}": ("/console/tags", r"/console/tags/\d+$"),
    "/console/segments/{segment_id}": ("/console/segments", r"/console/segments/\d+$"),
    "/console/segments/{segment_id}/edit": ("/console/segments", r"/console/segments/\d+/edit$"),
}


def console_pages() -> list[str]:
    app = FastAPI()
    app.include_router(console_router)
    paths = []
    for path, route in route_table(app):
        if "GET" in route.methods and route.response_class is HTMLResponse and path not in NOT_PAGES:
            paths.append(path)
    assert len(paths) > 20, paths
    return paths


def shot_name(path: str) -> str:
    name = path.removeprefix("/console").strip("/").replace("{", "").replace("}", "").replace("/", "-")
    return name or "dashboard"


def first_link(page: Page, list_path: str, shape: str) -> str:
    page.goto(list_path)
    for href in page.locator("a[href]").evaluate_all("links => links.map(a => a.getAttribute('href'))"):
        if href and re.match(shape, href):
            return str(href)
    raise AssertionError(f"no link like {shape} on {list_path}")


def test_every_console_page_has_a_screenshot(browser: Browser, server: str) -> None:
    paths = console_pages()
    missing = [p for p in paths if "{" in p and p not in OBJECT_PAGES]
    assert missing == [], f"say in OBJECT_PAGES where to find an object for {missing}"
    TOUR.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        base_url=server, viewport={"width": WIDTH, "height": 900}, locale="zh-CN", timezone_id="Asia/Shanghai"
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    shots: list[tuple[str, str]] = []
    try:
        log_in(page, OWNER)
        for path in paths:
            url = first_link(page, *OBJECT_PAGES[path]) if "{" in path else path
            response = page.goto(url)
            assert response is not None and response.status == 200, f"{url}: {response and response.status}"
            page.wait_for_load_state("networkidle")
            page.wait_for_timeout(300)  # charts finish drawing
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= WIDTH, f"{url} scrolls sideways ({width}px)"
            name = shot_name(path)
            page.screenshot(path=str(TOUR / f"{name}.png"), full_page=True, animations="disabled")
            shots.append((name, page.title().split(" · ")[0]))
    finally:
        context.close()
    assert errors == []
    _index(shots)


def _index(shots: list[tuple[str, str]]) -> Path:
    cards = "\n".join(
        f"<figure><figcaption>{html.escape(title)} <small>{name}.png</small></figcaption>"
        f'<a href="{name}.png"><img src="{name}.png" alt="{html.escape(title)}" loading="lazy"></a></figure>'
        for name, title in shots
    )
    index = TOUR / "index.html"
    index.write_text(
        '<!doctype html><meta charset="utf-8"><title>运营后台全部页面（1440 px）</title>'
        "<style>body{font-family:'PingFang SC','Microsoft YaHei','Noto Sans CJK SC',sans-serif;margin:16px}"
        "main{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:16px}"
        "figure{margin:0;border:1px solid #ddd;padding:8px}img{width:100%;height:auto}"
        "small{color:#888}</style>"
        f"<h1>运营后台全部页面（{len(shots)} 页，1440 px）</h1><main>{cards}</main>",
        encoding="utf-8",
    )
    return index
