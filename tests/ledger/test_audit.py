"""The invariant checker notices each kind of damage to the books, one at a time (what the database's own
constraints already refuse cannot be staged here: a duplicate (kind, source) or lot source, a negative
balance, pending or debt, a lot's remaining outside 0..amount, an allocation of an unknown lot)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from siyu.kit.ids import new_id
from siyu.ledger import service
from siyu.ledger.audit import check_invariants
from siyu.ledger.models import Entry
from tests.ledger.conftest import Book
from tests.support.databases import backend


async def damage(book: Book, statement: str, **params: object) -> list[str]:
    """Run one UPDATE/DELETE on the tenant's books (:t is the tenant) and return what the checker says."""
    await book.session.execute(text(statement), {"t": book.tenant_id, **params})
    return await check_invariants(book.session, book.tenant_id)


def says(problems: list[str], *fragments: str) -> bool:
    return any(all(fragment in problem for fragment in fragments) for problem in problems)


async def add_entry(book: Book, member_id: int, kind: str, source_ref: str, **values: object) -> int:
    entry_id = new_id()
    book.session.add(
        Entry(
            tenant_id=book.tenant_id,
            id=entry_id,
            member_id=member_id,
            kind=kind,
            amount=values.get("amount", 0),
            pending_amount=values.get("pending_amount", 0),
            source_ref=source_ref,
            lot_id=values.get("lot_id"),
            explanation="篡改",
            created_at=book.now,
        )
    )
    await book.session.flush()
    return entry_id


async def test_a_balance_row_missing(book: Book) -> None:
    fan = await book.member()
    await book.earn(fan, 10)
    problems = await damage(book, "DELETE FROM ledger_balances WHERE tenant_id = :t AND member_id = :m", m=fan)
    assert problems == [f"member {fan}: has entries or lots but no balance row"]


async def test_pending_that_neither_lots_nor_entries_explain(book: Book) -> None:
    fan = await book.member()
    await book.earn(fan, 10, pending=True)
    problems = await damage(book, "UPDATE ledger_balances SET pending = pending + 3 WHERE tenant_id = :t")
    assert says(problems, f"member {fan}", "pending 13 != pending lots 10")
    assert says(problems, f"member {fan}", "pending 13 != sum of pending entries 10")


async def test_debt_while_holding_posted_points(book: Book) -> None:
    fan = await book.member()
    await book.earn(fan, 10)
    problems = await damage(book, "UPDATE ledger_balances SET debt = 4, available = 6 WHERE tenant_id = :t")
    assert says(problems, f"member {fan}", "owes 4 while holding 10 posted points")
    assert says(problems, f"member {fan}", "available 6 != sum of entries 10")


async def test_a_merged_member_still_holding_points(book: Book) -> None:
    fan, other = await book.member(), await book.member("别人")
    await book.earn(fan, 10)
    problems = await damage(book, "UPDATE ledger_balances SET merged_into = :o WHERE tenant_id = :t", o=other)
    assert says(problems, f"member {fan}", f"merged into {other} but still holds points or lots")


async def test_a_voided_lot_still_holding_points_and_an_unknown_state(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 10, pending=True)
    lot = await book.lot(ref)
    problems = await damage(book, "UPDATE ledger_lots SET status = 'voided' WHERE tenant_id = :t")
    assert says(problems, f"lot {lot.id} (voided): amount 10, remaining 10, allocations 0")
    problems = await damage(book, "UPDATE ledger_lots SET status = 'frozen' WHERE tenant_id = :t")
    assert says(problems, f"lot {lot.id} (frozen)")


async def test_lot_states_that_disagree_with_their_resolution(book: Book) -> None:
    fan = await book.member()
    held, posted, earned = (
        await book.earn(fan, 10, pending=True),
        await book.earn(fan, 20, pending=True),
        await book.earn(fan, 5),
    )
    await service.post(book.session, tenant_id=book.tenant_id, source_ref=posted, now=book.now)
    ids = {ref: (await book.lot(ref)).id for ref in (held, posted, earned)}
    # held, marked posted without a post entry; posted, marked held again; an immediate credit voided
    await damage(book, "UPDATE ledger_lots SET status = 'posted' WHERE tenant_id = :t AND id = :id", id=ids[held])
    await damage(book, "UPDATE ledger_lots SET status = 'pending' WHERE tenant_id = :t AND id = :id", id=ids[posted])
    await add_entry(book, fan, "void", earned, lot_id=ids[earned])
    problems = await check_invariants(book.session, book.tenant_id)
    assert says(problems, f"lot {ids[held]} ({held}, posted, credited by earn_pending): 0 post and 0 void")
    assert says(problems, f"lot {ids[posted]} ({posted}, pending, credited by earn_pending): 1 post and 0 void")
    assert says(problems, f"lot {ids[earned]} ({earned}, posted, credited by earn): 0 post and 1 void")


async def test_a_lot_whose_credit_entry_says_otherwise(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 10)
    lot = await book.lot(ref)
    problems = await damage(
        book, "UPDATE ledger_entries SET amount = 12 WHERE tenant_id = :t AND kind = 'earn' AND source_ref = :r", r=ref
    )
    assert says(problems, f"lot {lot.id} ({ref}, posted, credited by earn)")
    problems = await damage(
        book, "UPDATE ledger_entries SET amount = 10, source_ref = 'x' WHERE tenant_id = :t AND kind = 'earn'"
    )
    assert says(problems, f"lot {lot.id} ({ref}, posted, credited by earn)")


