"""Every query of analytics' own tables, scoped to a tenant."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.analytics.models import AnalyticsSettings, SnapshotState
from siyu.kit.db import of_tenant


async def get_settings(session: AsyncSession, *, tenant_id: int) -> AnalyticsSettings | None:
    return await session.scalar(select(AnalyticsSettings).where(of_tenant(AnalyticsSettings, tenant_id)))


async def get_state(session: AsyncSession, *, tenant_id: int) -> SnapshotState | None:
    return await session.scalar(select(SnapshotState).where(of_tenant(SnapshotState, tenant_id)))


async def tenants_with_snapshots(session: AsyncSession) -> list[int]:
    """Every tenant with a snapshot (for the scheduled refresh over all of them)."""
    return list(await session.scalars(select(SnapshotState.tenant_id).order_by(SnapshotState.tenant_id)))


def add(session: AsyncSession, row: AnalyticsSettings | SnapshotState) -> None:
    session.add(row)
