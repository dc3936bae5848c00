"""Crediting an order by the tenant's rules: hold, expiry, campaigns with caps, first claim, explanation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from siyu.claims import crediting
from siyu.ledger import service as ledger
from siyu.ledger.models import Lot, LotStatus
from siyu.loyalty import service
from siyu.loyalty.models import Campaign
from siyu.loyalty.schemas import CampaignIn, ExpiryMode, HoldMode, PointsPolicy, TierIn
from tests.ledger.conftest import Book
from tests.loyalty.conftest import an_order, owner


async def policy(book: Book, **changes: object) -> None:
    await service.save_policy(book.session, actor=owner(book.tenant_id), policy=PointsPolicy(**changes))  # type: ignore[arg-type]


async def campaign(book: Book, **fields: object) -> Campaign:
    data = {
        "name": "双11",
        "starts_at": book.now - timedelta(days=1),
        "ends_at": book.now + timedelta(days=1),
        **fields,
    }
    return await service.create_campaign(book.session, actor=owner(book.tenant_id), data=CampaignIn(**data))  # type: ignore[arg-type]


async def credit(book: Book, member_id: int, paid_yuan: float, **kw: object) -> crediting.Credited:
    return await crediting.credit(
        book.session,
        await crediting.context_of(book.session, tenant_id=book.tenant_id),
        member_id=member_id,
        order=an_order(paid_yuan, **kw),
        now=book.now,
    )


async def test_an_order_earns_held_points_that_post_after_the_hold(book: Book) -> None:
    fan = await book.member()
    credited = await credit(book, fan, 139.90)
    assert (credited.calculation.total, credited.pending, credited.post_after) == (13, True, None)
    assert await book.points(fan) == (0, 13, 0)
    lot = await book.lot(credited.entry.source_ref)
    # default expiry: end of next year, Shanghai time
    assert lot.expires_at is not None and lot.expires_at.year == 2031 and lot.expires_at.month == 12
    await book.check()


async def test_a_completed_order_past_its_hold_is_available_at_once(book: Book) -> None:
    fan = await book.member()
    credited = await credit(book, fan, 100, status="completed", completed_at=book.now - timedelta(days=8))
    assert not credited.pending
    assert await book.points(fan) == (10, 0, 0)
    within = await credit(book, fan, 100, status="completed", completed_at=book.now - timedelta(days=1))
    assert within.pending and within.post_after == book.now + timedelta(days=6)


async def test_immediate_hold_and_expiry_never(book: Book) -> None:
    await policy(book, hold_mode=HoldMode.immediate, expiry_mode=ExpiryMode.never, fen_per_point=100)
    fan = await book.member()
    credited = await credit(book, fan, 12.34)
    assert (credited.pending, credited.expires_at, credited.calculation.total) == (False, None, 12)
    assert await book.points(fan) == (12, 0, 0)


async def test_orders_that_cannot_earn_are_refused(book: Book) -> None:
    fan = await book.member()
    for status in ("unpaid", "closed", "refunded"):
        with pytest.raises(crediting.NotEligible):
            await credit(book, fan, 100, status=status)
    with pytest.raises(service.NothingToEarn):
        await credit(book, fan, 9.99)
    facts = an_order(100)
    await crediting.credit(
        book.session,
        await crediting.context_of(book.session, tenant_id=book.tenant_id),
        member_id=fan,
        order=facts,
        now=book.now,
    )
    other = await book.member("小桃")
    with pytest.raises(ledger.AlreadyCredited) as refused:
        await crediting.credit(
            book.session,
            await crediting.context_of(book.session, tenant_id=book.tenant_id),
            member_id=other,
            order=facts,
            now=book.now,
        )
    assert refused.value.detail == {"by_this_member": False}
    assert await book.points(other) == (0, 0, 0)


async def test_a_campaign_doubles_and_its_daily_cap_holds_per_member(book: Book) -> None:
    await campaign(book, multiplier_pct=200, cap_per_member_day=20, ends_at=book.now + timedelta(days=3))
    fan, other = await book.member(), await book.member("小桃")
    first = await credit(book, fan, 139.90)
    assert first.entry.explanation.endswith("获得 26 积分：基础 13 × 双11 2倍")
    second = await credit(book, fan, 139.90)
    assert second.calculation.total == 13 + 7 and "已达活动上限" in second.entry.explanation
    third = await credit(book, fan, 139.90)
    assert third.calculation.total == 13
    assert (await credit(book, other, 139.90)).calculation.total == 26  # her own cap
    book.tick(days=1)
    assert (await credit(book, fan, 139.90)).calculation.total == 26  # a new day
    await book.check()


async def test_a_campaign_total_cap_and_its_awarded_count(book: Book) -> None:
    capped = await campaign(book, bonus_points=30, cap_total=50)
    fans = [await book.member(f"粉丝{n}") for n in range(3)]
    totals = [(await credit(book, fan, 100)).calculation.total for fan in fans]
    assert totals == [40, 30, 10]
    refreshed = await service.get_campaign(book.session, tenant_id=book.tenant_id, campaign_id=capped.id)
    assert refreshed.awarded_total == 50
    with pytest.raises(service.CampaignInUse):
        await service.delete_campaign(book.session, actor=owner(book.tenant_id), campaign_id=capped.id)


async def test_the_first_claim_bonus_comes_once(book: Book) -> None:
    await campaign(book, name="新客礼", first_claim_bonus=88)
    fan = await book.member()
    assert (await credit(book, fan, 50)).calculation.total == 93
    assert (await credit(book, fan, 50)).calculation.total == 5


async def test_a_tier_multiplies_and_upgrades_at_once_when_points_post(book: Book) -> None:
    actor = owner(book.tenant_id)
    await policy(book, hold_mode=HoldMode.immediate)
    gold = await service.create_tier(
        book.session, actor=actor, data=TierIn(name="金卡", threshold=100, multiplier_pct=150)
    )
    fan = await book.member()
    await credit(book, fan, 999)  # 99 growth: not yet
    assert (await service.standing(book.session, tenant_id=book.tenant_id, member_id=fan, now=book.now)).tier is None
    await credit(book, fan, 10)  # 100: gold at once
    standing = await service.standing(book.session, tenant_id=book.tenant_id, member_id=fan, now=book.now)
    assert standing.tier is not None and standing.tier.id == gold.id and standing.growth == 100
    assert (await credit(book, fan, 100)).entry.explanation.endswith("基础 10 × 金卡 1.5倍")
    history = await service.tier_history(book.session, tenant_id=book.tenant_id, member_id=fan)
    assert [(c.from_tier, c.to_tier, c.reason) for c in history] == [(None, "金卡", "upgrade")]


async def test_pending_points_do_not_count_toward_a_tier_until_posted(book: Book) -> None:
    await service.create_tier(book.session, actor=owner(book.tenant_id), data=TierIn(name="银卡", threshold=10))
    fan = await book.member()
    credited = await credit(book, fan, 500)
    assert (await service.standing(book.session, tenant_id=book.tenant_id, member_id=fan, now=book.now)).growth == 0
    lot = await book.lot(credited.entry.source_ref)
    lot.post_after = book.now
    await book.session.flush()
    result = await crediting.sweep(book.session, tenant_id=book.tenant_id, now=book.tick(minutes=1))
    assert result.posted == 1 and result.tier_changes == 1
    standing = await service.standing(book.session, tenant_id=book.tenant_id, member_id=fan, now=book.now)
    assert standing.tier is not None and standing.tier.name == "银卡"


async def test_the_preview_shows_what_an_order_would_earn(book: Book) -> None:
    await campaign(book, multiplier_pct=300)
    from siyu.loyalty.schemas import PreviewIn

    calc = await service.preview(
        book.session, tenant_id=book.tenant_id, data=PreviewIn(paid_fen=13990, first_claim=True), now=book.now
    )
    assert calc.total == 39 and calc.explanation() == "获得 39 积分：基础 13 × 双11 3倍"
    lots = await book.session.scalars(select(Lot).where(Lot.tenant_id == book.tenant_id))
    assert list(lots) == []  # nothing written
    assert LotStatus.pending  # keep the import used
