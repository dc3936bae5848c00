"""Console sign-in and sign-out. The login form uses a double-submit CSRF cookie (no session yet)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.console.deps import ConsoleContext, text
from siyu.kit.errors import AppError
from siyu.kit.security import new_token, same
from siyu.kit.web import DbSession, client_ip
from siyu.staff import service as staff
from siyu.staff.auth import SESSION_COOKIE
from siyu.templating import templates

router = APIRouter()

LOGIN_CSRF_COOKIE = "siyu_login_csrf"


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return "/console/"


def _login_page(
    request: Request,
    *,
    error: str | None = None,
    email: str = "",
    status_code: int = 200,
    next_url: str = "/console/",
) -> HTMLResponse:
    token = request.cookies.get(LOGIN_CSRF_COOKIE) or new_token(24)
    response = templates.TemplateResponse(
        request,
        "console/login.html",
        {
            "error": error,
            "email": email,
            "csrf_token": token,
            "next": next_url,
            "demo": request.app.state.settings.demo,
        },
        status_code=status_code,
    )
    response.set_cookie(
        LOGIN_CSRF_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.cookie_secure,
        path="/console",
    )
    return response


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next_url=_safe_next(next))


@router.post("/login")
async def login(request: Request, session: DbSession) -> Response:
    form = await request.form()
    email, password = text(form, "email"), str(form.get("password") or "")
    next_url = _safe_next(text(form, "next"))
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not same(cookie, text(form, "csrf_token")):
        return _login_page(request, error="页面已过期，请重新登录", email=email, status_code=403, next_url=next_url)
    settings = request.app.state.settings
    try:
        signed_in = await staff.log_in(
            session,
            limiter=request.app.state.limiter,
            email=email,
            password=password,
            ip=client_ip(request),
            hours=settings.session_hours,
            per_account_limit=settings.login_limit,
            per_ip_limit=settings.login_ip_limit,
        )
    except AppError as error:
        return _login_page(request, error=error.message, email=email, status_code=error.status, next_url=next_url)
    response = RedirectResponse(next_url, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        signed_in.token,
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        max_age=settings.session_hours * 3600,
        path="/",
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/console")
    return response


@router.post("/logout")
async def logout(request: Request, session: DbSession, console: ConsoleContext) -> Response:
    token = request.cookies.get(SESSION_COOKIE, "")
    await staff.log_out(session, token=token, actor=console.principal)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.post("/switch-tenant")
async def switch_tenant(request: Request, session: DbSession, console: ConsoleContext) -> Response:
    form = await request.form()
    raw = text(form, "tenant_id")
    if raw.isascii() and raw.isdigit() and len(raw) < 19:  # (a longer number is no tenant id)
        await staff.switch_tenant(session, token=request.cookies.get(SESSION_COOKIE, ""), tenant_id=int(raw))
    return RedirectResponse("/console/", status_code=303)
