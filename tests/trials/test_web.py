"""Product trials over HTTP: the fan API (list, one trial with what would refuse her, apply, mine, the published
draw, her report), the staff API, the H5 pages (apply with an address and answers, refusals beside what she typed,
her trials, the report form) and the console (editor, applications and their export, the draw page, reports)."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from siyu.fans import service as fans
from siyu.kit.time import to_local, utcnow
from siyu.trials import rules, service
from siyu.trials.schemas import DrawIn
from tests.engagement.missions.conftest import png
from tests.support import factories
from tests.support.fans import h5_cookies
from tests.trials.conftest import ADDRESS, Trials


@pytest.fixture
def app_dir(app: FastAPI, tmp_path: Path) -> Path:
    app.state.settings = app.state.settings.model_copy(update={"data_dir": tmp_path})
    return tmp_path


def _refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body


async def _auth(app: FastAPI, trials: Trials, member_id: int) -> dict[str, str]:
    tokens = await fans.issue_tokens(
        trials.session, secret=app.state.settings.secret_key, tenant_id=trials.tenant_id, member_id=member_id
    )
    return {"Authorization": f"Bearer {tokens.access_token}"}


async def test_a_fan_applies_draws_and_reports_through_the_api(
    app: FastAPI, client: httpx.AsyncClient, trials: Trials, app_dir: Path
) -> None:
    trial = await trials.trial(quota=1, points_cost=30)
    rich, poor = await trials.fan(points=100), await trials.fan(points=10)
    base = f"/api/v1/fan/{trials.tenant.slug}/trials"
    auth = await _auth(app, trials, rich)
    listed = (await client.get(base, headers=auth)).json()
    assert [t["id"] for t in listed] == [trial.id] and listed[0]["can_apply"] is True
    body = {"address": ADDRESS, "answers": ["油性肌"]}
    _refused(
        await client.post(f"{base}/{trial.id}/apply", json={"address": ADDRESS}, headers=auth),
        422,
        "trial_answers_missing",
    )
    assert (await client.post(f"{base}/{trial.id}/apply", json=body, headers=auth)).status_code == 201
    _refused(await client.post(f"{base}/{trial.id}/apply", json=body, headers=auth), 409, "trial_already_applied")
    poor_auth = await _auth(app, trials, poor)
    assert "还差 20 积分" in (await client.get(f"{base}/{trial.id}", headers=poor_auth)).json()["refusal"]
    _refused(
        await client.post(f"{base}/{trial.id}/apply", json=body, headers=poor_auth), 409, "trial_insufficient_points"
    )
    mine = (await client.get(f"{base}/mine", headers=auth)).json()
    assert mine[0]["status_label"] == "待开奖" and mine[0]["points_cost"] == 30
    await trials.close(trial)
    await service.publish_seed(trials.session, actor=trials.owner, trial_id=trial.id)
    await service.draw(trials.session, actor=trials.owner, trial_id=trial.id, data=DrawIn())
    draw = (await client.get(f"{base}/{trial.id}/draw", headers=poor_auth)).json()
    assert draw["winners"] == [1] and draw["seed"] and "SHA-256" in draw["algorithm"]
    assert [d.number for d in rules.draw(draw["seed"], [e["weight"] for e in draw["entries"]], draw["quota"])] == [1]
    _refused(
        await client.post(f"{base}/{trial.id}/report", data={"text": "很好用的精华液，推荐给大家"}, headers=poor_auth),
        403,
        "trial_not_a_winner",
    )
    many = [("photos", (f"{n}.png", png(), "image/png")) for n in range(20)]
    _refused(
        await client.post(
            f"{base}/{trial.id}/report", data={"text": "很好用的精华液，推荐给大家"}, files=many, headers=auth
        ),
        422,
        "trial_too_many_photos",
    )
    done = await client.post(
        f"{base}/{trial.id}/report",
        data={"text": "很好用的精华液，推荐给大家"},
        files=[("photos", ("a.png", png(), "image/png"))],
        headers=auth,
    )
    assert done.status_code == 201 and done.json()["photos"] == 1


async def test_staff_create_a_trial_and_draw_through_the_api(client: httpx.AsyncClient, trials: Trials) -> None:
    key = await factories.api_key(trials.session, trials.owner)
    auth = {"Authorization": f"Bearer {key}"}
    now = utcnow()
    body: dict[str, Any] = {
        "title": "面霜",
        "quota": 2,
        "apply_from": (now + timedelta(hours=1)).isoformat(),
        "apply_until": now.isoformat(),
    }
    refused = await client.post("/api/v1/trials", json=body, headers=auth)
    assert refused.status_code == 422
    created = await client.post(
        "/api/v1/trials", json=body | {"apply_until": (now + timedelta(days=1)).isoformat()}, headers=auth
    )
    assert created.status_code == 201, created.text
    trial_id = created.json()["id"]
    _refused(await client.post(f"/api/v1/trials/{trial_id}/seed", headers=auth), 409, "trial_still_open")
    assert (await client.get(f"/api/v1/trials/{trial_id}/applications", headers=auth)).json() == []
    assert (await client.get("/api/v1/trials/settings", headers=auth)).json()["penalty"] == "bar"


async def test_the_h5_application_with_an_address_and_answers(
    app: FastAPI, client: httpx.AsyncClient, trials: Trials
) -> None:
    trial = await trials.trial(points_cost=20)
    fan = await trials.fan(points=50, nickname="小鱼")
    slug = trials.tenant.slug
    anonymous = await client.get(f"/h5/{slug}/trials")
    assert anonymous.status_code == 200 and trial.title in anonymous.text
    cookies = await h5_cookies(app, trials.session, trials.tenant, fan)
    assert "新品试用" in (await client.get(f"/h5/{slug}/", cookies=cookies)).text
    page = await client.get(f"/h5/{slug}/trials/{trial.id}", cookies=cookies)
    assert page.status_code == 200 and "你的肤质是？" in page.text and "用 20 积分申请" in page.text
    bad = {
        "name": "林小鱼",
        "phone": "138",
        "region": ADDRESS["region"],
        "detail": ADDRESS["detail"],
        "answer_0": "干皮",
    }
    refused = await client.post(f"/h5/{slug}/trials/{trial.id}/apply", data=bad, cookies=cookies)
    assert refused.status_code == 422 and "手机号" in refused.text and "干皮" in refused.text
    no_answer = {**ADDRESS, "answer_0": ""}
    refused = await client.post(f"/h5/{slug}/trials/{trial.id}/apply", data=no_answer, cookies=cookies)
    assert refused.status_code == 422 and "请回答所有问题" in refused.text and "文三路 1 号" in refused.text
    assert (
        await service.application_of(trials.session, tenant_id=trials.tenant_id, trial_id=trial.id, member_id=fan)
        is None
    )
    done = await client.post(
        f"/h5/{slug}/trials/{trial.id}/apply", data={**ADDRESS, "answer_0": "干皮"}, cookies=cookies
    )
    assert done.status_code == 303
    assert "已申请，等待抽选" in (await client.get(f"/h5/{slug}/trials/{trial.id}", cookies=cookies)).text
    mine = await client.get(f"/h5/{slug}/trials/mine", cookies=cookies)
    assert "待开奖" in mine.text and "20 积分" in mine.text
    report = await client.get(f"/h5/{slug}/trials/{trial.id}/report", cookies=cookies)
    assert "只有中选的试用者才能提交试用报告" in report.text


async def test_the_console_creates_draws_exports_and_reviews(
    client: httpx.AsyncClient, trials: Trials, app_dir: Path
) -> None:
    owner = await factories.staff_login(trials.session, trials.tenant_id)
    kw: dict[str, Any] = {"cookies": owner.cookies, "headers": owner.headers}
    tz = trials.tenant.timezone
    start = to_local(utcnow() - timedelta(hours=1), tz).replace(second=0, microsecond=0)
    form = {
        "csrf_token": owner.csrf,
        "title": "精华液",
        "value": "199",
        "quota": "2",
        "apply_from": start.strftime("%Y-%m-%dT%H:%M"),
        "apply_until": (start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "questions": "你的肤质是？",
        "penalty": "bar",
        "report_days": "7",
        "bar_days": "90",
    }
    refused = await client.post("/console/trials/new", data=form, **kw)
    assert (
        refused.status_code == 422 and "申请截止时间要晚于开始时间" in refused.text and "你的肤质是？" in refused.text
    )
    saved = await client.post(
        "/console/trials/new", data=form | {"apply_until": (start + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")}, **kw
    )
    assert saved.status_code == 303, saved.text
    trial_id = int(saved.headers["location"].split("/")[-1].split("?")[0])
    trial = await service.get_trial(trials.session, tenant_id=trials.tenant_id, trial_id=trial_id)
    for n in range(3):
        fan = await trials.fan(nickname='=HYPERLINK("x")' if n == 0 else f"粉丝{n}")
        await trials.apply(trial, fan, answers=["@SUM(1)"])
    listing = await client.get(f"/console/trials/{trial_id}/applications", **kw)
    assert listing.status_code == 200 and "文三路 1 号" in listing.text
    exported = await client.get(f"/console/trials/{trial_id}/applications/export?fmt=xlsx", **kw)
    with zipfile.ZipFile(io.BytesIO(exported.content)) as book:
        strings = book.read("xl/sharedStrings.xml").decode() if "xl/sharedStrings.xml" in book.namelist() else ""
        sheet = book.read("xl/worksheets/sheet1.xml").decode()
    assert "'=HYPERLINK" in strings + sheet and "'@SUM" in strings + sheet
    csv = await client.get(f"/console/trials/{trial_id}/applications/export?fmt=csv", **kw)
    assert "'=HYPERLINK" in csv.text
    draw_page = await client.get(f"/console/trials/{trial_id}/draw", **kw)
    assert "申请截止" in draw_page.text and 'id="publish-seed"' not in draw_page.text
    await trials.close(trial)
    seeded = await client.post(f"/console/trials/{trial_id}/seed", data={"csrf_token": owner.csrf}, **kw)
    assert seeded.status_code == 303
    trial = await service.get_trial(trials.session, tenant_id=trials.tenant_id, trial_id=trial_id)
    page = await client.get(f"/console/trials/{trial_id}/draw", **kw)
    assert trial.seed and trial.seed in page.text and 'id="run-draw"' in page.text
    wrong = await client.post(
        f"/console/trials/{trial_id}/draw", data={"csrf_token": owner.csrf, "method": "manual"}, **kw
    )
    assert wrong.status_code == 422 and "请正好挑选 2 人" in wrong.text
    drawn = await client.post(
        f"/console/trials/{trial_id}/draw", data={"csrf_token": owner.csrf, "method": "random"}, **kw
    )
    assert drawn.status_code == 303
    again = await client.post(
        f"/console/trials/{trial_id}/draw", data={"csrf_token": owner.csrf, "method": "random"}, **kw
    )
    assert again.status_code == 409 and "已经抽选过了" in again.text
    result = await client.get(f"/console/trials/{trial_id}/draw", **kw)
    assert "中选编号" in result.text and "hashlib" in result.text
    assert (await client.get(f"/console/trials/{trial_id}/reports", **kw)).status_code == 200
    assert (await client.get("/console/trials", **kw)).status_code == 200
