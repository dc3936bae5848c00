"""Invitations: who counts, when both sides are paid (once), the cap, the review queue; leaderboards' ranks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from siyu.engagement.referrals import service
from siyu.engagement.referrals.models import Prize, Referral, State
from siyu.engagement.referrals.schemas import BoardIn, RulesIn
from siyu.fans import service as fans
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.ledger.audit import check_invariants
from siyu.ledger.models import Entry
from tests.engagement.referrals.conftest import Invites
from tests.support import factories


async def _rows(invites: Invites) -> int:
    statement = select(func.count()).select_from(Referral).where(Referral.tenant_id == invites.tenant_id)
    return int((await invites.session.execute(statement)).scalar_one())


async def _entries(invites: Invites, prefix: str) -> int:
    statement = (
        select(func.count())
        .select_from(Entry)
        .where(Entry.tenant_id == invites.tenant_id, Entry.source_ref.like(f"{prefix}%"))
    )
    return int((await invites.session.execute(statement)).scalar_one())


async def test_an_invite_code_is_made_once_and_speaks_an_unambiguous_alphabet(invites: Invites) -> None:
    host = await invites.member()
    code = await invites.code(host)
    assert code == await invites.code(host)
    assert len(code) == 6 and not set(code) & set("01OIL")
    assert await service.inviter_of_code(invites.session, tenant_id=invites.tenant_id, code=code.lower()) == host.id


async def test_both_sides_are_paid_once_when_the_invitee_first_has_an_order_credited(invites: Invites) -> None:
    host = await invites.member("主播的铁粉")
    invitee, row = await invites.join(await invites.code(host))
    assert row is not None and row.state == State.signed_up
    assert await service.reward_due(invites.session, tenant_id=invites.tenant_id, now=invites.now) == 0  # no order yet

    await invites.first_order(invitee.id, points=30)
    assert await service.reward_due(invites.session, tenant_id=invites.tenant_id, now=invites.now) == 1
    assert await service.reward_due(invites.session, tenant_id=invites.tenant_id, now=invites.now) == 0  # a rerun
    assert row.state == State.rewarded and (row.inviter_points, row.invitee_points) == (100, 50)
    assert await invites.available(host.id) == 100
    assert await invites.available(invitee.id) == 30 + 50
    assert await _entries(invites, f"invite:{row.id}:") == 2
    assert await check_invariants(invites.session, tenant_id=invites.tenant_id) == []


async def test_self_referral_and_bad_codes_are_refused_and_store_nothing(invites: Invites) -> None:
    host = await invites.member()
    code = await invites.code(host, device="dev-host", ip="ip-host")
    other_tenant = await factories.tenant(invites.session)
    elsewhere = await factories.member(invites.session, other_tenant.id)
    foreign = await service.invite_code(invites.session, tenant_id=other_tenant.id, member_id=elsewhere.id)

    assert (await invites.join(code, device="dev-host"))[1] is None  # her own phone, another number
    assert (await invites.join(code, ip="ip-host"))[1] is None  # her own network
    assert (await invites.join(foreign.code))[1] is None  # a code of another tenant names nobody here
    assert (await invites.join("NOPE!!"))[1] is None
    assert (await invites.join(None))[1] is None
    own = await service.joined(invites.session, tenant_id=invites.tenant_id, invitee=host, code=code, now=invites.now)
    assert own is None  # her own code
    regular = await invites.member("老会员")
    await invites.first_order(regular.id)
    assert await service.joined(invites.session, tenant_id=invites.tenant_id, invitee=regular, code=code) is None
    assert await _rows(invites) == 0
    assert await _entries(invites, "invite:") == 0


async def test_an_invitee_is_invited_once(invites: Invites) -> None:
    first, second = await invites.member("甲"), await invites.member("乙")
    invitee, row = await invites.join(await invites.code(first))
    assert row is not None
    code = await invites.code(second, device="d2", ip="i2")
    again = await service.joined(invites.session, tenant_id=invites.tenant_id, invitee=invitee, code=code)
    assert again is None and await _rows(invites) == 1


async def test_past_the_cap_only_the_invitee_is_paid(invites: Invites) -> None:
    await service.save_rules(
        invites.session, actor=invites.owner, data=RulesIn(inviter_points=10, invitee_points=5, cap=2, network_limit=0)
    )
    host = await invites.member()
    code = await invites.code(host)
    joined = [await invites.join(code) for _ in range(3)]
    for invitee, _row in joined:
        await invites.first_order(invitee.id, points=1)
    assert await service.reward_due(invites.session, tenant_id=invites.tenant_id, now=invites.now) == 3
    states = sorted(row.state for _m, row in joined if row)
    assert states == [State.capped, State.rewarded, State.rewarded]
    assert await invites.available(host.id) == 20
    assert all([await invites.available(m.id) == 6 for m, _ in joined])


async def test_a_busy_network_and_a_shared_device_go_to_review(invites: Invites) -> None:
    await service.save_rules(invites.session, actor=invites.owner, data=RulesIn(network_limit=2))
    code = await invites.code(await invites.member())
    rows = [(await invites.join(code, ip="cafe"))[1] for _ in range(3)]
    assert [r.state for r in rows if r] == [State.signed_up, State.signed_up, State.suspected]
    assert rows[2] is not None and rows[2].suspicion == "busy_network"
    shared = (await invites.join(code, device=rows[0].device_hash if rows[0] else None))[1]
    assert shared is not None and shared.suspicion == "shared_device"


async def test_review_approve_pays_reject_does_not_and_both_are_audited(invites: Invites) -> None:
    await service.save_rules(invites.session, actor=invites.owner, data=RulesIn(network_limit=1))
    host = await invites.member()
    code = await invites.code(host)
    await invites.join(code, ip="cafe")
    approved_member, approved = await invites.join(code, ip="cafe")
    rejected_member, rejected = await invites.join(code, ip="cafe")
    assert approved and rejected and approved.state == rejected.state == State.suspected
    await invites.first_order(approved_member.id)
    await invites.first_order(rejected_member.id)

    with pytest.raises(service.NoteRequired):
        await service.review(invites.session, actor=invites.owner, referral_id=rejected.id, approve=False)
    await service.review(invites.session, actor=invites.owner, referral_id=approved.id, approve=True, now=invites.now)
    await service.review(
        invites.session, actor=invites.owner, referral_id=rejected.id, approve=False, note="同一网吧批量注册"
    )
    assert approved.state == State.rewarded and rejected.state == State.rejected and rejected.note == "同一网吧批量注册"
    with pytest.raises(service.NotInReview):
        await service.review(invites.session, actor=invites.owner, referral_id=approved.id, approve=True)
    assert await service.reward_due(invites.session, tenant_id=invites.tenant_id, now=invites.now) == 0
    assert await _entries(invites, f"invite:{rejected.id}:") == 0
    assert await _entries(invites, f"invite:{approved.id}:") == 2


async def _board(invites: Invites, prizes: list[int]) -> int:
    board = await service.create_board(
        invites.session,
        actor=invites.owner,
        data=BoardIn(title="双11 邀请榜", starts_at=invites.now, ends_at=invites.later(600), prizes=prizes),
    )
    return board.id


async def test_a_leaderboard_ranks_by_invitations_then_by_who_got_there_first(invites: Invites) -> None:
    a, b, c = [await invites.member(n) for n in ("阿花", "小白", "小陈")]
    codes = {m.id: await invites.code(m, device=f"d{m.id}", ip=f"i{m.id}") for m in (a, b, c)}
    board_id = await _board(invites, [300, 200, 100])

    async def join_at(member_id: int, minutes: int) -> None:
        invitee = await invites.member()
        await service.joined(
            invites.session,
            tenant_id=invites.tenant_id,
            invitee=invitee,
            code=codes[member_id],
            now=board_start + timedelta(minutes=minutes),
        )

    board_start = invites.now
    await join_at(b.id, 1)
    await join_at(a.id, 2)
    await join_at(a.id, 3)  # 阿花: 2, reached at 3'
    await join_at(b.id, 4)  # 小白: 2, reached at 4'
    await join_at(c.id, 5)
    await join_at(c.id, 700)  # after the window: not counted
    board = await service.get_board(invites.session, tenant_id=invites.tenant_id, board_id=board_id)
    ranks = await service.standings(invites.session, board=board)
    expected = [(a.id, 2, 300), (b.id, 2, 200), (c.id, 1, 100)]
    assert [(s.member_id, s.invitations, s.prize_points) for s in ranks] == expected
    mine = await service.standing_of(invites.session, board=board, member_id=c.id)
    assert mine is not None and mine.rank == 3


async def test_settling_pays_each_rank_once_however_often_it_is_asked(invites: Invites) -> None:
    a, b = await invites.member("阿花"), await invites.member("小白")
    board_id = await _board(invites, [300, 0, 50])
    for member, n in ((a, 2), (b, 1)):
        code = await invites.code(member, device=f"d{member.id}", ip=f"i{member.id}")
        for _ in range(n):
            await invites.join(code)
    with pytest.raises(service.BoardNotEnded):
        await service.request_settle(invites.session, actor=invites.owner, board_id=board_id, now=invites.later(10))
    after = invites.later(601)
    first = await service.request_settle(invites.session, actor=invites.owner, board_id=board_id, now=after)
    second = await service.request_settle(invites.session, actor=invites.owner, board_id=board_id, now=after)
    assert first.status == second.status == "settling"
    assert await service.settle(invites.session, tenant_id=invites.tenant_id, board_id=board_id, now=after) == 1
    assert await service.settle(invites.session, tenant_id=invites.tenant_id, board_id=board_id, now=after) == 0
    prizes = list(await invites.session.scalars(select(Prize).where(Prize.board_id == board_id)))
    assert [(p.rank, p.member_id, p.points) for p in prizes] == [(1, a.id, 300)]  # rank 2's prize is 0, no rank 3
    assert await invites.available(a.id) == 300
    assert await _entries(invites, refs.board_ref(board_id, 1)) == 1


async def test_held_order_points_do_not_pay_an_invitation_until_they_post(invites: Invites) -> None:
    host = await invites.member()
    invitee, row = await invites.join(await invites.code(host))
    source = refs.order_ref("douyin", "6912345678901234567")
    await ledger.earn(
        invites.session, tenant_id=invites.tenant_id, member_id=invitee.id, amount=30, source_ref=source, pending=True
    )
    assert await service.reward_due(invites.session, tenant_id=invites.tenant_id, now=invites.now) == 0
    await ledger.post(invites.session, tenant_id=invites.tenant_id, source_ref=source)
    assert await service.reward_due(invites.session, tenant_id=invites.tenant_id, now=invites.now) == 1
    assert row is not None and row.state == State.rewarded


async def test_every_waiting_invitation_is_looked_at_page_by_page_within_the_waiting_time(invites: Invites) -> None:
    host = await invites.member()
    code = await invites.code(host)
    joined = [await invites.join(code) for _ in range(5)]
    for invitee, _row in joined[3:]:  # the newest two ordered; the three older ones never do
        await invites.first_order(invitee.id)
    assert await service.reward_due(invites.session, tenant_id=invites.tenant_id, now=invites.now, batch=2) == 2
    stale, _ = await invites.join(code)
    await invites.first_order(stale.id)
    later = invites.now + timedelta(days=service.WAIT_DAYS + 1)
    assert await service.reward_due(invites.session, tenant_id=invites.tenant_id, now=later) == 0  # too late


async def test_a_code_of_a_member_merged_since_invites_for_the_member_she_became(invites: Invites) -> None:
    old, survivor = await invites.member("旧号"), await invites.member("新号")
    code = await invites.code(old)
    await fans.merge_members(
        invites.session, tenant_id=invites.tenant_id, from_member_id=old.id, into_member_id=survivor.id, reason="同一人"
    )
    _invitee, row = await invites.join(code)
    assert row is not None and row.inviter_id == survivor.id
    own = await service.joined(invites.session, tenant_id=invites.tenant_id, invitee=survivor, code=code)
    assert own is None


async def test_an_invitee_merged_into_another_member_is_paid_as_her(invites: Invites) -> None:
    host = await invites.member()
    invitee, row = await invites.join(await invites.code(host))
    her_other_account = await invites.member("她的淘宝号")
    await invites.first_order(her_other_account.id)
    await fans.merge_members(
        invites.session,
        tenant_id=invites.tenant_id,
        from_member_id=invitee.id,
        into_member_id=her_other_account.id,
        reason="同一人",
    )
    assert await service.reward_due(invites.session, tenant_id=invites.tenant_id, now=invites.now) == 1
    assert row is not None and row.state == State.rewarded
    assert await invites.available(her_other_account.id) == 30 + 50 and await invites.available(host.id) == 100
