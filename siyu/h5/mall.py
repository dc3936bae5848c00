"""积分商城 on the H5: the shelf (categories, flash countdowns), a reward, redeeming with an address, the fan's
redemptions with logistics, her address book, and the rewards' images."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.h5.fans import Fan, FanPage, fan_page, signed_fan, to_sign_in
from siyu.kit.errors import AppError, InvalidInput, NotFound
from siyu.kit.time import utcnow
from siyu.kit.web import DbSession, ResourceId
from siyu.ledger import service as ledger
from siyu.loyalty import service as loyalty
from siyu.mall import images, redeem, service
from siyu.mall.models import KIND_LABELS, STATUS_LABELS, RewardKind
from siyu.mall.schemas import AddressIn
from siyu.templating import templates

router = APIRouter()
ADDRESS_FIELDS = ("name", "phone", "region", "detail")
ADDRESS_PROBLEMS = {
    "name": "请填写收件人",
    "phone": "请填写 11 位手机号",
    "region": "请选择省、市、区",
    "detail": "请填写详细地址（街道、门牌号）",
}


def _address_problem(invalid: ValidationError) -> str:
    return ADDRESS_PROBLEMS.get(str(invalid.errors()[0]["loc"][0]), "请检查收货地址")


@dataclass(frozen=True)
class AddressChoice:
    """What the address part of a form said: a saved address, a new one, or why the new one is not right."""

    values: dict[str, str]
    address_id: int | None
    new: AddressIn | None
    problem: str | None


def _address_choice(form: Any, *extra: str) -> AddressChoice:
    """A new address she filled in wins over a saved one (its fields are only sent while she chose it: see
    _address_choice.html); without one, the saved address she picked."""
    values = {k: str(form.get(k) or "").strip() for k in (*extra, "address_id", *ADDRESS_FIELDS)}
    if any(values[f] for f in ADDRESS_FIELDS):
        try:
            return AddressChoice(values, None, AddressIn.model_validate({f: values[f] for f in ADDRESS_FIELDS}), None)
        except ValidationError as invalid:
            return AddressChoice(values, None, None, _address_problem(invalid))
    raw = values["address_id"]
    return AddressChoice(values, int(raw) if raw.isdigit() and len(raw) < 19 else None, None, None)


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
    points = refused = None
    if fan.member is not None:
        points = await ledger.balance(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
        refused = await redeem.refusal(
            session,
            tenant_id=fan.tenant.id,
            timezone=fan.tenant.timezone,
            member_id=fan.member.id,
            reward=reward,
            now=now,
        )
    tiers = await loyalty.list_tiers(session, tenant_id=fan.tenant.id) if reward.tier_ids else []
    return _render(
        fan,
        request,
        "h5/reward.html",
        reward=reward,
        kind_label=KIND_LABELS.get(reward.kind, ""),
        is_open=service.is_open(reward, now),
        points=points,
        refused=refused,
        tier_words=redeem.tier_words(list(reward.tier_ids), tiers),
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
    refused = await redeem.refusal(
        session, tenant_id=fan.tenant.id, timezone=fan.tenant.timezone, member_id=fan.member.id, reward=reward
    )
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
        refused=refused,
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
    choice = _address_choice(await request.form(), "key")
    values = choice.values
    try:
        if choice.problem is not None:
            # What she lacks (points, tier, a limit) says more than a wrong field of an address that would not help.
            reward = await service.visible_reward(session, tenant_id=fan.tenant.id, reward_id=reward_id)
            lacking = await redeem.refusal(
                session, tenant_id=fan.tenant.id, timezone=fan.tenant.timezone, member_id=fan.member.id, reward=reward
            )
            raise lacking or redeem.AddressRequired(choice.problem)
        row = await redeem.redeem(
            session,
            tenant_id=fan.tenant.id,
            member_id=fan.member.id,
            reward_id=reward_id,
            idempotency_key=values["key"] or None,
            address_id=choice.address_id,
            address=choice.new,
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
    fan: Fan, request: Request, session: DbSession, redemption_id: ResourceId, new: int = 0, moved: int = 0
) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/mall/redemptions/{redemption_id}")
    return await _redemption(fan, request, session, redemption_id, new=bool(new), moved=bool(moved))


async def _redemption(
    fan: FanPage,
    request: Request,
    session: DbSession,
    redemption_id: int,
    *,
    new: bool = False,
    moved: bool = False,
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
        moved=moved,
        status_labels=STATUS_LABELS,
        addresses=saved,
        can_change_address=service.address_changeable(row),
        values=values or {},
        error=error,
    )


@router.post("/{slug}/mall/redemptions/{redemption_id}/address", response_class=HTMLResponse)
async def prize_address(fan: Fan, request: Request, session: DbSession, redemption_id: ResourceId) -> Response:
    """Where to send her goods: a prize waiting for its address, or a redemption not shipped yet."""
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/mall/redemptions/{redemption_id}")
    choice = _address_choice(await request.form())
    if choice.problem is not None:
        return await _redemption(
            fan, request, session, redemption_id, values=choice.values, error=choice.problem, status_code=422
        )
    try:
        await service.set_address(
            session,
            tenant_id=fan.tenant.id,
            member_id=fan.member.id,
            redemption_id=redemption_id,
            address_id=choice.address_id,
            address=choice.new,
        )
    except (service.NoAddressNeeded, service.AddressLocked, service.AddressNotFound, InvalidInput) as refused:
        values, status = choice.values, refused.status
        return await _redemption(
            fan, request, session, redemption_id, values=values, error=refused.message, status_code=status
        )
    return RedirectResponse(f"/h5/{fan.tenant.slug}/mall/redemptions/{redemption_id}?moved=1", status_code=303)


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
        message = _address_problem(problem) if isinstance(problem, ValidationError) else problem.message
        saved = await service.addresses(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
        return _render(fan, request, "h5/addresses.html", 422, addresses=saved, values=values, error=message)
    return RedirectResponse(f"/h5/{fan.tenant.slug}/mall/addresses", status_code=303)


@router.get("/{slug}/mall/addresses/{address_id}/edit", response_class=HTMLResponse)
async def edit_address_page(fan: Fan, request: Request, session: DbSession, address_id: ResourceId) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/mall/addresses")
    row = await service.get_address(session, tenant_id=fan.tenant.id, member_id=fan.member.id, address_id=address_id)
    values = {f: getattr(row, f) for f in ADDRESS_FIELDS}
    return _render(fan, request, "h5/address_edit.html", address=row, values=values, error=None)


@router.post("/{slug}/mall/addresses/{address_id}", response_class=HTMLResponse)
async def edit_address(fan: Fan, request: Request, session: DbSession, address_id: ResourceId) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/mall/addresses")
    row = await service.get_address(session, tenant_id=fan.tenant.id, member_id=fan.member.id, address_id=address_id)
    form = await request.form()
    values = {f: str(form.get(f) or "").strip() for f in ADDRESS_FIELDS}
    try:
        data = AddressIn.model_validate(values)
    except ValidationError as invalid:
        return _render(
            fan, request, "h5/address_edit.html", 422, address=row, values=values, error=_address_problem(invalid)
        )
    await service.update_address(
        session,
        tenant_id=fan.tenant.id,
        member_id=fan.member.id,
        address_id=address_id,
        data=data,
        make_default=bool(form.get("default")),
    )
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
