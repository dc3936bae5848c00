"""WeChat sign-in: official-account web OAuth and mini-program code-to-session.

Base URLs come from settings so tests and staging can point them at a fake that answers like WeChat,
error codes included. Errors are matched on `errcode`, never on the message text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import structlog

from siyu.kit.errors import AppError
from siyu.kit.types import plain_text

log = structlog.get_logger("siyu.fans.wechat")

TIMEOUT = httpx.Timeout(5.0)


class WechatError(AppError):
    status = 502
    code = "wechat_failed"
    message = "微信登录暂时不可用，请稍后再试"


class WechatCodeInvalid(WechatError):
    status = 400
    code = "wechat_code_invalid"
    message = "微信授权已失效，请重新进入页面"


class WechatBusy(WechatError):
    status = 503
    code = "wechat_busy"
    message = "微信服务繁忙，请稍后再试"


class WechatRateLimited(WechatError):
    status = 429
    code = "wechat_rate_limited"
    message = "登录太频繁，请一分钟后再试"


class WechatBlocked(WechatError):
    status = 403
    code = "wechat_blocked"
    message = "微信提示该账号存在风险，暂时不能登录"


class WechatMisconfigured(WechatError):
    code = "wechat_misconfigured"
    message = "公众号或小程序的配置有误，请联系客服"


class WechatSnapshotUser(WechatError):
    status = 400
    code = "wechat_snapshot_user"
    message = "请点击页面底部的“使用完整服务”后再登录"


ERRORS: dict[int, type[WechatError]] = {
    -1: WechatBusy,
    40029: WechatCodeInvalid,  # invalid code
    40163: WechatCodeInvalid,  # code already used
    42003: WechatCodeInvalid,  # code expired
    41008: WechatCodeInvalid,  # missing code
    45011: WechatRateLimited,  # per-user rate limit
    40226: WechatBlocked,  # high-risk user
    40013: WechatMisconfigured,  # invalid appid
    40125: WechatMisconfigured,  # invalid secret
    40164: WechatMisconfigured,  # server IP not whitelisted
}


@dataclass(frozen=True)
class WechatUser:
    openid: str
    unionid: str | None = None
    nickname: str = ""


def authorize_url(open_base: str, *, app_id: str, redirect_uri: str, state: str, scope: str) -> str:
    """Where to send a fan opening the H5 inside WeChat; WeChat returns to redirect_uri?code=..&state=.."""
    query = urlencode(
        {"appid": app_id, "redirect_uri": redirect_uri, "response_type": "code", "scope": scope, "state": state},
        quote_via=quote,
    )
    return f"{open_base.rstrip('/')}/connect/oauth2/authorize?{query}#wechat_redirect"


class WechatClient:
    def __init__(self, api_base: str, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.api_base = api_base.rstrip("/")
        self.transport = transport

    async def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        """One call; a busy answer (-1) is retried once."""
        for attempt in range(2):
            try:
                async with httpx.AsyncClient(timeout=TIMEOUT, transport=self.transport) as client:
                    response = await client.get(self.api_base + path, params=params)
                body = response.json()
            except (httpx.HTTPError, ValueError) as error:
                log.warning("wechat.unreachable", path=path, error=type(error).__name__)
                raise WechatError() from error
            if not isinstance(body, dict):
                raise WechatError()
            errcode = int(body.get("errcode") or 0)
            if errcode == 0:
                return body
            log.info("wechat.error", path=path, errcode=errcode)
            if errcode == -1 and attempt == 0:
                continue
            raise ERRORS.get(errcode, WechatError)(errcode=errcode)
        raise WechatBusy()

    async def oauth_user(self, *, app_id: str, secret: str, code: str, with_profile: bool) -> WechatUser:
        """Official-account OAuth: exchange the code; with the userinfo scope also read the nickname."""
        token = await self._get(
            "/sns/oauth2/access_token",
            {"appid": app_id, "secret": secret, "code": code, "grant_type": "authorization_code"},
        )
        if str(token.get("is_snapshotuser") or "") == "1":
            raise WechatSnapshotUser()
        openid = plain_text(token.get("openid"), 128)
        if not openid:
            raise WechatError()
        unionid = token.get("unionid") or None
        nickname = ""
        if with_profile and token.get("access_token"):
            info = await self._get(
                "/sns/userinfo", {"access_token": str(token["access_token"]), "openid": openid, "lang": "zh_CN"}
            )
            nickname = plain_text(info.get("nickname"), 100)  # whatever WeChat sends: no NUL, no lone surrogate
            unionid = unionid or info.get("unionid") or None
        return WechatUser(openid=openid, unionid=plain_text(unionid, 128) or None, nickname=nickname)

    async def mini_program_user(self, *, app_id: str, secret: str, js_code: str) -> WechatUser:
        """Mini-program login: code-to-session gives the openid (and unionid when the app is bound)."""
        body = await self._get(
            "/sns/jscode2session",
            {"appid": app_id, "secret": secret, "js_code": js_code, "grant_type": "authorization_code"},
        )
        openid = plain_text(body.get("openid"), 128)
        if not openid:
            raise WechatError()
        return WechatUser(openid=openid, unionid=plain_text(body.get("unionid"), 128) or None)
