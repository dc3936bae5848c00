"""The demo tenant's analytics: some fans came back to the member centre lately (visits, so the churn list counts
them), and the snapshot is built once, so member value and 私域贡献 show figures from the first look."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.analytics import service
from siyu.kit.pagination import PageRequest
from siyu.kit.time import utcnow
from siyu.members import service as members
from siyu.tenants import service as tenants


async def load(session: AsyncSession, *, slug: str, data_dir: Path, now: datetime | None = None) -> int:
    """Visits of every third demo fan over the last weeks, then the first build of the snapshot. Returns the
    orders in it."""
    now = now or utcnow()
    tenant = await tenants.get_by_slug(session, slug)
    people = (await members.search(session, tenant_id=tenant.id, query=None, page=PageRequest(page=1, size=90))).items
    for n, member in enumerate(people[::3]):
        await members.record_visit(session, member=member, timezone=tenant.timezone, now=now - timedelta(days=n % 20))
    built = await service.refresh(session, tenant_id=tenant.id, directory=data_dir / "analytics", full=True)
    return built.rows
