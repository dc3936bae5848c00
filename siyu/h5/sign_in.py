"""Signing in on the H5: WeChat (inside WeChat, when the tenant connected its official account), phone number and
a one-time code, or the demo fan on a demo server; signing out; the fan's bound accounts."""

from __future__ import annotations

from urllib.parse import quote, unquote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from siyu.fans import service as fans
from siyu.fans.wechat import WechatError, authorize_url
from siyu.h5.fans import Fan, FanPage, remember_official_account, sign_in, sign_out, to_sign_in
from siyu.h5.referrals import joined_here
from siyu.kit.errors import AppError
from siyu.kit.security import new_token, same, sign
from siyu.kit.time import utcnow
from siyu.kit.web import DbSession, client_ip, form_text
from siyu.members import service as members
from siyu.templating import templates

router = APIRouter()
STATE_COOKIE = "siyu_wx_state"
# The phone sign-in form's double-submit token (as on the console's login): a page of another site cannot read
# it, so it cannot sign a fan in (to an account of its choosing) or send codes in her name.
LOGIN_CSRF_COOKIE = "siyu_h5_login_csrf"
EXPIRED = "页面已过期，请重新登录"


def _safe_next(slug: str, next_path: str) -> str:
    """Only back into this tenant's H5 (never an open redirect)."""
    home = f"/h5/{slug}/"
    if next_path.startswith(home) and "//" not in next_path[1:] and "\\" not in next_path:
        return next_path
    return home


async def _login(
    fan: FanPage,
    request: Request,
    session: DbSession,
    *,
    next_path: str,
    phone: str = "",
    error: str | None = None,
    sent: str | None = None,
    status_code: int = 200,
    binding: bool = False,
    resend_in: int = 0,
) -> Response:
    settings = request.app.state.settings
    wechat = await fans.wechat_config(session, fan.tenant.id)
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_token(24)
    response = templates.TemplateResponse(
        request,
        "h5/login.html",
        {
            "tenant": fan.tenant,
            "brand_color": fan.brand_color,
            "demo": settings.is_demo_tenant(fan.tenant.slug),
            "wechat": wechat.official_account,
            "binding": binding and fan.member is not None,
            "next": _safe_next(fan.tenant.slug, next_path),
            "phone": phone,
            "error": error,
            "sent": sent,
            "resend_in": resend_in,
            "csrf_token": token,
        },
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
        path=f"/h5/{fan.tenant.slug}/",
    )
    return response


def _same_site(request: Request, form: FormData) -> bool:
    """The form came from our own login page: its token matches the cookie that page set."""
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    return bool(cookie) and same(cookie, form_text(form, "csrf_token"))


@router.get("/{slug}/login", response_class=HTMLResponse)
async def login_page(fan: Fan, request: Request, session: DbSession, next: str = "", bind: int = 0) -> Response:
    if fan.member is not None and not bind:
        return RedirectResponse(_safe_next(fan.tenant.slug, next), status_code=303)
    return await _login(fan, request, session, next_path=next, binding=bool(bind))


@router.post("/{slug}/login/code", response_class=HTMLResponse)
async def send_code(fan: Fan, request: Request, session: DbSession) -> Response:
    """Send the code; htmx swaps in the line that says so (the whole page without JavaScript)."""
    form = await request.form()
    phone, next_path = form_text(form, "phone"), form_text(form, "next")
    binding = form_text(form, "bind") == "1"
    settings = request.app.state.settings
    if not _same_site(request, form):
        if request.headers.get("hx-request"):
            expired = templates.TemplateResponse(
                request, "h5/_code_sent.html", {"note": "页面已过期，请刷新后重试", "failed": True}, status_code=200
            )
            expired.headers["HX-Retarget"] = "#code-error"
            return expired
        return await _login(
            fan, request, session, next_path=next_path, phone=phone, error=EXPIRED, status_code=403, binding=binding
        )
    try:
        sent = await fans.send_code(
            session,
            secret=settings.secret_key,
            tenant_id=fan.tenant.id,
            phone=phone,
            ip=client_ip(request),
            limiter=request.app.state.limiter,
            sms=request.app.state.sms,
        )
    except AppError as error:
        if request.headers.get("hx-request"):
            # The refusal goes next to the button: the line saying a code was sent (on a demo, the code) stays.
            refused = templates.TemplateResponse(
                request, "h5/_code_sent.html", {"note": error.message, "failed": True}, status_code=200
            )
            refused.headers["HX-Retarget"] = "#code-error"
            return refused
        return await _login(
            fan,
            request,
            session,
            next_path=next_path,
            phone=phone,
            error=error.message,
            status_code=error.status,
            binding=binding,
        )
    note = "验证码已发送，5 分钟内有效"
    if settings.is_demo_tenant(fan.tenant.slug):
        note += f"（演示站点不发短信，验证码是 {sent.code}）"
    if request.headers.get("hx-request"):
        return templates.TemplateResponse(
            request,
            "h5/_code_sent.html",
            {"note": note, "failed": False, "resend_in": sent.resend_in},
            status_code=200,
        )
    return await _login(
        fan, request, session, next_path=next_path, phone=phone, sent=note, resend_in=sent.resend_in, binding=binding
    )


