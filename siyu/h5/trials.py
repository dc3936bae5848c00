"""新品试用 on the H5: the trials, one trial (what it asks, whether she may apply and why not), applying with an
address (a saved one or a new one, as the mall takes them) and the questionnaire, the published draw (seed,
numbered list, winners), her trials with their status, and the report form (text and photos)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from siyu.h5.fans import Fan, FanPage, to_sign_in
from siyu.h5.mall import _address_choice
from siyu.kit import images
from siyu.kit.errors import AppError
from siyu.kit.web import DbSession, ResourceId
from siyu.ledger import service as ledger
from siyu.mall import service as mall
from siyu.templating import templates
from siyu.trials import service
from siyu.trials.api import draw_out, my_trials
from siyu.trials.models import Trial
from siyu.trials.schemas import ApplyIn

router = APIRouter()


def _render(fan: FanPage, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {
            "tenant": fan.tenant,
            "brand_color": fan.brand_color,
            "fan": fan.member,
            "status_label": service.status_label,
            "app_status_label": service.app_status_label,
            "is_open": service.is_open,
            **context,
        },
        status_code=status_code,
    )


@router.get("/{slug}/trials", response_class=HTMLResponse)
async def trial_list(fan: Fan, request: Request, session: DbSession) -> Response:
    rows = (await service.list_trials(session, tenant_id=fan.tenant.id))[:50]
    counts = await service.application_counts(session, tenant_id=fan.tenant.id, trial_ids=[r.id for r in rows])
    return _render(fan, request, "h5/trials.html", trials=rows, counts=counts)


@router.get("/{slug}/trials/mine", response_class=HTMLResponse)
async def mine(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/trials/mine")
    return _render(fan, request, "h5/trials_mine.html", rows=await my_trials(session, fan.tenant.id, fan.member.id))


async def _trial_page(
    fan: FanPage,
    request: Request,
    session: DbSession,
    trial: Trial,
    *,
    error: str | None = None,
    values: dict[str, str] | None = None,
    answers: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = fan.tenant.id
    mine = refused = points = None
    addresses: list[Any] = []
    if fan.member is not None:
        mine = await service.application_of(session, tenant_id=tenant_id, trial_id=trial.id, member_id=fan.member.id)
        if mine is None:
            refused = await service.refusal(session, trial=trial, member_id=fan.member.id)
            addresses = await mall.addresses(session, tenant_id=tenant_id, member_id=fan.member.id)
        points = await ledger.balance(session, tenant_id=tenant_id, member_id=fan.member.id)
    counts = await service.application_counts(session, tenant_id=tenant_id, trial_ids=[trial.id])
    return _render(
        fan,
        request,
        "h5/trial.html",
        status_code=status_code,
        trial=trial,
        mine=mine,
        refused=refused,
        points=points,
        addresses=addresses,
        values=values or {},
        answers=answers or [],
        error=error,
        applications=counts.get(trial.id, 0),
    )


@router.get("/{slug}/trials/{trial_id}", response_class=HTMLResponse)
async def trial_page(fan: Fan, request: Request, session: DbSession, trial_id: ResourceId) -> Response:
    trial = await service.get_trial(session, tenant_id=fan.tenant.id, trial_id=trial_id)
    return await _trial_page(fan, request, session, trial)


@router.post("/{slug}/trials/{trial_id}/apply", response_class=HTMLResponse)
async def apply(fan: Fan, request: Request, session: DbSession, trial_id: ResourceId) -> Response:
    trial = await service.get_trial(session, tenant_id=fan.tenant.id, trial_id=trial_id)
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/trials/{trial_id}")
    form = await request.form()
    answers = [str(form.get(f"answer_{n}") or "").strip()[:200] for n in range(len(trial.questions or []))]
    choice = _address_choice(form)
    if choice.problem:
        return await _trial_page(
            fan, request, session, trial, error=choice.problem, values=choice.values, answers=answers, status_code=422
        )
    try:
        async with session.begin_nested():
            await service.apply(
                session,
                tenant_id=fan.tenant.id,
                member_id=fan.member.id,
                trial_id=trial.id,
                data=ApplyIn(address_id=choice.address_id, address=choice.new, answers=answers),
            )
    except AppError as refused:
        return await _trial_page(
            fan,
            request,
            session,
            trial,
            error=refused.message,
            values=choice.values,
            answers=answers,
            status_code=refused.status,
        )
    return RedirectResponse(f"/h5/{fan.tenant.slug}/trials/{trial_id}?applied=1", status_code=303)


@router.get("/{slug}/trials/{trial_id}/draw", response_class=HTMLResponse)
async def draw_page(fan: Fan, request: Request, session: DbSession, trial_id: ResourceId) -> Response:
    trial = await service.get_trial(session, tenant_id=fan.tenant.id, trial_id=trial_id)
    return _render(fan, request, "h5/trial_draw.html", trial=trial, draw=await draw_out(session, trial))


async def _report_page(
    fan: FanPage,
    request: Request,
    session: DbSession,
    trial: Trial,
    *,
    error: str | None = None,
    text: str = "",
    status_code: int = 200,
) -> HTMLResponse:
    assert fan.member is not None
    mine = await service.application_of(session, tenant_id=fan.tenant.id, trial_id=trial.id, member_id=fan.member.id)
    report = None if mine is None else await service.report_of(session, tenant_id=fan.tenant.id, application_id=mine.id)
    return _render(
        fan,
        request,
        "h5/trial_report.html",
        status_code=status_code,
        trial=trial,
        mine=mine,
        report=report,
        error=error,
        text=text,
        max_photos=service.MAX_PHOTOS,
    )


@router.get("/{slug}/trials/{trial_id}/report", response_class=HTMLResponse)
async def report_form(fan: Fan, request: Request, session: DbSession, trial_id: ResourceId) -> Response:
    trial = await service.get_trial(session, tenant_id=fan.tenant.id, trial_id=trial_id)
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/trials/{trial_id}/report")
    return await _report_page(fan, request, session, trial)


@router.post("/{slug}/trials/{trial_id}/report", response_class=HTMLResponse)
async def submit_report(fan: Fan, request: Request, session: DbSession, trial_id: ResourceId) -> Response:
    trial = await service.get_trial(session, tenant_id=fan.tenant.id, trial_id=trial_id)
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/trials/{trial_id}/report")
    form = await request.form(max_files=service.MAX_PHOTOS * 3)
    text = str(form.get("text") or "")[:4000]
    uploads = [f for f in form.getlist("photos") if isinstance(f, UploadFile) and f.filename]
    try:
        if len(uploads) > service.MAX_PHOTOS:
            raise service.TooManyPhotos()
        photos = []
        for upload in uploads:
            data = await upload.read(images.MAX_BYTES + 1)
            if len(data) > images.MAX_BYTES:
                raise images.ImageTooLarge()
            photos.append(data)
        async with session.begin_nested():
            await service.submit_report(
                session,
                tenant_id=fan.tenant.id,
                member_id=fan.member.id,
                trial_id=trial.id,
                text=text,
                photos=photos,
                data_dir=request.app.state.settings.data_dir,
            )
    except AppError as refused:
        return await _report_page(
            fan, request, session, trial, error=refused.message, text=text, status_code=refused.status
        )
    return RedirectResponse(f"/h5/{fan.tenant.slug}/trials/mine?reported=1", status_code=303)


@router.get("/{slug}/trials/{trial_id}/image")
async def image(fan: Fan, request: Request, session: DbSession, trial_id: ResourceId) -> Response:
    trial = await service.get_trial(session, tenant_id=fan.tenant.id, trial_id=trial_id)
    path = service.image_path(request.app.state.settings.data_dir, fan.tenant.id, trial.image)
    if trial.image is None or path is None:
        raise service.TrialNotFound("图片已不存在")
    media_type = images.MEDIA_TYPES[trial.image.rsplit(".", 1)[1]]
    return Response(path.read_bytes(), media_type=media_type, headers={"Cache-Control": "public, max-age=86400"})
