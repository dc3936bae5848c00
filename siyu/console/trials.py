"""商品试用 in the console: the trials, the editor (product, quota, window, who may apply, cost, questionnaire,
report rule and penalty), the applications (sortable, exported to XLSX/CSV), the draw page (the seed shown before
the draw, the results and how anyone can check them) and the report review.

Every change goes through siyu.trials' service inside `attempt` (a savepoint): a refusal is said beside what was
typed and leaves nothing behind; the service audits what it changes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from siyu.console.deps import Console, ConsoleContext, text
from siyu.console.exports import FORMATS, table_response
from siyu.console.forms import Refusal, attempt
from siyu.console.listing import Listing, paged
from siyu.kit import images
from siyu.kit.errors import InvalidInput
from siyu.kit.time import to_local, utcnow
from siyu.kit.web import DbSession, ResourceId
from siyu.loyalty import service as loyalty
from siyu.members import service as members
from siyu.segments import service as segments
from siyu.tenants import service as tenants
from siyu.trials import service
from siyu.trials.api import ALGORITHM, draw_out
from siyu.trials.models import DRAW_LABELS, PENALTY_LABELS, Application, Trial
from siyu.trials.schemas import DrawIn, ReviewIn, TrialIn

router = APIRouter()
LABELS = {
    "title": "商品名称",
    "description": "商品介绍",
    "value_fen": "商品价值",
    "quota": "名额",
    "apply_from": "申请开始时间",
    "apply_until": "申请截止时间",
    "min_tier_id": "最低会员等级",
    "min_points": "最低积分余额",
    "min_orders": "最少已领取订单",
    "segment_id": "会员分群",
    "points_cost": "申请消耗积分",
    "questions": "问卷问题",
    "report_days": "报告期限",
    "penalty": "逾期处罚",
    "penalty_points": "扣回积分",
    "bar_days": "暂停申请天数",
}
TEXT_FIELDS = (
    "title",
    "value",
    "quota",
    "apply_from",
    "apply_until",
    "min_tier_id",
    "min_points",
    "min_orders",
    "segment_id",
    "points_cost",
    "report_days",
    "penalty",
    "penalty_points",
    "bar_days",
)
TRIAL_SORTS = {"apply_from": lambda t: t.apply_from, "title": lambda t: t.title, "quota": lambda t: t.quota}
APP_SORTS = {
    "number": lambda e: e[0],
    "weight": lambda e: e[1].weight,
    "status": lambda e: e[1].status,
}
EXPORT_HEADERS = [
    "编号",
    "会员",
    "等级",
    "权重",
    "状态",
    "收件人",
    "手机号",
    "地区",
    "详细地址",
    "问卷回答",
    "申请时间",
]


def _local_input(value: datetime | None, timezone: str) -> str:
    return "" if value is None else to_local(value, timezone).strftime("%Y-%m-%dT%H:%M")


def _values(trial: Trial | None, timezone: str, defaults: dict[str, Any]) -> dict[str, str]:
    if trial is None:
        return {
            "quota": "10",
            "report_days": str(defaults["report_days"]),
            "penalty": str(defaults["penalty"]),
            "bar_days": str(defaults["bar_days"]),
            "penalty_points": "0",
            "min_points": "0",
            "min_orders": "0",
            "points_cost": "0",
        }
    return {
        "title": trial.title,
        "description": trial.description,
        "value": f"{trial.value_fen / 100:.2f}",
        "quota": str(trial.quota),
        "apply_from": _local_input(trial.apply_from, timezone),
        "apply_until": _local_input(trial.apply_until, timezone),
        "min_tier_id": str(trial.min_tier_id or ""),
        "min_points": str(trial.min_points),
        "min_orders": str(trial.min_orders),
        "segment_id": str(trial.segment_id or ""),
        "points_cost": str(trial.points_cost),
        "questions": "\n".join(trial.questions or []),
        "report_days": str(trial.report_days),
        "penalty": trial.penalty,
        "penalty_points": str(trial.penalty_points),
        "bar_days": str(trial.bar_days),
    }


def _form(form: FormData) -> dict[str, str]:
    values = {k: text(form, k) for k in TEXT_FIELDS}
    values["description"] = str(form.get("description") or "")[:1000]
    values["questions"] = str(form.get("questions") or "")[:1000]
    return values


def _trial_in(values: dict[str, str], timezone: str) -> TrialIn:
    data: dict[str, Any] = {"title": values["title"], "description": values["description"].strip()}
    for key in ("apply_from", "apply_until"):
        if not values[key]:
            raise InvalidInput(f"请填写{LABELS[key]}", code="time_required")
        data[key] = datetime.fromisoformat(values[key]).replace(tzinfo=ZoneInfo(timezone))
    price = values["value"].replace("¥", "").replace("￥", "").replace(",", "").strip()
    data["value_fen"] = round(float(price) * 100) if price else 0
    for key in ("quota", "min_points", "min_orders", "points_cost", "report_days", "penalty_points", "bar_days"):
        if values[key]:
            data[key] = int(values[key])
    if values["min_tier_id"]:
        data["min_tier_id"] = int(values["min_tier_id"])
    if values["segment_id"]:
        data["segment_id"] = int(values["segment_id"])
    data["penalty"] = values["penalty"] or "bar"
    data["questions"] = [line for line in values["questions"].splitlines() if line.strip()]
    return TrialIn.model_validate(data)


# The list


@router.get("/trials", response_class=HTMLResponse)
async def trials_page(
    console: ConsoleContext,
    session: DbSession,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    sort: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    console.require("members.read")
    listing = Listing.of("/console/trials", sort=sort, allowed=TRIAL_SORTS, default="-apply_from", page=page)
    rows = await service.list_trials(session, tenant_id=console.tenant.id)
    result = paged(rows, listing, TRIAL_SORTS)
    counts = await service.application_counts(session, tenant_id=console.tenant.id, trial_ids=[t.id for t in rows])
    return console.render(
        "console/trials.html",
        "trials",
        result=result,
        listing=listing,
        counts=counts,
        status_label=service.status_label,
        draw_labels=DRAW_LABELS,
    )


# The editor


async def _trial_page(
    console: Console,
    session: DbSession,
    trial: Trial | None,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    config = await tenants.config_of(session, tenant_id)
    defaults = service.settings_of(config).model_dump()
    counts = (
        {} if trial is None else await service.application_counts(session, tenant_id=tenant_id, trial_ids=[trial.id])
    )
    return console.render(
        "console/trial.html",
        "trials",
        trial=trial,
        values=values if values is not None else _values(trial, console.tenant.timezone, defaults),
        tiers=sorted(await loyalty.list_tiers(session, tenant_id=tenant_id), key=lambda t: t.threshold),
        segments=await segments.names(session, tenant_id=tenant_id),
        penalties=PENALTY_LABELS,
        applications=counts.get(trial.id, 0) if trial else 0,
        status_label=service.status_label,
        error=error,
        status_code=status_code,
    )


@router.get("/trials/new", response_class=HTMLResponse)
async def new_trial(console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("members.write")
    return await _trial_page(console, session, None)


async def _save(request: Request, console: Console, session: DbSession, trial_id: int | None) -> Response:
    console.require("members.write")
    timezone = console.tenant.timezone
    trial = (
        None if trial_id is None else await service.get_trial(session, tenant_id=console.tenant.id, trial_id=trial_id)
    )
    values = _form(await request.form())

    async def step() -> Trial:
        data = _trial_in(values, timezone)
        if trial is None:
            return await service.create_trial(session, actor=console.principal, data=data)
        return await service.update_trial(session, actor=console.principal, trial_id=trial.id, data=data)

    outcome = await attempt(session, step, labels=LABELS, invalid="请检查数字和时间的格式")
    if isinstance(outcome, Refusal):
        return await _trial_page(
            console, session, trial, values=values, error=outcome.message, status_code=outcome.status
        )
    return RedirectResponse(f"/console/trials/{outcome.id}?saved=1", status_code=303)


@router.post("/trials/new")
async def create(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    return await _save(request, console, session, None)


@router.get("/trials/{trial_id}", response_class=HTMLResponse)
async def trial_page(console: ConsoleContext, session: DbSession, trial_id: ResourceId) -> HTMLResponse:
    console.require("members.read")
    trial = await service.get_trial(session, tenant_id=console.tenant.id, trial_id=trial_id)
    return await _trial_page(console, session, trial)


@router.post("/trials/{trial_id}")
async def update(request: Request, console: ConsoleContext, session: DbSession, trial_id: ResourceId) -> Response:
    return await _save(request, console, session, trial_id)


@router.post("/trials/{trial_id}/image")
async def upload_image(request: Request, console: ConsoleContext, session: DbSession, trial_id: ResourceId) -> Response:
    console.require("members.write")
    trial = await service.get_trial(session, tenant_id=console.tenant.id, trial_id=trial_id)
    upload = (await request.form()).get("image")
    data = await upload.read(images.MAX_BYTES + 1) if isinstance(upload, UploadFile) else b""

    async def step() -> Trial:
        if len(data) > images.MAX_BYTES:
            raise images.ImageTooLarge()
        return await service.set_image(
            session, actor=console.principal, trial_id=trial.id, data=data, data_dir=request.app.state.settings.data_dir
        )

    outcome = await attempt(session, step)
    if isinstance(outcome, Refusal):
        return await _trial_page(console, session, trial, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/trials/{trial.id}?saved=1", status_code=303)


@router.get("/trials/{trial_id}/image")
async def trial_image(request: Request, console: ConsoleContext, session: DbSession, trial_id: ResourceId) -> Response:
    console.require("members.read")
    trial = await service.get_trial(session, tenant_id=console.tenant.id, trial_id=trial_id)
    path = service.image_path(request.app.state.settings.data_dir, console.tenant.id, trial.image)
    if trial.image is None or path is None:
        raise service.TrialNotFound("图片已不存在")
    return Response(path.read_bytes(), media_type=images.MEDIA_TYPES[trial.image.rsplit(".", 1)[1]])


# Applications and their export


async def _entries(console: Console, session: DbSession, trial: Trial) -> list[tuple[int, Application, str]]:
    rows = await service.applications(session, tenant_id=console.tenant.id, trial_id=trial.id)
    names = await members.nicknames(session, tenant_id=console.tenant.id, member_ids=[r.member_id for r in rows])
    return [(n, r, names.get(r.member_id) or "粉丝") for n, r in enumerate(rows, start=1)]


@router.get("/trials/{trial_id}/applications", response_class=HTMLResponse)
async def applications_page(
    console: ConsoleContext,
    session: DbSession,
    trial_id: ResourceId,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    sort: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    console.require("members.read")
    trial = await service.get_trial(session, tenant_id=console.tenant.id, trial_id=trial_id)
    listing = Listing.of(
        f"/console/trials/{trial.id}/applications", sort=sort, allowed=APP_SORTS, default="number", page=page
    )
    result = paged(await _entries(console, session, trial), listing, APP_SORTS)
    return console.render(
        "console/trial_applications.html",
        "trials",
        trial=trial,
        result=result,
        listing=listing,
        app_status_label=service.app_status_label,
    )


@router.get("/trials/{trial_id}/applications/export")
async def applications_export(
    console: ConsoleContext,
    session: DbSession,
    trial_id: ResourceId,
    fmt: Annotated[str, Query(pattern="^(csv|xlsx)$")] = "xlsx",
) -> Response:
    console.require("members.write")  # addresses and phone numbers
    assert fmt in FORMATS
    trial = await service.get_trial(session, tenant_id=console.tenant.id, trial_id=trial_id)
    timezone = console.tenant.timezone
    rows: list[list[object]] = []
    for number, row, name in await _entries(console, session, trial):
        address = row.address or {}
        rows.append(
            [
                number,
                name,
                row.tier_name,
                row.weight,
                service.app_status_label(row),
                address.get("name", ""),
                address.get("phone", ""),
                address.get("region", ""),
                address.get("detail", ""),
                " / ".join(str(a) for a in row.answers or []),
                to_local(row.created_at, timezone).strftime("%Y-%m-%d %H:%M"),
            ]
        )

    async def chunks() -> AsyncIterator[list[list[object]]]:
        yield rows

    return await table_response(
        fmt=fmt,
        filename=f"试用申请-{trial.title[:20]}",
        sheet="试用申请",
        headers=EXPORT_HEADERS,
        chunks=chunks(),
        text_columns=(6,),
        widths=[6, 14, 10, 6, 10, 10, 14, 22, 30, 40, 18],
    )


# The draw


async def _draw_page(
    console: Console, session: DbSession, trial: Trial, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    draw = await draw_out(session, trial)
    entries = await _entries(console, session, trial)
    return console.render(
        "console/trial_draw.html",
        "trials",
        trial=trial,
        draw=draw,
        entries=entries,
        algorithm=ALGORITHM,
        methods=DRAW_LABELS,
        closed=utcnow() >= trial.apply_until,
        app_status_label=service.app_status_label,
        error=error,
        status_code=status_code,
    )


@router.get("/trials/{trial_id}/draw", response_class=HTMLResponse)
async def draw_page(console: ConsoleContext, session: DbSession, trial_id: ResourceId) -> HTMLResponse:
    console.require("members.read")
    trial = await service.get_trial(session, tenant_id=console.tenant.id, trial_id=trial_id)
    return await _draw_page(console, session, trial)


@router.post("/trials/{trial_id}/seed")
async def publish_seed(console: ConsoleContext, session: DbSession, trial_id: ResourceId) -> Response:
    console.require("members.write")
    trial = await service.get_trial(session, tenant_id=console.tenant.id, trial_id=trial_id)
    outcome = await attempt(session, lambda: service.publish_seed(session, actor=console.principal, trial_id=trial.id))
    if isinstance(outcome, Refusal):
        return await _draw_page(console, session, trial, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/trials/{trial.id}/draw?seeded=1", status_code=303)


@router.post("/trials/{trial_id}/draw")
async def run_draw(request: Request, console: ConsoleContext, session: DbSession, trial_id: ResourceId) -> Response:
    console.require("members.write")
    trial = await service.get_trial(session, tenant_id=console.tenant.id, trial_id=trial_id)
    form = await request.form()
    method = text(form, "method") or "random"
    picked = [int(v) for v in form.getlist("picked") if isinstance(v, str) and v.isdigit() and len(v) < 19]
    outcome = await attempt(
        session,
        lambda: service.draw(
            session,
            actor=console.principal,
            trial_id=trial.id,
            data=DrawIn.model_validate({"method": method, "picked": picked}),
        ),
        check="请选择抽选方式",
    )
    if isinstance(outcome, Refusal):
        trial = await service.get_trial(session, tenant_id=console.tenant.id, trial_id=trial_id)
        return await _draw_page(console, session, trial, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/trials/{trial.id}/draw?drawn=1", status_code=303)


# Reports


async def _reports_page(
    console: Console, session: DbSession, trial: Trial, *, error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    rows = await service.reports(session, tenant_id=console.tenant.id, trial_id=trial.id)
    names = await members.nicknames(session, tenant_id=console.tenant.id, member_ids=[r.member_id for r in rows])
    return console.render(
        "console/trial_reports.html",
        "trials",
        trial=trial,
        reports=rows,
        names=names,
        error=error,
        status_code=status_code,
    )


@router.get("/trials/{trial_id}/reports", response_class=HTMLResponse)
async def reports_page(console: ConsoleContext, session: DbSession, trial_id: ResourceId) -> HTMLResponse:
    console.require("members.read")
    trial = await service.get_trial(session, tenant_id=console.tenant.id, trial_id=trial_id)
    return await _reports_page(console, session, trial)


@router.post("/trials/{trial_id}/reports/{report_id}")
async def review(
    request: Request, console: ConsoleContext, session: DbSession, trial_id: ResourceId, report_id: ResourceId
) -> Response:
    console.require("members.write")
    trial = await service.get_trial(session, tenant_id=console.tenant.id, trial_id=trial_id)
    report = await service.get_report(session, tenant_id=console.tenant.id, trial_id=trial.id, report_id=report_id)
    form = await request.form()
    data = {"featured": text(form, "featured") == "1", "note": text(form, "note")[:200]}
    outcome = await attempt(
        session,
        lambda: service.review_report(
            session, actor=console.principal, trial_id=trial.id, report_id=report.id, data=ReviewIn.model_validate(data)
        ),
        check="备注最多 200 个字",
    )
    if isinstance(outcome, Refusal):
        return await _reports_page(console, session, trial, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/trials/{trial.id}/reports?saved=1", status_code=303)


@router.get("/trials/{trial_id}/reports/{report_id}/photos/{n}")
async def report_photo(
    request: Request,
    console: ConsoleContext,
    session: DbSession,
    trial_id: ResourceId,
    report_id: ResourceId,
    n: Annotated[int, Path(ge=0, le=50)],
) -> Response:
    console.require("members.read")
    report = await service.get_report(session, tenant_id=console.tenant.id, trial_id=trial_id, report_id=report_id)
    names = list(report.photos or [])
    if not 0 <= n < len(names):
        raise service.ReportNotFound("照片已不存在")
    path = service.image_path(request.app.state.settings.data_dir, console.tenant.id, names[n])
    if path is None:
        raise service.ReportNotFound("照片已不存在")
    return Response(path.read_bytes(), media_type=images.MEDIA_TYPES[names[n].rsplit(".", 1)[1]])
