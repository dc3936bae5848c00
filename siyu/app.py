"""The ASGI application: wiring only."""

from __future__ import annotations

import asyncio
import hmac
import itertools
import re
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.routing import iter_route_contexts
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from siyu import __version__, apidocs, errors, logs
from siyu.analytics.api import router as analytics_api
from siyu.audit.api import router as audit_api
from siyu.claims.api import router as claims_api
from siyu.claims.schemas import ClaimOut
from siyu.config import Settings, get_settings
from siyu.console import router as console_router
from siyu.db import READ_ONLY, create_sessionmaker, engine_for
from siyu.engagement.checkin import api as checkin_hot
from siyu.engagement.checkin.api import router as checkin_api
from siyu.engagement.checkin.schemas import CheckinOut
from siyu.engagement.missions.api import fan_router as fan_tasks_api
from siyu.engagement.missions.api import router as tasks_api
from siyu.engagement.referrals.api import router as referrals_api
from siyu.fans import api as fans_hot
from siyu.fans import mall_api as fan_mall_hot
from siyu.fans.api import router as fans_api
from siyu.fans.mall_api import router as fan_mall_api
from siyu.fans.sms import provider_for
from siyu.fans.wechat import WechatClient
from siyu.groups.api import fan_router as fan_groups_api
from siyu.groups.api import router as groups_api
from siyu.h5 import router as h5_router
from siyu.jobs import service as jobs
from siyu.jobs.api import router as jobs_api
from siyu.jobs.worker import Worker
from siyu.kit import metrics
from siyu.kit.compression import Compression
from siyu.kit.lane import IDLE_S, Lane, lane_for
from siyu.kit.ratelimit import RateLimiter
from siyu.kit.web import bearer_token
from siyu.ledger.api import router as ledger_api
from siyu.live.api import fan_router as fan_live_api
from siyu.live.api import router as live_api
from siyu.loyalty.api import router as loyalty_api
from siyu.mall.api import router as mall_api
from siyu.mall.gate import FlashGate
from siyu.mall.schemas import FanRedemptionOut
from siyu.members.api import router as members_api
from siyu.members.service import VisitBook
from siyu.notices.api import router as fan_notices_api
from siyu.orders import uploads
from siyu.orders.api import router as orders_api
from siyu.orders.uploads import UploadLimit
from siyu.segments.api import router as segments_api
from siyu.staff.api import router as staff_api
from siyu.staff.auth import authenticate
from siyu.tasks import connect, load_handlers
from siyu.tenants.api import router as tenants_api
from siyu.trials.api import fan_router as fan_trials_api
from siyu.trials.api import router as trials_api
from siyu.voice.api import fan_router as fan_voice_api
from siyu.voice.api import router as voice_api

STATIC_DIR = Path(__file__).parent / "static"
LOCAL_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
UPLOAD_PATHS = frozenset({"/api/v1/order-imports"})  # refused from Content-Length before the body is read
log = structlog.get_logger("siyu.http")