@router.post("/{slug}/login", response_class=HTMLResponse)
async def sign_in_with_code(fan: Fan, request: Request, session: DbSession) -> Response:
    """A right code signs her in. Binding the phone to the member she is signed in as (two members of one person
    merge) happens only from the binding form (bind=1, opened from "我的账号"); a plain sign-in while signed in
    signs her in as the phone's member and binds or merges nothing."""
    form = await request.form()
    phone, code, next_path = (form_text(form, k) for k in ("phone", "code", "next"))
    binding = fan.member is not None and form_text(form, "bind") == "1"
    if not _same_site(request, form):
        return await _login(
            fan, request, session, next_path=next_path, phone=phone, error=EXPIRED, status_code=403, binding=binding
        )
    started = utcnow()
    try:
        member = await fans.sign_in_with_code(
            session,
            secret=request.app.state.settings.secret_key,
            tenant_id=fan.tenant.id,
            phone=phone,
            code=code,
            limiter=request.app.state.limiter,
            signed_in_as=fan.member.id if binding and fan.member else None,
        )
    except AppError as error:
        return await _login(
            fan,
            request,
            session,
            next_path=next_path,
            phone=phone,
            error=error.message,
            status_code=error.status,
            binding=binding,
        )
    response = RedirectResponse(_safe_next(fan.tenant.slug, next_path), status_code=303)
    await joined_here(request, response, session, fan, member, started)
    await sign_in(request, response, session, fan.tenant, member.id)
    return response


def _state_value(request: Request, state: str, next_path: str) -> str:
    # The path is percent-encoded: a cookie holds Latin-1 only, and a | in it would split the value.
    payload = f"{state}|{quote(next_path, safe='/')}"
    return f"{payload}|{sign(request.app.state.settings.secret_key, payload)}"


@router.get("/{slug}/wechat")
async def wechat_start(fan: Fan, request: Request, session: DbSession, next: str = "") -> Response:
    """Off to WeChat's authorisation page; it comes back to the callback with a code and our state."""
    config = await fans.wechat_config(session, fan.tenant.id)
    if not config.official_account:
        return await _login(fan, request, session, next_path=next, error=fans.WechatNotConfigured.message)
    state = new_token(16).replace("-", "a").replace("_", "b")  # WeChat takes [A-Za-z0-9] only
    callback = str(request.url_for("wechat_callback", slug=fan.tenant.slug))
    target = authorize_url(
        request.app.state.settings.wechat_open_base,
        app_id=config.app_id,
        redirect_uri=callback,
        state=state,
        scope=config.scope,
    )
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        _state_value(request, state, _safe_next(fan.tenant.slug, next)),
        max_age=600,
        httponly=True,
        samesite="lax",
        path=f"/h5/{fan.tenant.slug}/",
    )
    return response


