"""The queries run after every import find their orders through an index, not by reading the tenant's orders."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.claims import repository as claims
from siyu.kit.time import utcnow
from tests.support import factories
from tests.support.databases import backend

pytestmark = pytest.mark.skipif(backend() != "postgres", reason="reads PostgreSQL's plan")


async def test_crediting_bound_accounts_after_an_import_uses_the_last_import_index(session: AsyncSession) -> None:
    tenant = await factories.tenant(session)
    # A shop with 20,000 orders from 20 imports, paid in the last days.
    await session.execute(
        text(
            """INSERT INTO orders (tenant_id, platform, order_id, status, status_rank, paid_fen, refund_fen, item_count,
                                   buyer_nick, paid_at, placed_at, first_import_id, last_import_id, first_seen_at,
                                   last_changed_at)
               SELECT :tenant, 'taobao', 'o' || g, 'completed', 5, 100, 0, 1, 'nick' || (g % 5000),
                      now() - interval '1 day', now(), g / 1000, g / 1000, now(), now()
               FROM generate_series(1, 20000) g"""
        ),
        {"tenant": tenant.id},
    )
    await session.execute(text("ANALYZE orders"))
    captured: list[object] = []

    class Capture:
        async def execute(self, statement: object) -> list[object]:
            captured.append(statement)
            return []

    await claims.bound_orders(
        Capture(),  # type: ignore[arg-type]
        tenant_id=tenant.id,
        accounts={"taobao": (("buyer_nick", "taobao_nick"),)},
        member_id=None,
        import_id=7,
        since=utcnow() - timedelta(days=90),
        limit=500,
    )
    sql = str(
        captured[0].compile(  # type: ignore[attr-defined]
            dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}
        )
    )
    plan = "\n".join(row[0] for row in await session.execute(text("EXPLAIN " + sql)))
    assert "ix_orders_tenant_id_last_import_id" in plan, plan
