"""Every query of product trials, scoped to a tenant. "Exactly once" steps (the seed, the draw, a refund, a
reminder, a penalty) are one conditional UPDATE each: the row that changes is the one that does it."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.db import of_tenant
from siyu.trials.models import Application, AppStatus, Report, Trial


def add(session: AsyncSession, row: Any) -> None:
    session.add(row)


# Trials


async def get_trial(session: AsyncSession, *, tenant_id: int, trial_id: int, lock: bool = False) -> Trial | None:
    statement = select(Trial).where(of_tenant(Trial, tenant_id), Trial.id == trial_id)
    if lock:
        statement = statement.with_for_update()
    return await session.scalar(statement.execution_options(populate_existing=True))


async def trials(session: AsyncSession, *, tenant_id: int, limit: int = 500) -> list[Trial]:
    rows = await session.scalars(
        select(Trial).where(of_tenant(Trial, tenant_id)).order_by(Trial.apply_from.desc(), Trial.id.desc()).limit(limit)
    )
    return list(rows)


async def set_seed(session: AsyncSession, *, tenant_id: int, trial_id: int, seed: str, now: datetime) -> bool:
    result = await session.execute(
        update(Trial)
        .where(of_tenant(Trial, tenant_id), Trial.id == trial_id, Trial.seed.is_(None))
        .values(seed=seed, seed_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def claim_draw(
    session: AsyncSession, *, tenant_id: int, trial_id: int, method: str, by: str, now: datetime
) -> bool:
    """Mark the trial drawn: True for the one transaction that did (a second draw, even at the same moment, waits
    for the first one's row lock and then finds it drawn)."""
    result = await session.execute(
        update(Trial)
        .where(of_tenant(Trial, tenant_id), Trial.id == trial_id, Trial.drawn_at.is_(None))
        .values(drawn_at=now, draw_method=method, drawn_by=by[:80])
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# Applications


async def applications(session: AsyncSession, *, tenant_id: int, trial_id: int) -> list[Application]:
    """A trial's applications in the order they came in (ids are time-ordered): the draw's numbered list."""
    rows = await session.scalars(
        select(Application)
        .where(of_tenant(Application, tenant_id), Application.trial_id == trial_id)
        .order_by(Application.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def get_application(session: AsyncSession, *, tenant_id: int, application_id: int) -> Application | None:
    return await session.scalar(
        select(Application)
        .where(of_tenant(Application, tenant_id), Application.id == application_id)
        .execution_options(populate_existing=True)
    )


async def application_of(session: AsyncSession, *, tenant_id: int, trial_id: int, member_id: int) -> Application | None:
    return await session.scalar(
        select(Application).where(
            of_tenant(Application, tenant_id), Application.trial_id == trial_id, Application.member_id == member_id
        )
    )


async def applications_of_member(session: AsyncSession, *, tenant_id: int, member_id: int) -> list[Application]:
    rows = await session.scalars(
        select(Application)
        .where(of_tenant(Application, tenant_id), Application.member_id == member_id)
        .order_by(Application.id.desc())
        .limit(100)
    )
    return list(rows)


async def application_counts(session: AsyncSession, *, tenant_id: int, trial_ids: Collection[int]) -> dict[int, int]:
    if not trial_ids:
        return {}
    rows = await session.execute(
        select(Application.trial_id, func.count())
        .where(of_tenant(Application, tenant_id), Application.trial_id.in_(list(trial_ids)))
        .group_by(Application.trial_id)
    )
    return {trial_id: int(count) for trial_id, count in rows.tuples()}


async def set_status(
    session: AsyncSession, *, tenant_id: int, trial_id: int, application_ids: Collection[int], status: str
) -> None:
    if not application_ids:
        return
    await session.execute(
        update(Application)
        .where(
            of_tenant(Application, tenant_id),
            Application.trial_id == trial_id,
            Application.id.in_(list(application_ids)),
            Application.status == AppStatus.applied,
        )
        .values(status=status)
        .execution_options(synchronize_session=False)
    )


async def mark(session: AsyncSession, *, tenant_id: int, application_id: int, unset: str, **values: Any) -> bool:
    """Set `values` on the application if its column `unset` is still empty: True for the one caller that did."""
    column = getattr(Application, unset)
    result = await session.execute(
        update(Application)
        .where(of_tenant(Application, tenant_id), Application.id == application_id, column.is_(None))
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def barred_until(session: AsyncSession, *, tenant_id: int, member_id: int, now: datetime) -> datetime | None:
    return await session.scalar(
        select(func.max(Application.barred_until)).where(
            of_tenant(Application, tenant_id), Application.member_id == member_id, Application.barred_until > now
        )
    )


async def unreported_winners(session: AsyncSession, *, tenant_id: int, limit: int) -> list[Application]:
    rows = await session.scalars(
        select(Application)
        .where(
            of_tenant(Application, tenant_id),
            Application.status == AppStatus.won,
            Application.reported_at.is_(None),
            Application.penalised_at.is_(None),
        )
        .order_by(Application.member_id, Application.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list(rows)


# Reports


async def report_of(session: AsyncSession, *, tenant_id: int, application_id: int) -> Report | None:
    return await session.scalar(
        select(Report).where(of_tenant(Report, tenant_id), Report.application_id == application_id)
    )


async def get_report(session: AsyncSession, *, tenant_id: int, report_id: int) -> Report | None:
    return await session.scalar(select(Report).where(of_tenant(Report, tenant_id), Report.id == report_id))


async def reports(session: AsyncSession, *, tenant_id: int, trial_id: int) -> list[Report]:
    rows = await session.scalars(
        select(Report).where(of_tenant(Report, tenant_id), Report.trial_id == trial_id).order_by(Report.id)
    )
    return list(rows)
