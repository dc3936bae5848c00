"""粉丝心声 on the H5: the wish list with "+1" (the default tab), "下一场想买什么" (category, brand, product, price
range, free text, an optional photo), encore votes on past shows' products, surveys, and the replies she got.

Every form posts plainly (no JavaScript needed); a refusal comes back in words beside what she typed, and stores
nothing."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from siyu.h5.fans import Fan, FanPage, to_sign_in
from siyu.kit import images
from siyu.kit.errors import AppError
from siyu.kit.web import DbSession, ResourceId
from siyu.templating import templates
from siyu.voice import service
from siyu.voice.models import QUESTION_LABELS
from siyu.voice.schemas import CATEGORIES, PRICE_RANGES, DemandIn, WishIn, parse

router = APIRouter()
TABS = (
    ("wishes", "愿望单", ""),
    ("demand", "想买什么", "/demand"),
    ("encore", "返场投票", "/encore"),
    ("surveys", "问卷", "/surveys"),
    ("replies", "回复我的", "/replies"),
)


def _context(fan: FanPage, tab: str, **values: Any) -> dict[str, Any]:
    return {"tenant": fan.tenant, "brand_color": fan.brand_color, "fan": fan.member, "tabs": TABS, "tab": tab, **values}


def _page(request: Request, fan: FanPage, template: str, tab: str, status_code: int = 200, **values: Any) -> Response:
    return templates.TemplateResponse(request, template, _context(fan, tab, **values), status_code=status_code)


def _base(fan: FanPage) -> str:
    return f"/h5/{fan.tenant.slug}/voice"


# Wish list


async def _wishes(
    fan: FanPage,
    request: Request,
    session: DbSession,
    *,
    error: str | None = None,
    done: str | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    assert fan.member is not None
    rows = await service.wish_list(session, tenant_id=fan.tenant.id)
    mine = await service.plused(
        session, tenant_id=fan.tenant.id, member_id=fan.member.id, wish_ids=[w.id for w in rows]
    )
    return _page(
        request,
        fan,
        "h5/voice.html",
        "wishes",
        status_code=status_code,
        wishes=rows,
        plused=mine,
        error=error,
        done=done,
        typed=typed or {},
    )


@router.get("/{slug}/voice", response_class=HTMLResponse)
async def wishes_page(fan: Fan, request: Request, session: DbSession, done: str = "") -> Response:
    if fan.member is None:
        return to_sign_in(fan, _base(fan))
    words = {"wish": "愿望已发布，邀请姐妹们来 +1 吧", "plus": "已 +1"}
    return await _wishes(fan, request, session, done=words.get(done))


@router.post("/{slug}/voice/wishes", response_class=HTMLResponse)
async def add_wish(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, _base(fan))
    form = await request.form()
    typed = {"product": str(form.get("product") or "")[:200], "note": str(form.get("note") or "")[:400]}
    try:
        async with session.begin_nested():
            await service.add_wish(session, tenant_id=fan.tenant.id, member_id=fan.member.id, data=parse(WishIn, typed))
    except AppError as refused:
        return await _wishes(fan, request, session, error=refused.message, typed=typed, status_code=refused.status)
    return RedirectResponse(f"{_base(fan)}?done=wish", status_code=303)


@router.post("/{slug}/voice/wishes/{wish_id}/plus", response_class=HTMLResponse)
async def plus(fan: Fan, request: Request, session: DbSession, wish_id: ResourceId) -> Response:
    if fan.member is None:
        return to_sign_in(fan, _base(fan))
    try:
        async with session.begin_nested():
            await service.plus(session, tenant_id=fan.tenant.id, member_id=fan.member.id, wish_id=wish_id)
    except AppError as refused:
        return await _wishes(fan, request, session, error=refused.message, status_code=refused.status)
    return RedirectResponse(f"{_base(fan)}?done=plus#wish-{wish_id}", status_code=303)


# 下一场想买什么


async def _demand(
    fan: FanPage,
    request: Request,
    session: DbSession,
    *,
    error: str | None = None,
    done: bool = False,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    assert fan.member is not None
    mine = await service.my_demands(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return _page(
        request,
        fan,
        "h5/voice_demand.html",
        "demand",
        status_code=status_code,
        categories=CATEGORIES,
        prices=PRICE_RANGES,
        mine=mine[:10],
        error=error,
        done=done,
        typed=typed or {},
    )


@router.get("/{slug}/voice/demand", response_class=HTMLResponse)
async def demand_page(fan: Fan, request: Request, session: DbSession, done: int = 0) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"{_base(fan)}/demand")
    return await _demand(fan, request, session, done=bool(done))


@router.post("/{slug}/voice/demand", response_class=HTMLResponse)
async def send_demand(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"{_base(fan)}/demand")
    form = await request.form()
    keys = ("category", "brand", "product", "price_range", "text")
    typed = {k: str(form.get(k) or "")[:1000] for k in keys}
    upload = form.get("photo")
    try:
        photo = None
        if isinstance(upload, UploadFile) and upload.filename:
            photo = await upload.read(images.MAX_BYTES + 1)
            if len(photo) > images.MAX_BYTES:
                raise images.ImageTooLarge()
        data = parse(DemandIn, typed)
        async with session.begin_nested():
            await service.submit_demand(
                session,
                tenant_id=fan.tenant.id,
                member_id=fan.member.id,
                data=data,
                timezone=fan.tenant.timezone,
                photo=photo or None,
                data_dir=request.app.state.settings.data_dir,
            )
    except AppError as refused:
        return await _demand(fan, request, session, error=refused.message, typed=typed, status_code=refused.status)
    return RedirectResponse(f"{_base(fan)}/demand?done=1", status_code=303)


@router.get("/{slug}/voice/demand/{demand_id}/photo")
async def demand_photo(fan: Fan, request: Request, session: DbSession, demand_id: ResourceId) -> Response:
    """The photo of one of her own demands (another fan's is not found)."""
    row = await service.get_demand(session, tenant_id=fan.tenant.id, demand_id=demand_id)
    path = service.demand_photo(request.app.state.settings.data_dir, fan.tenant.id, row.photo)
    if fan.member is None or row.member_id != fan.member.id or row.photo is None or path is None:
        raise service.DemandNotFound()
    media_type = images.MEDIA_TYPES[row.photo.rsplit(".", 1)[1]]
    return Response(path.read_bytes(), media_type=media_type, headers={"Cache-Control": "private, max-age=86400"})


# 返场投票


async def _encore(
    fan: FanPage,
    request: Request,
    session: DbSession,
    *,
    error: str | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    assert fan.member is not None
    found = await service.encore_candidates(session, tenant_id=fan.tenant.id)
    voted = await service.encore_voted(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    shows: dict[int, Any] = {}
    for c in found:
        shows.setdefault(c.show.id, {"show": c.show, "products": []})["products"].append(c)
    return _page(
        request,
        fan,
        "h5/voice_encore.html",
        "encore",
        status_code=status_code,
        shows=list(shows.values()),
        voted=voted,
        error=error,
        done=done,
    )


@router.get("/{slug}/voice/encore", response_class=HTMLResponse)
async def encore_page(fan: Fan, request: Request, session: DbSession, done: int = 0) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"{_base(fan)}/encore")
    return await _encore(fan, request, session, done="投票成功，票数够多就安排返场" if done else None)


@router.post("/{slug}/voice/encore/{product_id}", response_class=HTMLResponse)
async def encore_vote(fan: Fan, request: Request, session: DbSession, product_id: ResourceId) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"{_base(fan)}/encore")
    try:
        async with session.begin_nested():
            await service.encore_vote(session, tenant_id=fan.tenant.id, member_id=fan.member.id, product_id=product_id)
    except AppError as refused:
        return await _encore(fan, request, session, error=refused.message, status_code=refused.status)
    return RedirectResponse(f"{_base(fan)}/encore?done=1", status_code=303)


# 问卷


@router.get("/{slug}/voice/surveys", response_class=HTMLResponse)
async def surveys_page(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"{_base(fan)}/surveys")
    rows = await service.surveys(session, tenant_id=fan.tenant.id, open_only=True)
    done = await service.answered(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return _page(request, fan, "h5/voice_surveys.html", "surveys", surveys=rows, answered=done)


async def _survey(
    fan: FanPage,
    request: Request,
    session: DbSession,
    survey_id: int,
    *,
    error: str | None = None,
    done: str | None = None,
    typed: dict[str, Any] | None = None,
    status_code: int = 200,
) -> Response:
    assert fan.member is not None
    row = await service.get_survey(session, tenant_id=fan.tenant.id, survey_id=survey_id)
    answered = row.id in await service.answered(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return _page(
        request,
        fan,
        "h5/voice_survey.html",
        "surveys",
        status_code=status_code,
        survey=row,
        answered=answered,
        error=error,
        done=done,
        typed=typed or {},
        kinds=QUESTION_LABELS,
    )


@router.get("/{slug}/voice/surveys/{survey_id}", response_class=HTMLResponse)
async def survey_page(
    fan: Fan, request: Request, session: DbSession, survey_id: ResourceId, points: int = -1
) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"{_base(fan)}/surveys/{survey_id}")
    done = None if points < 0 else (f"提交成功，{points} 积分已到账" if points else "提交成功，谢谢你的回答")
    return await _survey(fan, request, session, survey_id, done=done)


@router.post("/{slug}/voice/surveys/{survey_id}", response_class=HTMLResponse)
async def answer(fan: Fan, request: Request, session: DbSession, survey_id: ResourceId) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"{_base(fan)}/surveys/{survey_id}")
    form = await request.form()
    multi = {str(k) for k in form.getlist("multi")}  # multiple-choice questions: always a list, even of one
    answers: dict[str, Any] = {}
    for key in {k for k in form if k.startswith("q") and k[1:].isdigit() and len(k) < 4}:
        values = [str(v)[:400] for v in form.getlist(key) if isinstance(v, str)][:10]
        answers[key[1:]] = values if key in multi else (values[0] if values else "")
    try:
        async with session.begin_nested():
            row = await service.answer(
                session, tenant_id=fan.tenant.id, member_id=fan.member.id, survey_id=survey_id, answers=answers
            )
    except AppError as refused:
        return await _survey(
            fan, request, session, survey_id, error=refused.message, typed=answers, status_code=refused.status
        )
    return RedirectResponse(f"{_base(fan)}/surveys/{survey_id}?points={row.points}", status_code=303)


# 回复我的


@router.get("/{slug}/voice/replies", response_class=HTMLResponse)
async def replies_page(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"{_base(fan)}/replies")
    rows = await service.my_replies(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return _page(request, fan, "h5/voice_replies.html", "replies", replies=rows, kinds=service.KIND_LABELS)
