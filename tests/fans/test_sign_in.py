"""Fan sign-in over the API: phone and one-time code, WeChat (against a local fake that answers like WeChat),
sessions with rotating refresh tokens, and one member per person."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit.models import AuditEntry
from siyu.claims import service as claims
from siyu.fans import service
from siyu.fans.sms import LoggingSms
from siyu.fans.wechat import WechatClient
from siyu.kit.ratelimit import RateLimiter
from siyu.kit.time import utcnow
from siyu.ledger import service as ledger
from siyu.members import service as members
from siyu.tenants import service as tenants
from tests.fans.conftest import sent_code
from tests.support import factories
from tests.support.fake_wechat import APP_ID, APP_SECRET, MINI_ID, MINI_SECRET, FakeWechat

PHONE = "13800138000"


@pytest.fixture
def wechat_app(app: FastAPI, wechat: tuple[FakeWechat, str]) -> FastAPI:
    app.state.wechat = WechatClient(wechat[1])
    return app


async def _configure_wechat(session: AsyncSession, tenant_id: int) -> None:
    value = {"app_id": APP_ID, "app_secret": APP_SECRET, "mini_app_id": MINI_ID, "mini_app_secret": MINI_SECRET}
    await tenants.put_setting(session, tenant_id=tenant_id, key="wechat", value=value)


async def test_phone_code_signs_in_and_wrong_codes_lock_the_number(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    base = f"/api/v1/fan/{tenant.slug}"
    sent = await client.post(f"{base}/auth/sms-code", json={"phone": "+86 138-0013-8000"})
    assert sent.status_code == 200 and sent.json()["expires_in"] == 300 and sent.json()["demo_code"] is None
    code = sent_code(app, PHONE)
    again = await client.post(f"{base}/auth/sms-code", json={"phone": PHONE})
    assert again.status_code == 429 and again.json()["code"] == "sms_too_often"  # one a minute
    bad_phone = await client.post(f"{base}/auth/sms-code", json={"phone": "23800138000"})
    assert bad_phone.status_code == 422 and bad_phone.json()["code"] == "invalid_phone"

    wrong = "000000" if code != "000000" else "111111"
    for _ in range(5):
        refused = await client.post(f"{base}/auth/sms", json={"phone": PHONE, "code": wrong})
        assert refused.status_code == 422 and refused.json()["code"] == "sms_code_invalid"
    locked = await client.post(f"{base}/auth/sms", json={"phone": PHONE, "code": code})
    assert locked.status_code == 429 and locked.json()["code"] == "sms_code_locked"

    await app.state.limiter.reset()
    await client.post(f"{base}/auth/sms-code", json={"phone": PHONE})
    code = sent_code(app, PHONE)
    signed = await client.post(f"{base}/auth/sms", json={"phone": PHONE, "code": code})
    assert signed.status_code == 200, signed.text
    tokens = signed.json()
    me = await client.get(f"{base}/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert me.status_code == 200 and me.json()["identities"][0]["value"] == "138****8000"
    reused = await client.post(f"{base}/auth/sms", json={"phone": PHONE, "code": code})
    assert reused.status_code == 422  # a code signs in once
    member = await members.find_by_identity(session, tenant_id=tenant.id, kind="phone", value=PHONE)
    assert member is not None and member.id == tokens["member_id"]


async def test_an_expired_code_is_refused(app: FastAPI, session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    limiter, sms = RateLimiter(), LoggingSms()
    earlier = utcnow() - timedelta(minutes=6)
    sent = await service.send_code(
        session, secret="s", tenant_id=tenant.id, phone=PHONE, ip="1.2.3.4", limiter=limiter, sms=sms, now=earlier
    )
    with pytest.raises(service.CodeInvalid):
        await service.sign_in_with_code(
            session, secret="s", tenant_id=tenant.id, phone=PHONE, code=sent.code, limiter=limiter
        )


async def test_refresh_rotates_and_a_copied_token_ends_the_session(
    client: httpx.AsyncClient, session: AsyncSession, app: FastAPI
) -> None:
    tenant, other = await factories.tenant(session), await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    first = await service.issue_tokens(
        session, secret=app.state.settings.secret_key, tenant_id=tenant.id, member_id=fan.id
    )
    base = f"/api/v1/fan/{tenant.slug}"

    second = await client.post(f"{base}/auth/refresh", json={"refresh_token": first.refresh_token})
    assert second.status_code == 200 and second.json()["refresh_token"] != first.refresh_token
    copied = await client.post(f"{base}/auth/refresh", json={"refresh_token": first.refresh_token})
    assert copied.status_code == 401 and copied.json()["code"] == "fan_token_reused"
    # The copy revoked the whole family, the token the real owner holds too.
    after = await client.post(f"{base}/auth/refresh", json={"refresh_token": second.json()["refresh_token"]})
    assert after.status_code == 401 and after.json()["code"] == "fan_token_invalid"

    auth = {"Authorization": f"Bearer {first.access_token}"}
    assert (await client.get(f"/api/v1/fan/{other.slug}/me", headers=auth)).status_code == 401  # other tenant
    forged = first.access_token[:-4] + "beef"
    assert (await client.get(f"{base}/me", headers={"Authorization": f"Bearer {forged}"})).status_code == 401
    staff = await factories.staff_login(session, tenant.id)
    key = await factories.api_key(session, staff.principal)
    assert (await client.get(f"{base}/me", headers={"Authorization": f"Bearer {key}"})).status_code == 401

    third = await service.issue_tokens(
        session, secret=app.state.settings.secret_key, tenant_id=tenant.id, member_id=fan.id
    )
    assert (await client.post(f"{base}/auth/logout", json={"refresh_token": third.refresh_token})).status_code == 204
    gone = await client.post(f"{base}/auth/refresh", json={"refresh_token": third.refresh_token})
    assert gone.status_code == 401


async def test_wechat_sign_in_finds_one_member_across_official_account_and_mini_program(
    wechat_app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    base = f"/api/v1/fan/{tenant.slug}"
    off = await client.post(f"{base}/auth/wechat", json={"code": "ok:oa-1:union-1"})
    assert off.status_code == 404 and off.json()["code"] == "wechat_not_configured"
    await _configure_wechat(session, tenant.id)

    oa = await client.post(f"{base}/auth/wechat", json={"code": "ok:oa-1:union-1"})
    assert oa.status_code == 200, oa.text
    member = await members.get_member(session, tenant_id=tenant.id, member_id=oa.json()["member_id"])
    assert member.nickname == "微信用户-1"  # read from userinfo with the snsapi_userinfo scope
    mini = await client.post(f"{base}/auth/mini-program", json={"code": "ok:mini-1:union-1"})
    assert mini.status_code == 200 and mini.json()["member_id"] == member.id  # the same unionid, the same fan
    kinds = {i.kind for i in await members.identities_of(session, tenant_id=tenant.id, member_id=member.id)}
    assert kinds == {"wechat_openid", "wechat_unionid"}

    busy = await client.post(f"{base}/auth/mini-program", json={"code": "busy-once:mini-2"})
    assert busy.status_code == 200  # -1 is retried once


@pytest.mark.parametrize(
    ("code", "status", "error"),
    [
        ("bad", 400, "wechat_code_invalid"),
        ("expired", 400, "wechat_code_invalid"),
        ("limit", 429, "wechat_rate_limited"),
        ("risky", 403, "wechat_blocked"),
        ("ip", 502, "wechat_misconfigured"),
        ("snapshot", 400, "wechat_snapshot_user"),
    ],
)
async def test_wechat_errors_are_told_in_words(
    wechat_app: FastAPI, client: httpx.AsyncClient, session: AsyncSession, code: str, status: int, error: str
) -> None:
    tenant = await factories.tenant(session)
    await _configure_wechat(session, tenant.id)
    path = "mini-program" if code in ("limit", "risky") else "wechat"
    answer = await client.post(f"/api/v1/fan/{tenant.slug}/auth/{path}", json={"code": code})
    assert answer.status_code == status and answer.json()["code"] == error
    assert answer.json()["message"] and "errcode" not in answer.json()["message"]


async def test_a_used_code_is_refused_and_an_unreachable_wechat_is_a_clear_error(
    wechat_app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    await _configure_wechat(session, tenant.id)
    base = f"/api/v1/fan/{tenant.slug}/auth/wechat"
    assert (await client.post(base, json={"code": "ok:oa-9"})).status_code == 200
    assert (await client.post(base, json={"code": "ok:oa-9"})).json()["code"] == "wechat_code_invalid"
    wechat_app.state.wechat = WechatClient("http://127.0.0.1:9")  # nothing listens there
    down = await client.post(base, json={"code": "ok:oa-10"})
    assert down.status_code == 502 and down.json()["code"] == "wechat_failed"


async def test_verifying_a_phone_of_another_member_merges_them_and_keeps_every_point(
    session: AsyncSession,
) -> None:
    tenant = await factories.tenant(session)
    by_phone = await members.create_member(session, tenant_id=tenant.id, nickname="手机会员")
    await members.bind_identity(session, tenant_id=tenant.id, member=by_phone, kind="phone", value=PHONE)
    await ledger.earn(session, tenant_id=tenant.id, member_id=by_phone.id, amount=50, source_ref="order:taobao:1")
    order = await factories.order(session, tenant.id)
    limiter, sms = RateLimiter(), LoggingSms()
    from siyu.fans.wechat import WechatUser

    by_wechat = await service.sign_in_wechat(session, tenant_id=tenant.id, user=WechatUser("oa-42", None, "小微"))
    await claims.claim(session, tenant_id=tenant.id, member_id=by_wechat.id, platform="taobao", text=order.order_id)
    wechat_points = (await ledger.balance(session, tenant_id=tenant.id, member_id=by_wechat.id)).available
    old_session = await service.issue_tokens(session, secret="s", tenant_id=tenant.id, member_id=by_wechat.id)

    sent = await service.send_code(
        session, secret="s", tenant_id=tenant.id, phone=PHONE, ip="1.1.1.1", limiter=limiter, sms=sms
    )
    member = await service.sign_in_with_code(
        session,
        secret="s",
        tenant_id=tenant.id,
        phone=PHONE,
        code=sent.code,
        limiter=limiter,
        signed_in_as=by_wechat.id,
    )
    assert member.id == by_phone.id  # the older member stays
    balance = await ledger.balance(session, tenant_id=tenant.id, member_id=by_phone.id)
    assert balance.available + balance.pending == 50 + wechat_points + 12  # nothing lost (12 held from the claim)
    kinds = {i.kind for i in await members.identities_of(session, tenant_id=tenant.id, member_id=by_phone.id)}
    assert kinds == {"phone", "wechat_openid"}
    assert [c.member_id for c in await claims.claims_of(session, tenant_id=tenant.id, member_id=by_phone.id)] == [
        by_phone.id
    ]
    merged = await members.current(session, tenant_id=tenant.id, member_id=by_wechat.id)
    assert merged is not None and merged.id == by_phone.id
    refreshed = await service.refresh(session, secret="s", tenant_id=tenant.id, token=old_session.refresh_token)
    assert refreshed.tokens is None  # her old sessions ended
    audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "member.merge"))).all()
    assert [(a.target_id, a.actor_kind) for a in audit if a.tenant_id == tenant.id] == [(str(by_phone.id), "system")]


async def test_demo_sign_in_only_on_a_demo_server(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    refused = await client.post(f"/api/v1/fan/{tenant.slug}/auth/demo")
    assert refused.status_code == 404 and refused.json()["code"] == "demo_only"
    app.state.settings = app.state.settings.model_copy(update={"demo": True})
    signed = await client.post(f"/api/v1/fan/{tenant.slug}/auth/demo")
    assert signed.status_code == 200
    sent = await client.post(f"/api/v1/fan/{tenant.slug}/auth/sms-code", json={"phone": PHONE})
    assert sent.json()["demo_code"] == sent_code(app, PHONE)  # a demo shows the code it "sent"
