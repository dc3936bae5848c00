"""Fan voice over HTTP: the fan API (wishes, "+1", demands with a photo, encore votes, surveys, replies) with stable
codes and Chinese refusals, the H5 pages (a second "+1" and a bad photo refused in words, nothing stored), the
staff API, and the console (rankings, demands, replies, surveys) where fans' text is escaped and exports start no
formula."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from siyu.fans import service as fans
from siyu.segments import service as segments
from siyu.segments.schemas import SegmentFilter, SegmentIn, TagIn
from siyu.voice import service
from siyu.voice.models import Demand, Wish, WishVote
from siyu.voice.schemas import DemandIn, ReplyIn, SurveyIn, WishIn
from tests.support import factories
from tests.support.fans import h5_cookies
from tests.voice.conftest import PNG, TZ, Voice

SCRIPT = '<script>alert("x")</script>'
FORMULA = '=HYPERLINK("http://x","点我")'


@pytest.fixture
def app_dir(app: FastAPI, tmp_path: Path) -> Path:
    app.state.settings = app.state.settings.model_copy(update={"data_dir": tmp_path})
    return tmp_path


def _refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body
    return body


async def _count(voice: Voice, model: type) -> int:
    statement = select(func.count()).select_from(model).where(model.tenant_id == voice.tenant_id)
    return int(await voice.session.scalar(statement) or 0)


async def _bearer(app: FastAPI, voice: Voice, member_id: int) -> dict[str, str]:
    tokens = await fans.issue_tokens(
        voice.session, secret=app.state.settings.secret_key, tenant_id=voice.tenant_id, member_id=member_id
    )
    return {"Authorization": f"Bearer {tokens.access_token}"}


async def test_the_fan_api_does_every_action_once_and_refuses_in_words(
    app: FastAPI, client: httpx.AsyncClient, voice: Voice, app_dir: Path
) -> None:
    maker, fan = await voice.fan("许愿人"), await voice.fan("小鱼")
    auth, maker_auth = await _bearer(app, voice, fan), await _bearer(app, voice, maker)
    base = f"/api/v1/fan/{voice.tenant.slug}/voice"
    made = await client.post(f"{base}/wishes", json={"product": "羊绒围巾", "note": "驼色"}, headers=maker_auth)
    assert made.status_code == 201 and made.json()["mine"] is True
    wish_id = made.json()["id"]
    _refused(await client.post(f"{base}/wishes", json={"product": " "}, headers=auth), 422, "invalid_request")
    assert (await client.post(f"{base}/wishes/{wish_id}/plus", headers=auth)).json()["plus_count"] == 1
    _refused(await client.post(f"{base}/wishes/{wish_id}/plus", headers=auth), 409, "already_plused")
    _refused(await client.post(f"{base}/wishes/{wish_id}/plus", headers=maker_auth), 409, "own_wish")
    listed = (await client.get(f"{base}/wishes", headers=auth)).json()
    assert [(w["product"], w["plus_count"], w["plused"], w["mine"]) for w in listed] == [("羊绒围巾", 1, True, False)]

    form = {"category": "美妆护肤", "product": "双抗精华", "brand": "珀莱雅", "price_range": "100–300 元"}
    sent = await client.post(f"{base}/demands", data=form, files={"photo": ("p.png", PNG, "image/png")}, headers=auth)
    assert sent.status_code == 201 and sent.json()["has_photo"] is True, sent.text
    _refused(
        await client.post(
            f"{base}/demands", data=form, files={"photo": ("p.png", b"GIF? no" * 4, "image/png")}, headers=auth
        ),
        422,
        "not_an_image",
    )
    big = PNG + b"\0" * (2 * 1024 * 1024)
    _refused(
        await client.post(f"{base}/demands", data=form, files={"photo": ("p.png", big, "image/png")}, headers=auth),
        422,
        "image_too_large",
    )
    long = _refused(
        await client.post(f"{base}/demands", data=form | {"product": "精" * 61}, headers=auth),
        422,
        "invalid_voice_input",
    )
    assert long["message"] == "商品不能超过 60 字"
    assert await _count(voice, Demand) == 1
    assert [d["product"] for d in (await client.get(f"{base}/demands", headers=auth)).json()] == ["双抗精华"]

    _show, (serum,) = await voice.aired("修护精华")
    products = (await client.get(f"{base}/encore", headers=auth)).json()
    assert [(p["title"], p["votes"], p["voted"]) for p in products] == [("修护精华", 0, False)]
    assert (await client.post(f"{base}/encore/{serum.id}", headers=auth)).json()["votes"] == 1
    _refused(await client.post(f"{base}/encore/{serum.id}", headers=auth), 409, "already_voted")
    _refused(await client.post(f"{base}/encore/123", headers=auth), 404, "encore_product_not_found")

    survey = await service.create_survey(
        voice.session,
        actor=voice.owner,
        data=SurveyIn(title="调查", points=5, questions=[{"text": "打分", "kind": "rating"}]),
    )
    assert [s["answered"] for s in (await client.get(f"{base}/surveys", headers=auth)).json()] == [False]
    bad = _refused(
        await client.post(f"{base}/surveys/{survey.id}/answers", json={"answers": {"1": 7}}, headers=auth),
        422,
        "bad_answers",
    )
    assert bad["message"] == "第 1 题请打 1 到 5 分"
    done = await client.post(f"{base}/surveys/{survey.id}/answers", json={"answers": {"1": 4}}, headers=auth)
    assert done.json() == {"survey_id": survey.id, "points": 5, "message": "提交成功，5 积分已到账"}
    _refused(
        await client.post(f"{base}/surveys/{survey.id}/answers", json={"answers": {"1": 4}}, headers=auth),
        409,
        "already_answered",
    )
    assert (await client.get(f"{base}/surveys/{survey.id}", headers=auth)).json()["answered"] is True

    await service.reply_wish(
        voice.session, actor=voice.owner, wish_id=wish_id, data=ReplyIn(reply="已安排在 12月8日 直播")
    )
    replies = (await client.get(f"{base}/replies", headers=auth)).json()
    assert [(r["kind_label"], r["subject"], r["reply"]) for r in replies] == [
        ("愿望", "羊绒围巾", "已安排在 12月8日 直播")
    ]


async def test_the_h5_wish_list_plus_one_demand_encore_and_survey(
    app: FastAPI, client: httpx.AsyncClient, voice: Voice, app_dir: Path
) -> None:
    maker, fan = await voice.fan("许愿人"), await voice.fan("小鱼")
    cookies = await h5_cookies(app, voice.session, voice.tenant, fan)
    base = f"/h5/{voice.tenant.slug}/voice"
    assert (await client.get(base)).status_code == 303  # signed out: to sign-in
    wish = await service.add_wish(
        voice.session, tenant_id=voice.tenant_id, member_id=maker, data=WishIn(product=SCRIPT)
    )
    page = await client.get(base, cookies=cookies)
    assert page.status_code == 200 and SCRIPT not in page.text and "&lt;script&gt;" in page.text
    assert (await client.post(f"{base}/wishes/{wish.id}/plus", cookies=cookies)).status_code == 303
    again = await client.post(f"{base}/wishes/{wish.id}/plus", cookies=cookies)
    assert again.status_code == 409 and "你已经 +1 过这个愿望了" in again.text
    assert await _count(voice, WishVote) == 1
    empty = await client.post(f"{base}/wishes", data={"product": "", "note": "想要"}, cookies=cookies)
    assert empty.status_code == 422 and "请填写商品" in empty.text and "想要" in empty.text
    assert await _count(voice, Wish) == 1
    made = await client.post(f"{base}/wishes", data={"product": "蜂蜜柚子茶"}, cookies=cookies)
    assert (
        made.status_code == 303 and "愿望已发布" in (await client.get(made.headers["location"], cookies=cookies)).text
    )

    form = {"category": "美妆护肤", "product": "双抗精华", "text": "上次没抢到"}
    bad = await client.post(
        f"{base}/demand", data=form, files={"photo": ("x.png", b"not an image, honest", "image/png")}, cookies=cookies
    )
    assert bad.status_code == 422 and "请上传 JPG、PNG、GIF 或 WebP 格式的图片" in bad.text and "上次没抢到" in bad.text
    assert await _count(voice, Demand) == 0 and not any(p.is_file() for p in app_dir.rglob("*"))
    sent = await client.post(f"{base}/demand", data=form, files={"photo": ("x.png", PNG, "image/png")}, cookies=cookies)
    assert sent.status_code == 303
    demand = (await service.my_demands(voice.session, tenant_id=voice.tenant_id, member_id=fan))[0]
    photo = await client.get(f"{base}/demand/{demand.id}/photo", cookies=cookies)
    assert photo.status_code == 200 and photo.content == PNG
    other = await h5_cookies(app, voice.session, voice.tenant, maker)
    assert (await client.get(f"{base}/demand/{demand.id}/photo", cookies=other)).status_code == 404

    _show, (serum,) = await voice.aired("修护精华")
    assert "想要返场" in (await client.get(f"{base}/encore", cookies=cookies)).text
    assert (await client.post(f"{base}/encore/{serum.id}", cookies=cookies)).status_code == 303
    twice = await client.post(f"{base}/encore/{serum.id}", cookies=cookies)
    assert twice.status_code == 409 and "你已经为这个商品投过返场票了" in twice.text

    survey = await service.create_survey(
        voice.session,
        actor=voice.owner,
        data=SurveyIn(
            title="调查",
            points=5,
            questions=[
                {"text": "时间", "kind": "multiple", "options": ["中午", "晚上"]},
                {"text": "打分", "kind": "rating"},
            ],
        ),
    )
    missing = await client.post(f"{base}/surveys/{survey.id}", data={"multi": "q1", "q2": "4"}, cookies=cookies)
    assert missing.status_code == 422 and "请回答第 1 题" in missing.text
    answered = await client.post(
        f"{base}/surveys/{survey.id}", data={"multi": "q1", "q1": "晚上", "q2": "4"}, cookies=cookies
    )
    assert answered.status_code == 303
    assert "5 积分已到账" in (await client.get(answered.headers["location"], cookies=cookies)).text
    assert "已填写" in (await client.get(f"{base}/surveys", cookies=cookies)).text
    await service.reply_demand(
        voice.session, actor=voice.owner, demand_id=demand.id, data=ReplyIn(reply="已安排在 12月8日 直播")
    )
    assert "已安排在 12月8日 直播" in (await client.get(f"{base}/replies", cookies=cookies)).text


async def test_the_console_escapes_fans_text_replies_and_exports_without_formulas(
    client: httpx.AsyncClient, voice: Voice, app_dir: Path
) -> None:
    owner = await factories.staff_login(voice.session, voice.tenant_id)
    kw: dict[str, Any] = {"cookies": owner.cookies, "headers": owner.headers}
    maker, fan = await voice.fan(SCRIPT), await voice.fan("小鱼")
    wish = await service.add_wish(
        voice.session, tenant_id=voice.tenant_id, member_id=maker, data=WishIn(product=SCRIPT)
    )
    await service.add_wish(voice.session, tenant_id=voice.tenant_id, member_id=fan, data=WishIn(product=FORMULA))
    demand = await service.submit_demand(
        voice.session,
        tenant_id=voice.tenant_id,
        member_id=fan,
        data=DemandIn(category="其他", product=FORMULA, text=SCRIPT),
        timezone=TZ,
    )
    page = await client.get("/console/voice", **kw)
    assert page.status_code == 200 and SCRIPT not in page.text and "&lt;script&gt;" in page.text
    assert 'id="voice-segment"' not in page.text  # no saved segment yet: no picker
    tag = await segments.create_tag(voice.session, actor=voice.owner, data=TagIn(name="种草达人"))
    await segments.add_tag(voice.session, actor=voice.owner, tag_id=tag.id, member_ids=[fan])
    chosen = await segments.create_segment(
        voice.session, actor=voice.owner, data=SegmentIn(name="种草达人", filter=SegmentFilter(tags_any=[tag.id]))
    )
    narrowed = await client.get(f"/console/voice?segment={chosen.id}", **kw)
    assert narrowed.status_code == 200 and f'value="{chosen.id}" selected' in narrowed.text
    assert "分群：种草达人" in narrowed.text and f"/console/voice/wishes/export?segment={chosen.id}" in narrowed.text
    assert "&lt;script&gt;" not in narrowed.text  # the maker of that wish is not in the segment
    for path in ("/console/voice", "/console/voice/demands"):  # a filter form sends the selects left at "all" empty
        assert (await client.get(f"{path}?tier=&segment=&week=&category=", **kw)).status_code == 200, path
    assert "voice-wish-chart" in page.text and "voice-demand-chart" in page.text and "voice-encore-chart" in page.text
    demands = await client.get("/console/voice/demands", **kw)
    assert demands.status_code == 200 and SCRIPT not in demands.text
    empty = await client.post(
        f"/console/voice/wishes/{wish.id}/reply", data={"csrf_token": owner.csrf, "reply": " "}, **kw
    )
    assert empty.status_code == 422 and "请填写回复" in empty.text
    replied = await client.post(
        f"/console/voice/wishes/{wish.id}/reply",
        data={"csrf_token": owner.csrf, "reply": "已安排在 12月8日 直播"},
        **kw,
    )
    assert replied.status_code == 303
    await voice.session.refresh(wish)
    assert wish.reply == "已安排在 12月8日 直播"
    assert (
        await client.post(
            f"/console/voice/demands/{demand.id}/reply", data={"csrf_token": owner.csrf, "reply": "下周安排"}, **kw
        )
    ).status_code == 303
    for path in ("/console/voice/wishes/export", "/console/voice/demands/export"):
        exported = await client.get(path, **kw)
        assert exported.status_code == 200
        with zipfile.ZipFile(io.BytesIO(exported.content)) as book:
            text = "".join(book.read(n).decode() for n in book.namelist() if n.startswith("xl/") and n.endswith(".xml"))
        assert "'=HYPERLINK" in text and ">=HYPERLINK" not in text, path

    refused = await client.post(
        "/console/voice/surveys",
        data={"csrf_token": owner.csrf, "title": "调查", "questions": "喜欢什么 | 护肤", "points": "5"},
        **kw,
    )
    assert refused.status_code == 422 and "选择题至少需要两个选项" in refused.text and "喜欢什么" in refused.text
    created = await client.post(
        "/console/voice/surveys",
        data={
            "csrf_token": owner.csrf,
            "title": "调查",
            "questions": "喜欢什么 | 护肤 | 彩妆\n多选：什么时候看 | 中午 | 晚上\n评分：上一场几分\n填空：想说什么",
            "points": "5",
        },
        **kw,
    )
    assert created.status_code == 303, created.text
    survey_id = int(created.headers["location"].split("/")[-1].split("?")[0])
    survey = await service.get_survey(voice.session, tenant_id=voice.tenant_id, survey_id=survey_id)
    assert [q["kind"] for q in survey.questions] == ["single", "multiple", "rating", "text"]
    await service.answer(
        voice.session,
        tenant_id=voice.tenant_id,
        member_id=fan,
        survey_id=survey_id,
        answers={"1": "护肤", "2": ["晚上"], "3": 5, "4": FORMULA},
    )
    shown = await client.get(f"/console/voice/surveys/{survey_id}", **kw)
    assert shown.status_code == 200 and "平均分" in shown.text
    exported = await client.get(f"/console/voice/surveys/{survey_id}/export", **kw)
    with zipfile.ZipFile(io.BytesIO(exported.content)) as book:
        text = "".join(book.read(n).decode() for n in book.namelist() if n.startswith("xl/") and n.endswith(".xml"))
    assert "'=HYPERLINK" in text and "晚上" in text
    assert (
        await client.post(f"/console/voice/surveys/{survey_id}/close", data={"csrf_token": owner.csrf}, **kw)
    ).status_code == 303


async def test_the_staff_api_ranks_and_replies_with_permissions(client: httpx.AsyncClient, voice: Voice) -> None:
    reader = await factories.api_key(voice.session, voice.owner, ["members.read"])
    writer = await factories.api_key(voice.session, voice.owner, ["members.read", "members.write"])
    fans_ = [await voice.fan(f"粉丝{n}") for n in range(3)]
    a = await service.add_wish(
        voice.session, tenant_id=voice.tenant_id, member_id=fans_[0], data=WishIn(product="SK-II 神仙水")
    )
    b = await service.add_wish(
        voice.session, tenant_id=voice.tenant_id, member_id=fans_[1], data=WishIn(product="sk2神仙水")
    )
    await service.plus(voice.session, tenant_id=voice.tenant_id, member_id=fans_[2], wish_id=a.id)
    ranked = (await client.get("/api/v1/voice/wishes", headers={"Authorization": f"Bearer {reader}"})).json()
    assert [(w["id"], w["similar"]) for w in ranked] == [(a.id, [b.id]), (b.id, [a.id])]
    body = {"reply": "已安排在 12月8日 直播"}
    denied = await client.post(
        f"/api/v1/voice/wishes/{a.id}/reply", json=body, headers={"Authorization": f"Bearer {reader}"}
    )
    assert denied.status_code == 403
    done = await client.post(
        f"/api/v1/voice/wishes/{a.id}/reply", json=body, headers={"Authorization": f"Bearer {writer}"}
    )
    assert done.status_code == 200 and done.json()["reply"] == body["reply"]
    _refused(
        await client.post(
            f"/api/v1/voice/wishes/{a.id}/reply", json={"reply": ""}, headers={"Authorization": f"Bearer {writer}"}
        ),
        422,
        "invalid_request",
    )
    categories = await client.get("/api/v1/voice/demands/categories", headers={"Authorization": f"Bearer {reader}"})
    assert categories.status_code == 200 and categories.json() == []

    # only the "+1"s and wishes of a saved segment's members (fan 2, tagged); an unknown segment is refused
    tag = await segments.create_tag(voice.session, actor=voice.owner, data=TagIn(name="种草达人"))
    await segments.add_tag(voice.session, actor=voice.owner, tag_id=tag.id, member_ids=[fans_[2]])
    chosen = await segments.create_segment(
        voice.session, actor=voice.owner, data=SegmentIn(name="种草达人", filter=SegmentFilter(tags_any=[tag.id]))
    )
    auth = {"Authorization": f"Bearer {reader}"}
    narrowed = (await client.get(f"/api/v1/voice/wishes?segment_id={chosen.id}", headers=auth)).json()
    assert [(w["id"], w["plus_count"]) for w in narrowed] == [(a.id, 1)]
    _refused(await client.get("/api/v1/voice/wishes?segment_id=1", headers=auth), 404, "segment_not_found")
