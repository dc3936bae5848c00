"""Which orders each show brought and from whom: per show, orders and GMV (fen) of fans who reserved it, of other
members and of buyers who are not (known as) members; the claim rate after it; the new members it brought; and
the private domain's share of its public GMV. A month's report adds its shows up.

Orders are read through the orders' service (candidates: on the show's platform inside its window, or carrying
its room id) and decided by `rules.attributed`; who bought an order is who it was credited to (the ledger's
service); when members joined, the members' service. No other domain's table is read here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.live import repository, rules
from siyu.live.models import Show
from siyu.members import service as members
from siyu.orders import service as orders
from siyu.orders.models import OrderView
from siyu.tenants import service as tenants

# A member who joined from the show's announcement to this long after its end counts as brought by it.
NEW_MEMBER_GRACE = timedelta(days=7)


@dataclass(frozen=True)
class ShowReport:
    show: Show
    reservations: int
    split: rules.Split
    new_members: int


async def _window(session: AsyncSession, show: Show) -> rules.Window:
    shops: tuple[str, ...] = ()
    if show.channel_id is not None:
        config = await tenants.config_of(session, show.tenant_id)
        channel = next((c for c in config.channels if c.id == show.channel_id), None)
        if channel is not None:
            shops = tuple(s for s in (channel.name, channel.shop_id) if s)
    return rules.Window(
        platform=show.platform,
        starts_at=show.starts_at,
        ends_at=show.ends_at,
        shops=shops,
        live_room=show.live_room,
        author_id=show.author_id,
    )


async def attributed_orders(session: AsyncSession, show: Show) -> list[OrderView]:
    window = await _window(session, show)
    candidates = await orders.orders_in_window(
        session,
        tenant_id=show.tenant_id,
        platforms=[show.platform],
        start=show.starts_at,
        end=show.ends_at,
        live_rooms=[show.live_room] if show.live_room else [],
    )
    return [o for o in candidates if rules.attributed(o, window)]


async def report(session: AsyncSession, *, show: Show) -> ShowReport:
    tenant_id = show.tenant_id
    found = await attributed_orders(session, show)
    credited = await ledger.credit_owners(
        session, tenant_id=tenant_id, source_refs=[refs.order_ref(o.platform, o.order_id) for o in found]
    )
    owners = {}
    for ref, member_id in credited.items():
        key = refs.order_of(ref)
        if key is not None:
            owners[key] = member_id
    reserved = await repository.reserved_members(session, tenant_id=tenant_id, show_id=show.id)
    split = rules.split(found, owners=owners, reserved=reserved)
    joined = await members.joined_at(session, tenant_id=tenant_id, member_ids=sorted(reserved | split.buyers))
    since, until = show.created_at, show.ends_at + NEW_MEMBER_GRACE
    new = sum(1 for at in joined.values() if since <= at < until)
    return ShowReport(show=show, reservations=len(reserved), split=split, new_members=new)


@dataclass(frozen=True)
class MonthReport:
    month: str
    shows: list[ShowReport]

    @property
    def orders(self) -> int:
        return sum(r.split.orders for r in self.shows)

    @property
    def gmv_fen(self) -> int:
        return sum(r.split.gmv_fen for r in self.shows)

    @property
    def private_gmv_fen(self) -> int:
        return sum(r.split.private_gmv_fen for r in self.shows)

    @property
    def private_share(self) -> float:
        return self.private_gmv_fen / self.gmv_fen if self.gmv_fen else 0.0


def month_bounds(month: str, timezone: str) -> tuple[datetime, datetime]:
    """[first instant, first instant of the next month) of a tenant-local month "2026-12"."""
    from zoneinfo import ZoneInfo

    year, number = (int(p) for p in month.split("-"))
    zone = ZoneInfo(timezone)
    start = datetime(year, number, 1, tzinfo=zone)
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=zone)
    return start, end


async def month_report(session: AsyncSession, *, tenant_id: int, month: str, timezone: str) -> MonthReport:
    """Every show that started in the month and was not cancelled, earliest first."""
    start, end = month_bounds(month, timezone)
    shows = [
        s
        for s in await repository.shows_between(session, tenant_id=tenant_id, start=start, end=end)
        if s.cancelled_at is None
    ]
    return MonthReport(month=month, shows=[await report(session, show=s) for s in shows])
