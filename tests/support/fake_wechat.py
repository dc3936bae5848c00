"""A local stand-in for WeChat's sign-in and subscribe-message endpoints, served over real HTTP, answering like
WeChat does.

A code names what happens: "ok:<openid>[:<unionid>]" signs that user in (once: a second use is 40163);
"snapshot" is a snapshot-page virtual user; "busy-once:<openid>" answers -1 first, then succeeds;
any other code is looked up in ERRCODES (e.g. "bad" -> 40029 invalid code, "limit" -> 45011 rate limit).

Subscribe messages (mini-program `send`, official-account `bizsend`) need an access token from /cgi-bin/token;
`expire_tokens()` makes the ones handed out stale (40001), `answers` is a list of errcodes the next sends answer
with (-1 busy, 45009 over quota, 43101 refused, ...), `down` answers HTTP 500; what was accepted is in `messages`.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

APP_ID, APP_SECRET = "wx-test-app", "test-secret"
MINI_ID, MINI_SECRET = "wx-test-mini", "mini-secret"
ERRCODES = {"bad": 40029, "expired": 42003, "limit": 45011, "risky": 40226, "ip": 40164}


class FakeWechat:
    def __init__(self) -> None:
        self.used: set[str] = set()
        self.busy_seen: set[str] = set()
        self.calls: list[str] = []
        self.tokens: set[str] = set()
        self.token_count = 0
        self.answers: list[int] = []
        self.down = False
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
        if self.down:
            return JSONResponse({"errmsg": "gateway"}, status_code=500)
        if request.query_params.get("access_token", "") not in self.tokens:
            return JSONResponse({"errcode": 40001, "errmsg": "invalid credential"})
        if self.answers:
            errcode = self.answers.pop(0)
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
        openid, _, unionid = rest.partition(":")
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

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/sns/oauth2/access_token", self.oauth),
                Route("/sns/userinfo", self.userinfo),
                Route("/sns/jscode2session", self.jscode2session),
                Route("/cgi-bin/token", self.token),
                Route("/cgi-bin/message/subscribe/send", self.subscribe, methods=["POST"]),
                Route("/cgi-bin/message/subscribe/bizsend", self.subscribe, methods=["POST"]),
            ]
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve() -> Iterator[tuple[FakeWechat, str]]:
    """Run a fake WeChat on a local port; yields (fake, base URL)."""
    fake = FakeWechat()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("the fake WeChat server did not start")
        time.sleep(0.02)
    try:
        yield fake, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5)
