"""The API of product trials (商品试用).

- Fans (their own bearer tokens, paths under /fan/{slug}/trials): the trials, one trial with what would refuse
  her, apply (a saved address or a new one, and her answers), her trials with their status, the published draw
  (seed, numbered list, winners: enough to run it again), and her trial report (text and photos).
- Staff (sessions or API keys): trials (create, edit, picture), applications, the seed, the draw and its
  published list, reports and their review, the tenant's trial settings.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile

from siyu.fans.api import CurrentFan
from siyu.kit import images
from siyu.kit.web import DbSession, Principal, ResourceId, require
from siyu.tenants import service as tenants
from siyu.trials import rules, service
from siyu.trials.models import DRAW_LABELS, Application, AppStatus, Report, Trial
from siyu.trials.schemas import (
    ApplicationOut,
    ApplyIn,
    ApplyOut,
    DrawEntryOut,
    DrawIn,
    DrawOut,
    FanTrialOut,
    MyTrialOut,
    ReportOut,
    ReviewIn,
    TrialIn,
    TrialOut,
    TrialSettings,
)

fan_router = APIRouter(tags=["粉丝：商品试用"])
router = APIRouter(tags=["商品试用"])
ALGORITHM = (
    "按申请先后编号 1、2、3…；每份申请有“权重”张签（随机抽取时都是 1 张），第 n 号的第 k 张签 = "
    "SHA-256(“种子:n:k”) 按无符号大端整数读出，一份申请取它最小的一张签；签最小的“名额”份申请中选。"
)


def trial_out(row: Trial, applications: int = 0) -> TrialOut:
    out = TrialOut.model_validate(row)
    out.status_label, out.applications = service.status_label(row), applications
    return out


def application_out(row: Application, number: int = 0) -> ApplicationOut:
    out = ApplicationOut.model_validate(row)
    out.number, out.status_label = number, service.app_status_label(row)
    return out


def report_out(row: Report) -> ReportOut:
    return ReportOut(
        id=row.id,
        trial_id=row.trial_id,
        application_id=row.application_id,
        member_id=row.member_id,
        text=row.text,
        photos=len(row.photos or []),
        featured=row.featured,
        review_note=row.review_note,
        reviewed_at=row.reviewed_at,
        created_at=row.created_at,
    )


async def draw_out(session: DbSession, trial: Trial) -> DrawOut:
    entries = await service.published(session, trial=trial)
    weighted = trial.draw_method == "weighted"
    winners = []
    if trial.drawn_at is not None and trial.seed is not None and trial.draw_method != "manual":
        weights = [e.application.weight if weighted else 1 for e in entries]
        winners = [d.number for d in rules.draw(trial.seed, weights, min(trial.quota, len(entries)))]
    elif trial.drawn_at is not None:
        winners = [e.number for e in entries if e.won]
    return DrawOut(
        trial_id=trial.id,
        seed=trial.seed,
        quota=trial.quota,
        method=trial.draw_method,
        method_label=DRAW_LABELS.get(trial.draw_method or "", "尚未抽选"),
        drawn_at=trial.drawn_at,
        algorithm=ALGORITHM,
        entries=[
            DrawEntryOut(
                number=e.number,
                name=e.name,
                weight=e.application.weight if weighted else 1,
                key=e.key if trial.drawn_at is not None or trial.seed is not None else None,
                won=e.won,
            )
            for e in entries
        ],
        winners=winners,
    )


async def fan_trial(session: DbSession, slug: str, row: Trial, member_id: int) -> FanTrialOut:
    mine = await service.application_of(session, tenant_id=row.tenant_id, trial_id=row.id, member_id=member_id)
    refused = None if mine is not None else await service.refusal(session, trial=row, member_id=member_id)
    return FanTrialOut(
        id=row.id,
        title=row.title,
        description=row.description,
        value_fen=row.value_fen,
        quota=row.quota,
        apply_from=row.apply_from,
        apply_until=row.apply_until,
        points_cost=row.points_cost,
        questions=list(row.questions or []),
        report_days=row.report_days,
        image_url=f"/h5/{slug}/trials/{row.id}/image" if row.image else None,
        status_label=service.status_label(row),
        applied=mine is not None,
        my_status=mine.status if mine else None,
        my_status_label=service.app_status_label(mine) if mine else None,
        can_apply=mine is None and refused is None,
        refusal=refused.message if refused is not None and mine is None else None,
        seed=row.seed,
        drawn=row.drawn_at is not None,
    )


async def my_trials(session: DbSession, tenant_id: int, member_id: int) -> list[MyTrialOut]:
    out = []
    for row in await service.my_applications(session, tenant_id=tenant_id, member_id=member_id):
        trial = await service.get_trial(session, tenant_id=tenant_id, trial_id=row.trial_id)
        out.append(
            MyTrialOut(
                trial_id=trial.id,
                title=trial.title,
                status=row.status,
                status_label=service.app_status_label(row),
                points_cost=row.points_cost,
                refunded=row.refunded_at is not None,
                report_due_at=row.report_due_at,
                reported=row.reported_at is not None,
                can_report=row.status == AppStatus.won and row.reported_at is None,
                shipping_label="已安排发货" if row.redemption_id else None,
            )
        )
    return out


async def read_photos(photos: list[UploadFile]) -> list[bytes]:
    if len(photos) > service.MAX_PHOTOS:
        raise service.TooManyPhotos()
    out = []
    for photo in photos:
        data = await photo.read(images.MAX_BYTES + 1)
        if len(data) > images.MAX_BYTES:
            raise images.ImageTooLarge()
        if data:
            out.append(data)
    return out


# Fans


@fan_router.get("/fan/{slug}/trials", response_model=list[FanTrialOut], summary="商品试用活动")
async def fan_trials(fan: CurrentFan, session: DbSession) -> list[FanTrialOut]:
    rows = await service.list_trials(session, tenant_id=fan.tenant.id)
    return [await fan_trial(session, fan.tenant.slug, r, fan.member.id) for r in rows[:50]]


@fan_router.get("/fan/{slug}/trials/mine", response_model=list[MyTrialOut], summary="我的试用（申请、中选、报告）")
async def fan_mine(fan: CurrentFan, session: DbSession) -> list[MyTrialOut]:
    return await my_trials(session, fan.tenant.id, fan.member.id)


@fan_router.get("/fan/{slug}/trials/{trial_id}", response_model=FanTrialOut, summary="一个试用活动（含我能否申请）")
async def fan_get_trial(trial_id: ResourceId, fan: CurrentFan, session: DbSession) -> FanTrialOut:
    row = await service.get_trial(session, tenant_id=fan.tenant.id, trial_id=trial_id)
    return await fan_trial(session, fan.tenant.slug, row, fan.member.id)


@fan_router.post(
    "/fan/{slug}/trials/{trial_id}/apply", response_model=ApplyOut, status_code=201, summary="申请试用（每人一次）"
)
async def fan_apply(trial_id: ResourceId, body: ApplyIn, fan: CurrentFan, session: DbSession) -> ApplyOut:
    row = await service.apply(session, tenant_id=fan.tenant.id, member_id=fan.member.id, trial_id=trial_id, data=body)
    return ApplyOut(trial_id=trial_id, status=row.status, message="申请成功，抽选结果公布后会通知你")


@fan_router.get("/fan/{slug}/trials/{trial_id}/draw", response_model=DrawOut, summary="抽选公示：种子、名单与中选编号")
async def fan_draw(trial_id: ResourceId, fan: CurrentFan, session: DbSession) -> DrawOut:
    return await draw_out(session, await service.get_trial(session, tenant_id=fan.tenant.id, trial_id=trial_id))


@fan_router.post(
    "/fan/{slug}/trials/{trial_id}/report", response_model=ReportOut, status_code=201, summary="提交试用报告（中选者）"
)
async def fan_report(
    trial_id: ResourceId,
    request: Request,
    fan: CurrentFan,
    session: DbSession,
    text: Annotated[str, Form(max_length=4000, description="试用感受")],
    photos: Annotated[list[UploadFile] | None, File(description=f"照片，最多 {service.MAX_PHOTOS} 张")] = None,
) -> ReportOut:
    data = await read_photos(photos or [])
    row = await service.submit_report(
        session,
        tenant_id=fan.tenant.id,
        member_id=fan.member.id,
        trial_id=trial_id,
        text=text,
        photos=data,
        data_dir=request.app.state.settings.data_dir,
    )
    return report_out(row)


# Staff


@router.get("/trials", response_model=list[TrialOut], summary="商品试用活动")
async def list_trials(session: DbSession, principal: Annotated[Principal, require("members.read")]) -> list[TrialOut]:
    rows = await service.list_trials(session, tenant_id=principal.tenant_id)
    counts = await service.application_counts(session, tenant_id=principal.tenant_id, trial_ids=[r.id for r in rows])
    return [trial_out(r, counts.get(r.id, 0)) for r in rows]


@router.post("/trials", response_model=TrialOut, status_code=201, summary="新建试用活动（记入操作日志）")
async def create_trial(
    body: TrialIn, session: DbSession, principal: Annotated[Principal, require("members.write")]
) -> TrialOut:
    return trial_out(await service.create_trial(session, actor=principal, data=body))


@router.get("/trials/settings", response_model=TrialSettings, summary="试用设置（新活动的默认报告期限和处罚）")
async def get_settings(session: DbSession, principal: Annotated[Principal, require("tenant.read")]) -> TrialSettings:
    return service.settings_of(await tenants.config_of(session, principal.tenant_id))


@router.put("/trials/settings", response_model=TrialSettings, summary="修改试用设置（记入操作日志）")
async def put_settings(
    body: TrialSettings, session: DbSession, principal: Annotated[Principal, require("tenant.write")]
) -> TrialSettings:
    return await service.save_settings(session, actor=principal, data=body)


@router.get("/trials/{trial_id}", response_model=TrialOut, summary="一个试用活动")
async def get_trial(
    trial_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.read")]
) -> TrialOut:
    row = await service.get_trial(session, tenant_id=principal.tenant_id, trial_id=trial_id)
    counts = await service.application_counts(session, tenant_id=principal.tenant_id, trial_ids=[row.id])
    return trial_out(row, counts.get(row.id, 0))


@router.put("/trials/{trial_id}", response_model=TrialOut, summary="修改试用活动（有人申请后只能改文字和报告规则）")
async def update_trial(
    trial_id: ResourceId, body: TrialIn, session: DbSession, principal: Annotated[Principal, require("members.write")]
) -> TrialOut:
    return trial_out(await service.update_trial(session, actor=principal, trial_id=trial_id, data=body))


@router.put("/trials/{trial_id}/image", response_model=TrialOut, summary="上传商品图片（JPG/PNG/GIF/WebP，≤ 2 MB）")
async def put_image(
    trial_id: ResourceId,
    request: Request,
    session: DbSession,
    principal: Annotated[Principal, require("members.write")],
    file: Annotated[UploadFile, File(description="商品图片")],
) -> TrialOut:
    data = await file.read(images.MAX_BYTES + 1)
    if len(data) > images.MAX_BYTES:
        raise images.ImageTooLarge()
    row = await service.set_image(
        session, actor=principal, trial_id=trial_id, data=data, data_dir=request.app.state.settings.data_dir
    )
    return trial_out(row)


@router.get("/trials/{trial_id}/applications", response_model=list[ApplicationOut], summary="试用申请（按申请先后）")
async def list_applications(
    trial_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.read")]
) -> list[ApplicationOut]:
    await service.get_trial(session, tenant_id=principal.tenant_id, trial_id=trial_id)
    rows = await service.applications(session, tenant_id=principal.tenant_id, trial_id=trial_id)
    return [application_out(r, n) for n, r in enumerate(rows, start=1)]


@router.post("/trials/{trial_id}/seed", response_model=DrawOut, summary="生成并公布抽选种子（申请截止后，只生成一次）")
async def publish_seed(
    trial_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.write")]
) -> DrawOut:
    return await draw_out(session, await service.publish_seed(session, actor=principal, trial_id=trial_id))


@router.get("/trials/{trial_id}/draw", response_model=DrawOut, summary="抽选公示：种子、编号名单、中选编号与算法")
async def get_draw(
    trial_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.read")]
) -> DrawOut:
    return await draw_out(session, await service.get_trial(session, tenant_id=principal.tenant_id, trial_id=trial_id))


@router.post("/trials/{trial_id}/draw", response_model=DrawOut, summary="抽选（只进行一次；落选者的积分退回）")
async def run_draw(
    trial_id: ResourceId, body: DrawIn, session: DbSession, principal: Annotated[Principal, require("members.write")]
) -> DrawOut:
    result = await service.draw(session, actor=principal, trial_id=trial_id, data=body)
    return await draw_out(session, result.trial)


@router.get("/trials/{trial_id}/reports", response_model=list[ReportOut], summary="试用报告")
async def list_reports(
    trial_id: ResourceId, session: DbSession, principal: Annotated[Principal, require("members.read")]
) -> list[ReportOut]:
    await service.get_trial(session, tenant_id=principal.tenant_id, trial_id=trial_id)
    return [report_out(r) for r in await service.reports(session, tenant_id=principal.tenant_id, trial_id=trial_id)]


@router.put("/trials/{trial_id}/reports/{report_id}", response_model=ReportOut, summary="审阅试用报告（精选、备注）")
async def review_report(
    trial_id: ResourceId,
    report_id: ResourceId,
    body: ReviewIn,
    session: DbSession,
    principal: Annotated[Principal, require("members.write")],
) -> ReportOut:
    row = await service.review_report(session, actor=principal, trial_id=trial_id, report_id=report_id, data=body)
    return report_out(row)
