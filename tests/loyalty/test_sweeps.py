"""The periodic sweep: holds end, lots expire, members are warned, tiers are reviewed; idempotent and batched."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.claims import crediting
from siyu.claims import tasks as claims_tasks
from siyu.jobs import notify, registry
from siyu.jobs.models import Job, JobStatus
from siyu.jobs.service import enqueue
from siyu.jobs.worker import Worker
from siyu.kit.time import utcnow
from siyu.ledger.models import Lot, LotStatus
from siyu.loyalty import service
from siyu.loyalty.schemas import HoldMode, PointsPolicy, TierIn
from siyu.orders.models import OrderChange
from siyu.tasks import load_handlers
from tests.ledger.conftest import Book
from tests.loyalty.conftest import an_order, owner
from tests.support import factories


async def import_completing(book: Book, order_id: str, completed_days_ago: float) -> int:
    """An import that saw the order completed `completed_days_ago` days before the book's now."""
    from siyu.orders.models import Order

    order = await book.session.get(Order, (book.tenant_id, "taobao", order_id))
    assert order is not None
    order.status, order.completed_at = "completed", book.now - timedelta(days=completed_days_ago)
    imported = await factories.order_import(book.session, book.tenant_id)
    book.session.add(
        OrderChange(
            tenant_id=book.tenant_id,
            import_id=imported.id,
            platform="taobao",
            order_id=order_id,
            from_status="shipped",
            to_status="completed",
            from_refund_fen=0,
            to_refund_fen=0,
        )
    )
    await book.session.flush()
    return imported.id


async def claimed(book: Book, member_id: int, paid_fen: int = 12900) -> str:
    order = await factories.order(book.session, book.tenant_id, paid_fen=paid_fen)
    facts = an_order(paid_fen / 100)
    facts = type(facts)(platform=order.platform, order_id=order.order_id, paid_fen=paid_fen, status="shipped")
    await crediting.credit(
        book.session,
        await crediting.context_of(book.session, tenant_id=book.tenant_id),
        member_id=member_id,
        order=facts,
        now=book.now,
    )
    return order.order_id


async def test_completion_starts_the_hold_and_the_sweep_posts_when_it_ends(book: Book) -> None:
    fan = await book.member()
    recent, long_ago = await claimed(book, fan), await claimed(book, fan)
    assert await book.points(fan) == (0, 24, 0)
    first = await import_completing(book, recent, completed_days_ago=2)
    second = await import_completing(book, long_ago, completed_days_ago=30)
    assert (
        await crediting.apply_order_changes(book.session, tenant_id=book.tenant_id, import_id=first, now=book.now) == 0
    )
    assert (
        await crediting.apply_order_changes(book.session, tenant_id=book.tenant_id, import_id=second, now=book.now) == 1
    )
    assert await book.points(fan) == (12, 12, 0)  # the one completed a month ago posted at once
    lot = await book.lot(f"order:taobao:{recent}")
    assert lot.post_after == book.now + timedelta(days=5)

    assert (await crediting.sweep(book.session, tenant_id=book.tenant_id, now=book.tick(days=4))).posted == 0
    assert (await crediting.sweep(book.session, tenant_id=book.tenant_id, now=book.tick(days=1))).posted == 1
    assert await book.points(fan) == (24, 0, 0)
    assert (await crediting.sweep(book.session, tenant_id=book.tenant_id, now=book.tick(minutes=1))).posted == 0
    await book.check()


async def test_members_are_warned_once_before_points_expire(book: Book, session: AsyncSession) -> None:
    await service.save_policy(
        session, actor=owner(book.tenant_id), policy=PointsPolicy(hold_mode=HoldMode.immediate, warn_days=7)
    )
    fan = await book.member()
    await book.earn(fan, 40, expires_in=10)
    await book.earn(fan, 2, expires_in=5)
    await book.earn(fan, 7)  # never expires
    assert (await crediting.sweep(session, tenant_id=book.tenant_id, now=book.now)).warned == 1
    soon = await service.expiring_soon(session, tenant_id=book.tenant_id, member_id=fan, now=book.now)
    assert (soon.points, soon.soonest) == (2, book.days(5))
    assert (await crediting.sweep(session, tenant_id=book.tenant_id, now=book.tick(days=4))).warned == 1
    assert (await crediting.sweep(session, tenant_id=book.tenant_id, now=book.tick(hours=1))).warned == 0
    warnings = await session.scalars(select(Job).where(Job.kind == service.WARNING_JOB).order_by(Job.id))
    assert [(j.payload["member_id"], j.payload["points"]) for j in warnings] == [(fan, 2), (fan, 40)]
    expired = await crediting.sweep(session, tenant_id=book.tenant_id, now=book.tick(days=7))
    assert expired.expired == 2
    assert await book.points(fan) == (7, 0, 0)
    await book.check()


