"""Errors carry an HTTP status, a stable machine code and a Chinese message for people.

Services raise these; one handler (siyu.errors) renders them as JSON for the API and as pages elsewhere.
"""

from __future__ import annotations

from typing import Any, ClassVar


class AppError(Exception):
    status: ClassVar[int] = 400
    code: str = "bad_request"
    message: str = "请求有误"

    def __init__(self, message: str | None = None, *, code: str | None = None, **detail: Any) -> None:
        self.message = message or type(self).message
        if code is not None:
            self.code = code
        self.detail = detail
        super().__init__(self.message)


class InvalidInput(AppError):
    status = 422
    code = "invalid_input"
    message = "输入的内容不正确"


class NotAuthenticated(AppError):
    status = 401
    code = "not_authenticated"
    message = "请先登录"


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    message = "没有权限执行此操作"


class NotFound(AppError):
    status = 404
    code = "not_found"
    message = "找不到你要的内容"


class Conflict(AppError):
    status = 409
    code = "conflict"
    message = "内容已存在或已被修改"


class RateLimited(AppError):
    status = 429
    code = "rate_limited"
    message = "操作太频繁，请稍后再试"


class Unavailable(AppError):
    """The database is saturated or unreachable for now: the caller should retry shortly (Retry-After)."""

    status = 503
    code = "busy"
    message = "系统繁忙，请稍后再试"
    retry_after: ClassVar[int] = 2
