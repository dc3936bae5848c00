"""积分商城 on the H5: the shelf (categories, flash countdowns), a reward, redeeming with an address, the fan's
redemptions with logistics, her address book, and the rewards' images."""

from __future__ import annotations

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.h5.fans import Fan, FanPage, fan_page, signed_fan, to_sign_in
from siyu.kit.errors import AppError, NotFound
from siyu.kit.time import utcnow
from siyu.kit.web import DbSession, ResourceId
from siyu.ledger import service as ledger
from siyu.mall import images, redeem, service
from siyu.mall.models import KIND_LABELS, STATUS_LABELS, RewardKind
from siyu.mall.schemas import AddressIn
from siyu.templating import templates

router = APIRouter()
ADDRESS_FIELDS = ("name", "phone", "region", "detail")
ADDRESS_PROBLEMS = {
    "name": "请填写收件人",
    "phone": "请填写 11 位手机号",
    "region": "请填写省、市、区",
    "detail": "请填写详细地址（街道、门牌号）",
}


def _render(fan: FanPage, request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        template,
        {"tenant": fan.tenant, "brand_color": fan.brand_color, "fan": fan.member, **context},
        status_code=status_code,
    )


@router.get("/{slug}/mall", response_class=HTMLResponse)
async def mall_home(
    fan: Fan, request: Request, session: DbSession, category: Annotated[str, Query(max_length=20)] = ""
) -> Response:
    now = utcnow()
    shelf = await service.shelf(session, tenant_id=fan.tenant.id, category=category or None, now=now)
    points = (
        None if fan.member is None else await ledger.balance(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    )
    return _render(
        fan,
        request,
        "h5/mall.html",
        shelf=shelf,
        category=category,
        points=points,
        now=now,
        is_open=service.is_open,
    )


@router.get("/{slug}/mall/images/{name}")
async def image(fan: Fan, request: Request, name: str) -> Response:
    path = images.path_of(request.app.state.settings.data_dir, fan.tenant.id, name)
    if path is None:
        raise NotFound()
    media_type = images.MEDIA_TYPES[name.rsplit(".", 1)[1]]
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": "public, max-age=31536000, immutable"})


@router.get("/{slug}/mall/rewards/{reward_id}", response_class=HTMLResponse)
async def reward_page(fan: Fan, request: Request, session: DbSession, reward_id: ResourceId) -> Response:
    now = utcnow()
    reward = await service.visible_reward(session, tenant_id=fan.tenant.id, reward_id=reward_id, now=now)
    points = (
        None if fan.member is None else await ledger.balance(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    )
    return _render(
        fan,
        request,
        "h5/reward.html",
        reward=reward,
        kind_label=KIND_LABELS.get(reward.kind, ""),
        is_open=service.is_open(reward, now),
        points=points,
        now=now,
    )


async def _confirm(
    fan: FanPage,
    request: Request,
    session: DbSession,
    reward_id: int,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    assert fan.member is not None
    reward = await service.visible_reward(session, tenant_id=fan.tenant.id, reward_id=reward_id)
    saved = await service.addresses(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    points = await ledger.balance(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return _render(
        fan,
        request,
        "h5/redeem.html",
        status_code=status_code,
        reward=reward,
        addresses=saved,
        points=points,
        needs_address=reward.kind == RewardKind.physical,
        key=(values or {}).get("key") or secrets.token_urlsafe(16),
        values=values or {},
        error=error,
    )


@router.get("/{slug}/mall/rewards/{reward_id}/redeem", response_class=HTMLResponse)
async def redeem_page(fan: Fan, request: Request, session: DbSession, reward_id: ResourceId) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/mall/rewards/{reward_id}/redeem")
    return await _confirm(fan, request, session, reward_id)


def _htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def _in_place_of_form(response: Response) -> Response:
    """The redeem button's answer (htmx) takes the form's place."""
    response.headers["HX-Retarget"] = "#redeem-form"
    response.headers["HX-Reswap"] = "outerHTML"
    return response


# The gate's "sold out", rendered once per shop and form (fragment or page): the crowd gets the same few hundred
# bytes. Slugs are few; the map is cleared if it ever grows large.
_sold_out_html: dict[tuple[str, bool], str] = {}


def _sold_out(request: Request, slug: str) -> Response:
    """The gate's answer to the crowd after the last one: a small fragment (or, without JavaScript, a small page)
    made from nothing but the slug: no database, no shop settings, rendered once."""
    htmx = _htmx(request)
    html = _sold_out_html.get((slug, htmx))
    if html is None:
        if len(_sold_out_html) >= 10_000:
            _sold_out_html.clear()
        template = templates.get_template("h5/_redeem_refused.html" if htmx else "h5/sold_out.html")
        html = template.render(slug=slug, error=redeem.SoldOut(), brand_color=None, oob=htmx)
        _sold_out_html[(slug, htmx)] = html
    response = HTMLResponse(html, status_code=redeem.SoldOut.status)
    return _in_place_of_form(response) if htmx else response


@router.post("/{slug}/mall/rewards/{reward_id}/redeem", response_class=HTMLResponse)
async def redeem_submit(slug: str, request: Request, reward_id: ResourceId) -> Response:
    gate = request.app.state.gate
    signed = signed_fan(request, slug)
    if (
        gate is not None
        and signed is not None
        and await gate.sold_out(tenant_id=signed[0], reward_id=reward_id, member_id=signed[1])
    ):
        return _sold_out(request, slug)
    # Past the gate, the request's transaction as DbSession opens it for other routes (committed when this
    # returns, rolled back when it raises), opened here so that the crowd the gate answers never opens one.
    async with request.app.state.sessionmaker() as session, session.begin():
        return await _redeem_form(await fan_page(slug, request, session), request, session, reward_id)


async def _redeem_form(fan: FanPage, request: Request, session: AsyncSession, reward_id: int) -> Response:
    gate = request.app.state.gate
    if fan.member is None:
        back = f"/h5/{fan.tenant.slug}/mall/rewards/{reward_id}/redeem"
        if _htmx(request):
            return Response(status_code=204, headers={"HX-Redirect": f"/h5/{fan.tenant.slug}/login?next={back}"})
        return to_sign_in(fan, back)
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("key", "address_id", *ADDRESS_FIELDS)}
    address_id = (
        int(values["address_id"]) if values["address_id"].isdigit() and len(values["address_id"]) < 19 else None
    )
    new_address = None
    problem = None
    if address_id is None and any(values[f] for f in ADDRESS_FIELDS):
        try:
            new_address = AddressIn.model_validate({f: values[f] for f in ADDRESS_FIELDS})
        except ValidationError as invalid:
            problem = ADDRESS_PROBLEMS.get(str(invalid.errors()[0]["loc"][0]), "请检查收货地址")
    try:
        if problem is not None:
            raise redeem.AddressRequired(problem)
        row = await redeem.redeem(
            session,
            tenant_id=fan.tenant.id,
            member_id=fan.member.id,
            reward_id=reward_id,
            idempotency_key=values["key"] or None,
            address_id=address_id,
            address=new_address,
            gate=gate,
        )
    except redeem.AddressRequired as error:
        if _htmx(request):  # said above the button; what she typed stays in the form
            return _render(fan, request, "h5/_redeem_alert.html", status_code=error.status, error=error.message)
        return await _confirm(fan, request, session, reward_id, values=values, error=error.message, status_code=422)
    except (
        redeem.SoldOut,
        redeem.OutsideWindow,
        redeem.NotEligible,
        redeem.OverMemberLimit,
        redeem.InsufficientPoints,
        redeem.KeyReused,
        service.RewardNotFound,
    ) as error:
        # A refusal keeps nothing (sold out may come after the spend: see siyu.mall.redeem). The shop and the fan
        # are kept out of the rollback, which would expire what the page shows of them.
        session.expunge(fan.tenant)
        session.expunge(fan.member)
        await session.rollback()
        template = "h5/_redeem_refused.html" if _htmx(request) else "h5/redeem_refused.html"
        refused = _render(
            fan,
            request,
            template,
            status_code=error.status,
            error=error,
            reward_id=reward_id,
            slug=fan.tenant.slug,
            oob=_htmx(request),
        )
        return _in_place_of_form(refused) if _htmx(request) else refused
    if _htmx(request):
        done = _render(
            fan, request, "h5/_redeem_done.html", r=row, slug=fan.tenant.slug, status_labels=STATUS_LABELS, oob=True
        )
        return _in_place_of_form(done)
    return RedirectResponse(f"/h5/{fan.tenant.slug}/mall/redemptions/{row.id}?new=1", status_code=303)


@router.get("/{slug}/mall/redemptions", response_class=HTMLResponse)
async def my_redemptions(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/mall/redemptions")
    rows = await service.redemptions_of(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return _render(fan, request, "h5/redemptions.html", redemptions=rows, status_labels=STATUS_LABELS)


@router.get("/{slug}/mall/redemptions/{redemption_id}", response_class=HTMLResponse)
async def redemption_page(
    fan: Fan, request: Request, session: DbSession, redemption_id: ResourceId, new: int = 0
) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/mall/redemptions/{redemption_id}")
    return await _redemption(fan, request, session, redemption_id, new=bool(new))


async def _redemption(
    fan: FanPage,
    request: Request,
    session: DbSession,
    redemption_id: int,
    *,
    new: bool = False,
    values: dict[str, str] | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    assert fan.member is not None
    row = await service.redemption_of_member(
        session, tenant_id=fan.tenant.id, member_id=fan.member.id, redemption_id=redemption_id
    )
    saved = await service.addresses(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return _render(
        fan,
        request,
        "h5/redemption.html",
        status_code=status_code,
        r=row,
        new=new,
        status_labels=STATUS_LABELS,
        addresses=saved,
        values=values or {},
        error=error,
    )


@router.post("/{slug}/mall/redemptions/{redemption_id}/address", response_class=HTMLResponse)
async def prize_address(fan: Fan, request: Request, session: DbSession, redemption_id: ResourceId) -> Response:
    """Goods won in a lottery: she gives the address to send them to."""
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/mall/redemptions/{redemption_id}")
    form = await request.form()
    values = {k: str(form.get(k) or "").strip() for k in ("address_id", *ADDRESS_FIELDS)}
    address_id = (
        int(values["address_id"]) if values["address_id"].isdigit() and len(values["address_id"]) < 19 else None
    )
    new_address = None
    if address_id is None:
        try:
            new_address = AddressIn.model_validate({f: values[f] for f in ADDRESS_FIELDS})
        except ValidationError as invalid:
            field = str(invalid.errors()[0]["loc"][0])
            problem = ADDRESS_PROBLEMS.get(field, "请检查收货地址")
            return await _redemption(
                fan, request, session, redemption_id, values=values, error=problem, status_code=422
            )
    try:
        await service.give_address(
            session,
            tenant_id=fan.tenant.id,
            member_id=fan.member.id,
            redemption_id=redemption_id,
            address_id=address_id,
            address=new_address,
        )
    except service.NoAddressNeeded as refused:
        return await _redemption(fan, request, session, redemption_id, error=refused.message, status_code=409)
    return RedirectResponse(f"/h5/{fan.tenant.slug}/mall/redemptions/{redemption_id}", status_code=303)


@router.get("/{slug}/mall/addresses", response_class=HTMLResponse)
async def address_book(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/mall/addresses")
    saved = await service.addresses(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    return _render(fan, request, "h5/addresses.html", addresses=saved, values={}, error=None)


@router.post("/{slug}/mall/addresses", response_class=HTMLResponse)
async def add_address(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/mall/addresses")
    form = await request.form()
    values = {f: str(form.get(f) or "").strip() for f in ADDRESS_FIELDS}
    try:
        data = AddressIn.model_validate(values)
        await service.add_address(
            session, tenant_id=fan.tenant.id, member_id=fan.member.id, data=data, make_default=bool(form.get("default"))
        )
    except (ValidationError, AppError) as problem:
        if isinstance(problem, ValidationError):
            message = ADDRESS_PROBLEMS.get(str(problem.errors()[0]["loc"][0]), "请检查收货地址")
        else:
            message = problem.message
        saved = await service.addresses(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
        return _render(fan, request, "h5/addresses.html", 422, addresses=saved, values=values, error=message)
    return RedirectResponse(f"/h5/{fan.tenant.slug}/mall/addresses", status_code=303)


@router.post("/{slug}/mall/addresses/{address_id}/default")
async def default_address(fan: Fan, session: DbSession, address_id: ResourceId) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/mall/addresses")
    await service.make_default(session, tenant_id=fan.tenant.id, member_id=fan.member.id, address_id=address_id)
    return RedirectResponse(f"/h5/{fan.tenant.slug}/mall/addresses", status_code=303)


@router.post("/{slug}/mall/addresses/{address_id}/delete")
async def delete_address(fan: Fan, session: DbSession, address_id: ResourceId) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/mall/addresses")
    await service.remove_address(session, tenant_id=fan.tenant.id, member_id=fan.member.id, address_id=address_id)
    return RedirectResponse(f"/h5/{fan.tenant.slug}/mall/addresses", status_code=303)