def _header(scope: Scope, name: bytes) -> bytes:
    """A request header's first value, straight from the scope (b"" when absent); `name` in lower case."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return b""


async def _carries_nul(scope: Scope, request: Request) -> bool:
    """A NUL in the query, in a JSON body (any JSON media type: application/json, application/merge-patch+json,
    any +json, in any case, or no content type, which FastAPI reads as JSON) or in a URL-encoded form body.
    Multipart bodies (uploads) are not read here: their text fields lose NULs in `form_text`."""
    if b"%00" in scope["query_string"]:
        return True
    media = _header(scope, b"content-type").split(b";", 1)[0].strip().lower()
    if media in (b"", b"application/json") or media.endswith((b"+json", b"/json")):
        body = await request.body()
        return b"\\u0000" in body or b"\x00" in body
    if media == b"application/x-www-form-urlencoded":
        body = await request.body()
        return b"%00" in body or b"\x00" in body
    return False


# Every page: resources from this server only, never framed by another site. Inline scripts and styles are allowed
# (the pages' small scripts, htmx's indicator style, Swagger UI's and ReDoc's start-up), evaluated strings are not
# (no hx-on handlers: the redeem form's live in static/js/redeem.js); ReDoc runs a worker from a blob and pictures
# may be data: URLs. The one outside script is WeChat's JS-SDK (the H5's subscribe buttons), from where
# SIYU_WECHAT_JS_SDK says. Encoded once: each response only appends them.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'{scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'self'"
)


def security_headers(js_sdk: str = "") -> list[tuple[bytes, bytes]]:
    parts = urlsplit(js_sdk)
    origin = f" {parts.scheme}://{parts.netloc}" if parts.scheme in ("http", "https") and parts.netloc else ""
    return [
        (b"content-security-policy", CONTENT_SECURITY_POLICY.format(scripts=origin).encode()),
        (b"x-frame-options", b"SAMEORIGIN"),
    ]


SECURITY_HEADERS = security_headers()


REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


_ID_PREFIX = secrets.token_hex(4)  # per process: ids stay unique across processes without a random draw each
_ID_COUNTER = itertools.count()


def _request_id(scope: Scope) -> str:
    """The caller's X-Request-ID when it is short and plain (letters, digits, . _ : -), else a new one."""
    given = _header(scope, b"x-request-id").decode("latin-1")
    if REQUEST_ID.fullmatch(given):
        return given
    return f"{_ID_PREFIX}{next(_ID_COUNTER):08x}"


def route_templates(app: Any) -> dict[int, str]:
    """Full route templates (/api/v1/members/{member_id}) by route: included routers keep their routes with the
    path relative to the router, and the request's scope names only that route. Walking them builds every route's
    request handling state (seconds for all the routes), so siyu.main does it once before the process serves."""
    templates: dict[int, str] | None = getattr(app.state, "route_templates", None)
    if templates is None:
        templates = {id(c.original_route): c.path_format or "" for c in iter_route_contexts(app.routes)}
        app.state.route_templates = templates
    return templates


def _route_of(scope: Scope, templates: dict[int, str]) -> str:
    """The route template that answered; one label for everything unrouted."""
    route = scope.get("route")
    if route is not None:
        return templates.get(id(route)) or getattr(route, "path_format", None) or metrics.UNMATCHED
    return "/static" if scope["path"].startswith("/static/") else metrics.UNMATCHED


