"""Pure decisions of the live calendar: a show's status by the clock, which orders a show is credited with, and
how its orders split between fans who reserved it, other members and non-members. No database here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from siyu.live.models import ShowStatus
from siyu.orders.models import OrderStatus, OrderView


def status_of(*, starts_at: datetime, ends_at: datetime, cancelled_at: datetime | None, now: datetime) -> ShowStatus:
    if cancelled_at is not None:
        return ShowStatus.cancelled
    if now < starts_at:
        return ShowStatus.planned
    if now < ends_at:
        return ShowStatus.live
    return ShowStatus.ended


@dataclass(frozen=True)
class Window:
    """What attribution needs of a show: its channel (platform and the shop names / ids it goes by), the ids the
    exports carry, and its window [starts_at, ends_at) (the end excluded, so back-to-back shows never share an
    order)."""

    platform: str
    starts_at: datetime
    ends_at: datetime
    shops: tuple[str, ...] = ()
    live_room: str | None = None
    author_id: str | None = None


def placed_at(order: OrderView) -> datetime | None:
    return order.placed_at or order.paid_at


def attributed(order: OrderView, show: Window) -> bool:
    """Whether an order belongs to a show.

    - Both carry a live room id: the same room id decides (a room id names one broadcast), whatever the time.
    - Otherwise the order must be on the show's platform and placed (else paid) inside the window; then an
      author id both carry decides (another host selling in the same shop at that hour is not this show), else
      a shop name both carry decides, else the window alone does."""
    if show.live_room and order.live_room:
        return order.live_room.strip() == show.live_room
    if order.platform != show.platform:
        return False
    moment = placed_at(order)
    if moment is None or not (show.starts_at <= moment < show.ends_at):
        return False
    if show.author_id and order.author:
        return order.author.strip() == show.author_id
    shop = (order.shop or "").strip()
    if show.shops and shop:
        return shop in show.shops
    return True


def gmv_fen(order: OrderView) -> int:
    """What an order is worth to the show: paid less refunded; an unpaid order is worth nothing."""
    if order.status == OrderStatus.unpaid:
        return 0
    return max(0, order.paid_fen - order.refund_fen)


def counts(order: OrderView) -> bool:
    """Unpaid orders are not sales."""
    return order.status != OrderStatus.unpaid


@dataclass
class Bucket:
    orders: int = 0
    gmv_fen: int = 0

    def add(self, order: OrderView) -> None:
        self.orders += 1
        self.gmv_fen += gmv_fen(order)


@dataclass
class Split:
    """A show's orders by who placed them. `members` are the members among the buyers (reserved or not)."""

    reserved: Bucket = field(default_factory=Bucket)
    members: Bucket = field(default_factory=Bucket)  # members who did not reserve
    others: Bucket = field(default_factory=Bucket)  # buyers we cannot name as members
    claimed: int = 0  # orders turned into points by someone
    buyers: set[int] = field(default_factory=set)

    @property
    def orders(self) -> int:
        return self.reserved.orders + self.members.orders + self.others.orders

    @property
    def gmv_fen(self) -> int:
        return self.reserved.gmv_fen + self.members.gmv_fen + self.others.gmv_fen

    @property
    def private_gmv_fen(self) -> int:
        return self.reserved.gmv_fen + self.members.gmv_fen

    @property
    def private_share(self) -> float:
        """The private domain's share of the show's public GMV (0 when it sold nothing)."""
        return self.private_gmv_fen / self.gmv_fen if self.gmv_fen else 0.0

    @property
    def claim_rate(self) -> float:
        return self.claimed / self.orders if self.orders else 0.0


def split(orders: Iterable[OrderView], *, owners: Mapping[tuple[str, str], int], reserved: set[int]) -> Split:
    """`owners`: the member each credited order went to, by (platform, order id)."""
    out = Split()
    for order in orders:
        if not counts(order):
            continue
        member = owners.get((order.platform, order.order_id))
        if member is None:
            out.others.add(order)
            continue
        out.claimed += 1
        out.buyers.add(member)
        (out.reserved if member in reserved else out.members).add(order)
    return out
