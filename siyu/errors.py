"""One place that turns errors into responses: JSON with a stable code for the API, pages for people."""

from __future__ import annotations

import socket
from typing import Any
from urllib.parse import quote

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from siyu.kit import metrics
from siyu.kit.errors import AppError, NotAuthenticated, Unavailable
from siyu.templating import templates

log = structlog.get_logger("siyu.errors")


class ErrorBody(BaseModel):
    """Every API error: a stable machine code and a message for people (zh-CN)."""

    code: str = Field(examples=["not_found"])
    message: str = Field(examples=["找不到你要的内容"])
    detail: Any = None


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (401, "未登录或 API 密钥无效"),
        (403, "没有权限"),
        (404, "资源不存在（包括属于其他店铺的资源）"),
        (409, "冲突"),
        (422, "请求内容不正确"),
        (429, "请求太频繁"),
        (503, "系统繁忙（数据库连接已满或暂时不可用），按 Retry-After 秒数后重试"),
    )
}

HTTP_MESSAGES: dict[int, tuple[str, str]] = {
    404: ("not_found", "找不到你要的页面"),
    405: ("method_not_allowed", "不支持这种请求方式"),
    413: ("too_large", "上传的内容太大"),
}


def _wants_page(request: Request) -> bool:
    path = request.url.path
    return not path.startswith("/api/") and path not in ("/openapi.json", "/healthz")


def _render(request: Request, status: int, code: str, message: str, detail: Any = None) -> Response:
    if not _wants_page(request):
        body: dict[str, Any] = {"code": code, "message": message}
        if detail:
            body["detail"] = detail
        return JSONResponse(body, status_code=status)
    if status == 401 and request.url.path.startswith("/console"):
        target = "/console/login?next=" + quote(request.url.path)
        if request.headers.get("hx-request"):
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)
    area = "h5" if request.url.path.startswith("/h5") else "console"
    return templates.TemplateResponse(
        request,
        "error.html",
        {"status": status, "code": code, "message": message, "area": area},
        status_code=status,
    )


async def app_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, NotAuthenticated) else None
    response = _render(request, exc.status, exc.code, exc.message, exc.detail or None)
    if headers and not _wants_page(request):
        response.headers.update(headers)
    if isinstance(exc, Unavailable):
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


# PostgreSQL errors that mean "not now" rather than "wrong": statement or lock timeout, too many connections,
# the server shutting down or starting, serialisation failures and deadlocks; class 08 is a lost connection.
BUSY_SQLSTATES = frozenset({"57014", "55P03", "53300", "53400", "57P01", "57P02", "57P03", "40001", "40P01"})


def database_unavailable(exc: BaseException) -> bool:
    """True when a database error says the database is saturated or unreachable, not that the request is bad."""
    if isinstance(exc, sa_exc.TimeoutError | ConnectionError | socket.gaierror):  # pool wait, refused, no host
        return True
    if not isinstance(exc, sa_exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None) or "")
    if sqlstate in BUSY_SQLSTATES or sqlstate.startswith("08"):
        return True
    # SQLite: another writer held the lock past the busy timeout, or the file cannot be opened.
    return isinstance(exc, sa_exc.OperationalError) and any(
        words in str(exc.orig) for words in ("database is locked", "unable to open database")
    )


async def database_error(request: Request, exc: Exception) -> Response:
    """Shed load instead of hanging: a saturated or unreachable database answers 503 with Retry-After."""
    if not database_unavailable(exc):
        return await unexpected_error(request, exc)
    log.warning("request.database_unavailable", path=request.url.path, error=type(exc).__name__)
    metrics.count_db_unavailable("pool_timeout" if isinstance(exc, sa_exc.TimeoutError) else "database")
    return await app_error(request, Unavailable())


async def validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": [str(part) for part in e.get("loc", ())], "type": e.get("type"), "msg": e.get("msg")}
        for e in exc.errors()
    ]
    malformed = any(e["type"] == "json_invalid" for e in errors)
    code, message = (
        ("malformed_json", "请求内容不是合法的 JSON")
        if malformed
        else ("invalid_request", "请求内容不正确，请检查后再试")
    )
    return _render(request, 422, code, message, errors)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    code, message = HTTP_MESSAGES.get(exc.status_code, ("http_error", "请求无法完成"))
    response = _render(request, exc.status_code, code, message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


async def unexpected_error(request: Request, exc: Exception) -> Response:
    log.exception("request.failed", path=request.url.path, error=repr(exc))
    return _render(request, 500, "internal_error", "服务暂时出了点问题，请稍后再试")


def install(app: FastAPI) -> None:
    app.add_exception_handler(AppError, app_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for database_failure in (sa_exc.TimeoutError, sa_exc.DBAPIError, ConnectionError, socket.gaierror):
        app.add_exception_handler(database_failure, database_error)
    app.add_exception_handler(Exception, unexpected_error)