class HeadersAndLog:
    """Plain ASGI middleware (no task per request, unlike @app.middleware): refuses NUL characters up front,
    adds the security headers, logs each request with its time, under a request id every log line of the request
    carries (echoed in X-Request-ID), and counts it for /metrics."""

    def __init__(self, app: ASGIApp, security: list[tuple[bytes, bytes]] | None = None) -> None:
        self.app = app
        self.security = SECURITY_HEADERS if security is None else security
        self.templates: dict[int, str] | None = None  # filled at the first request, once every route is there

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        bound = logs.REQUEST_ID.set(request_id)
        try:
            await self._handle(scope, receive, send, request_id, started)
        finally:
            logs.REQUEST_ID.reset(bound)

    async def _handle(self, scope: Scope, receive: Receive, send: Send, request_id: str, started: float) -> None:
        request = Request(scope, receive)
        if await _carries_nul(scope, request):
            # No text column anywhere can hold a NUL character: refuse it up front rather than fail in SQL.
            refusal = JSONResponse({"code": "invalid_request", "message": "请求中含有不允许的字符"}, status_code=422)
            refusal.headers["X-Request-ID"] = request_id
            await refusal(scope, receive, send)
            return
        body: bytes | None = getattr(request, "_body", None)  # read by the check (request.body()): hand it on
        if body is not None:
            receive = _replay(body, receive)
        path: str = scope["path"]
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message["headers"] = list(message.get("headers", ()))
                names = {name.lower() for name, _ in headers}
                if b"x-request-id" in names:
                    headers[:] = [(name, value) for name, value in headers if name.lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                if b"x-content-type-options" not in names:
                    headers.append((b"x-content-type-options", b"nosniff"))
                if b"referrer-policy" not in names:
                    headers.append((b"referrer-policy", b"same-origin"))
                headers.extend(self.security)
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            seconds = time.perf_counter() - started
            if self.templates is None:
                self.templates = route_templates(scope["app"])
            metrics.observe_request(_route_of(scope, self.templates), status, seconds)
            log.debug("request", method=scope["method"], path=path, status=status, ms=round(seconds * 1000, 1))


def _replay(body: bytes, receive: Receive) -> Receive:
    """The request's body, already read, handed to the app once; then whatever the client sends next."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def api_router() -> APIRouter:
    api = APIRouter(prefix="/api/v1", responses=errors.ERROR_RESPONSES)
    # Routes are matched in order: the fans' API (every claim of a live show) comes first.
    for router in (
        fans_api,
        fan_mall_api,
        referrals_api,
        tenants_api,
        staff_api,
        members_api,
        ledger_api,
        loyalty_api,
        claims_api,
        mall_api,
        orders_api,
        audit_api,
        jobs_api,
        fan_tasks_api,
        tasks_api,
        checkin_api,
        analytics_api,
        fan_live_api,
        live_api,
        fan_notices_api,
        fan_groups_api,
        groups_api,
        fan_voice_api,
        voice_api,
        fan_trials_api,
        trials_api,
        segments_api,
    ):
        api.include_router(router)
    return api


VISITS_EVERY_S = 5.0


async def _write_visits(book: VisitBook, sessionmaker: Any, stop: asyncio.Event) -> None:
    """Every few seconds, and once more on the way out: the visits fans' requests noted (siyu.members)."""
    while True:
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), VISITS_EVERY_S)
        if len(book):
            try:
                async with sessionmaker() as session, session.begin():
                    await book.write(session)
            except Exception:  # the database is away: they stay noted for the next round
                log.warning("visits_not_written", waiting=len(book), exc_info=True)
        if stop.is_set():
            return


