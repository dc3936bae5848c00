"""Fan sessions the server can end: signing out (API and H5) and a merge end them, in this process at once and in
every process within the access token's / the H5 check's lifetime, without a database read on the claim route."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from siyu.fans import service
from siyu.h5.fans import cookie_name
from tests.support import factories
from tests.support.fans import h5_cookies


@pytest.fixture
def another_process() -> Iterator[None]:
    """What a process that did not end the session knows of it: nothing but the database."""
    yield
    service._ended.clear()
    service._alive.clear()


def forget_here() -> None:
    service._ended.clear()
    service._alive.clear()


async def test_signing_out_on_the_api_ends_the_access_token_not_only_the_refresh_token(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, another_process: None
) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    base = f"/api/v1/fan/{tenant.slug}"
    pair = await service.issue_tokens(
        session, secret=app.state.settings.secret_key, tenant_id=tenant.id, member_id=fan.id
    )
    auth = {"Authorization": f"Bearer {pair.access_token}"}
    assert (await client.get(f"{base}/me", headers=auth)).status_code == 200
    assert (await client.post(f"{base}/auth/logout", json={"refresh_token": pair.refresh_token})).status_code == 204
    after = await client.get(f"{base}/me", headers=auth)
    assert after.status_code == 401 and after.json()["code"] == "fan_token_invalid"
    # Elsewhere (another process) the access token lives out its few minutes at most, never 15.
    assert pair.expires_in == service.ACCESS_SECONDS <= 5 * 60


async def test_signing_out_on_the_h5_ends_a_copied_cookie_in_every_process(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, another_process: None
) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    jar = await h5_cookies(app, session, tenant, fan.id)
    base = f"/h5/{tenant.slug}"
    assert (await client.get(f"{base}/points", cookies=jar)).status_code == 200
    out = await client.post(f"{base}/logout", cookies=jar)
    assert out.status_code == 303 and cookie_name(tenant.slug) not in out.cookies  # deleted in her browser
    assert (await client.get(f"{base}/points", cookies=jar)).status_code == 303  # the copy, here
    forget_here()
    assert (await client.get(f"{base}/points", cookies=jar)).status_code == 303  # the copy, in another process

    # A session another process ended is found ended here once this process checks again (CHECK_SECONDS).
    other = await h5_cookies(app, session, tenant, fan.id)
    assert (await client.get(f"{base}/points", cookies=other)).status_code == 200
    session_id = int(other[cookie_name(tenant.slug)].split(".")[2])
    await service.end_session(session, tenant_id=tenant.id, session_id=session_id)
    forget_here()
    service._alive[session_id] = time.time() - service.CHECK_SECONDS - 1  # checked alive, long enough ago
    assert (await client.get(f"{base}/points", cookies=other)).status_code == 303


async def test_a_merge_ends_the_merged_members_sessions(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, another_process: None
) -> None:
    tenant = await factories.tenant(session)
    kept, gone = await factories.member(session, tenant.id), await factories.member(session, tenant.id)
    jar = await h5_cookies(app, session, tenant, gone.id)
    pair = await service.issue_tokens(
        session, secret=app.state.settings.secret_key, tenant_id=tenant.id, member_id=gone.id
    )
    assert (await client.get(f"/h5/{tenant.slug}/points", cookies=jar)).status_code == 200
    await service.merge_members(
        session, tenant_id=tenant.id, from_member_id=gone.id, into_member_id=kept.id, reason="同一手机号"
    )
    auth = {"Authorization": f"Bearer {pair.access_token}"}
    assert (await client.get(f"/api/v1/fan/{tenant.slug}/me", headers=auth)).status_code == 401
    forget_here()
    assert (await client.get(f"/h5/{tenant.slug}/points", cookies=jar)).status_code == 303
    refreshed = await client.post(f"/api/v1/fan/{tenant.slug}/auth/refresh", json={"refresh_token": pair.refresh_token})
    assert refreshed.status_code == 401


async def test_a_claim_reads_no_session_from_the_database(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, engine: AsyncEngine, another_process: None
) -> None:
    tenant = await factories.tenant(session)
    owner = (await factories.staff_login(session, tenant.id)).principal
    await factories.channel(session, owner)
    fan = await factories.member(session, tenant.id)
    pair = await service.issue_tokens(
        session, secret=app.state.settings.secret_key, tenant_id=tenant.id, member_id=fan.id
    )
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    try:
        done = await client.post(
            f"/api/v1/fan/{tenant.slug}/claims",
            json={"platform": "taobao", "order": "4012345678901234"},
            headers={"Authorization": f"bearer  {pair.access_token} "},  # the scheme in any case, as for staff
        )
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", count)
    assert done.status_code == 200, done.text
    assert statements and not [s for s in statements if "fan_refresh_tokens" in s]
