"""The console's 邀请有礼 pages: rules with inline refusals, the funnel, the review queue, leaderboards and settling."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit.models import AuditEntry
from siyu.engagement.referrals import service
from siyu.engagement.referrals.models import Referral
from siyu.jobs.models import Job
from siyu.kit.time import to_local, utcnow
from tests.support import factories


async def _audited(session: AsyncSession, tenant_id: int, action: str) -> int:
    statement = (
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.tenant_id == tenant_id, AuditEntry.action == action)
    )
    return int((await session.execute(statement)).scalar_one())


async def test_rules_are_saved_audited_and_a_bad_value_is_refused_in_words(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    page = await client.get("/console/referrals", cookies=owner.cookies)
    assert page.status_code == 200 and "邀请漏斗" in page.text and 'href="/console/referrals"' in page.text
    form = {"csrf_token": owner.csrf, "enabled": "1", "inviter_points": "88", "invitee_points": "x", "cap": "3"}
    refused = await client.post("/console/referrals/rules", data={**form, "network_limit": "2"}, cookies=owner.cookies)
    assert refused.status_code == 422 and "被邀请人得积分：请填写整数" in refused.text and 'value="88"' in refused.text
    saved = await client.post(
        "/console/referrals/rules",
        data={**form, "invitee_points": "22", "network_limit": "2"},
        cookies=owner.cookies,
    )
    assert saved.status_code == 303
    assert (await service.rules_of(session, tenant_id=tenant.id)).invitee_points == 22
    assert await _audited(session, tenant.id, "referrals.rules") == 1


async def test_the_review_queue_approves_and_rejects_with_a_reason(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    host = await factories.member(session, tenant.id, nickname="阿花")
    code = (await service.invite_code(session, tenant_id=tenant.id, member_id=host.id)).code
    device = "same-phone"
    rows = []
    for _ in range(3):
        invitee = await factories.member(session, tenant.id, nickname="小白")
        rows.append(await service.joined(session, tenant_id=tenant.id, invitee=invitee, code=code, device_hash=device))
    suspected = [r for r in rows if r and r.state == "suspected"]
    assert len(suspected) == 2
    page = await client.get("/console/referrals/review", cookies=owner.cookies)
    assert page.status_code == 200 and page.text.count("data-referral") == 2 and "同一台设备" in page.text

    form = {"csrf_token": owner.csrf, "referral_id": str(suspected[0].id)}
    refused = await client.post("/console/referrals/review", data={**form, "action": "reject"}, cookies=owner.cookies)
    assert refused.status_code == 422 and "驳回时请填写原因" in refused.text
    rejected = await client.post(
        "/console/referrals/review",
        data={**form, "action": "reject", "note": "同一手机批量注册"},
        cookies=owner.cookies,
    )
    assert rejected.status_code == 303
    approved = await client.post(
        "/console/referrals/review",
        data={**form, "referral_id": str(suspected[1].id), "action": "approve"},
        cookies=owner.cookies,
    )
    assert approved.status_code == 303
    fresh = select(Referral).where(Referral.tenant_id == tenant.id).execution_options(populate_existing=True)
    states = {r.id: r.state for r in await session.scalars(fresh)}
    assert states[suspected[0].id] == "rejected" and states[suspected[1].id] == "signed_up"
    assert await _audited(session, tenant.id, "referrals.reject") == 1
    assert await _audited(session, tenant.id, "referrals.approve") == 1


async def test_a_leaderboard_is_created_in_local_time_and_settled_once(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    start = to_local(utcnow() - timedelta(days=3), tenant.timezone)
    form = {
        "csrf_token": owner.csrf,
        "title": "周末直播邀请榜",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"),
        "prizes": "300，100",
    }
    refused = await client.post("/console/referrals/leaderboards", data=form, cookies=owner.cookies)
    assert refused.status_code == 422 and "结束时间要晚于开始时间" in refused.text and "周末直播邀请榜" in refused.text
    form["ends_at"] = (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    created = await client.post("/console/referrals/leaderboards", data=form, cookies=owner.cookies)
    assert created.status_code == 303
    path = created.headers["location"]
    board = (await service.boards(session, tenant_id=tenant.id))[0]
    assert board.prizes == [300, 100] and to_local(board.starts_at, tenant.timezone).hour == start.hour

    for _ in range(2):  # a double click
        settled = await client.post(f"{path}/settle", data={"csrf_token": owner.csrf}, cookies=owner.cookies)
        assert settled.status_code == 303
    jobs = select(func.count()).select_from(Job).where(Job.tenant_id == tenant.id, Job.kind == service.SETTLE_JOB)
    assert (await session.execute(jobs)).scalar_one() == 1
    assert await _audited(session, tenant.id, "referrals.board_settle") == 1
    page = await client.get(path, cookies=owner.cookies)
    assert page.status_code == 200 and "结算中" in page.text
    listing = await client.get("/console/referrals/leaderboards", cookies=owner.cookies)
    assert listing.status_code == 200 and "周末直播邀请榜" in listing.text


async def test_a_board_whose_settle_job_gave_up_can_be_settled_again(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    start = to_local(utcnow() - timedelta(days=3), tenant.timezone)
    form = {
        "csrf_token": owner.csrf,
        "title": "失败过的榜",
        "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
        "ends_at": (start + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M"),
        "prizes": "300",
    }
    path = (await client.post("/console/referrals/leaderboards", data=form, cookies=owner.cookies)).headers["location"]
    await client.post(f"{path}/settle", data={"csrf_token": owner.csrf}, cookies=owner.cookies)
    page = await client.get(path, cookies=owner.cookies)
    assert "正在结算" in page.text and "重新结算" not in page.text  # its job is still waiting: nothing to offer

    job = (await session.scalars(select(Job).where(Job.tenant_id == tenant.id, Job.kind == service.SETTLE_JOB))).one()
    job.status, job.attempts, job.last_error = "parked", job.max_attempts, "数据库暂时不可用"
    await session.flush()
    page = await client.get(path, cookies=owner.cookies)
    assert "结算没有完成" in page.text and "重新结算" in page.text

    again = await client.post(f"{path}/settle", data={"csrf_token": owner.csrf}, cookies=owner.cookies)
    assert again.status_code == 303
    await session.refresh(job)
    assert job.status == "queued" and job.attempts == 0
    assert await _audited(session, tenant.id, "referrals.board_settle_retry") == 1
    page = await client.get(path, cookies=owner.cookies)
    assert "正在结算" in page.text and "重新结算" not in page.text


async def test_a_leaderboard_of_a_live_show_with_a_reward_prize_from_the_console(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    from siyu.live import service as live
    from siyu.live.schemas import ShowIn
    from siyu.mall import service as mall
    from siyu.mall.models import RewardKind
    from siyu.mall.schemas import RewardIn

    tenant = await factories.tenant(session)
    owner = await factories.staff_login(session, tenant.id)
    channel = await factories.channel(session, owner.principal)
    start = utcnow() + timedelta(days=1)
    show = await live.create_show(
        session,
        actor=owner.principal,
        data=ShowIn(channel_id=channel.id, title="周五上新专场", starts_at=start, ends_at=start + timedelta(hours=2)),
    )
    bag = await mall.create_reward(
        session,
        actor=owner.principal,
        data=RewardIn(kind=RewardKind.physical, title="定制帆布袋", points_price=800, stock=3),
    )
    page = await client.get("/console/referrals/leaderboards", cookies=owner.cookies)
    assert "周五上新专场" in page.text and "定制帆布袋" in page.text
    form = {
        "csrf_token": owner.csrf,
        "title": "上新邀请榜",
        "belongs": f"show:{show.id}",
        "starts_at": "",
        "ends_at": "",
        "prizes": "0, 100",
        "reward_1": str(bag.id),
        "reward_2": "",
        "reward_3": "",
    }
    created = await client.post("/console/referrals/leaderboards", data=form, cookies=owner.cookies)
    assert created.status_code == 303
    [board] = await service.boards(session, tenant_id=tenant.id)
    assert board.show_id == show.id and board.ends_at == show.ends_at and board.reward_ids == [bag.id]
    listing = await client.get("/console/referrals/leaderboards", cookies=owner.cookies)
    assert "直播：周五上新专场" in listing.text and "另有奖品" in listing.text

    form.update(title="空榜", belongs="", prizes="0", reward_1="")
    refused = await client.post("/console/referrals/leaderboards", data=form, cookies=owner.cookies)
    assert refused.status_code == 422 and "请填写开始和结束时间" in refused.text and "空榜" in refused.text
    assert len(await service.boards(session, tenant_id=tenant.id)) == 1
