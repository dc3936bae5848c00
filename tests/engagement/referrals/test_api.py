"""Invitations through the fan API and the H5 (the code carried into a sign-up), the staff API, settling once."""

from __future__ import annotations

import re
from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.referrals import service
from siyu.engagement.referrals.models import Referral
from siyu.engagement.referrals.schemas import BoardIn
from siyu.fans import service as fans
from siyu.jobs.models import Job
from siyu.kit.time import utcnow
from siyu.members import service as members
from tests.fans.conftest import sent_code
from tests.support import factories
from tests.support.fans import h5_cookies

PHONE = "13900139000"


async def _referrals(session: AsyncSession, tenant_id: int) -> list[Referral]:
    return list(await session.scalars(select(Referral).where(Referral.tenant_id == tenant_id)))


async def _inviter_code(session: AsyncSession, tenant_id: int) -> tuple[int, str]:
    host = await factories.member(session, tenant_id, nickname="阿花")
    row = await service.invite_code(session, tenant_id=tenant_id, member_id=host.id, ip_hash="her-home")
    return host.id, row.code


async def test_a_new_fan_signing_up_by_the_fan_api_with_a_code_is_an_invitee(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    other = await factories.tenant(session)
    host_id, code = await _inviter_code(session, tenant.id)
    _, foreign = await _inviter_code(session, other.id)
    base = f"/api/v1/fan/{tenant.slug}"

    await client.post(f"{base}/auth/sms-code", json={"phone": "13900139001"})
    signed = await client.post(
        f"{base}/auth/sms", json={"phone": "13900139001", "code": sent_code(app, "13900139001"), "invite": foreign}
    )
    assert signed.status_code == 200 and await _referrals(session, tenant.id) == []  # another tenant's code: nothing

    await client.post(f"{base}/auth/sms-code", json={"phone": PHONE})
    signed = await client.post(f"{base}/auth/sms", json={"phone": PHONE, "code": sent_code(app, PHONE), "invite": code})
    assert signed.status_code == 200
    [row] = await _referrals(session, tenant.id)
    assert row.inviter_id == host_id and row.state == "signed_up"

    # An existing member signing in with a code is not an invitee.
    regular = await factories.member(session, tenant.id, nickname="老粉")
    await members.bind_identity(session, tenant_id=tenant.id, member=regular, kind="phone", value="13900139002")
    await client.post(f"{base}/auth/sms-code", json={"phone": "13900139002"})
    again = await client.post(
        f"{base}/auth/sms", json={"phone": "13900139002", "code": sent_code(app, "13900139002"), "invite": code}
    )
    assert again.status_code == 200 and len(await _referrals(session, tenant.id)) == 1

    token = signed.json()["access_token"]
    mine = await client.get(f"{base}/invite", headers={"Authorization": f"Bearer {token}"})
    assert mine.status_code == 200
    body = mine.json()
    assert re.fullmatch(r"[2-9A-HJ-NP-Z]{6}", body["code"]) and body["link"].endswith(
        f"/h5/{tenant.slug}/?invite={body['code']}"
    )
    qr = await client.get(body["qr_url"])
    assert qr.status_code == 200 and qr.headers["content-type"].startswith("image/svg+xml") and b"<svg" in qr.content
    assert (await client.get(f"/h5/{other.slug}/invite/qr.svg?code={body['code']}")).status_code == 404


async def test_the_h5_carries_the_code_from_the_link_into_the_sign_up(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    host_id, code = await _inviter_code(session, tenant.id)
    base = f"/h5/{tenant.slug}"
    home = await client.get(f"{base}/?invite={code}")
    assert home.status_code == 200 and home.cookies.get("siyu_invite") == code
    assert "好友邀请你加入" in home.text and "再送你 50 积分" in home.text
    elsewhere = await factories.tenant(session)
    assert "好友邀请你加入" not in (await client.get(f"/h5/{elsewhere.slug}/?invite={code}")).text  # not her tenant
    page = await client.get(f"{base}/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    await client.post(f"{base}/login/code", data={"phone": PHONE, "csrf_token": token.group(1)})
    signed = await client.post(
        f"{base}/login", data={"phone": PHONE, "code": sent_code(app, PHONE), "csrf_token": token.group(1)}
    )
    assert signed.status_code == 303
    [row] = await _referrals(session, tenant.id)
    assert row.inviter_id == host_id

    inviter_page = await client.get(f"{base}/invite", cookies=await h5_cookies(app, session, tenant, host_id))
    assert inviter_page.status_code == 200 and "邀请有礼" in inviter_page.text and "会****0" in inviter_page.text


async def test_a_fan_signing_up_from_the_inviters_own_network_is_refused(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    host = await factories.member(session, tenant.id)
    inviter = await client.get(f"/h5/{tenant.slug}/invite", cookies=await h5_cookies(app, session, tenant, host.id))
    code = re.search(r'id="invite-code"[^>]*>([^<]+)<', inviter.text)
    assert code
    base = f"/api/v1/fan/{tenant.slug}"
    await client.post(f"{base}/auth/sms-code", json={"phone": PHONE})
    signed = await client.post(
        f"{base}/auth/sms", json={"phone": PHONE, "code": sent_code(app, PHONE), "invite": code.group(1)}
    )
    assert signed.status_code == 200 and await _referrals(session, tenant.id) == []


async def test_staff_set_rules_review_and_settle_a_leaderboard_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    key = {"Authorization": f"Bearer {await factories.api_key(session, owner.principal)}"}
    rules = await client.put(
        "/api/v1/referrals/rules",
        json={"enabled": True, "inviter_points": 80, "invitee_points": 20, "cap": 5, "network_limit": 1},
        headers=key,
    )
    assert rules.status_code == 200 and (await client.get("/api/v1/referrals/rules", headers=key)).json()["cap"] == 5

    _, code = await _inviter_code(session, tenant.id)
    for _ in range(2):
        invitee = await factories.member(session, tenant.id)
        await service.joined(session, tenant_id=tenant.id, invitee=invitee, code=code, ip_hash="cafe")
    queue = (await client.get("/api/v1/referrals?state=suspected", headers=key)).json()
    assert [r["suspicion_label"] for r in queue] == ["同一网络短时间内注册了多位受邀人"]
    refused = await client.post(f"/api/v1/referrals/{queue[0]['id']}/review", json={"approve": False}, headers=key)
    assert refused.status_code == 422 and refused.json()["code"] == "review_note_required"
    rejected = await client.post(
        f"/api/v1/referrals/{queue[0]['id']}/review", json={"approve": False, "note": "批量注册"}, headers=key
    )
    assert rejected.status_code == 200 and rejected.json()["state"] == "rejected"
    stats = (await client.get("/api/v1/referrals/stats", headers=key)).json()
    assert (stats["sharers"], stats["signed_up"], stats["rejected"]) == (1, 2, 1)

    start = utcnow() - timedelta(days=2)
    board = await client.post(
        "/api/v1/referrals/leaderboards",
        json={
            "title": "直播间邀请榜",
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(days=1)).isoformat(),
            "prizes": [100],
        },
        headers=key,
    )
    assert board.status_code == 201
    board_id = board.json()["id"]
    settles = [await client.post(f"/api/v1/referrals/leaderboards/{board_id}/settle", headers=key) for _ in range(2)]
    assert [s.json()["status"] for s in settles] == ["settling", "settling"]
    jobs = select(func.count()).select_from(Job).where(Job.kind == service.SETTLE_JOB, Job.tenant_id == tenant.id)
    assert (await session.execute(jobs)).scalar_one() == 1
    detail = await client.get(f"/api/v1/referrals/leaderboards/{board_id}", headers=key)
    assert detail.status_code == 200 and detail.json()["status_label"] == "结算中"


async def test_a_fan_reads_a_leaderboard_with_her_rank_and_masked_names(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    now = utcnow()
    board = await service.create_board(
        session,
        actor=owner.principal,
        data=BoardIn(
            title="本周邀请榜", starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1), prizes=[50]
        ),
    )
    host_id, code = await _inviter_code(session, tenant.id)
    for _ in range(2):
        invitee = await factories.member(session, tenant.id)
        await service.joined(session, tenant_id=tenant.id, invitee=invitee, code=code)
    tokens = await fans.issue_tokens(
        session, secret=app.state.settings.secret_key, tenant_id=tenant.id, member_id=host_id
    )
    auth = {"Authorization": f"Bearer {tokens.access_token}"}
    listed = await client.get(f"/api/v1/fan/{tenant.slug}/leaderboards", headers=auth)
    assert [b["title"] for b in listed.json()] == ["本周邀请榜"]
    detail = (await client.get(f"/api/v1/fan/{tenant.slug}/leaderboards/{board.id}", headers=auth)).json()
    assert detail["mine"]["rank"] == 1 and detail["mine"]["invitations"] == 2 and detail["mine"]["prize_points"] == 50
    assert detail["top"][0]["name"] == "阿*" and detail["top"][0]["member_id"] is None
    other = await factories.tenant(session)
    assert (await client.get(f"/api/v1/fan/{other.slug}/leaderboards/{board.id}", headers=auth)).status_code == 401


async def test_the_h5_leaderboard_shows_her_rank_and_another_tenants_board_is_not_found(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant, other = await factories.tenant(session), await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    now = utcnow()
    window = {"starts_at": now - timedelta(days=1), "ends_at": now + timedelta(days=1), "prizes": [80]}
    board = await service.create_board(session, actor=owner.principal, data=BoardIn(title="开播邀请榜", **window))
    host_id, code = await _inviter_code(session, tenant.id)
    await service.joined(session, tenant_id=tenant.id, invitee=await factories.member(session, tenant.id), code=code)
    page = await client.get(
        f"/h5/{tenant.slug}/leaderboards/{board.id}", cookies=await h5_cookies(app, session, tenant, host_id)
    )
    assert page.status_code == 200 and "第 1 名" in page.text and "结算后可得 80 积分" in page.text
    stranger = await factories.member(session, other.id)
    elsewhere = await client.get(
        f"/h5/{other.slug}/leaderboards/{board.id}", cookies=await h5_cookies(app, session, other, stranger.id)
    )
    assert elsewhere.status_code == 404 and "开播邀请榜" not in elsewhere.text


async def test_sign_ins_through_a_share_rank_a_sign_in_board(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    from siyu.engagement.referrals.models import Visit

    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    host_id, code = await _inviter_code(session, tenant.id)
    now = utcnow()
    board = await service.create_board(
        session,
        actor=owner.principal,
        data=BoardIn(
            title="分享登录榜",
            starts_at=now - timedelta(hours=1),
            ends_at=now + timedelta(hours=1),
            prizes=[10],
            metric="sign_ins",
        ),
    )
    base = f"/api/v1/fan/{tenant.slug}"
    regular = await factories.member(session, tenant.id, nickname="老粉")
    await members.bind_identity(session, tenant_id=tenant.id, member=regular, kind="phone", value="13900139002")
    await client.post(f"{base}/auth/sms-code", json={"phone": "13900139002"})
    back = await client.post(
        f"{base}/auth/sms", json={"phone": "13900139002", "code": sent_code(app, "13900139002"), "invite": code}
    )
    assert back.status_code == 200
    await service.visited(session, tenant_id=tenant.id, visitor_id=regular.id, code=code)  # again today: once
    await client.post(f"{base}/auth/sms-code", json={"phone": PHONE})  # a new member through the link counts too
    new = await client.post(f"{base}/auth/sms", json={"phone": PHONE, "code": sent_code(app, PHONE), "invite": code})
    assert new.status_code == 200
    assert not await service.visited(session, tenant_id=tenant.id, visitor_id=host_id, code=code)  # her own link

    visits = list(await session.scalars(select(Visit).where(Visit.tenant_id == tenant.id)))
    assert {v.inviter_id for v in visits} == {host_id} and len(visits) == 2
    [standing] = await service.standings(session, board=board)
    assert (standing.member_id, standing.invitations, standing.prize_points) == (host_id, 2, 10)
    invitations = await service.create_board(
        session,
        actor=owner.principal,
        data=BoardIn(title="邀请榜", starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1), prizes=[10]),
    )
    assert [(s.member_id, s.invitations) for s in await service.standings(session, board=invitations)] == [(host_id, 1)]