async def test_a_source_credited_twice_held_and_at_once(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 10, pending=True)
    await add_entry(book, fan, "earn", ref, amount=10)
    problems = await check_invariants(book.session, book.tenant_id)
    assert says(problems, f"credit {ref}: 2 times (at most once)")


async def test_an_expiry_that_took_the_wrong_amount_or_came_early(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 10, expires_in=1)
    book.tick(days=2)
    assert await service.expire(book.session, tenant_id=book.tenant_id, now=book.now) == 1
    await book.check()
    lot = await book.lot(ref)
    problems = await damage(
        book, "UPDATE ledger_allocations SET amount = 9 WHERE tenant_id = :t AND lot_id = :id", id=lot.id
    )
    assert says(problems, "expire entry", "changed -10 but drew 9")
    problems = await damage(
        book,
        "UPDATE ledger_lots SET expires_at = :later WHERE tenant_id = :t AND id = :id",
        id=lot.id,
        later=book.days(3),
    )
    assert says(problems, "expire entry", f"lot {lot.id} had not expired yet")


async def test_a_refund_of_more_than_was_spent_or_of_nothing(book: Book) -> None:
    fan = await book.member()
    await book.earn(fan, 50)
    await service.spend(book.session, tenant_id=book.tenant_id, member_id=fan, amount=20, source_ref="r:1")
    await service.refund_spend(book.session, tenant_id=book.tenant_id, source_ref="r:1")
    problems = await damage(book, "UPDATE ledger_entries SET amount = 21 WHERE tenant_id = :t AND kind = 'refund'")
    assert says(problems, "refund r:1: gave back 21 of a spend of -20")
    await add_entry(book, fan, "refund", "r:nothing", amount=1)
    problems = await check_invariants(book.session, book.tenant_id)
    assert says(problems, "refund r:nothing: gave back 1 of a spend of None")


async def test_an_allocation_of_nothing(book: Book) -> None:
    fan = await book.member()
    await book.earn(fan, 50)
    spent = await service.spend(book.session, tenant_id=book.tenant_id, member_id=fan, amount=20, source_ref="r:1")
    (allocation,) = spent.allocations
    problems = await damage(book, "UPDATE ledger_allocations SET amount = 0 WHERE tenant_id = :t")
    assert says(problems, f"allocation of entry {allocation.entry_id} on lot {allocation.lot_id}: 0 (zero or unknown")


async def test_other_tenants_books_are_not_looked_at(book: Book) -> None:
    fan = await book.member()
    await book.earn(fan, 10, expires_in=1)
    book.tick(days=2)
    await service.expire(book.session, tenant_id=book.tenant_id, now=book.now)
    await book.check()
    assert await check_invariants(book.session, book.tenant_id + 1) == []


async def test_a_lot_resolved_twice_or_by_an_entry_of_another_source(book: Book) -> None:
    fan = await book.member()
    both, twice = await book.earn(fan, 10, pending=True), await book.earn(fan, 20, pending=True)
    for ref in (both, twice):
        await service.post(book.session, tenant_id=book.tenant_id, source_ref=ref, now=book.now)
    await book.check()
    ids = {ref: (await book.lot(ref)).id for ref in (both, twice)}
    await add_entry(book, fan, "void", both, lot_id=ids[both])
    await add_entry(book, fan, "post", "order:taobao:another", lot_id=ids[twice])
    problems = await check_invariants(book.session, book.tenant_id)
    assert says(problems, f"lot {ids[both]} ({both}, posted, credited by earn_pending): 1 post and 1 void")
    assert says(problems, f"lot {ids[twice]} ({twice}, posted, credited by earn_pending): 2 post and 0 void")


@pytest.mark.skipif(backend() != "postgres", reason="needs transactional DDL to stage what the constraints refuse")
async def test_what_the_constraints_would_refuse(book: Book) -> None:
    fan = await book.member()
    ref = await book.earn(fan, 10, pending=True)
    lot = await book.lot(ref)
    for table, constraint in (
        ("ledger_entries", "uq_ledger_entries_tenant_id_kind_source_ref"),
        ("ledger_lots", "uq_ledger_lots_tenant_id_source_ref"),
        ("ledger_allocations", "fk_ledger_allocations_tenant_id_lot_id_ledger_lots"),
    ):  # (rolled back with the test's transaction)
        await book.session.execute(text(f"ALTER TABLE {table} DROP CONSTRAINT {constraint}"))
    entry_id = await add_entry(book, fan, "earn_pending", ref, pending_amount=10, lot_id=lot.id)
    await book.session.execute(
        text(
            "INSERT INTO ledger_lots (tenant_id, id, member_id, entry_id, source_ref, amount, remaining, status,"
            " created_at) SELECT tenant_id, :id, member_id, :entry, source_ref, amount, remaining, status,"
            " created_at FROM ledger_lots WHERE tenant_id = :t AND id = :lot"
        ),
        {"t": book.tenant_id, "id": new_id(), "entry": entry_id, "lot": lot.id},
    )
    await book.session.execute(
        text("INSERT INTO ledger_allocations (tenant_id, entry_id, lot_id, amount) VALUES (:t, :entry, 4242, 3)"),
        {"t": book.tenant_id, "entry": entry_id},
    )
    problems = await check_invariants(book.session, book.tenant_id)
    assert says(problems, f"allocation of entry {entry_id} on lot 4242: 3 (zero or unknown lot)")
    assert says(problems, f"earn_pending {ref}: 2 times (at most once)")
    assert says(problems, f"credit {ref}: 2 times (at most once)")
    assert says(problems, f"lot {ref}: 2 times (at most once)")
