"""A local stand-in for Aliyun's and Tencent Cloud's SendSms, served over real HTTP: it checks each request's
signature the way the provider does and answers like the provider, error codes included. The tests use it, and so
does the demo (see `siyu.demo.gateways`).

`mode` says what it does: "ok" sends, "down" answers HTTP 500, "throttle" answers the provider's rate-limit code,
"refuse" answers a bad-number code. What was sent is in `sent` (provider, phone, template, params, out_id); Aliyun's
QuerySendDetails lists it by number, with the OutId each message was sent with. A running fake takes a new mode from
`POST /_fake/mode?mode=...`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from siyu.demo.gateways.running import running
from siyu.notices.signing import aliyun_signature, tc3_authorization

MODES = ("ok", "down", "throttle", "refuse")
ALIYUN_KEY, ALIYUN_SECRET = "LTAI-test", "aliyun-secret"
TENCENT_ID, TENCENT_KEY, TENCENT_APP = "AKID-test", "tencent-key", "1400000000"


class FakeSms:
    def __init__(self) -> None:
        self.mode = "ok"
        self.sent: list[dict[str, Any]] = []
        self.bad_signatures = 0

    async def post(self, request: Request) -> JSONResponse:
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            form = await request.form()
            return await self.aliyun({k: str(v) for k, v in form.items()}, "POST")
        return await self.tencent(request)

    async def aliyun_get(self, request: Request) -> JSONResponse:
        return await self.aliyun(dict(request.query_params), "GET")

    async def aliyun(self, params: dict[str, str], method: str) -> JSONResponse:
        signature = params.pop("Signature", "")
        if params.get("AccessKeyId") != ALIYUN_KEY or signature != aliyun_signature(ALIYUN_SECRET, method, params):
            self.bad_signatures += 1
            return JSONResponse({"Code": "SignatureDoesNotMatch", "Message": "signature", "RequestId": "r"})
        if params.get("Action") == "QuerySendDetails":
            return self.aliyun_query(params)
        if self.mode == "down":
            return JSONResponse({"Code": "InternalError"}, status_code=500)
        if self.mode == "throttle":
            return JSONResponse({"Code": "isv.BUSINESS_LIMIT_CONTROL", "Message": "触发分钟级流控", "RequestId": "r"})
        if self.mode == "refuse":
            return JSONResponse({"Code": "isv.MOBILE_NUMBER_ILLEGAL", "Message": "非法手机号", "RequestId": "r"})
        self.sent.append(
            {
                "provider": "aliyun",
                "phone": params["PhoneNumbers"],
                "template": params["TemplateCode"],
                "params": json.loads(params["TemplateParam"]),
                "out_id": params.get("OutId", ""),
            }
        )
        return JSONResponse({"Code": "OK", "Message": "OK", "BizId": "b", "RequestId": "r"})

    def aliyun_query(self, params: dict[str, str]) -> JSONResponse:
        """QuerySendDetails: the messages to one number, a page at a time, each with its OutId (dates not kept)."""
        if self.mode == "down":
            return JSONResponse({"Code": "InternalError"}, status_code=500)
        found = [m for m in self.sent if m["provider"] == "aliyun" and m["phone"] == params.get("PhoneNumber")]
        size, page = int(params.get("PageSize") or 10), int(params.get("CurrentPage") or 1)
        details = [
            {
                "PhoneNum": m["phone"],
                "SendStatus": 3,
                "ErrCode": "DELIVERED",
                "TemplateCode": m["template"],
                "OutId": m["out_id"],
            }
            for m in found[(page - 1) * size : page * size]
        ]
        return JSONResponse(
            {
                "Code": "OK",
                "Message": "OK",
                "RequestId": "r",
                "TotalCount": len(found),
                "SmsSendDetailDTOs": {"SmsSendDetailDTO": details},
            }
        )

    async def tencent(self, request: Request) -> JSONResponse:
        body = (await request.body()).decode()
        expected = tc3_authorization(
            secret_id=TENCENT_ID,
            secret_key=TENCENT_KEY,
            service="sms",
            host=request.headers.get("host", ""),
            timestamp=int(request.headers.get("x-tc-timestamp", "0")),
            payload=body,
        )
        if request.headers.get("authorization") != expected:
            self.bad_signatures += 1
            return JSONResponse({"Response": {"Error": {"Code": "AuthFailure.SignatureFailure", "Message": "x"}}})
        if self.mode == "down":
            return JSONResponse({"message": "bad gateway"}, status_code=500)
        data = json.loads(body)
        code = {
            "throttle": "LimitExceeded.PhoneNumberThirtySecondLimit",
            "refuse": "InvalidParameterValue.IncorrectPhoneNumber",
        }.get(self.mode, "Ok")
        if code == "Ok":
            self.sent.append(
                {
                    "provider": "tencent",
                    "phone": data["PhoneNumberSet"][0],
                    "template": data["TemplateId"],
                    "params": data["TemplateParamSet"],
                }
            )
        status = {"SerialNo": "s", "PhoneNumber": data["PhoneNumberSet"][0], "Code": code, "Message": code}
        return JSONResponse({"Response": {"SendStatusSet": [status], "RequestId": "r"}})

    async def control(self, request: Request) -> JSONResponse:
        """GET: what the fake does now; POST ?mode=ok|throttle|refuse|down: what it does from now on."""
        if request.method == "POST":
            mode = request.query_params.get("mode", "")
            if mode not in MODES:
                return JSONResponse({"error": f"mode must be one of {', '.join(MODES)}"}, status_code=400)
            self.mode = mode
        return JSONResponse({"mode": self.mode, "sent": len(self.sent)})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/_fake/mode", self.control, methods=["GET", "POST"]),
                Route("/", self.aliyun_get, methods=["GET"]),
                Route("/", self.post, methods=["POST"]),
            ]
        )


@contextmanager
def serve(port: int = 0) -> Iterator[tuple[FakeSms, str]]:
    """Run a fake SMS gateway (both providers) on a local port (a free one unless given); yields (fake, base URL)."""
    fake = FakeSms()
    with running(fake.app(), "SMS", port=port) as base:
        yield fake, base