async def _tend_lane(lane: Lane, stop: asyncio.Event) -> None:
    """Every few seconds: lane connections a passed burst left idle go back to the pool (siyu.kit.lane)."""
    while not stop.is_set():
        with suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), IDLE_S)
        try:
            await lane.release_idle()
        except Exception:
            log.warning("lane_not_released", exc_info=True)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    settings.check()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await asyncio.to_thread(uploads.remove_abandoned_temp_dirs)  # left by a process killed mid-upload
        engine = engine_for(settings)
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.lane = lane_for(engine, pool_size=settings.db_pool_size, max_overflow=settings.db_max_overflow)
        app.state.limiter = RateLimiter(settings.redis_url)
        app.state.gate = FlashGate(settings.redis_url) if settings.redis_url else None
        stop = asyncio.Event()
        visits = asyncio.create_task(_write_visits(app.state.visits, app.state.sessionmaker, stop))
        tending = asyncio.create_task(_tend_lane(app.state.lane, stop)) if app.state.lane is not None else None
        embedded: asyncio.Task[None] | None = None
        if settings.runs_embedded_worker:
            load_handlers()
            embedded = asyncio.create_task(Worker(app.state.sessionmaker).run_forever(stop))
        try:
            yield
        finally:
            stop.set()
            await visits
            if tending is not None:
                await tending
                await app.state.lane.close()
            if embedded is not None:
                await embedded
            await engine.dispose()
            if app.state.gate is not None:
                await app.state.gate.close()

    app = FastAPI(
        title="siyu 私域会员平台 API",
        version=__version__,
        description="订单换积分、会员、积分与运营后台的开放接口。认证：`Authorization: Bearer <API 密钥>`。"
        '错误统一为 `{"code": 稳定代码, "message": 中文说明}`。',
        lifespan=lifespan,
        docs_url=None,  # served by siyu.apidocs from vendored files, not from a CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.authenticate = authenticate
    app.state.visits = VisitBook()  # fans' visits, noted by their requests and written every few seconds
    app.state.sms = provider_for(settings.sms_provider)
    app.state.wechat = WechatClient(settings.wechat_api_base)
    app.state.gate = None  # the Redis flash gate, opened with the app when SIYU_REDIS_URL is set
    app.state.lane = None  # PostgreSQL connections of the hot routes, opened with the app (siyu.kit.lane)
    errors.install(app)
    connect()  # domains that hear of each other in requests (a new member joined through an invitation)
    app.add_middleware(Compression, minimum_size=800)
    app.add_middleware(UploadLimit, paths=UPLOAD_PATHS, limit_bytes=settings.max_upload_mb << 20)

    app.add_middleware(HeadersAndLog, security=security_headers(settings.wechat_js_sdk))

    @app.get("/healthz", tags=["运维"], summary="健康检查（含数据库）")
    async def healthz(request: Request) -> JSONResponse:
        try:
            async with request.app.state.engine.connect() as connection:
                await connection.execution_options(**READ_ONLY)
                await connection.execute(text("SELECT 1"))
        except Exception as error:
            # Anyone may ask: the answer says whether, never why (the reason is in the log).
            log.error("healthz.database", error=str(error)[:200])
            return JSONResponse({"status": "error", "database": "unreachable"}, status_code=503)
        return JSONResponse({"status": "ok", "database": "ok"})

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        """Prometheus metrics of every process (see docs/running.md): with SIYU_METRICS_TOKEN set, only for
        `Authorization: Bearer <token>`; without it, only for callers on this machine."""
        token = request.app.state.settings.metrics_token
        if token:
            given = bearer_token(request.headers.get("authorization")) or ""
            allowed = hmac.compare_digest(given.encode(), token.encode())
        else:
            allowed = request.client is not None and request.client.host in LOCAL_HOSTS
        if not allowed:
            return JSONResponse({"code": "forbidden", "message": "没有权限查看监控指标"}, status_code=403)
        async with request.app.state.sessionmaker() as session:
            backlog = await jobs.backlog(session)
        gauges = [
            ("siyu_jobs_waiting", "Jobs due and not yet taken by a worker", backlog["waiting"]),
            ("siyu_jobs_failing", "Jobs waiting to be retried after an error", backlog["retrying"]),
            ("siyu_jobs_running", "Jobs taken by a worker", backlog["running"]),
            ("siyu_jobs_parked", "Jobs given up after their last attempt", backlog["parked"]),
        ]
        body = await asyncio.to_thread(metrics.render, gauges)  # reads every process's file: off the event loop
        return Response(body, media_type=metrics.CONTENT_TYPE)

    @app.get("/", include_in_schema=False)
    async def root() -> RedirectResponse:
        return RedirectResponse("/console/", status_code=307)

    # The claim and flash-redeem routes sit on the app itself, ahead of every router: they carry every claim of a
    # live show and every attempt of a flash opening, and matching a path through the nested routers costs more
    # than the route's own validation.
    app.add_api_route(
        fans_hot.CLAIM_PATH,
        fans_hot.claim,
        methods=["POST"],
        response_model=ClaimOut,
        summary=fans_hot.CLAIM_SUMMARY,
        tags=["粉丝"],
        responses=errors.ERROR_RESPONSES,
    )
    app.add_api_route(
        fan_mall_hot.REDEEM_PATH,
        fan_mall_hot.redeem_reward,
        methods=["POST"],
        response_model=FanRedemptionOut,
        summary=fan_mall_hot.REDEEM_SUMMARY,
        tags=fan_mall_hot.TAGS,
        responses=errors.ERROR_RESPONSES,
    )
    app.add_api_route(  # every fan's daily check-in, the same way
        checkin_hot.CHECKIN_PATH,
        checkin_hot.check_in,
        methods=["POST"],
        response_model=CheckinOut,
        summary=checkin_hot.CHECKIN_SUMMARY,
        tags=checkin_hot.TAGS,
        responses=errors.ERROR_RESPONSES,
    )
    app.include_router(api_router())
    app.include_router(apidocs.router)
    app.include_router(console_router, include_in_schema=False)
    app.include_router(h5_router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=str(STATIC_DIR)), name="static")
    return app
