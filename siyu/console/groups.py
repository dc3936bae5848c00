"""粉丝群 in the console: the groups with their thresholds, caps, overflow groups, members and QR code state (a
warning at the top for every code missing, expired or expiring within a day), the group editor (thresholds, cap,
overflow groups, QR codes) and each family's members and the members who qualify but have not joined.

Every change goes through siyu.groups' service inside `attempt` (a savepoint): a refusal is said beside what was
typed and leaves nothing behind."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from siyu.console.deps import Console, ConsoleContext, text
from siyu.console.forms import Refusal, attempt
from siyu.console.listing import Listing
from siyu.groups import service
from siyu.groups.models import FanGroup
from siyu.groups.schemas import GroupIn, OverflowIn
from siyu.kit import images
from siyu.kit.errors import InvalidInput
from siyu.kit.web import DbSession, ResourceId
from siyu.loyalty import service as loyalty
from siyu.segments import service as segments

router = APIRouter()
LABELS = {
    "name": "群名称",
    "intro": "群介绍",
    "sort_order": "排序",
    "min_tier_id": "最低会员等级",
    "min_points": "积分门槛",
    "min_orders": "订单数门槛",
    "min_paid_fen": "消费金额门槛",
    "window_days": "统计天数",
    "segment_id": "会员分群",
    "cap": "人数上限",
}
FIELDS = (
    "name",
    "intro",
    "sort_order",
    "min_tier_id",
    "min_points",
    "min_orders",
    "min_paid",
    "window_days",
    "segment_id",
    "cap",
)
TABS = {"members": "已入群", "candidates": "符合条件未入群"}


@router.get("/groups", response_class=HTMLResponse)
async def groups_page(console: ConsoleContext, session: DbSession, saved: int = 0, deleted: int = 0) -> HTMLResponse:
    console.require("members.read")
    families = await service.overview(session, tenant_id=console.tenant.id)
    return console.render(
        "console/groups.html",
        "groups",
        families=families,
        warnings=service.qr_warnings(families),
        qr_state=service.qr_state,
        qr_label=service.qr_label,
        saved=bool(saved),
        deleted=bool(deleted),
    )


def _values(group: FanGroup | None) -> dict[str, str]:
    if group is None:
        return {"window_days": "30", "cap": "200", "sort_order": "0"}

    def shown(value: int | None) -> str:
        return "" if value is None else str(value)

    return {
        "name": group.name,
        "intro": group.intro,
        "sort_order": str(group.sort_order),
        "min_tier_id": shown(group.min_tier_id),
        "min_points": shown(group.min_points),
        "min_orders": shown(group.min_orders),
        "min_paid": "" if group.min_paid_fen is None else f"{group.min_paid_fen / 100:g}",
        "window_days": str(group.window_days),
        "segment_id": shown(group.segment_id),
        "cap": str(group.cap),
    }


def _group_in(values: dict[str, str]) -> GroupIn:
    data: dict[str, Any] = {"name": values["name"], "intro": values["intro"]}
    for key in ("sort_order", "min_tier_id", "min_points", "min_orders", "window_days", "segment_id", "cap"):
        if values[key]:
            data[key] = values[key]
    paid = values["min_paid"].replace("¥", "").replace("￥", "").replace(",", "").strip()
    if paid:
        try:
            data["min_paid_fen"] = round(float(paid) * 100)
        except ValueError:
            raise InvalidInput("消费金额门槛：请填写金额，如 500", code="bad_amount") from None
    return GroupIn.model_validate(data)


async def _editor(
    console: Console,
    session: DbSession,
    group: FanGroup | None,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    tab: str = "members",
    page: int = 1,
    saved: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    family = None if group is None else await service.family_of(session, tenant_id=tenant_id, group_id=group.id)
    listing = None
    found: Any = None
    names: dict[int, str] = {}
    if family is not None:
        listing = Listing.of(
            f"/console/groups/{family.main.id}", sort=None, allowed=("joined",), default="-joined", page=page, tab=tab
        )
        if tab == "candidates":
            found = await service.candidates(
                session, tenant_id=tenant_id, family_id=family.main.id, page=listing.request
            )
        else:
            found, names = await service.members_of(
                session, tenant_id=tenant_id, family_id=family.main.id, page=listing.request
            )
    return console.render(
        "console/group.html",
        "groups",
        family=family,
        values=values if values is not None else _values(family.main if family else None),
        tiers=await loyalty.list_tiers(session, tenant_id=tenant_id),
        segments=await segments.names(session, tenant_id=tenant_id),
        qr_state=service.qr_state,
        qr_label=service.qr_label,
        tab=tab,
        tabs=TABS,
        listing=listing,
        found=found,
        names=names,
        groups_by_id={g.id: g for g in family.groups} if family else {},
        error=error,
        saved=saved,
        status_code=status_code,
    )


@router.get("/groups/new", response_class=HTMLResponse)
async def new_group(console: ConsoleContext, session: DbSession) -> HTMLResponse:
    console.require("members.write")
    return await _editor(console, session, None)


def _form(form: FormData) -> dict[str, str]:
    return {key: text(form, key) for key in FIELDS}


async def _save(request: Request, console: Console, session: DbSession, group_id: int | None) -> Response:
    console.require("members.write")
    group = (
        None if group_id is None else await service.get_group(session, tenant_id=console.tenant.id, group_id=group_id)
    )
    values = _form(await request.form())

    async def step() -> FanGroup:
        data = _group_in(values)
        if group is None:
            return await service.create_group(session, actor=console.principal, data=data)
        return await service.update_group(session, actor=console.principal, group_id=group.id, data=data)

    outcome = await attempt(session, step, labels=LABELS)
    if isinstance(outcome, Refusal):
        return await _editor(console, session, group, values=values, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/groups/{outcome.id}?saved=1", status_code=303)


@router.post("/groups/new")
async def create(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    return await _save(request, console, session, None)


@router.get("/groups/{group_id}", response_class=HTMLResponse)
async def group_page(
    console: ConsoleContext,
    session: DbSession,
    group_id: ResourceId,
    tab: Annotated[str, Query(pattern="^(members|candidates)$")] = "members",
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    saved: int = 0,
) -> HTMLResponse:
    console.require("members.read")
    group = await service.get_group(session, tenant_id=console.tenant.id, group_id=group_id)
    return await _editor(console, session, group, tab=tab, page=page, saved=bool(saved))


@router.post("/groups/{group_id}")
async def update(request: Request, console: ConsoleContext, session: DbSession, group_id: ResourceId) -> Response:
    return await _save(request, console, session, group_id)


@router.post("/groups/{group_id}/overflow")
async def add_overflow(request: Request, console: ConsoleContext, session: DbSession, group_id: ResourceId) -> Response:
    console.require("members.write")
    group = await service.get_group(session, tenant_id=console.tenant.id, group_id=group_id)
    form = await request.form()
    typed = {"name": text(form, "overflow_name"), "cap": text(form, "overflow_cap") or "200"}
    outcome = await attempt(
        session,
        lambda: service.add_overflow(
            session, actor=console.principal, group_id=group_id, data=OverflowIn.model_validate(typed)
        ),
        labels={"name": "溢出群名称", "cap": "人数上限"},
    )
    if isinstance(outcome, Refusal):
        return await _editor(console, session, group, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/groups/{group.family_id}?saved=1#group-{outcome.id}", status_code=303)


@router.post("/groups/{group_id}/qr")
async def upload_qr(request: Request, console: ConsoleContext, session: DbSession, group_id: ResourceId) -> Response:
    console.require("members.write")
    group = await service.get_group(session, tenant_id=console.tenant.id, group_id=group_id)
    form = await request.form()

    async def step() -> FanGroup:
        upload = form.get("qr")
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise InvalidInput("请选择群二维码图片", code="image_required")
        data = await upload.read(images.MAX_BYTES + 1)
        if len(data) > images.MAX_BYTES:
            raise images.ImageTooLarge()
        return await service.set_qr(
            session, actor=console.principal, group_id=group_id, data=data, data_dir=request.app.state.settings.data_dir
        )

    outcome = await attempt(session, step)
    if isinstance(outcome, Refusal):
        return await _editor(console, session, group, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/groups/{group.family_id}?saved=1#group-{group.id}", status_code=303)


@router.post("/groups/{group_id}/delete")
async def delete(console: ConsoleContext, session: DbSession, group_id: ResourceId) -> Response:
    console.require("members.write")
    group = await service.get_group(session, tenant_id=console.tenant.id, group_id=group_id)
    outcome = await attempt(session, lambda: service.delete_group(session, actor=console.principal, group_id=group_id))
    if isinstance(outcome, Refusal):
        return await _editor(console, session, group, error=outcome.message, status_code=outcome.status)
    if group.seq != 1:
        return RedirectResponse(f"/console/groups/{group.family_id}?saved=1", status_code=303)
    return RedirectResponse("/console/groups?deleted=1", status_code=303)


@router.post("/groups/{group_id}/members/{member_id}/remove")
async def remove_member(
    console: ConsoleContext, session: DbSession, group_id: ResourceId, member_id: ResourceId
) -> Response:
    console.require("members.write")
    group = await service.get_group(session, tenant_id=console.tenant.id, group_id=group_id)
    outcome = await attempt(
        session, lambda: service.remove_member(session, actor=console.principal, group_id=group_id, member_id=member_id)
    )
    if isinstance(outcome, Refusal):
        return await _editor(console, session, group, error=outcome.message, status_code=outcome.status)
    return RedirectResponse(f"/console/groups/{group.family_id}?saved=1", status_code=303)


@router.get("/groups/{group_id}/qr")
async def qr_image(request: Request, console: ConsoleContext, session: DbSession, group_id: ResourceId) -> Response:
    console.require("members.read")
    group = await service.get_group(session, tenant_id=console.tenant.id, group_id=group_id)
    path = service.qr_path(request.app.state.settings.data_dir, console.tenant.id, group.qr_image)
    if group.qr_image is None or path is None:
        raise service.GroupNotFound("群二维码已不存在")
    media_type = images.MEDIA_TYPES[group.qr_image.rsplit(".", 1)[1]]
    return Response(path.read_bytes(), media_type=media_type, headers={"Cache-Control": "private, max-age=60"})
