"""A local stand-in for WeChat's sign-in endpoints, served over real HTTP, answering like WeChat does.

A code names what happens: "ok:<openid>[:<unionid>]" signs that user in (once: a second use is 40163);
"snapshot" is a snapshot-page virtual user; "busy-once:<openid>" answers -1 first, then succeeds;
any other code is looked up in ERRCODES (e.g. "bad" -> 40029 invalid code, "limit" -> 45011 rate limit).
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
