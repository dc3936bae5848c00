"""What waits for ops, counted for the sidebar and the dashboard: claims to review, redemptions to ship,
imports that failed in the last week."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims import lookup as claims_lookup
from siyu.kit.pagination import PageRequest
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.mall import service as mall
from siyu.mall.models import Status
from siyu.orders import service as orders

FAILED_IMPORTS_DAYS = 7


@dataclass(frozen=True)
class Waiting:
    review: int | None  # None: this role cannot see it
    to_ship: int | None
    failed_imports: int | None

    def for_nav(self) -> dict[str, int]:
        """Badges of the navigation, by item key."""
        return {
            key: n
            for key, n in (("review", self.review), ("fulfilment", self.to_ship), ("orders", self.failed_imports))
            if n
        }


NOTHING_COUNTED = Waiting(review=None, to_ship=None, failed_imports=None)


async def waiting(session: AsyncSession, principal: Principal) -> Waiting:
    tenant_id = principal.tenant_id
    review = to_ship = failed = None
    if principal.can("members.read"):
        review = await claims_lookup.count_in_review(session, tenant_id=tenant_id)
    if principal.can("mall.read"):
        page = await mall.search(session, tenant_id=tenant_id, status=Status.pending_shipment, page=PageRequest(size=1))
        to_ship = page.total
    if principal.can("orders.read"):
        since = utcnow() - timedelta(days=FAILED_IMPORTS_DAYS)
        failed = await orders.failed_imports_since(session, tenant_id=tenant_id, since=since)
    return Waiting(review=review, to_ship=to_ship, failed_imports=failed)
