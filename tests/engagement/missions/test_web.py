"""Points tasks over HTTP: the fan API (her tasks, 领取, a survey, a review screenshot and its refusals in words),
the staff API (task set-up, the queue and decisions), the H5 tasks page and the console pages."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from siyu.engagement.missions import service
from siyu.fans import service as fans
from siyu.h5.fans import cookie_name, cookie_value
from siyu.ledger import service as ledger
from tests.engagement.missions.conftest import Tasks, png
from tests.support import factories


@pytest.fixture
def app_dir(app: FastAPI, tasks: Tasks) -> Path:
    """Screenshots of these tests go to the test's own folder."""
    app.state.settings = app.state.settings.model_copy(update={"data_dir": tasks.data_dir})
    return tasks.data_dir


async def _bearer(app: FastAPI, tasks: Tasks, member_id: int) -> dict[str, str]:
    tokens = await fans.issue_tokens(
        tasks.session, secret=app.state.settings.secret_key, tenant_id=tasks.tenant_id, member_id=member_id
    )
    return {"Authorization": f"Bearer {tokens.access_token}"}


async def _h5_cookies(app: FastAPI, tasks: Tasks, member_id: int) -> dict[str, str]:
    session_id = await fans.open_h5_session(tasks.session, tenant_id=tasks.tenant_id, member_id=member_id, days=1)
    value = cookie_value(
        app.state.settings.secret_key, tenant_id=tasks.tenant_id, member_id=member_id, session_id=session_id
    )
    return {cookie_name(tasks.tenant.slug): value}


def _refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code and any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body
    return body


async def test_a_fan_does_her_tasks_through_the_api(
    app: FastAPI, client: httpx.AsyncClient, tasks: Tasks, app_dir: Path
) -> None:
    fan = await tasks.fan()
    auth = await _bearer(app, tasks, fan)
    base = f"/api/v1/fan/{tasks.tenant.slug}/tasks"
    follow = await tasks.task(points=10)
    survey = await tasks.task(
        kind="survey", title="小调查", points=5, config={"questions": [{"text": "想看什么？", "kind": "text"}]}
    )
    review_task = await tasks.task(kind="review", title="晒评价", points=30, config={})
    listed = (await client.get(base, headers=auth)).json()
    assert [(t["title"], t["state"], t["period_label"]) for t in listed] == [
        ("关注抖音号", "todo", "一次性"),
        ("小调查", "todo", "一次性"),
        ("晒评价", "todo", "一次性"),
    ]
    _refused(await client.post(f"{base}/{follow.id}/claim", json={}, headers=auth), 409, "task_not_met")
    done = await client.post(f"{base}/{follow.id}/claim", json={"confirm": True}, headers=auth)
    assert done.status_code == 200 and done.json()["message"] == "已领取 10 积分"
    _refused(await client.post(f"{base}/{follow.id}/claim", json={"confirm": True}, headers=auth), 409, "task_done")
    _refused(await client.post(f"{base}/{survey.id}/survey", json={"answers": {}}, headers=auth), 422, "bad_survey")
    assert (await client.post(f"{base}/{survey.id}/survey", json={"answers": {"1": "面膜"}}, headers=auth)).is_success

    order = await tasks.order(fan)
    orders = (await client.get(f"{base}/orders", headers=auth)).json()
    assert orders == [{"platform": "taobao", "order_id": order, "label": f"淘宝/天猫 订单 {order}"}]

    def upload(data: bytes, order_id: str = order) -> dict[str, Any]:
        return {
            "data": {"platform": "taobao", "order_id": order_id},
            "files": {"file": ("shot.png", data, "image/png")},
            "headers": auth,
        }

    url = f"{base}/{review_task.id}/reviews"
    _refused(await client.post(url, **upload(b"not a picture" * 10)), 422, "not_an_image")
    _refused(await client.post(url, **upload(png() + b"\0" * (2 * 1024 * 1024))), 422, "image_too_large")
    _refused(await client.post(url, **upload(png(60_000, 60_000, pixels=False))), 422, "image_too_many_pixels")
    _refused(await client.post(url, **upload(png(), "123456")), 422, "order_not_yours")
    assert [p for p in app_dir.rglob("*") if p.is_file()] == []
    sent = await client.post(url, **upload(png()))
    assert sent.status_code == 201 and sent.json()["status_label"] == "审核中"
    assert len([p for p in app_dir.rglob("*") if p.is_file()]) == 1
    mine = (await client.get(f"{base}/reviews", headers=auth)).json()
    assert [(r["order_id"], r["status"]) for r in mine] == [(order, "pending")]
    assert (await client.get(f"{base}/orders", headers=auth)).json() == []  # sent already