async def test_the_warning_job_reaches_the_member_through_every_notifier(
    book: Book, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    load_handlers()
    heard: list[tuple[int, dict[str, Any]]] = []

    async def inbox(_session: AsyncSession, _tenant: int, member_id: int, payload: dict[str, Any]) -> bool:
        heard.append((member_id, payload))
        return True

    monkeypatch.setattr(notify, "NOTIFIERS", {"inbox": inbox})
    fan = await book.member()
    job_id = await enqueue(
        session,
        service.WARNING_JOB,
        {"member_id": fan, "points": 5, "expires_at": "2030-03-08T00:00:00+00:00"},
        tenant_id=book.tenant_id,
    )
    await session.flush()
    await Worker(sessionmaker).drain()
    job = await session.get(Job, job_id, populate_existing=True)
    assert job is not None and job.status == JobStatus.done and job.result == {"reached": ["inbox"]}
    assert heard == [
        (
            fan,
            {
                "member_id": fan,
                "points": 5,
                "expires_at": "2030-03-08T00:00:00+00:00",
                "kind": "points_expiring",
                "subject": "2030-03-08:5",
            },
        )
    ]


async def test_tiers_go_up_at_once_and_down_only_at_the_monthly_review(book: Book, session: AsyncSession) -> None:
    actor = owner(book.tenant_id)
    await service.save_policy(
        session, actor=actor, policy=PointsPolicy(hold_mode=HoldMode.immediate, tier_window_days=30)
    )
    await service.create_tier(session, actor=actor, data=TierIn(name="银卡", threshold=50))
    fan = await book.member()
    await crediting.credit(
        session,
        await crediting.context_of(session, tenant_id=book.tenant_id),
        member_id=fan,
        order=an_order(600),
        now=book.now,
    )
    tier = (await service.standing(session, tenant_id=book.tenant_id, member_id=fan, now=book.now)).tier
    assert tier is not None and tier.name == "银卡"

    # 40 days later her growth window is empty, but she keeps the tier until the review of a new month.
    first = await crediting.sweep(session, tenant_id=book.tenant_id, now=book.tick(days=40))
    assert first.reviewed == 1 and first.tier_changes == 1  # April's review
    standing = await service.standing(session, tenant_id=book.tenant_id, member_id=fan, now=book.now)
    assert standing.tier is None and standing.growth == 0
    again = await crediting.sweep(session, tenant_id=book.tenant_id, now=book.tick(days=1))
    assert again.reviewed == 0  # reviewed once a month
    history = await service.tier_history(session, tenant_id=book.tenant_id, member_id=fan)
    assert [(c.from_tier, c.to_tier, c.reason) for c in history] == [
        ("银卡", None, "review"),
        (None, "银卡", "upgrade"),
    ]


async def test_the_sweep_job_runs_on_schedule_and_continues_when_a_batch_is_full(
    book: Book, session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    load_handlers()
    assert (claims_tasks.SWEEP_JOB, claims_tasks.SWEEP_EVERY_S) in registry.PERIODIC
    monkeypatch.setattr(claims_tasks, "SWEEP_BATCH", 1)
    book.now = utcnow() - timedelta(days=2)
    a, b = await book.member(), await book.member("小桃")
    for fan in (a, b):
        await book.earn(fan, 10, pending=True)
    for lot in await book.session.scalars(select(Lot).where(Lot.tenant_id == book.tenant_id)):
        lot.post_after = book.now
    await session.flush()
    await enqueue(session, claims_tasks.SWEEP_JOB, {}, tenant_id=book.tenant_id)
    await session.flush()
    assert await Worker(sessionmaker).drain() >= 2
    assert await book.points(a) == (10, 0, 0) and await book.points(b) == (10, 0, 0)
    assert {
        lot.status for lot in await book.session.scalars(select(Lot).execution_options(populate_existing=True))
    } == {LotStatus.posted}
    await book.check()


async def test_a_merged_member_brings_her_tier_growth_to_the_one_she_joins(book: Book, session: AsyncSession) -> None:
    from siyu.fans.service import merge_members

    actor = owner(book.tenant_id)
    await service.save_policy(
        session, actor=actor, policy=PointsPolicy(hold_mode=HoldMode.immediate, tier_window_days=30)
    )
    context = await crediting.context_of(session, tenant_id=book.tenant_id)
    survivor, duplicate, earlier = await book.member(), await book.member(), await book.member()
    for member_id in (survivor, duplicate, earlier):
        await crediting.credit(session, context, member_id=member_id, order=an_order(600), now=book.now)
    each = (await service.standing(session, tenant_id=book.tenant_id, member_id=survivor, now=book.now)).growth
    assert each > 0
    await service.create_tier(session, actor=actor, data=TierIn(name="金卡", threshold=3 * each))

    # `earlier` had already been merged into `duplicate`: her growth follows the chain.
    await merge_members(
        session, tenant_id=book.tenant_id, from_member_id=earlier, into_member_id=duplicate, reason="同一个人"
    )
    await merge_members(
        session, tenant_id=book.tenant_id, from_member_id=duplicate, into_member_id=survivor, reason="同一个人"
    )

    standing = await service.standing(session, tenant_id=book.tenant_id, member_id=survivor, now=book.now)
    assert standing.growth == 3 * each
    assert standing.tier is not None and standing.tier.name == "金卡"
    # The monthly review counts the same.
    await crediting.sweep(session, tenant_id=book.tenant_id, now=book.tick(days=1))
    reviewed = await service.standing(session, tenant_id=book.tenant_id, member_id=survivor, now=book.now)
    assert reviewed.growth == 3 * each and reviewed.tier is not None and reviewed.tier.name == "金卡"
