"""Order changes seen by an import reach the ledger: void before posting, clawback in proportion after."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.claims import tasks as claims_tasks
from siyu.claims.tasks import credit_changes as on_orders_changed
from siyu.jobs.models import Job, JobStatus
from siyu.jobs.service import enqueue
from siyu.jobs.worker import Worker
from siyu.ledger import refs, service
from siyu.orders import events
from siyu.orders.models import OrderChange
from siyu.tasks import load_handlers
from tests.ledger.conftest import Book
from tests.support import factories


async def credited_order(
    book: Book, member_id: int, *, points: int = 129, paid_fen: int = 12900, pending: bool = True
) -> tuple[str, str]:
    """An order in the orders table and its points in the ledger; returns (order id, source ref)."""
    order = await factories.order(book.session, book.tenant_id, paid_fen=paid_fen)
    ref = refs.order_ref(order.platform, order.order_id)
    await service.earn(
        book.session,
        tenant_id=book.tenant_id,
        member_id=member_id,
        amount=points,
        source_ref=ref,
        pending=pending,
        now=book.now,
    )
    return order.order_id, ref


async def changes(book: Book, *rows: tuple[str, str, str, int, int]) -> int:
    """An import that saw these changes: (order id, from status, to status, from refund, to refund)."""
    imported = await factories.order_import(book.session, book.tenant_id)
    for order_id, from_status, to_status, from_refund, to_refund in rows:
        book.session.add(
            OrderChange(
                tenant_id=book.tenant_id,
                import_id=imported.id,
                platform="taobao",
                order_id=order_id,
                from_status=from_status,
                to_status=to_status,
                from_refund_fen=from_refund,
                to_refund_fen=to_refund,
            )
        )
    await book.session.flush()
    return imported.id


async def test_an_order_closed_or_refunded_before_posting_voids_its_held_points(book: Book) -> None:
    fan = await book.member()
    closed, closed_ref = await credited_order(book, fan)
    refunded, refunded_ref = await credited_order(book, fan, points=50, paid_fen=5000)
    import_id = await changes(book, (closed, "paid", "closed", 0, 0), (refunded, "shipped", "refunded", 0, 5000))

    assert await on_orders_changed(book.session, book.tenant_id, import_id) == 2
    assert await book.points(fan) == (0, 0, 0)
    assert {(await book.lot(ref)).status for ref in (closed_ref, refunded_ref)} == {"voided"}
    assert await on_orders_changed(book.session, book.tenant_id, import_id) == 0  # the job ran again
    await book.check()


async def test_a_partial_refund_claws_back_the_refunded_share_held_or_posted(book: Book) -> None:
    fan = await book.member()
    held, held_ref = await credited_order(book, fan, points=129, paid_fen=12900)
    posted, _ = await credited_order(book, fan, points=200, paid_fen=20000, pending=False)
    first = await changes(book, (held, "shipped", "refunding", 0, 3000), (posted, "completed", "refunding", 0, 5000))
    assert await on_orders_changed(book.session, book.tenant_id, first) == 2
    assert await book.points(fan) == (150, 99, 0)  # 200 - 50 ; 129 - floor(129 * 3000 / 12900)

    second = await changes(book, (held, "refunding", "refunding", 3000, 6450))  # more refunded later
    assert await on_orders_changed(book.session, book.tenant_id, second) == 1
    assert await book.points(fan) == (150, 65, 0)
    entries = [e for e in await book.entries(fan) if e.kind == "clawback"]
    assert [e.source_ref for e in entries][-1] == f"{held_ref}#refund:6450/12900"
    await book.check()


async def test_an_order_refunded_after_posting_is_clawed_back_in_full_into_debt_when_spent(book: Book) -> None:
    fan = await book.member()
    order_id, ref = await credited_order(book, fan, points=100, paid_fen=10000)
    await service.post(book.session, tenant_id=book.tenant_id, source_ref=ref, now=book.now)
    await service.spend(
        book.session, tenant_id=book.tenant_id, member_id=fan, amount=70, source_ref="r:1", now=book.now
    )
    import_id = await changes(book, (order_id, "completed", "refunded", 0, 10000))
    assert await on_orders_changed(book.session, book.tenant_id, import_id) == 1
    assert await book.points(fan) == (-70, 0, 70)
    assert await on_orders_changed(book.session, book.tenant_id, import_id) == 0
    await book.check()


async def test_completion_and_orders_without_points_change_nothing(book: Book) -> None:
    fan = await book.member()
    completed, _ = await credited_order(book, fan)
    uncredited = await factories.order(book.session, book.tenant_id)
    import_id = await changes(
        book, (completed, "shipped", "completed", 0, 0), (uncredited.order_id, "paid", "refunded", 0, 12900)
    )
    assert await on_orders_changed(book.session, book.tenant_id, import_id) == 0
    assert await book.points(fan) == (0, 129, 0)
    # Another tenant's import id never reaches into this tenant.
    other = await factories.tenant(book.session)
    assert await on_orders_changed(book.session, other.id, import_id) == 0


async def test_the_orders_changed_job_calls_the_ledger_in_its_transaction(
    book: Book, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    load_handlers()
    assert events.LISTENERS["points"] is claims_tasks.credit_changes
    fan = await book.member()
    order_id, ref = await credited_order(book, fan)
    import_id = await changes(book, (order_id, "paid", "closed", 0, 0))
    job_id = await enqueue(
        session, "orders.changed", {"import_id": import_id}, tenant_id=book.tenant_id, dedupe_key=f"t:{import_id}"
    )
    await session.flush()
    await Worker(sessionmaker).drain()
    job = await session.scalar(select(Job).where(Job.id == job_id).execution_options(populate_existing=True))
    assert job is not None and job.status == JobStatus.done, job and job.last_error
    assert job.result == {"import_id": import_id, "listeners": {"points": 1, "bound": 0}}
    assert (await book.lot(ref)).status == "voided"
    await book.check()