@router.get("/{slug}/wechat/callback", name="wechat_callback")
async def wechat_callback(fan: Fan, request: Request, session: DbSession, code: str = "", state: str = "") -> Response:
    saved = request.cookies.get(STATE_COOKIE, "").split("|")
    home = f"/h5/{fan.tenant.slug}/"
    if (
        len(saved) != 3
        or not state
        or not same(saved[0], state)
        or not same(saved[2], sign(request.app.state.settings.secret_key, f"{saved[0]}|{saved[1]}"))
    ):
        return await _login(
            fan, request, session, next_path=home, error="登录已过期，请重新点击“微信登录”", status_code=400
        )
    next_path = _safe_next(fan.tenant.slug, unquote(saved[1]))
    if not code:  # she declined on WeChat's page
        return await _login(fan, request, session, next_path=next_path, error="你取消了微信授权", status_code=400)
    config = await fans.wechat_config(session, fan.tenant.id)
    try:
        user = await request.app.state.wechat.oauth_user(
            app_id=config.app_id,
            secret=config.app_secret,
            code=code,
            with_profile=config.scope == "snsapi_userinfo",
        )
    except WechatError as error:
        return await _login(fan, request, session, next_path=next_path, error=error.message, status_code=error.status)
    # Signed in already as someone else: she is now signed in as the WeChat account's member; nothing is bound or
    # merged behind her back (binding is only ever the explicit form of "我的账号").
    started = utcnow()
    member = await fans.sign_in_wechat(session, tenant_id=fan.tenant.id, user=user, signed_in_as=None)
    response = RedirectResponse(next_path, status_code=303)
    await joined_here(request, response, session, fan, member, started)
    response.delete_cookie(STATE_COOKIE, path=f"/h5/{fan.tenant.slug}/")
    await sign_in(request, response, session, fan.tenant, member.id)
    remember_official_account(request, response, fan.tenant, member.id, user.openid)
    return response


@router.post("/{slug}/demo-login")
async def demo_login(fan: Fan, request: Request, session: DbSession) -> Response:
    """On a demo server: look around as the demo fan with the most points."""
    if not request.app.state.settings.is_demo_tenant(fan.tenant.slug):
        return RedirectResponse(f"/h5/{fan.tenant.slug}/login", status_code=303)
    form = await request.form()
    response = RedirectResponse(_safe_next(fan.tenant.slug, form_text(form, "next")), status_code=303)
    member = await fans.demo_member(session, tenant_id=fan.tenant.id)
    await sign_in(request, response, session, fan.tenant, member.id)
    return response


@router.post("/{slug}/logout")
async def logout(fan: Fan, request: Request, session: DbSession) -> Response:
    response = RedirectResponse(f"/h5/{fan.tenant.slug}/", status_code=303)
    await sign_out(request, response, session, fan.tenant)
    return response


async def _accounts(
    fan: FanPage, request: Request, session: DbSession, *, error: str | None = None, status_code: int = 200
) -> Response:
    assert fan.member is not None
    secret = request.app.state.settings.secret_key
    identities = await members.identities_of(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
    phone = next((i.value for i in identities if i.kind == "phone"), None)
    return templates.TemplateResponse(
        request,
        "h5/accounts.html",
        {
            "tenant": fan.tenant,
            "brand_color": fan.brand_color,
            "member": fan.member,
            "name": fans.display_name(fan.member, phone),
            "identities": [
                fans.shown_identity(secret, member=fan.member, kind=i.kind, value=i.value, bound_at=i.created_at)
                for i in identities
            ],
            "has_phone": phone is not None,
            "last_sign_in": [i for i in identities if i.kind in members.SIGN_IN_KINDS][1:] == [],
            "sign_in_kinds": members.SIGN_IN_KINDS,
            "error": error,
            "unbound": request.query_params.get("unbound") == "1",
        },
        status_code=status_code,
    )


@router.get("/{slug}/accounts", response_class=HTMLResponse)
async def accounts(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/accounts")
    return await _accounts(fan, request, session)


@router.post("/{slug}/accounts/unbind", response_class=HTMLResponse)
async def unbind(fan: Fan, request: Request, session: DbSession) -> Response:
    if fan.member is None:
        return to_sign_in(fan, f"/h5/{fan.tenant.slug}/accounts")
    form = await request.form()
    kind, ref = form_text(form, "kind"), form_text(form, "ref")
    secret = request.app.state.settings.secret_key
    try:
        # The form names the account by a keyed reference, never by its id (which fans never see).
        value = next(
            (
                i.value
                for i in await members.identities_of(session, tenant_id=fan.tenant.id, member_id=fan.member.id)
                if i.kind == kind
                and same(ref, fans.identity_ref(secret, member_id=fan.member.id, kind=kind, value=i.value))
            ),
            None,
        )
        if value is None:
            raise members.IdentityNotFound()
        await members.unbind_identity(session, tenant_id=fan.tenant.id, member_id=fan.member.id, kind=kind, value=value)
    except AppError as error:
        return await _accounts(fan, request, session, error=error.message, status_code=error.status)
    return RedirectResponse(f"/h5/{fan.tenant.slug}/accounts?unbound=1", status_code=303)
