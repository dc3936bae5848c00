"""Every ledger operation and every refusal, with the books checked after each story."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from siyu.audit.models import AuditEntry
from siyu.kit.errors import AppError
from siyu.ledger import service
from siyu.ledger.audit import check_invariants
from siyu.ledger.models import Allocation, EntryKind, LotStatus
from tests.ledger.conftest import Book, staff
from tests.support import factories


async def refused(code: str, awaitable: object) -> AppError:
    with pytest.raises(AppError) as caught:
        await awaitable  # type: ignore[misc]
    assert caught.value.code == code, caught.value.code
    return caught.value


# Earning, posting, voiding


async def test_immediate_points_are_available_and_explained(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 129)
    assert await book.points(fan) == (129, 0, 0)
    (entry,) = await book.entries(fan)
    assert (entry.kind, entry.amount, entry.pending_amount, entry.source_ref) == ("earn", 129, 0, ref)
    lot = await book.lot(ref)
    assert (lot.amount, lot.remaining, lot.status, lot.expires_at, lot.entry_id) == (129, 129, "posted", None, entry.id)
    assert entry.lot_id == lot.id and entry.explanation == "订单积分"
    await book.check()


async def test_held_points_post_once_and_then_cannot_be_voided(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 80, pending=True)
    assert await book.points(fan) == (0, 80, 0)
    await book.check()

    posted = await service.post(book.session, tenant_id=book.tenant_id, source_ref=ref, now=book.now)
    assert posted is not None and (posted.kind, posted.amount, posted.pending_amount) == ("post", 80, -80)
    assert await book.points(fan) == (80, 0, 0)
    assert await service.post(book.session, tenant_id=book.tenant_id, source_ref=ref, now=book.now) is None
    await refused("already_posted", service.void(book.session, tenant_id=book.tenant_id, source_ref=ref))
    assert [e.kind for e in await book.entries(fan)] == ["earn_pending", "post"]
    await book.check()


async def test_held_points_void_once_and_then_cannot_be_posted(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 80, pending=True)
    voided = await service.void(book.session, tenant_id=book.tenant_id, source_ref=ref, now=book.now)
    assert voided is not None and (voided.amount, voided.pending_amount) == (0, -80)
    assert await book.points(fan) == (0, 0, 0)
    assert (await book.lot(ref)).status == LotStatus.voided
    assert await service.void(book.session, tenant_id=book.tenant_id, source_ref=ref) is None
    await refused("already_voided", service.post(book.session, tenant_id=book.tenant_id, source_ref=ref))
    await book.check()


async def test_immediate_points_are_neither_posted_nor_voided(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 10)
    await refused("not_pending", service.post(book.session, tenant_id=book.tenant_id, source_ref=ref))
    await refused("not_pending", service.void(book.session, tenant_id=book.tenant_id, source_ref=ref))
    await refused(
        "points_record_not_found", service.post(book.session, tenant_id=book.tenant_id, source_ref="order:x:1")
    )
    await refused(
        "points_record_not_found", service.void(book.session, tenant_id=book.tenant_id, source_ref="order:x:1")
    )


async def test_an_order_is_credited_once_pending_or_not_by_whoever(book: Book) -> None:
    fan, other = await book.member(), await book.member("别人")
    ref = await book.earn(fan, 50, pending=True)
    for member_id, pending, by_this_member in ((fan, True, True), (fan, False, True), (other, False, False)):
        error = await refused(
            "already_credited",
            service.earn(
                book.session, tenant_id=book.tenant_id, member_id=member_id, amount=50, source_ref=ref, pending=pending
            ),
        )
        assert error.detail == {"by_this_member": by_this_member}
    assert await book.points(fan) == (0, 50, 0) and await book.points(other) == (0, 0, 0)
    await book.check()


async def test_earning_refusals(book: Book) -> None:
    fan = await book.member()
    stranger = await factories.member(book.session, (await factories.tenant(book.session)).id)

    def earn(**kw: object) -> object:
        args: dict[str, object] = {"member_id": fan, "amount": 10, "source_ref": book.order(), "now": book.now}
        args.update(kw)
        return service.earn(book.session, tenant_id=book.tenant_id, **args)  # type: ignore[arg-type]

    await refused("invalid_amount", earn(amount=0))
    await refused("invalid_amount", earn(amount=-5))
    await refused("member_not_found", earn(member_id=fan + 1))
    await refused("member_not_found", earn(member_id=stranger.id))  # another tenant's member is nobody here
    await refused("invalid_expiry", earn(expires_at=book.now))
    await refused("invalid_post_after", earn(post_after=book.days(7)))
    assert await book.entries() == []


# Spending


async def test_spending_draws_soonest_expiring_first_then_oldest_and_never_expiring_last(book: Book) -> None:
    fan = await book.member()
    never = await book.earn(fan, 100)
    late = await book.earn(fan, 100, expires_in=30)
    soon_old = await book.earn(fan, 100, expires_in=10)
    book.tick(minutes=1)
    soon_new = await book.earn(fan, 100, expires_in=10)  # same expiry, earned later

    spent = await service.spend(
        book.session, tenant_id=book.tenant_id, member_id=fan, amount=350, source_ref="redemption:1", now=book.now
    )
    lots = {ref: (await book.lot(ref)).id for ref in (never, late, soon_old, soon_new)}
    assert [(a.lot_id, a.amount) for a in spent.allocations] == [
        (lots[soon_old], 100),
        (lots[soon_new], 100),
        (lots[late], 100),
        (lots[never], 50),
    ]
    assert (spent.entry.kind, spent.entry.amount) == ("spend", -350)
    assert await book.points(fan) == (50, 0, 0)
    assert (await book.lot(never)).remaining == 50
    await book.check()


async def test_spending_refusals(book: Book) -> None:
    fan = await book.member()
    stranger = await factories.member(book.session, (await factories.tenant(book.session)).id)
    await book.earn(fan, 100)
    await book.earn(fan, 500, pending=True)  # held points cannot be spent

    def spend(**kw: object) -> object:
        args: dict[str, object] = {"member_id": fan, "amount": 10, "source_ref": "redemption:9", "now": book.now}
        args.update(kw)
        return service.spend(book.session, tenant_id=book.tenant_id, **args)  # type: ignore[arg-type]

    error = await refused("insufficient_points", spend(amount=101))
    assert error.detail == {"available": 100, "requested": 101} and error.status == 409
    await refused("invalid_amount", spend(amount=0))
    await refused("invalid_amount", spend(amount=-1))
    await refused("member_not_found", spend(member_id=stranger.id))
    await spend(amount=100)
    await refused("duplicate_source", spend(amount=1))
    assert await book.points(fan) == (0, 500, 0)
    await book.check()


async def test_expired_points_are_not_spendable_even_before_the_sweep(book: Book) -> None:
    fan = await book.member()
    await book.earn(fan, 100, expires_in=1)
    await book.earn(fan, 30)
    book.tick(days=2)
    await refused(
        "insufficient_points",
        service.spend(book.session, tenant_id=book.tenant_id, member_id=fan, amount=31, source_ref="r:1", now=book.now),
    )
    # The refusal still expired the lot (the transaction is the caller's; here it stays).
    assert await book.points(fan) == (30, 0, 0)
    assert [e.kind for e in await book.entries(fan)] == ["earn", "earn", "expire"]
    await book.check()


# Refunding a spend


async def test_a_refund_goes_back_to_the_original_lots_except_what_has_expired_meanwhile(book: Book) -> None:
    fan = await book.member()
    short = await book.earn(fan, 50, expires_in=5)
    forever = await book.earn(fan, 50)
    spent = await service.spend(
        book.session, tenant_id=book.tenant_id, member_id=fan, amount=80, source_ref="redemption:77", now=book.now
    )
    assert [a.amount for a in spent.allocations] == [50, 30]
    book.tick(days=6)  # the short lot has expired (empty: nothing for the sweep to take)
    assert await service.expire(book.session, tenant_id=book.tenant_id, now=book.now) == 0

    refund = await service.refund_spend(
        book.session, tenant_id=book.tenant_id, source_ref="redemption:77", now=book.now
    )
    assert refund is not None and (refund.kind, refund.amount) == ("refund", 30)
    assert "50 积分已过期未退回" in refund.explanation
    assert (await book.lot(short)).remaining == 0
    assert (await book.lot(forever)).remaining == 50
    assert await book.points(fan) == (50, 0, 0)
    assert await service.refund_spend(book.session, tenant_id=book.tenant_id, source_ref="redemption:77") is None
    await refused(
        "points_record_not_found", service.refund_spend(book.session, tenant_id=book.tenant_id, source_ref="x")
    )
    await book.check()


async def test_refunded_points_keep_their_original_expiry(book: Book) -> None:
    fan = await book.member()
    short = await book.earn(fan, 50, expires_in=5)
    await service.spend(
        book.session, tenant_id=book.tenant_id, member_id=fan, amount=50, source_ref="r:1", now=book.now
    )
    book.tick(days=1)
    await service.refund_spend(book.session, tenant_id=book.tenant_id, source_ref="r:1", now=book.now)
    lot = await book.lot(short)
    assert (lot.remaining, lot.expires_at) == (50, book.days(4))
    book.tick(days=4)
    assert await service.expire(book.session, tenant_id=book.tenant_id, now=book.now) == 1
    assert await book.points(fan) == (0, 0, 0)
    await book.check()


# Clawback and debt


async def test_a_partial_refund_reduces_held_points_in_proportion_rounded_down(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 129, pending=True)

    def claw(n: int, d: int) -> object:
        return service.clawback(
            book.session, tenant_id=book.tenant_id, source_ref=ref, numerator=n, denominator=d, now=book.now
        )

    first = await claw(3000, 12900)  # 129 * 3000 / 12900 = 30
    assert first is not None and (first.amount, first.pending_amount) == (0, -30)  # type: ignore[attr-defined]
    assert await claw(3000, 12900) is None  # the same refund seen again
    assert await book.points(fan) == (0, 99, 0)
    await claw(6450, 12900)  # half refunded in all: 64 taken in all, 34 more
    assert await book.points(fan) == (0, 65, 0)
    assert await claw(1000, 12900) is None  # a smaller share than already taken changes nothing
    await service.post(book.session, tenant_id=book.tenant_id, source_ref=ref, now=book.now)
    assert await book.points(fan) == (65, 0, 0)
    await book.check()


async def test_clawing_back_spent_points_makes_debt_repaid_by_later_earnings(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 100)
    await service.spend(
        book.session, tenant_id=book.tenant_id, member_id=fan, amount=100, source_ref="r:1", now=book.now
    )
    entry = await service.clawback(
        book.session, tenant_id=book.tenant_id, source_ref=ref, numerator=1, denominator=2, now=book.now
    )
    assert entry is not None and entry.amount == -50 and "50 积分已经用掉" in entry.explanation
    assert await book.points(fan) == (-50, 0, 0 + 50)
    await book.check()

    await refused(
        "insufficient_points",
        service.spend(book.session, tenant_id=book.tenant_id, member_id=fan, amount=1, source_ref="r:2", now=book.now),
    )
    held = await book.earn(fan, 40, pending=True)  # held points do not repay until posted
    assert await book.points(fan) == (-50, 40, 50)
    first = await book.earn(fan, 30)
    assert await book.points(fan) == (-20, 40, 20)
    assert (await book.lot(first)).remaining == 0
    (repaid,) = await book.session.scalars(select(Allocation).where(Allocation.lot_id == (await book.lot(first)).id))
    assert repaid.amount == 30
    await service.post(book.session, tenant_id=book.tenant_id, source_ref=held, now=book.now)
    assert await book.points(fan) == (20, 0, 0)
    assert (await book.lot(held)).remaining == 20
    await book.check()


async def test_a_clawback_takes_the_members_other_points_before_making_debt(book: Book) -> None:
    fan = await book.member()
    x = await book.earn(fan, 100)
    await book.earn(fan, 100)
    await service.spend(
        book.session, tenant_id=book.tenant_id, member_id=fan, amount=150, source_ref="r:1", now=book.now
    )
    assert (await book.lot(x)).remaining == 0  # oldest first: order X was spent in full
    await service.clawback(
        book.session, tenant_id=book.tenant_id, source_ref=x, numerator=1, denominator=1, now=book.now
    )
    assert await book.points(fan) == (-50, 0, 50)
    await book.check()


async def test_points_that_expired_unused_are_not_clawed_back_again(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 100, expires_in=5)
    await service.spend(
        book.session, tenant_id=book.tenant_id, member_id=fan, amount=30, source_ref="r:1", now=book.now
    )
    book.tick(days=6)
    assert await service.expire(book.session, tenant_id=book.tenant_id, now=book.now) == 1

    def claw(n: int, d: int) -> object:
        return service.clawback(
            book.session, tenant_id=book.tenant_id, source_ref=ref, numerator=n, denominator=d, now=book.now
        )

    assert await claw(1, 2) is None  # 50 due, 70 already gone by expiry
    entry = await claw(1, 1)  # 100 due, 70 gone: the 30 she spent become debt
    assert entry is not None and entry.amount == -30  # type: ignore[attr-defined]
    assert await book.points(fan) == (-30, 0, 30)
    await book.check()


async def test_clawback_refusals_and_no_ops(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 10, pending=True)

    def claw(n: int, d: int, source_ref: str = ref) -> object:
        return service.clawback(
            book.session, tenant_id=book.tenant_id, source_ref=source_ref, numerator=n, denominator=d, now=book.now
        )

    await refused("invalid_fraction", claw(1, 0))
    await refused("invalid_fraction", claw(-1, 2))
    await refused("points_record_not_found", claw(1, 2, "order:taobao:0"))
    assert await claw(0, 5) is None
    await claw(7, 5)  # more than paid counts as all of it
    assert await book.points(fan) == (0, 0, 0)
    await service.void(book.session, tenant_id=book.tenant_id, source_ref=ref, now=book.now)
    assert await claw(1, 1) is None  # voided: nothing left to take
    await book.check()


# Expiry


async def test_the_expiry_sweep_is_idempotent_and_writes_one_entry_per_lot(book: Book) -> None:
    a, b = await book.member(), await book.member("小桃")
    first = await book.earn(a, 100, expires_in=3)
    await book.earn(a, 40, expires_in=3)
    await book.earn(a, 10)  # never expires
    await book.earn(b, 25, expires_in=3)
    held = await book.earn(b, 60, pending=True, expires_in=3)  # held points do not expire while held
    await service.spend(book.session, tenant_id=book.tenant_id, member_id=a, amount=30, source_ref="r:1", now=book.now)

    book.tick(days=3, seconds=-1)
    assert await service.expire(book.session, tenant_id=book.tenant_id, now=book.now) == 0  # not early
    book.tick(seconds=1)  # exactly at expiry
    assert await service.expire(book.session, tenant_id=book.tenant_id, now=book.now) == 3
    assert await service.expire(book.session, tenant_id=book.tenant_id, now=book.now) == 0
    book.tick(days=100)
    assert await service.expire(book.session, tenant_id=book.tenant_id, now=book.now) == 0

    assert await book.points(a) == (10, 0, 0) and await book.points(b) == (0, 60, 0)
    expired = [(e.member_id, e.amount) for e in await book.entries() if e.kind == EntryKind.expire]
    assert sorted(expired) == sorted([(a, -70), (a, -40), (b, -25)])
    assert (await book.lot(first)).remaining == 0
    await book.check()

    # Posted after its expiry, the held lot expires at once.
    await service.post(book.session, tenant_id=book.tenant_id, source_ref=held, now=book.now)
    assert await book.points(b) == (0, 0, 0)
    await book.check()


# Adjustments


async def test_adjustments_need_a_reason_and_leave_an_audit_record(book: Book) -> None:
    fan = await book.member()
    actor = staff(book.tenant_id)
    added = await service.adjust(
        book.session,
        tenant_id=book.tenant_id,
        member_id=fan,
        amount=200,
        reason=" 直播间补发 ",
        actor=actor,
        now=book.now,
    )
    assert (added.kind, added.amount, added.created_by, added.explanation) == (
        "adjust",
        200,
        "运营小王",
        "积分调整：直播间补发",
    )
    taken = await service.adjust(
        book.session, tenant_id=book.tenant_id, member_id=fan, amount=-50, reason="误发扣回", actor=actor, now=book.now
    )
    assert taken.amount == -50 and await book.points(fan) == (150, 0, 0)

    def adjust(amount: int, reason: str = "原因") -> object:
        return service.adjust(
            book.session, tenant_id=book.tenant_id, member_id=fan, amount=amount, reason=reason, actor=actor
        )

    await refused("invalid_amount", adjust(0))
    await refused("reason_required", adjust(5, "   "))
    await refused("reason_too_long", adjust(5, "长" * 201))
    await refused("insufficient_points", adjust(-151))
    await refused(
        "member_not_found",
        service.adjust(book.session, tenant_id=book.tenant_id, member_id=fan + 1, amount=5, reason="x", actor=actor),
    )

    records = list(
        await book.session.scalars(
            select(AuditEntry)
            .where(AuditEntry.tenant_id == book.tenant_id, AuditEntry.action == "points.adjust")
            .order_by(AuditEntry.id)
        )
    )
    assert [(r.actor_label, r.target_id, r.after["amount"], r.after["reason"]) for r in records] == [  # type: ignore[index]
        ("运营小王", str(fan), 200, "直播间补发"),
        ("运营小王", str(fan), -50, "误发扣回"),
    ]
    assert records[1].before == {"available": 200} and records[1].after["available"] == 150  # type: ignore[index]
    await book.check()


# Merging


async def test_merging_moves_lots_holds_and_debt_and_combines_balances(book: Book) -> None:
    keep, dup, third = await book.member("微信的她"), await book.member("淘宝的她"), await book.member()
    # The duplicate holds points (one lot expiring), held points and a spend; the survivor owes 30.
    short = await book.earn(dup, 60, expires_in=10)
    await book.earn(dup, 40)
    held = await book.earn(dup, 25, pending=True)
    await service.spend(
        book.session, tenant_id=book.tenant_id, member_id=dup, amount=20, source_ref="r:dup", now=book.now
    )
    owed = await book.earn(keep, 30)
    await service.spend(
        book.session, tenant_id=book.tenant_id, member_id=keep, amount=30, source_ref="r:keep", now=book.now
    )
    await service.clawback(
        book.session, tenant_id=book.tenant_id, source_ref=owed, numerator=1, denominator=1, now=book.now
    )
    assert await book.points(dup) == (80, 25, 0) and await book.points(keep) == (-30, 0, 30)

    entry = await service.merge(
        book.session, tenant_id=book.tenant_id, from_member_id=dup, into_member_id=keep, now=book.now
    )
    assert entry is not None and (entry.kind, entry.member_id, entry.amount, entry.pending_amount) == (
        "merge_in",
        keep,
        80,
        25,
    )
    assert await book.points(keep) == (50, 25, 0)  # 80 + 25 held, the 30 of debt paid from the soonest-expiring lot
    assert await book.points(dup) == (0, 0, 0)
    lot = await book.lot(short)
    assert (lot.member_id, lot.remaining, lot.expires_at) == (keep, 10, book.days(10))
    await book.check()

    # What belonged to the duplicate now resolves on the survivor.
    await service.post(book.session, tenant_id=book.tenant_id, source_ref=held, now=book.now)
    refund = await service.refund_spend(book.session, tenant_id=book.tenant_id, source_ref="r:dup", now=book.now)
    assert refund is not None and refund.member_id == keep
    assert await book.points(keep) == (95, 0, 0)
    await book.check()

    assert await service.merge(book.session, tenant_id=book.tenant_id, from_member_id=dup, into_member_id=keep) is None
    await refused(
        "already_merged",
        service.merge(book.session, tenant_id=book.tenant_id, from_member_id=dup, into_member_id=third),
    )
    await refused(
        "member_merged", service.merge(book.session, tenant_id=book.tenant_id, from_member_id=third, into_member_id=dup)
    )
    await refused(
        "merge_into_self",
        service.merge(book.session, tenant_id=book.tenant_id, from_member_id=keep, into_member_id=keep),
    )
    await refused(
        "member_merged",
        service.earn(book.session, tenant_id=book.tenant_id, member_id=dup, amount=5, source_ref=book.order()),
    )
    await refused(
        "member_merged",
        service.spend(book.session, tenant_id=book.tenant_id, member_id=dup, amount=1, source_ref="r:x"),
    )
    await book.check()


# Tenants


async def test_another_tenants_sources_and_members_are_not_found(book: Book) -> None:
    other = await factories.tenant(book.session)
    theirs = await factories.member(book.session, other.id)
    ref = book.order()
    await service.earn(book.session, tenant_id=other.id, member_id=theirs.id, amount=10, source_ref=ref, pending=True)
    for call in (
        service.post(book.session, tenant_id=book.tenant_id, source_ref=ref),
        service.void(book.session, tenant_id=book.tenant_id, source_ref=ref),
        service.clawback(book.session, tenant_id=book.tenant_id, source_ref=ref, numerator=1, denominator=1),
    ):
        await refused("points_record_not_found", call)
    mine = await book.member()
    await refused(
        "member_not_found",
        service.merge(book.session, tenant_id=book.tenant_id, from_member_id=theirs.id, into_member_id=mine),
    )
    await refused("member_not_found", service.balance(book.session, tenant_id=book.tenant_id, member_id=theirs.id))
    # The same order number may be credited once in each tenant.
    await service.earn(book.session, tenant_id=book.tenant_id, member_id=mine, amount=10, source_ref=ref)
    assert await check_invariants(book.session, other.id) == []
    await book.check()


# The checker itself


async def test_the_invariant_checker_notices_tampering(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 100)
    await service.spend(
        book.session, tenant_id=book.tenant_id, member_id=fan, amount=40, source_ref="r:1", now=book.now
    )
    await book.check()
    lot = await book.lot(ref)

    await book.session.execute(
        text("UPDATE ledger_balances SET available = available + 1 WHERE tenant_id = :t AND member_id = :m"),
        {"t": book.tenant_id, "m": fan},
    )
    problems = await check_invariants(book.session, book.tenant_id)
    assert any("available 61 != posted lots 60" in p for p in problems)
    assert any("available 61 != sum of entries 60" in p for p in problems)

    await book.session.execute(
        text("UPDATE ledger_balances SET available = available - 1 WHERE tenant_id = :t AND member_id = :m"),
        {"t": book.tenant_id, "m": fan},
    )
    await book.session.execute(
        text("UPDATE ledger_lots SET remaining = remaining - 5 WHERE tenant_id = :t AND id = :id"),
        {"t": book.tenant_id, "id": lot.id},
    )
    problems = await check_invariants(book.session, book.tenant_id)
    assert any(p.startswith(f"lot {lot.id} (posted): amount 100, remaining 55, allocations 40") for p in problems)

    await book.session.execute(
        text("UPDATE ledger_lots SET remaining = remaining + 5 WHERE tenant_id = :t AND id = :id"),
        {"t": book.tenant_id, "id": lot.id},
    )
    await book.session.execute(
        text("DELETE FROM ledger_allocations WHERE tenant_id = :t AND lot_id = :id"),
        {"t": book.tenant_id, "id": lot.id},
    )
    problems = await check_invariants(book.session, book.tenant_id)
    assert any("spend entry" in p and "changed -40 but drew 0" in p for p in problems)
