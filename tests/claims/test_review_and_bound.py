"""Velocity rules send claims to a review queue that ops approve or reject; bound accounts are credited without
a claim; the fan API claims with a bearer token."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims import service
from siyu.claims.models import Outcome, Via
from siyu.claims.schemas import ClaimPolicy
from siyu.fans import service as fans
from siyu.kit.ratelimit import RateLimiter
from siyu.ledger import service as ledger
from siyu.members import service as members
from siyu.tenants import service as tenants
from tests.support import factories


async def _policy(session: AsyncSession, tenant_id: int, **values: object) -> None:
    await tenants.put_setting(
        session, tenant_id=tenant_id, key="claims", value=ClaimPolicy(**values).model_dump(mode="json")
    )


async def _staff(session: AsyncSession, tenant_id: int, role: str = "owner") -> dict[str, str]:
    login = await factories.staff_login(session, tenant_id, role=role)
    key = await factories.api_key(session, login.principal, sorted(login.principal.permissions))
    return {"Authorization": f"Bearer {key}"}


async def test_a_large_order_waits_for_review_and_ops_approve_or_reject(
    client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    await _policy(session, tenant.id, review_paid_yuan=100)
    first, second = await factories.member(session, tenant.id), await factories.member(session, tenant.id)
    big = await factories.order(session, tenant.id, paid_fen=12900)
    small = await factories.order(session, tenant.id, paid_fen=5000)

    held = await service.claim(session, tenant_id=tenant.id, member_id=first.id, platform="taobao", text=big.order_id)
    assert (held.outcome, held.reason, held.points) == (Outcome.review, "large_order", None)
    assert "人工审核" in held.message
    assert (await ledger.balance(session, tenant_id=tenant.id, member_id=first.id)).pending == 0  # nothing yet
    rival = await service.claim(session, tenant_id=tenant.id, member_id=second.id, platform="taobao", text=big.order_id)
    assert (rival.outcome, rival.reason) == (Outcome.review, "order_in_review")  # ops see both
    fine = await service.claim(
        session, tenant_id=tenant.id, member_id=second.id, platform="taobao", text=small.order_id
    )
    assert fine.outcome == Outcome.credited

    auth = await _staff(session, tenant.id)
    queue = (await client.get("/api/v1/claims", params={"outcome": "review"}, headers=auth)).json()
    assert {c["id"] for c in queue} == {held.id, rival.id}
    no_note = await client.post("/api/v1/claims/review", json={"claim_ids": [rival.id], "approve": False}, headers=auth)
    assert no_note.status_code == 422 and no_note.json()["code"] == "reject_needs_note"
    analyst = await _staff(session, tenant.id, role="analyst")
    denied = await client.post("/api/v1/claims/review", json={"claim_ids": [held.id], "approve": True}, headers=analyst)
    assert denied.status_code == 403

    approved = await client.post("/api/v1/claims/review", json={"claim_ids": [held.id], "approve": True}, headers=auth)
    assert approved.status_code == 200 and approved.json()[0]["outcome"] == "credited"
    assert approved.json()[0]["points"] == 12
    rejected = await client.post(
        "/api/v1/claims/review",
        json={"claim_ids": [rival.id], "approve": False, "note": "订单已由下单人领取"},
        headers=auth,
    )
    assert rejected.json()[0]["outcome"] == "rejected"
    assert rejected.json()[0]["message"] == "审核未通过：订单已由下单人领取"
    again = await client.post("/api/v1/claims/review", json={"claim_ids": [held.id], "approve": True}, headers=auth)
    assert again.status_code == 409 and again.json()["code"] == "claim_not_in_review"


async def test_approving_a_claim_someone_else_got_first_tells_her_so(session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    await _policy(session, tenant.id, review_daily_claims=1)
    busy, other = await factories.member(session, tenant.id), await factories.member(session, tenant.id)
    one, two = await factories.order(session, tenant.id), await factories.order(session, tenant.id)
    await service.claim(session, tenant_id=tenant.id, member_id=busy.id, platform="taobao", text=one.order_id)
    held = await service.claim(session, tenant_id=tenant.id, member_id=busy.id, platform="taobao", text=two.order_id)
    assert (held.outcome, held.reason) == (Outcome.review, "many_claims")
    # While it waits, the real buyer claims it with no rule in her way.
    got = await service.claim(session, tenant_id=tenant.id, member_id=other.id, platform="taobao", text=two.order_id)
    assert got.outcome == Outcome.review and got.reason == "order_in_review"
    owner = (await factories.staff_login(session, tenant.id)).principal
    [settled] = await service.review(session, actor=owner, claim_ids=[got.id], approve=True)
    assert settled.outcome == Outcome.credited
    [late] = await service.review(session, actor=owner, claim_ids=[held.id], approve=True)
    assert late.outcome == Outcome.claimed_by_other  # exactly once, decided by the ledger


async def test_many_members_from_one_device_go_to_review(session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    await _policy(session, tenant.id, review_shared_members=3)
    outcomes = []
    for _ in range(4):
        fan = await factories.member(session, tenant.id)
        order = await factories.order(session, tenant.id)
        row = await service.claim(
            session, tenant_id=tenant.id, member_id=fan.id, platform="taobao", text=order.order_id, device_hash="dev1"
        )
        outcomes.append((row.outcome, row.reason))
    assert outcomes[:2] == [(Outcome.credited, None)] * 2
    assert outcomes[2:] == [(Outcome.review, "shared_device")] * 2


async def test_guessing_from_one_device_is_locked_even_across_members(session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    await _policy(session, tenant.id, max_failures=3)
    limiter = RateLimiter()
    outcomes = []
    for n in range(5):
        fan = await factories.member(session, tenant.id)
        row = await service.claim(
            session,
            tenant_id=tenant.id,
            member_id=fan.id,
            platform="taobao",
            text=f"19306798{n:05d}",  # 13 digits: no platform's shape, a guess
            device_hash="dev2",
            ip_hash=f"ip{n}",
            limiter=limiter,
        )
        outcomes.append(row.outcome)
    assert outcomes == [Outcome.pending] * 3 + [Outcome.locked] * 2


async def test_a_bound_account_credits_past_and_future_orders_without_a_claim(session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    past = await factories.order(session, tenant.id)
    past.buyer_nick = "小鱼爱买买"
    masked = await factories.order(session, tenant.id)
    masked.buyer_nick = "小**买"
    closed = await factories.order(session, tenant.id, status="closed")
    closed.buyer_nick = "小鱼爱买买"
    owner = (await factories.staff_login(session, tenant.id)).principal
    await fans.bind_for_staff(session, actor=owner, member_id=fan.id, kind="taobao_nick", value="小鱼爱买买")

    assert await service.credit_bound(session, tenant_id=tenant.id, member_id=fan.id) == 1
    [row] = await service.claims_of(session, tenant_id=tenant.id, member_id=fan.id)
    assert (row.order_id, row.via, row.outcome) == (past.order_id, Via.bound, Outcome.credited)
    assert row.message.startswith("绑定的账号下单，已自动领取")
    assert await service.credit_bound(session, tenant_id=tenant.id, member_id=fan.id) == 0  # idempotent

    later = await factories.order(session, tenant.id)
    later.buyer_nick = "小鱼爱买买"
    later.last_import_id = 777
    await session.flush()
    assert await service.credit_bound(session, tenant_id=tenant.id, import_id=777) == 1
    assert (await ledger.balance(session, tenant_id=tenant.id, member_id=fan.id)).pending == 24


async def test_a_claim_that_proves_the_account_binds_it(session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    await _policy(session, tenant.id, check="account")
    fan = await factories.member(session, tenant.id)
    orders = []
    for _ in range(2):
        order = await factories.order(session, tenant.id)
        order.buyer_nick = "tb_fish"
        orders.append(order)
    await session.flush()
    row = await service.claim(
        session,
        tenant_id=tenant.id,
        member_id=fan.id,
        platform="taobao",
        text=orders[0].order_id,
        check_value="tb_fish",
    )
    assert row.outcome == Outcome.credited and "已绑定账号 tb_fish" in row.message
    bound = await members.find_by_identity(session, tenant_id=tenant.id, kind="taobao_nick", value="tb_fish")
    assert bound is not None and bound.id == fan.id
    assert await service.credit_bound(session, tenant_id=tenant.id, member_id=fan.id) == 1


async def test_without_a_check_one_claim_does_not_bind_the_account(session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    first, second = await factories.order(session, tenant.id), await factories.order(session, tenant.id)
    first.buyer_nick = second.buyer_nick = "tb_shared"
    await session.flush()
    one = await service.claim(session, tenant_id=tenant.id, member_id=fan.id, platform="taobao", text=first.order_id)
    assert one.outcome == Outcome.credited and "已绑定" not in one.message
    two = await service.claim(session, tenant_id=tenant.id, member_id=fan.id, platform="taobao", text=second.order_id)
    assert "已绑定账号 tb_shared" in two.message  # her second order of the account proves it


@pytest.fixture
def fan_auth(app: FastAPI) -> object:
    async def make(session: AsyncSession, tenant_id: int, member_id: int) -> dict[str, str]:
        tokens = await fans.issue_tokens(
            session, secret=app.state.settings.secret_key, tenant_id=tenant_id, member_id=member_id
        )
        return {"Authorization": f"Bearer {tokens.access_token}", "X-Device-Id": "phone-1"}

    return make


async def test_the_fan_api_claims_and_lists_her_claims(
    client: httpx.AsyncClient, session: AsyncSession, fan_auth: object
) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    order = await factories.order(session, tenant.id)
    headers = await fan_auth(session, tenant.id, fan.id)  # type: ignore[operator]
    base = f"/api/v1/fan/{tenant.slug}"
    pasted = f"订单编号：{order.order_id} 复制"
    done = await client.post(f"{base}/claims", json={"platform": "taobao", "order": pasted}, headers=headers)
    assert done.status_code == 200 and done.json()["outcome"] == "credited" and done.json()["points"] == 12
    twice = await client.post(f"{base}/claims", json={"platform": "taobao", "order": order.order_id}, headers=headers)
    assert twice.json()["outcome"] == "claimed_by_you"
    unknown = await client.post(f"{base}/claims", json={"platform": "ebay", "order": "1"}, headers=headers)
    assert unknown.status_code == 422 and unknown.json()["code"] == "unknown_platform"
    mine = (await client.get(f"{base}/claims", headers=headers)).json()
    assert [c["outcome"] for c in mine] == ["claimed_by_you", "credited"]
    anonymous = await client.post(f"{base}/claims", json={"platform": "taobao", "order": order.order_id})
    assert anonymous.status_code == 401


async def test_a_bound_account_s_orders_are_all_credited_however_many_an_import_brings(session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    owner = (await factories.staff_login(session, tenant.id)).principal
    await fans.bind_for_staff(session, actor=owner, member_id=fan.id, kind="taobao_nick", value="tb_many")
    closed = await factories.order(session, tenant.id, status="closed")  # looked at, never credited
    closed.buyer_nick, closed.last_import_id = "tb_many", 778
    for _ in range(5):
        order = await factories.order(session, tenant.id)
        order.buyer_nick, order.last_import_id = "tb_many", 778
    await session.flush()

    # Two at a time: the rest are not left behind for want of another job.
    assert await service.credit_bound(session, tenant_id=tenant.id, import_id=778, limit=2) == 5
    assert await service.credit_bound(session, tenant_id=tenant.id, import_id=778, limit=2) == 0
