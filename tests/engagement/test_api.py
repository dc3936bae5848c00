"""The check-in API: a fan checks in from her app (a double tap pays once), reads her month, makes up a day and
hears why not in words, switches her reminder; staff read and change the rules (audited, with the 30-day preview)
and read the statistics; another tenant's token is refused."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit.models import AuditEntry
from siyu.engagement.checkin import rules
from siyu.fans import service as fans
from siyu.kit.time import utcnow
from tests.engagement.conftest import Desk
from tests.support import factories


async def _auth(app: FastAPI, session: AsyncSession, tenant_id: int, member_id: int) -> dict[str, str]:
    tokens = await fans.issue_tokens(
        session, secret=app.state.settings.secret_key, tenant_id=tenant_id, member_id=member_id
    )
    return {"Authorization": f"Bearer {tokens.access_token}"}


async def _key(session: AsyncSession, tenant_id: int, role: str = "owner") -> dict[str, str]:
    login = await factories.staff_login(session, tenant_id, role=role)
    permissions = sorted(login.principal.permissions)
    return {"Authorization": f"Bearer {await factories.api_key(session, login.principal, permissions)}"}


def _refused(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in body["message"]), body["message"]
    return body


async def test_a_fan_checks_in_once_a_day_reads_her_month_and_switches_her_reminder(
    app: FastAPI, client: httpx.AsyncClient, desk: Desk
) -> None:
    member = await factories.member(desk.session, desk.tenant.id)
    auth = await _auth(app, desk.session, desk.tenant.id, member.id)
    base = f"/api/v1/fan/{desk.tenant.slug}/checkin"
    before = (await client.get(base, headers=auth)).json()
    assert before["checked_in_today"] is False and before["today_points"] == 2 and before["streak"] == 0
    first = await client.post(base, headers=auth)
    again = await client.post(base, headers=auth)
    assert first.status_code == 200 and first.json()["created"] is True and first.json()["points"] == 2
    assert again.status_code == 200 and again.json()["created"] is False and again.json()["points"] == 2
    status = (await client.get(base, headers=auth)).json()
    today = rules.local_day(utcnow(), desk.tenant.timezone)
    assert status["checked_in_today"] and status["streak"] == 1 and status["tomorrow_points"] == 2
    assert status["today"] == today.isoformat() and status["month"] == today.strftime("%Y-%m")
    assert {d["state"] for d in status["days"] if d["day"] == today.isoformat()} == {"done"}
    me = (await client.get(f"/api/v1/fan/{desk.tenant.slug}/me", headers=auth)).json()
    assert me["points"]["available"] == 2
    assert (await client.put(f"{base}/reminder", json={"enabled": True}, headers=auth)).json() == {
        "enabled": True,
        "hour": 20,
    }
    assert (await client.get(base, headers=auth)).json()["reminder"] is True
    _refused(await client.get(base, params={"month": "2001-01"}, headers=auth), 422, "month_out_of_range")


async def test_make_up_refusals_are_codes_with_words_and_take_nothing(
    app: FastAPI, client: httpx.AsyncClient, desk: Desk
) -> None:
    member = await factories.member(desk.session, desk.tenant.id)
    auth = await _auth(app, desk.session, desk.tenant.id, member.id)
    base = f"/api/v1/fan/{desk.tenant.slug}/checkin"
    today = rules.local_day(utcnow(), desk.tenant.timezone)
    _refused(
        await client.post(f"{base}/make-up", json={"day": today.isoformat()}, headers=auth), 422, "makeup_not_past"
    )
    _refused(
        await client.post(f"{base}/make-up", json={"day": (today + timedelta(days=3)).isoformat()}, headers=auth),
        422,
        "makeup_not_past",
    )
    _refused(
        await client.post(f"{base}/make-up", json={"day": (today - timedelta(days=30)).isoformat()}, headers=auth),
        422,
        "makeup_too_old",
    )
    # She joined today: yesterday was before she was a member.
    _refused(
        await client.post(f"{base}/make-up", json={"day": (today - timedelta(days=1)).isoformat()}, headers=auth),
        422,
        "makeup_before_joining",
    )
    assert (await client.get(f"/api/v1/fan/{desk.tenant.slug}/me", headers=auth)).json()["points"]["available"] == 0


async def test_another_tenants_token_and_no_token_are_refused(
    app: FastAPI, client: httpx.AsyncClient, desk: Desk
) -> None:
    other = await factories.tenant(desk.session)
    theirs = await factories.member(desk.session, other.id)
    auth = await _auth(app, desk.session, other.id, theirs.id)
    base = f"/api/v1/fan/{desk.tenant.slug}/checkin"
    _refused(await client.post(base, headers=auth), 401, "fan_token_invalid")
    _refused(await client.post(base), 401, "fan_token_invalid")


async def test_staff_read_and_change_the_rules_with_a_preview_and_an_audit_record(
    client: httpx.AsyncClient, desk: Desk
) -> None:
    owner = await _key(desk.session, desk.tenant.id)
    got = (await client.get("/api/v1/checkin/rules", headers=owner)).json()
    assert got["rules"]["base_points"] == 2 and len(got["preview"]) == 30 and got["preview_total"] == 132
    changed = {**got["rules"], "base_points": 5, "rewards": [{"day": 3, "points": 15}], "cycle_days": 3}
    put = await client.put("/api/v1/checkin/rules", json=changed, headers=owner)
    assert put.status_code == 200, put.text
    assert [d["points"] for d in put.json()["preview"][:6]] == [5, 5, 15, 5, 5, 15]
    assert (await client.get("/api/v1/checkin/rules", headers=owner)).json()["rules"]["base_points"] == 5
    entry = await desk.session.scalar(
        select(AuditEntry).where(AuditEntry.tenant_id == desk.tenant.id, AuditEntry.action == "checkin.rules")
    )
    assert entry is not None and entry.before["base_points"] == 2 and entry.after["base_points"] == 5
    bad = {**changed, "rewards": [{"day": 9, "points": 1}]}
    _refused(await client.put("/api/v1/checkin/rules", json=bad, headers=owner), 422, "reward_beyond_cycle")
    preview = await client.post("/api/v1/checkin/rules/preview", json={**changed, "base_points": 1}, headers=owner)
    assert preview.json()["preview_total"] == 20 * 1 + 10 * 15
    assert (await client.get("/api/v1/checkin/rules", headers=owner)).json()["rules"]["base_points"] == 5
    analyst = await _key(desk.session, desk.tenant.id, role="analyst")
    assert (await client.get("/api/v1/checkin/stats", headers=analyst)).status_code == 200
    assert (await client.put("/api/v1/checkin/rules", json=changed, headers=analyst)).status_code == 403


async def test_statistics_over_the_api(app: FastAPI, client: httpx.AsyncClient, desk: Desk) -> None:
    member = await factories.member(desk.session, desk.tenant.id)
    await client.post(
        f"/api/v1/fan/{desk.tenant.slug}/checkin", headers=await _auth(app, desk.session, desk.tenant.id, member.id)
    )
    stats = (
        await client.get("/api/v1/checkin/stats", params={"days": 7}, headers=await _key(desk.session, desk.tenant.id))
    ).json()
    assert len(stats["days"]) == 7 and stats["checkins"][-1] == 1 and stats["today"] == 1
    assert stats["streak_members"][0] == 1
