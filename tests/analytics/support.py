"""Data for analytics tests: orders with chosen times and amounts, and the claims that credited them."""

from __future__ import annotations

import itertools
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims.models import Claim, Outcome, Via
from siyu.kit.ids import new_id
from siyu.orders.models import STATUS_RANK, Order
from tests.support import factories

_seq = itertools.count(1)


async def order(
    session: AsyncSession,
    tenant_id: int,
    *,
    paid_at: datetime,
    paid_fen: int = 10000,
    refund_fen: int = 0,
    status: str = "paid",
    platform: str = "taobao",
    import_id: int | None = None,
    buyer_nick: str | None = None,
    buyer_open_uid: str | None = None,
) -> Order:
    row = await factories.order(
        session, tenant_id, platform=platform, status=status, paid_fen=paid_fen, order_id=f"77{next(_seq):010d}"
    )
    row.paid_at = paid_at
    row.refund_fen = refund_fen
    row.status_rank = STATUS_RANK[status]
    row.last_import_id = import_id
    row.buyer_nick, row.buyer_open_uid = buyer_nick, buyer_open_uid
    await session.flush()
    return row


async def credit(session: AsyncSession, order: Order, member_id: int, *, via: str = Via.claim) -> Claim:
    """The claim that credited `order` to the member (as the claims domain records it)."""
    row = Claim(
        tenant_id=order.tenant_id,
        id=new_id(),
        member_id=member_id,
        platform=order.platform,
        order_id=order.order_id,
        outcome=Outcome.credited,
        message="已获得积分",
        points=order.paid_fen // 1000,
        via=via,
    )
    session.add(row)
    await session.flush()
    return row