async def test_staff_set_tasks_up_and_decide_screenshots_through_the_api(
    client: httpx.AsyncClient, tasks: Tasks, app_dir: Path
) -> None:
    key = await factories.api_key(tasks.session, tasks.owner)
    auth = {"Authorization": f"Bearer {key}"}
    body = {"kind": "review", "title": "晒评价得积分", "points": 30, "period": "weekly", "cap_per_period": 3}
    created = await client.post("/api/v1/tasks", json=body, headers=auth)
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    bad = await client.post("/api/v1/tasks", json={"kind": "survey", "title": "问卷", "points": 5}, headers=auth)
    assert bad.status_code == 422
    changed = await client.put(f"/api/v1/tasks/{task_id}", json=body | {"points": 40}, headers=auth)
    assert changed.json()["points"] == 40
    fan = await tasks.fan()
    order = await tasks.order(fan)
    task = await service.get_task(tasks.session, tenant_id=tasks.tenant_id, task_id=task_id)
    row = await tasks.review(fan, task, order)
    queue = (await client.get("/api/v1/tasks/reviews", headers=auth)).json()
    assert [r["id"] for r in queue] == [row.id]
    image = await client.get(f"/api/v1/tasks/reviews/{row.id}/image", headers=auth)
    assert image.status_code == 200 and image.content == png()
    decision = f"/api/v1/tasks/reviews/{row.id}/decision"
    _refused(await client.post(decision, json={"approve": False}, headers=auth), 422, "reason_required")
    approved = await client.post(decision, json={"approve": True}, headers=auth)
    assert approved.json()["status"] == "approved" and approved.json()["points"] == 40
    _refused(await client.post(decision, json={"approve": True}, headers=auth), 409, "review_decided")
    assert (await ledger.balance(tasks.session, tenant_id=tasks.tenant_id, member_id=fan)).available == 50 + 40
    stats = (await client.get("/api/v1/tasks/stats", headers=auth)).json()
    assert stats == [{"task_id": task_id, "title": "晒评价得积分", "completions": 1, "members": 1, "points": 40}]
    _refused(await client.delete(f"/api/v1/tasks/{task_id}", headers=auth), 409, "task_in_use")


async def test_the_h5_tasks_page_claims_answers_and_takes_screenshots(
    app: FastAPI, client: httpx.AsyncClient, tasks: Tasks, app_dir: Path
) -> None:
    fan = await tasks.fan()
    cookies = await _h5_cookies(app, tasks, fan)
    slug = tasks.tenant.slug
    assert (await client.get(f"/h5/{slug}/tasks")).status_code == 303  # strangers sign in first
    follow = await tasks.task(points=10)
    questions = [
        {"text": "最常在哪下单？", "kind": "choice", "options": ["淘宝", "抖音"]},
        {"text": "想看什么？", "kind": "text"},
    ]
    survey = await tasks.task(kind="survey", title="小调查", points=5, config={"questions": questions})
    review_task = await tasks.task(kind="review", title="晒评价", points=30, config={})
    order = await tasks.order(fan)
    page = await client.get(f"/h5/{slug}/tasks", cookies=cookies)
    assert page.status_code == 200 and "关注抖音号" in page.text and "+10 积分" in page.text and order in page.text
    home = await client.get(f"/h5/{slug}/", cookies=cookies)
    assert f'href="/h5/{slug}/tasks"' in home.text

    done = await client.post(f"/h5/{slug}/tasks/{follow.id}/claim", data={"confirm": "1"}, cookies=cookies)
    assert done.status_code == 200 and "已领取 10 积分" in done.text
    half = await client.post(f"/h5/{slug}/tasks/{survey.id}/survey", data={"q1": "抖音"}, cookies=cookies)
    assert half.status_code == 422 and "请回答第 2 题" in half.text and 'value="抖音" checked' in half.text
    answered = await client.post(
        f"/h5/{slug}/tasks/{survey.id}/survey", data={"q1": "抖音", "q2": "面膜"}, cookies=cookies
    )
    assert "已领取 5 积分" in answered.text

    url = f"/h5/{slug}/tasks/{review_task.id}/reviews"
    bomb = await client.post(
        url,
        data={"order": f"taobao:{order}"},
        files={"image": ("shot.png", png(60_000, 60_000, pixels=False), "image/png")},
        cookies=cookies,
    )
    assert bomb.status_code == 422 and "图片尺寸过大" in bomb.text
    assert [p for p in app_dir.rglob("*") if p.is_file()] == []
    sent = await client.post(
        url, data={"order": f"taobao:{order}"}, files={"image": ("shot.png", png(), "image/png")}, cookies=cookies
    )
    assert sent.status_code == 200 and "评价截图已提交" in sent.text and "审核中" in sent.text
    row = (await service.reviews_of(tasks.session, tenant_id=tasks.tenant_id, member_id=fan))[0]
    own = await client.get(f"/h5/{slug}/tasks/reviews/{row.id}/image", cookies=cookies)
    assert own.status_code == 200 and own.content == png()
    other = await _h5_cookies(app, tasks, await tasks.fan("小满"))
    assert (await client.get(f"/h5/{slug}/tasks/reviews/{row.id}/image", cookies=other)).status_code == 404
    await service.decide(tasks.session, actor=tasks.owner, review_id=row.id, approve=False, reason="截图看不清订单号")
    page = await client.get(f"/h5/{slug}/tasks", cookies=cookies)
    assert "未通过" in page.text and "原因：截图看不清订单号" in page.text


