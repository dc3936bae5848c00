"""A local stand-in for WeChat's sign-in, subscribe-message and JS-SDK endpoints, served over real HTTP, answering
like WeChat does. The tests use it, and so does the demo (`siyu demo` / `siyu serve` start it when no real gateway
is configured, see `siyu.demo.gateways`).

A code names what happens: "ok:<openid>[:<unionid>]" signs that user in (once: a second use is 40163);
"snapshot" is a snapshot-page virtual user; "busy-once:<openid>" answers -1 first, then succeeds;
any other code is looked up in ERRCODES (e.g. "bad" -> 40029 invalid code, "limit" -> 45011 rate limit).

Subscribe messages (mini-program `send`, official-account `bizsend`) need an access token from /cgi-bin/token;
`expire_tokens()` makes the ones handed out stale (40001), `answers` is a list of errcodes the next sends answer
with (-1 busy, 45009 over quota, 43101 refused, ...), `down` answers HTTP 500; what was accepted is in `messages`.
`mode` does the same for every send until changed: "ok", "busy" (-1), "throttle" (45009), "refuse" (43101) or "down"
(HTTP 500); a running fake takes a new mode from `POST /_fake/mode?mode=...`.

For the H5: `/cgi-bin/ticket/getticket` hands out JS-SDK tickets, `/connect/oauth2/authorize` signs the browser in
at once (as a fan who agreed would be), and `/open/js/jweixin-1.6.0.js` is a stand-in for WeChat's JS-SDK that works
in any browser: `wx.config` checks its fields, and each `<wx-open-subscribe>` tag becomes a button that asks
「允许」/「取消」 and fires the tag's `success` event the way WeChat does.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from siyu.demo.gateways.running import free_port, running

APP_ID, APP_SECRET = "wx-test-app", "test-secret"
MINI_ID, MINI_SECRET = "wx-test-mini", "mini-secret"
ERRCODES = {"bad": 40029, "expired": 42003, "limit": 45011, "risky": 40226, "ip": 40164}
MODES = {"ok": 0, "busy": -1, "throttle": 45009, "refuse": 43101, "down": 500}
JS_SDK_PATH = "/open/js/jweixin-1.6.0.js"
__all__ = ["APP_ID", "APP_SECRET", "MINI_ID", "MINI_SECRET", "FakeWechat", "free_port", "serve"]


class FakeWechat:
    def __init__(self) -> None:
        self.used: set[str] = set()
        self.busy_seen: set[str] = set()
        self.calls: list[str] = []
        self.tokens: set[str] = set()
        self.token_count = 0
        self.answers: list[int] = []
        self.down = False
        self.mode = "ok"
        self.tickets: set[str] = set()
        self.messages: list[dict[str, Any]] = []
        # With `consents` set, a message needs one of the user's subscriptions to its template, as on WeChat: each
        # allows one message, and a message without one is refused with 43101. None: every message is allowed.
        self.consents: dict[tuple[str, str], int] | None = None

    def expire_tokens(self) -> None:
        self.tokens.clear()

    async def token(self, request: Request) -> JSONResponse:
        q = request.query_params
        self.calls.append("token")
        if (q.get("appid", ""), q.get("secret", "")) not in ((APP_ID, APP_SECRET), (MINI_ID, MINI_SECRET)):
            return JSONResponse({"errcode": 40125, "errmsg": "invalid appsecret"})
        self.token_count += 1
        token = f"token-{self.token_count}"
        self.tokens.add(token)
        return JSONResponse({"access_token": token, "expires_in": 7200})

    async def subscribe(self, request: Request) -> JSONResponse:
        self.calls.append(request.url.path.rsplit("/", 1)[-1])
        if self.down or self.mode == "down":
            return JSONResponse({"errmsg": "gateway"}, status_code=500)
        if request.query_params.get("access_token", "") not in self.tokens:
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        errcode = self.answers.pop(0) if self.answers else MODES.get(self.mode, 0)
        if errcode:
            return JSONResponse({"errcode": errcode, "errmsg": "error"})
        body = await request.json()
        if not body.get("touser") or not body.get("template_id"):
            return JSONResponse({"errcode": 47003, "errmsg": "argument invalid"})
        if self.consents is not None:
            key = (str(body["touser"]), str(body["template_id"]))
            if self.consents.get(key, 0) <= 0:
                return JSONResponse({"errcode": 43101, "errmsg": "user refuse to accept the msg"})
            self.consents[key] -= 1
        self.messages.append({"path": request.url.path, **body})
        return JSONResponse({"errcode": 0, "errmsg": "ok", "msgid": len(self.messages)})

    def _user(self, code: str, app_id: str, secret: str) -> dict[str, Any]:
        if (app_id, secret) not in ((APP_ID, APP_SECRET), (MINI_ID, MINI_SECRET)):
            return {"errcode": 40125, "errmsg": "invalid appsecret"}
        if code in ERRCODES:
            return {"errcode": ERRCODES[code], "errmsg": "error"}
        if code in self.used:
            return {"errcode": 40163, "errmsg": "code been used"}
        if code.startswith("busy-once:") and code not in self.busy_seen:
            self.busy_seen.add(code)
            return {"errcode": -1, "errmsg": "system error"}
        if code == "snapshot":
            return {"access_token": "t", "openid": "snap", "is_snapshotuser": 1, "scope": "snsapi_base"}
        kind, _, rest = code.partition(":")
        if kind not in ("ok", "busy-once") or not rest:
            return {"errcode": 40029, "errmsg": "invalid code"}
        self.used.add(code)
        openid, _, unionid = rest.split("!", 1)[0].partition(":")  # after a "!": a nonce, so a code is new
        body: dict[str, Any] = {"access_token": f"at-{openid}", "expires_in": 7200, "openid": openid}
        if unionid:
            body["unionid"] = unionid
        return body

    async def oauth(self, request: Request) -> JSONResponse:
        q = request.query_params
        self.calls.append("oauth")
        if q.get("grant_type") != "authorization_code":
            return JSONResponse({"errcode": 40002, "errmsg": "invalid grant_type"})
        return JSONResponse(self._user(q.get("code", ""), q.get("appid", ""), q.get("secret", "")))

    async def userinfo(self, request: Request) -> JSONResponse:
        openid = request.query_params.get("openid", "")
        self.calls.append("userinfo")
        return JSONResponse({"openid": openid, "nickname": f"微信用户{openid[-2:]}", "sex": 0, "headimgurl": ""})

    async def jscode2session(self, request: Request) -> JSONResponse:
        q = request.query_params
        self.calls.append("jscode2session")
        body = self._user(q.get("js_code", ""), q.get("appid", ""), q.get("secret", ""))
        body.pop("access_token", None)
        if "openid" in body:
            body["session_key"] = "sk"
        return JSONResponse(body)

    async def ticket(self, request: Request) -> JSONResponse:
        """A JS-SDK ticket (type=jsapi) for a valid access token."""
        self.calls.append("getticket")
        if request.query_params.get("access_token", "") not in self.tokens:
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        if request.query_params.get("type") != "jsapi":
            return JSONResponse({"errcode": 40097, "errmsg": "invalid args"})
        ticket = f"ticket-{secrets.token_hex(8)}"
        self.tickets.add(ticket)
        return JSONResponse({"errcode": 0, "errmsg": "ok", "ticket": ticket, "expires_in": 7200})

    async def authorize(self, request: Request) -> Response:
        """The web OAuth consent, agreed at once: back to redirect_uri with a code for a demo fan's openid."""
        q = request.query_params
        if q.get("appid") != APP_ID or not q.get("redirect_uri", "").startswith(("http://", "https://")):
            return JSONResponse({"errcode": 40013, "errmsg": "invalid appid"}, status_code=400)
        code = f"ok:oDemoH5Fan!{secrets.token_hex(6)}"
        joiner = "&" if "?" in q["redirect_uri"] else "?"
        return RedirectResponse(q["redirect_uri"] + joiner + urlencode({"code": code, "state": q.get("state", "")}))

    async def js_sdk(self, request: Request) -> Response:
        script = resources.files("siyu.demo.gateways").joinpath("jweixin.js").read_text(encoding="utf-8")
        return Response(script, media_type="application/javascript", headers={"Cache-Control": "no-store"})

    async def control(self, request: Request) -> JSONResponse:
        """GET: what the fake does now; POST ?mode=ok|busy|throttle|refuse|down: what it does from now on."""
        if request.method == "POST":
            mode = request.query_params.get("mode", "")
            if mode not in MODES:
                return JSONResponse({"error": f"mode must be one of {', '.join(MODES)}"}, status_code=400)
            self.mode = mode
        return JSONResponse({"mode": self.mode, "messages": len(self.messages)})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/_fake/mode", self.control, methods=["GET", "POST"]),
                Route("/connect/oauth2/authorize", self.authorize),
                Route(JS_SDK_PATH, self.js_sdk),
                Route("/cgi-bin/ticket/getticket", self.ticket),
                Route("/sns/oauth2/access_token", self.oauth),
                Route("/sns/userinfo", self.userinfo),
                Route("/sns/jscode2session", self.jscode2session),
                Route("/cgi-bin/token", self.token),
                Route("/cgi-bin/message/subscribe/send", self.subscribe, methods=["POST"]),
                Route("/cgi-bin/message/subscribe/bizsend", self.subscribe, methods=["POST"]),
            ]
        )


@contextmanager
def serve(port: int = 0) -> Iterator[tuple[FakeWechat, str]]:
    """Run a fake WeChat on a local port (a free one unless given); yields (fake, base URL)."""
    fake = FakeWechat()
    with running(fake.app(), "WeChat", port=port) as base:
        yield fake, base
