"""A tenant with notice settings, a webhook receiver, fake WeChat and SMS gateways, all over real HTTP."""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import uvicorn
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import siyu.notices.tasks  # noqa: F401 - registers the send job
from siyu.config import get_settings
from siyu.kit.web import Principal
from siyu.members import service as members
from siyu.members.models import Member
from siyu.notices import channels
from siyu.tenants.models import Tenant
from tests.support import factories
from tests.support.fake_sms import FakeSms
from tests.support.fake_sms import serve as serve_sms
from tests.support.fake_wechat import FakeWechat, free_port
from tests.support.fake_wechat import serve as serve_wechat


@dataclass
class Receiver:
    """A tenant's webhook endpoint: records what arrives, answers `status`."""

    status: int = 200
    got: list[tuple[dict[str, str], str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def hook(self, request: Request) -> JSONResponse:
        body = (await request.body()).decode()
        with self.lock:
            self.got.append((dict(request.headers), body))
        return JSONResponse({}, status_code=self.status)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    found = Receiver()
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(Starlette(routes=[Route("/hook", found.hook, methods=["POST"])]), port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield found, f"http://127.0.0.1:{port}/hook"
    finally:
        server.should_exit = True
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def wechat() -> Iterator[tuple[FakeWechat, str]]:
    with serve_wechat() as running:
        yield running


@pytest.fixture(scope="module")
def sms() -> Iterator[tuple[FakeSms, str]]:
    with serve_sms() as running:
        yield running


@pytest.fixture(autouse=True)
def gateways(
    monkeypatch: pytest.MonkeyPatch,
    wechat: tuple[FakeWechat, str],
    sms: tuple[FakeSms, str],
    receiver: tuple[Receiver, str],
) -> Iterator[None]:
    """Every external endpoint at its fake, loopback webhooks allowed (as in the demo), and fresh fakes' state."""
    config = get_settings()
    monkeypatch.setattr(config, "wechat_api_base", wechat[1])
    monkeypatch.setattr(config, "aliyun_sms_base", sms[1])
    monkeypatch.setattr(config, "tencent_sms_base", sms[1])
    monkeypatch.setattr(config, "env", "test")
    channels._tokens.clear()
    wechat[0].answers.clear()
    wechat[0].messages.clear()
    wechat[0].consents = None
    wechat[0].down = False
    sms[0].mode, sms[0].sent, sms[0].bad_signatures = "ok", [], 0
    receiver[0].status = 200
    receiver[0].got.clear()
    yield


@dataclass
class Shop:
    session: AsyncSession
    tenant: Tenant
    owner: Principal
    tenant_id: int
    slug: str

    async def fan(self, *, phone: str | None = None, openid: str | None = None) -> Member:
        member = await factories.member(self.session, self.tenant_id)
        if phone:
            await members.bind_identity(
                self.session, tenant_id=self.tenant_id, member=member, kind="phone", value=phone
            )
        if openid:
            await members.bind_identity(
                self.session, tenant_id=self.tenant_id, member=member, kind="wechat_openid", value=openid
            )
        return member


@pytest.fixture
async def shop(session: AsyncSession) -> AsyncIterator[Shop]:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id)
    yield Shop(session=session, tenant=tenant, owner=login.principal, tenant_id=tenant.id, slug=tenant.slug)


def payload(kind: str = "shipped", subject: str = "r1", **facts: Any) -> dict[str, Any]:
    return {"kind": kind, "subject": subject, "title": "定制帆布包", **facts}