async def test_the_console_edits_tasks_and_works_the_review_queue(
    client: httpx.AsyncClient, tasks: Tasks, app_dir: Path
) -> None:
    owner = await factories.staff_login(tasks.session, tasks.tenant_id)
    kw: dict[str, Any] = {"cookies": owner.cookies, "headers": owner.headers}
    form = {"csrf_token": owner.csrf, "kind": "survey", "title": "直播间小调查", "points": "5", "period": "one_time"}
    refused = await client.post("/console/tasks/new", data=form | {"questions": "只有一个选项 | 甲"}, **kw)
    assert refused.status_code == 422 and "第 1 道题：单选题至少需要两个选项" in refused.text
    assert "直播间小调查" in refused.text  # what she typed is kept
    saved = await client.post(
        "/console/tasks/new", data=form | {"questions": "最常在哪下单？｜淘宝｜抖音\n想看什么？", "enabled": "1"}, **kw
    )
    assert saved.status_code == 303
    task_id = int(saved.headers["location"].split("/")[-1].split("?")[0])
    task = await service.get_task(tasks.session, tenant_id=tasks.tenant_id, task_id=task_id)
    assert task.config["questions"] == [
        {"text": "最常在哪下单？", "kind": "choice", "options": ["淘宝", "抖音"]},
        {"text": "想看什么？", "kind": "text", "options": []},
    ]
    listing = await client.get("/console/tasks", **kw)
    assert listing.status_code == 200 and "直播间小调查" in listing.text and "tasks-chart" in listing.text
    assert 'href="/console/tasks/reviews"' in listing.text

    review_task = await tasks.task(kind="review", title="晒评价", points=30, config={})
    fan = await tasks.fan("小满")
    row = await tasks.review(fan, review_task, await tasks.order(fan))
    queue = await client.get("/console/tasks/reviews", **kw)
    assert queue.status_code == 200 and "小满" in queue.text and f"/console/tasks/reviews/{row.id}/image" in queue.text
    image = await client.get(f"/console/tasks/reviews/{row.id}/image", **kw)
    assert image.status_code == 200 and image.headers["content-type"] == "image/png"
    no_reason = await client.post(
        f"/console/tasks/reviews/{row.id}", data={"csrf_token": owner.csrf, "action": "reject"}, **kw
    )
    assert no_reason.status_code == 422 and "拒绝时请写明原因" in no_reason.text
    approved = await client.post(
        f"/console/tasks/reviews/{row.id}", data={"csrf_token": owner.csrf, "action": "approve"}, **kw
    )
    assert approved.status_code == 303 and approved.headers["location"].endswith("done=approved")
    assert (await ledger.balance(tasks.session, tenant_id=tasks.tenant_id, member_id=fan)).available == 50 + 30
    history = await client.get("/console/tasks/reviews?status=approved", **kw)
    assert "+30 积分" in history.text
