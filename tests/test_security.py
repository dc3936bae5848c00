"""Hardening that every deployment gets: headers on every page, a health check that tells no one why, the
built-in secret only on localhost, Secure cookies behind a trusted proxy, the demo fan only on the demo tenant, one
way to read `Authorization`."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from typer.testing import CliRunner

from siyu.app import create_app
from siyu.cli import app as cli
from siyu.config import Settings, get_settings
from siyu.h5.fans import cookie_name
from siyu.kit.web import bearer_token
from tests.support import factories
from tests.support.server import free_port

runner = CliRunner()


async def test_every_page_says_where_it_may_load_from_and_who_may_frame_it(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    for path in (f"/h5/{tenant.slug}/", f"/h5/{tenant.slug}/login", "/console/login", "/docs", "/redoc", "/healthz"):
        response = await client.get(path)
        policy = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy and "frame-ancestors 'self'" in policy, path
        assert "object-src 'none'" in policy and response.headers["x-frame-options"] == "SAMEORIGIN", path
        assert "unsafe-eval" not in policy, path  # no page evaluates strings (no hx-on handlers)
        assert len(response.headers.get_list("content-security-policy")) == 1, path


async def test_healthz_says_not_ok_without_the_database_error(app: FastAPI, client: httpx.AsyncClient) -> None:
    broken = create_async_engine("postgresql+asyncpg://nobody:secret-pw@127.0.0.1:1/none")
    working, app.state.engine = app.state.engine, broken
    try:
        response = await client.get("/healthz")
    finally:
        app.state.engine = working
        await broken.dispose()
    assert response.status_code == 503
    assert response.json() == {"status": "error", "database": "unreachable"}
    assert "secret-pw" not in response.text and "127.0.0.1" not in response.text


def test_the_built_in_secret_is_refused_beyond_localhost() -> None:
    def settings(**values: Any) -> Settings:
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
        settings(host=host).check()
    for host in ("0.0.0.0", "192.168.1.20", "::", "siyu.example.com"):  # noqa: S104
        with pytest.raises(ValueError, match="SIYU_SECRET_KEY"):
            settings(host=host).check()
        with pytest.raises(ValueError, match="SIYU_SECRET_KEY"):
            create_app(settings(host=host))
        settings(host=host, secret_key="x" * 40).check()
    with pytest.raises(ValueError, match="SIYU_SECRET_KEY"):
        settings().check("0.0.0.0")  # noqa: S104 - the serve command's --host


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    calls: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: calls.update(kwargs))
    monkeypatch.setenv("SIYU_DATABASE_URL", "sqlite+aiosqlite:///./never-opened.db")
    get_settings.cache_clear()
    yield calls
    get_settings.cache_clear()


def test_serve_refuses_the_built_in_secret_on_every_address_and_trusts_only_the_configured_proxies(
    served: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIYU_SECRET_KEY", raising=False)
    refused = runner.invoke(cli, ["serve", "--host", "0.0.0.0"])  # noqa: S104
    assert refused.exit_code == 2 and "SIYU_SECRET_KEY" in refused.output and not served
    monkeypatch.setenv("SIYU_SECRET_KEY", "s" * 40)
    monkeypatch.setenv("SIYU_TRUSTED_PROXIES", "10.0.0.5")
    get_settings.cache_clear()
    started = runner.invoke(cli, ["serve", "--host", "0.0.0.0"])  # noqa: S104
    assert started.exit_code == 0, started.output
    assert served["host"] == "0.0.0.0" and served["proxy_headers"] is True  # noqa: S104
    assert served["forwarded_allow_ips"] == "10.0.0.5"  # X-Forwarded-Proto from anyone else is not believed
    monkeypatch.delenv("SIYU_TRUSTED_PROXIES")
    assert Settings(_env_file=None).trusted_proxies == "127.0.0.1"  # type: ignore[call-arg]


def test_serve_with_several_processes_gives_each_the_same_proxy_trust(
    served: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from siyu.kit import serving

    balanced: dict[str, Any] = {}

    class Balancer:
        def __init__(self, app: str, **kwargs: Any) -> None:
            balanced.update(kwargs, app=app)

        def run(self, listener: Any) -> int:
            balanced["listening"] = listener.getsockname()[1]
            listener.close()
            return 0

    monkeypatch.setattr(serving, "Balancer", Balancer)
    monkeypatch.setenv("SIYU_TRUSTED_PROXIES", "10.0.0.5")
    get_settings.cache_clear()
    port = free_port()
    started = runner.invoke(cli, ["serve", "--port", str(port), "--workers", "3"])
    assert started.exit_code == 0, started.output
    assert not served  # not uvicorn's own supervisor
    assert balanced["app"] == "siyu.main:app" and balanced["workers"] == 3 and balanced["listening"] == port
    assert balanced["options"]["proxy_headers"] is True
    assert balanced["options"]["forwarded_allow_ips"] == "10.0.0.5"


async def test_h5_cookies_are_secure_in_production_whatever_the_scheme_looks_like(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    app.state.settings = app.state.settings.model_copy(
        update={"env": "production", "secret_key": "p" * 40, "demo": True}
    )
    tenant = await factories.tenant(session)
    await factories.member(session, tenant.id)
    signed = await client.post(f"/h5/{tenant.slug}/demo-login")  # plain http, as a proxy's upstream sees it
    set_cookie = [v for v in signed.headers.get_list("set-cookie") if v.startswith(cookie_name(tenant.slug))]
    assert set_cookie and "secure" in set_cookie[0].lower() and "httponly" in set_cookie[0].lower()


async def test_the_demo_fan_signs_in_on_the_demo_tenant_only(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"demo": True, "demo_tenant": "xinghe-test"})
    tenant = await factories.tenant(session)
    await factories.member(session, tenant.id)
    h5 = await client.post(f"/h5/{tenant.slug}/demo-login")
    assert h5.status_code == 303 and cookie_name(tenant.slug) not in h5.cookies
    assert "以演示会员身份体验" not in (await client.get(f"/h5/{tenant.slug}/login")).text
    api = await client.post(f"/api/v1/fan/{tenant.slug}/auth/demo")
    assert api.status_code == 404 and api.json()["code"] == "demo_only"
    sent = await client.post(f"/api/v1/fan/{tenant.slug}/auth/sms-code", json={"phone": "13800138000"})
    assert sent.status_code == 200 and sent.json()["demo_code"] is None  # nor shows the codes it sends
    assert Settings(_env_file=None).demo_tenant == "xinghe"  # type: ignore[call-arg]


def test_fans_and_staff_read_authorization_the_same_way() -> None:
    for header in ("Bearer abc", "bearer abc", "BEARER  abc ", " Bearer abc"):
        assert bearer_token(header) == "abc", header
    for header in (None, "", "Bearer", "Bearer   ", "Basic abc", "abc", "Token abc"):
        assert bearer_token(header) is None, header


def test_no_page_needs_evaluated_strings() -> None:
    """The policy forbids eval: an hx-on handler (htmx evaluates its text) would silently do nothing."""
    templates = Path(__file__).resolve().parents[1] / "siyu" / "templates"
    found = [p.name for p in templates.rglob("*.html") if "hx-on" in p.read_text(encoding="utf-8")]
    assert found == []


def test_page_titles_hold_text_only() -> None:
    """A script put in the title block is shown as the tab's title and never runs."""
    templates = Path(__file__).resolve().parents[1] / "siyu" / "templates"
    titles = {
        p.name: re.findall(r"{% block title %}(.*?){% endblock %}", p.read_text(encoding="utf-8"), re.S)
        for p in templates.rglob("*.html")
    }
    assert [name for name, found in titles.items() if any("<" in title for title in found)] == []
