"""Notices to fans: which channels tell her what, quiet hours and the daily cap, SMS and WeChat templates, the
tenant's webhook endpoints (with a test send and secret rotation) and the delivery log with redelivery."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siyu.console.deps import ConsoleContext, text
from siyu.console.forms import Refusal, attempt
from siyu.console.listing import Listing
from siyu.kit.web import DbSession, ResourceId
from siyu.members import service as members
from siyu.notices import service as notices
from siyu.notices.schemas import CHANNELS, KINDS, NoticeSettings, SmsSettings, WechatTemplate

router = APIRouter()

DELIVERY_LABELS = {
    "sent": "已送达",
    "failed": "失败待重试",
    "dropped": "不再发送",
    "parked": "已搁置",
    "retried": "已要求重发",
    "sending": "正在发送",
    "interrupted": "发送中断",
}
PROVIDERS = {"log": "只记录到日志（不真的发送）", "aliyun": "阿里云短信", "tencent": "腾讯云短信"}
HIDDEN = "***"


async def _page(
    console: ConsoleContext,
    session: DbSession,
    *,
    error: str | None = None,
    message: str | None = None,
    status: str | None = None,
    channel: str | None = None,
    page: int = 1,
    status_code: int = 200,
) -> HTMLResponse:
    tenant_id = console.tenant.id
    listing = Listing.of(
        "/console/notices",
        sort=None,
        allowed=["created_at"],
        default="-created_at",
        page=page,
        status=status,
        channel=channel,
    )
    result = await notices.deliveries(
        session, tenant_id=tenant_id, page=listing.request, status=status, channel=channel
    )
    names = await members.nicknames(session, tenant_id=tenant_id, member_ids=[n.member_id for _d, n in result.items])
    return console.render(
        "console/notices.html",
        "notices",
        settings=await notices.settings_of(session, tenant_id),
        endpoints=await notices.endpoints(session, tenant_id=tenant_id),
        result=result,
        listing=listing,
        names=names,
        kinds=KINDS,
        channels=CHANNELS,
        providers=PROVIDERS,
        delivery_labels=DELIVERY_LABELS,
        status=status or "",
        channel=channel or "",
        error=error,
        message=message,
        status_code=status_code,
    )


@router.get("/notices", response_class=HTMLResponse)
async def notices_page(
    console: ConsoleContext,
    session: DbSession,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    status: Annotated[str | None, Query(max_length=16, pattern="^(|sent|failed|dropped|parked|retried)$")] = None,
    channel: Annotated[str | None, Query(max_length=16, pattern="^(|wechat|sms|webhook)$")] = None,
    sort: Annotated[str | None, Query(max_length=20)] = None,
) -> HTMLResponse:
    console.require("tenant.read")
    return await _page(console, session, page=page, status=status or None, channel=channel or None)


def _back() -> Response:
    return RedirectResponse("/console/notices", status_code=303)


@router.post("/notices/settings")
async def save_settings(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("tenant.write")
    form = await request.form()
    current = await notices.settings_of(session, console.tenant.id)

    async def save() -> NoticeSettings:
        chosen = {kind: [c for c in CHANNELS if form.get(f"{kind}:{c}") == "on"] for kind in KINDS}
        settings = NoticeSettings.model_validate(
            {
                **current.model_dump(),
                "channels": chosen,
                "quiet_start": text(form, "quiet_start") or "22:00",
                "quiet_end": text(form, "quiet_end") or "08:00",
                "daily_cap": text(form, "daily_cap") or "5",
            }
        )
        return await notices.save_settings(session, actor=console.principal, settings=settings)

    outcome = await attempt(
        session, save, labels={"quiet_start": "免打扰开始", "quiet_end": "免打扰结束", "daily_cap": "每人每天最多"}
    )
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, status_code=outcome.status)
    return _back()


@router.post("/notices/sms")
async def save_sms(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("tenant.write")
    form = await request.form()
    current = await notices.settings_of(session, console.tenant.id)

    async def save() -> NoticeSettings:
        secret = text(form, "access_key_secret")
        sms = SmsSettings(
            provider=text(form, "provider") or "log",
            access_key_id=text(form, "access_key_id"),
            access_key_secret=current.sms.access_key_secret if secret in ("", HIDDEN) else secret,
            sdk_app_id=text(form, "sdk_app_id"),
            sign_name=text(form, "sign_name"),
            templates={kind: text(form, f"template:{kind}") for kind in KINDS if text(form, f"template:{kind}")},
        )
        settings = current.model_copy(update={"sms": sms})
        return await notices.save_settings(session, actor=console.principal, settings=settings)

    outcome = await attempt(session, save, check="请检查短信设置：服务商、密钥和模板编号")
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, status_code=outcome.status)
    return _back()


def _fields(written: str) -> dict[str, str]:
    """ "thing1=title, time2=expires_at" -> {"thing1": "title", "time2": "expires_at"}."""
    pairs = [part.split("=", 1) for part in written.replace("，", ",").split(",") if "=" in part]
    return {key.strip(): value.strip() for key, value in pairs if key.strip()}


@router.post("/notices/wechat")
async def save_wechat(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("tenant.write")
    form = await request.form()
    current = await notices.settings_of(session, console.tenant.id)

    async def save() -> NoticeSettings:
        templates = {
            kind: WechatTemplate(
                template_id=text(form, f"template:{kind}"),
                fields=_fields(text(form, f"fields:{kind}")),
                page=text(form, f"page:{kind}"),
                official=form.get(f"official:{kind}") == "on",
            )
            for kind in KINDS
            if text(form, f"template:{kind}")
        }
        settings = current.model_copy(update={"wechat": templates})
        return await notices.save_settings(session, actor=console.principal, settings=settings)

    outcome = await attempt(session, save, check="请检查订阅消息模板的填写")
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, status_code=outcome.status)
    return _back()


@router.post("/notices/webhooks")
async def add_webhook(request: Request, console: ConsoleContext, session: DbSession) -> Response:
    console.require("tenant.write")
    form = await request.form()
    url = text(form, "url")
    outcome = await attempt(session, lambda: notices.add_endpoint(session, actor=console.principal, url=url))
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, status_code=outcome.status)
    return _back()


@router.post("/notices/webhooks/{endpoint_id}/test")
async def test_webhook(endpoint_id: ResourceId, console: ConsoleContext, session: DbSession) -> Response:
    console.require("tenant.write")
    outcome = await attempt(
        session,
        lambda: notices.test_endpoint(session, actor=console.principal, endpoint_id=endpoint_id),
        not_found_page=True,
    )
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, status_code=outcome.status)
    if outcome.outcome == "sent":
        return await _page(console, session, message=f"测试通知已送达：{outcome.summary}")
    return await _page(console, session, error=f"测试通知没有送达：{outcome.summary}")


@router.post("/notices/webhooks/{endpoint_id}/rotate")
async def rotate_webhook(endpoint_id: ResourceId, console: ConsoleContext, session: DbSession) -> Response:
    console.require("tenant.write")
    outcome = await attempt(
        session,
        lambda: notices.rotate_secret(session, actor=console.principal, endpoint_id=endpoint_id),
        not_found_page=True,
    )
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, status_code=outcome.status)
    return await _page(console, session, message="已换上新密钥；旧密钥 24 小时内仍会一起签名，请在这之前更新接收方")


@router.post("/notices/webhooks/{endpoint_id}/delete")
async def delete_webhook(endpoint_id: ResourceId, console: ConsoleContext, session: DbSession) -> Response:
    console.require("tenant.write")
    outcome = await attempt(
        session,
        lambda: notices.remove_endpoint(session, actor=console.principal, endpoint_id=endpoint_id),
        not_found_page=True,
    )
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, status_code=outcome.status)
    return _back()


@router.post("/notices/deliveries/{delivery_id}/redeliver")
async def redeliver(delivery_id: ResourceId, console: ConsoleContext, session: DbSession) -> Response:
    console.require("tenant.write")
    outcome = await attempt(
        session,
        lambda: notices.redeliver(session, actor=console.principal, delivery_id=delivery_id),
        not_found_page=True,
    )
    if isinstance(outcome, Refusal):
        return await _page(console, session, error=outcome.message, status_code=outcome.status)
    return await _page(console, session, message="已安排重发，稍后在发送记录里查看结果")
