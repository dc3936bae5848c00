"""Every query of invitations and leaderboards; each one is scoped to a tenant through `_scoped`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.referrals.models import InviteCode, Leaderboard, Prize, Referral, Rules, State, Visit
from siyu.kit.db import of_tenant

COUNTED = (State.signed_up, State.rewarded, State.capped)  # what a leaderboard counts (not in review, not rejected)


def _scoped(model: Any, tenant_id: int) -> Select[Any]:
    return select(model).where(model.tenant_id == tenant_id)


def add(session: AsyncSession, row: object) -> None:
    session.add(row)


async def rules(session: AsyncSession, *, tenant_id: int) -> Rules | None:
    return await session.get(Rules, tenant_id)


async def code_of(session: AsyncSession, *, tenant_id: int, member_id: int) -> InviteCode | None:
    return await session.get(InviteCode, (tenant_id, member_id))


async def code_named(session: AsyncSession, *, tenant_id: int, code: str) -> InviteCode | None:
    return (await session.scalars(_scoped(InviteCode, tenant_id).where(InviteCode.code == code))).first()


async def referral_of_invitee(session: AsyncSession, *, tenant_id: int, invitee_id: int) -> Referral | None:
    return (await session.scalars(_scoped(Referral, tenant_id).where(Referral.invitee_id == invitee_id))).first()


async def get_referral(
    session: AsyncSession, *, tenant_id: int, referral_id: int, for_update: bool = False
) -> Referral | None:
    statement = _scoped(Referral, tenant_id).where(Referral.id == referral_id)
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(statement)).first()


async def invitees_from_network(session: AsyncSession, *, tenant_id: int, ip_hash: str, since: datetime) -> int:
    statement = (
        select(func.count())
        .select_from(Referral)
        .where(of_tenant(Referral, tenant_id), Referral.ip_hash == ip_hash, Referral.created_at >= since)
    )
    return int((await session.execute(statement)).scalar_one())


async def device_seen(session: AsyncSession, *, tenant_id: int, device_hash: str) -> bool:
    statement = select(Referral.id).where(of_tenant(Referral, tenant_id), Referral.device_hash == device_hash).limit(1)
    return (await session.execute(statement)).first() is not None


async def paid_invitations(session: AsyncSession, *, tenant_id: int, inviter_id: int) -> int:
    statement = (
        select(func.count())
        .select_from(Referral)
        .where(of_tenant(Referral, tenant_id), Referral.inviter_id == inviter_id, Referral.state == State.rewarded)
    )
    return int((await session.execute(statement)).scalar_one())


async def waiting(
    session: AsyncSession, *, tenant_id: int, since: datetime, after: tuple[datetime, int] | None, limit: int
) -> list[Referral]:
    """Invitations made since `since` whose invitee has not been seen with her first order yet, oldest first,
    from after the (created_at, id) cursor."""
    statement = _scoped(Referral, tenant_id).where(Referral.state == State.signed_up, Referral.created_at >= since)
    if after is not None:
        statement = statement.where(tuple_(Referral.created_at, Referral.id) > tuple_(*after))
    return list(await session.scalars(statement.order_by(Referral.created_at, Referral.id).limit(limit)))


async def invitations_of(session: AsyncSession, *, tenant_id: int, inviter_id: int, limit: int) -> list[Referral]:
    statement = (
        _scoped(Referral, tenant_id)
        .where(Referral.inviter_id == inviter_id)
        .order_by(Referral.created_at.desc(), Referral.id.desc())
        .limit(limit)
    )
    return list(await session.scalars(statement))


async def in_state(session: AsyncSession, *, tenant_id: int, state: str | None, limit: int) -> list[Referral]:
    statement = _scoped(Referral, tenant_id).order_by(Referral.created_at.desc(), Referral.id.desc()).limit(limit)
    if state:
        statement = statement.where(Referral.state == state)
    return list(await session.scalars(statement))


async def count_by_state(session: AsyncSession, *, tenant_id: int) -> dict[str, int]:
    statement = select(Referral.state, func.count()).where(of_tenant(Referral, tenant_id)).group_by(Referral.state)
    return {state: int(n) for state, n in (await session.execute(statement)).all()}


async def count_codes(session: AsyncSession, *, tenant_id: int) -> int:
    statement = select(func.count()).select_from(InviteCode).where(of_tenant(InviteCode, tenant_id))
    return int((await session.execute(statement)).scalar_one())


async def joined_since(session: AsyncSession, *, tenant_id: int, since: datetime) -> list[tuple[datetime, str]]:
    statement = select(Referral.created_at, Referral.state).where(
        of_tenant(Referral, tenant_id), Referral.created_at >= since
    )
    return [(at, state) for at, state in (await session.execute(statement)).all()]


# Leaderboards


async def get_board(
    session: AsyncSession, *, tenant_id: int, board_id: int, for_update: bool = False
) -> Leaderboard | None:
    statement = _scoped(Leaderboard, tenant_id).where(Leaderboard.id == board_id)
    if for_update:
        statement = statement.with_for_update().execution_options(populate_existing=True)
    return (await session.scalars(statement)).first()


async def boards(session: AsyncSession, *, tenant_id: int, limit: int = 100) -> list[Leaderboard]:
    statement = _scoped(Leaderboard, tenant_id).order_by(Leaderboard.starts_at.desc(), Leaderboard.id.desc())
    return list(await session.scalars(statement.limit(limit)))


async def mark_settling(session: AsyncSession, *, tenant_id: int, board_id: int) -> bool:
    """open -> settling in one conditional UPDATE: true for the one caller that moved it."""
    result = await session.execute(
        update(Leaderboard)
        .where(of_tenant(Leaderboard, tenant_id), Leaderboard.id == board_id, Leaderboard.status == "open")
        .values(status="settling")
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def ranking(
    session: AsyncSession, *, tenant_id: int, starts_at: datetime, ends_at: datetime, limit: int | None
) -> list[tuple[int, int, datetime]]:
    """(inviter, invitations, when she reached that count) of the window, best first: more invitations first,
    then whoever reached her count earlier, then the older member id."""
    reached = func.max(Referral.created_at)
    count = func.count()
    statement = (
        select(Referral.inviter_id, count, reached)
        .where(
            of_tenant(Referral, tenant_id),
            Referral.state.in_(COUNTED),
            Referral.created_at >= starts_at,
            Referral.created_at < ends_at,
        )
        .group_by(Referral.inviter_id)
        .order_by(count.desc(), reached, Referral.inviter_id)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [(int(m), int(n), at) for m, n, at in (await session.execute(statement)).all()]


async def sign_in_ranking(
    session: AsyncSession, *, tenant_id: int, starts_at: datetime, ends_at: datetime, limit: int | None
) -> list[tuple[int, int, datetime]]:
    """(sharer, sign-ins through her link, when she reached that count) of the window, best first, ties as in
    `ranking`."""
    reached = func.max(Visit.created_at)
    count = func.count()
    statement = (
        select(Visit.inviter_id, count, reached)
        .where(of_tenant(Visit, tenant_id), Visit.created_at >= starts_at, Visit.created_at < ends_at)
        .group_by(Visit.inviter_id)
        .order_by(count.desc(), reached, Visit.inviter_id)
    )
    if limit is not None:
        statement = statement.limit(limit)
    return [(int(m), int(n), at) for m, n, at in (await session.execute(statement)).all()]


async def add_visit(session: AsyncSession, values: dict[str, Any]) -> None:
    """A sign-in through a link; the same friend again that day adds nothing."""
    dialect = session.get_bind().dialect.name
    insert_fn = pg_insert if dialect == "postgresql" else sqlite_insert
    await session.execute(insert_fn(Visit).values(**values).on_conflict_do_nothing())


async def prizes(session: AsyncSession, *, tenant_id: int, board_id: int) -> list[Prize]:
    statement = _scoped(Prize, tenant_id).where(Prize.board_id == board_id).order_by(Prize.rank)
    return list(await session.scalars(statement))


async def prizes_of_member(session: AsyncSession, *, tenant_id: int, member_id: int) -> list[Prize]:
    statement = _scoped(Prize, tenant_id).where(Prize.member_id == member_id).order_by(Prize.created_at.desc())
    return list(await session.scalars(statement))
