"""Finding claims for ops: by whatever they type (an order number, a member number, a nickname or phone), a page
of the review queue, what each order earned and who claimed it, and the members' latest claims.

Read-only companions of `service.py` for the console's lists; no business rules live here.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims import repository
from siyu.claims.models import Claim
from siyu.kit.pagination import Page, PageRequest, Sort
from siyu.members import service as members
from siyu.orders.models import Order

SORTS = tuple(repository.CLAIM_SORTS)
MAX_MEMBER_ID = 2**63 - 1
MATCHED_MEMBERS = 200  # a nickname typed in the search box matches at most this many members


async def search(
    session: AsyncSession,
    *,
    tenant_id: int,
    query: str | None,
    outcome: str | None,
    page: PageRequest,
    sort: Sort,
) -> Page[Claim]:
    """Claims whose order number is `query`, or whose member is the member numbered `query` or one whose
    nickname, phone or platform account matches it. A Taobao or Kuaishou order number is all digits, like a
    member number: both are searched."""
    text = (query or "").strip()
    member_ids: set[int] = set()
    if text:
        if text.isdigit() and int(text) <= MAX_MEMBER_ID:
            member_ids.add(int(text))
        found = await members.search(session, tenant_id=tenant_id, query=text, page=PageRequest(size=MATCHED_MEMBERS))
        member_ids.update(member.id for member in found.items)
    return await repository.find(
        session,
        tenant_id=tenant_id,
        order_id=text or None,
        member_ids=member_ids,
        outcome=outcome or None,
        page=page,
        sort=sort,
    )


async def review_page(
    session: AsyncSession, *, tenant_id: int, page: PageRequest, sort: Sort
) -> tuple[Page[Claim], dict[tuple[str, str], Order]]:
    """A page of the claims waiting for ops, with the orders they name (where they have arrived)."""
    result = await repository.review_page(session, tenant_id=tenant_id, page=page, sort=sort)
    keys = {(c.platform, c.order_id) for c in result.items if c.order_id}
    return result, await repository.orders_of(session, tenant_id=tenant_id, keys=keys)


async def count_in_review(session: AsyncSession, *, tenant_id: int) -> int:
    return await repository.count_in_review(session, tenant_id=tenant_id)


async def claims_of_orders(
    session: AsyncSession, *, tenant_id: int, keys: Collection[tuple[str, str]]
) -> dict[tuple[str, str], Claim]:
    """For each of these (platform, order number): the claim that earned its points, if a member claimed it."""
    return await repository.credited_claims_of_orders(session, tenant_id=tenant_id, keys=keys)


def orders_claimed(claimed: bool) -> ColumnElement[bool]:
    """For a list of orders: only the orders a member has claimed (or, `claimed=False`, no member has)."""
    condition = repository.order_claimed(Order.tenant_id, Order.platform, Order.order_id)
    return condition if claimed else ~condition


async def last_claims(session: AsyncSession, *, tenant_id: int, member_ids: Collection[int]) -> dict[int, datetime]:
    return await repository.last_claims(session, tenant_id=tenant_id, member_ids=member_ids)


async def by_ids(session: AsyncSession, *, tenant_id: int, claim_ids: Collection[int]) -> list[Claim]:
    return await repository.get_many(session, tenant_id=tenant_id, claim_ids=list(claim_ids))
