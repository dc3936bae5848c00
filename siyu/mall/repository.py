"""Every query of the points mall, scoped to a tenant. Stock and codes change by conditional updates only."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnExpressionArgument, Exists, bindparam, delete, exists, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached

from siyu.kit.db import of_tenant
from siyu.kit.pagination import Page, PageRequest, Sort, paginate
from siyu.mall.models import Address, Code, Draw, FreeDraw, Lottery, Prize, Redemption, Reward, Status


def add(session: AsyncSession, row: Any) -> None:
    session.add(row)


# Rewards


async def get_reward(session: AsyncSession, *, tenant_id: int, reward_id: int) -> Reward | None:
    return await session.get(Reward, (tenant_id, reward_id))


async def fresh_reward(session: AsyncSession, *, tenant_id: int, reward_id: int) -> Reward | None:
    """The reward as the database has it now (not the session's copy)."""
    return await session.scalar(
        select(Reward)
        .where(of_tenant(Reward, tenant_id), Reward.id == reward_id)
        .execution_options(populate_existing=True)
    )


async def rewards(session: AsyncSession, *, tenant_id: int, enabled_only: bool = False) -> list[Reward]:
    statement = select(Reward).where(of_tenant(Reward, tenant_id))
    if enabled_only:
        statement = statement.where(Reward.enabled.is_(True))
    rows = await session.scalars(statement.order_by(Reward.sort_order.desc(), Reward.created_at.desc()))
    return list(rows)


# The redeem path's statements, built once and run on the session's connection (SQLAlchemy Core: no unit of work,
# no identity map): the flash crowd's admitted fans run each of them once.
_TAKE_STOCK = (
    update(Reward)
    .where(
        of_tenant(Reward, bindparam("b_tenant_id")),
        Reward.id == bindparam("b_reward_id"),
        (Reward.stock.is_(None)) | (Reward.stock >= 1),
    )
    .values(stock=Reward.stock - 1, sold=Reward.sold + 1)
)


async def take_stock(session: AsyncSession, *, tenant_id: int, reward_id: int) -> bool:
    """Take one from stock in one conditional update: False when none is left. Unlimited stock only counts."""
    connection = await session.connection()
    result = await connection.execute(_TAKE_STOCK, {"b_tenant_id": tenant_id, "b_reward_id": reward_id})
    return bool(result.rowcount)


async def give_back_stock(session: AsyncSession, *, tenant_id: int, reward_id: int) -> None:
    await session.execute(
        update(Reward)
        .where(of_tenant(Reward, tenant_id), Reward.id == reward_id)
        .values(stock=Reward.stock + 1, sold=Reward.sold - 1)  # NULL stays NULL: unlimited
        .execution_options(synchronize_session=False)
    )


async def add_stock(session: AsyncSession, *, tenant_id: int, reward_id: int, amount: int) -> None:
    await session.execute(
        update(Reward)
        .where(of_tenant(Reward, tenant_id), Reward.id == reward_id)
        .values(stock=func.coalesce(Reward.stock, 0) + amount)
        .execution_options(synchronize_session=False)
    )


async def has_redemptions(session: AsyncSession, *, tenant_id: int, reward_id: int) -> bool:
    found = await session.scalar(
        select(Redemption.id).where(of_tenant(Redemption, tenant_id), Redemption.reward_id == reward_id).limit(1)
    )
    return found is not None


async def delete_reward(session: AsyncSession, reward: Reward) -> None:
    await session.delete(reward)


# Codes


async def existing_codes(session: AsyncSession, *, tenant_id: int, reward_id: int, codes: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(codes), 500):
        rows = await session.scalars(
            select(Code.code).where(
                of_tenant(Code, tenant_id), Code.reward_id == reward_id, Code.code.in_(codes[start : start + 500])
            )
        )
        found.update(rows)
    return found


async def unclaimed_codes(session: AsyncSession, *, tenant_id: int, reward_id: int) -> int:
    count = await session.scalar(
        select(func.count()).where(
            of_tenant(Code, tenant_id), Code.reward_id == reward_id, Code.redemption_id.is_(None)
        )
    )
    return int(count or 0)


async def claim_code(
    session: AsyncSession, *, tenant_id: int, reward_id: int, redemption_id: int, now: datetime, postgres: bool
) -> str | None:
    """Give one unclaimed code to the redemption. Each code goes to one redemption: the update only takes a row
    still unclaimed (PostgreSQL: rows another transaction holds are skipped). None when the pool is empty."""
    for _attempt in range(20):
        pick = (
            select(Code.id)
            .where(of_tenant(Code, tenant_id), Code.reward_id == reward_id, Code.redemption_id.is_(None))
            .order_by(Code.id)
            .limit(1)
        )
        if postgres:
            pick = pick.with_for_update(skip_locked=True)
        code_id = await session.scalar(pick)
        if code_id is None:
            return None
        result = await session.execute(
            update(Code)
            .where(of_tenant(Code, tenant_id), Code.id == code_id, Code.redemption_id.is_(None))
            .values(redemption_id=redemption_id, claimed_at=now)
            .returning(Code.code)
            .execution_options(synchronize_session=False)
        )
        code = result.scalar()
        if code is not None:
            return str(code)
    return None


async def release_code(session: AsyncSession, *, tenant_id: int, redemption_id: int) -> None:
    await session.execute(
        update(Code)
        .where(of_tenant(Code, tenant_id), Code.redemption_id == redemption_id)
        .values(redemption_id=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )


# Redemptions


async def get_redemption(session: AsyncSession, *, tenant_id: int, redemption_id: int) -> Redemption | None:
    return await session.get(Redemption, (tenant_id, redemption_id))


async def lock_redemption(session: AsyncSession, *, tenant_id: int, redemption_id: int) -> Redemption | None:
    return await session.scalar(
        select(Redemption)
        .where(of_tenant(Redemption, tenant_id), Redemption.id == redemption_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


_BY_KEY = select(Redemption.id).where(
    of_tenant(Redemption, bindparam("tenant_id")),
    Redemption.member_id == bindparam("member_id"),
    Redemption.idempotency_key == bindparam("key"),
)


async def by_idempotency_key(session: AsyncSession, *, tenant_id: int, member_id: int, key: str) -> Redemption | None:
    """Her redemption of this request key (a double tap), if any: one indexed Core lookup, the row loaded only when
    there is one."""
    connection = await session.connection()
    found = (await connection.execute(_BY_KEY, {"tenant_id": tenant_id, "member_id": member_id, "key": key})).scalar()
    return None if found is None else await session.get(Redemption, (tenant_id, found))


_REDEEMED = select(func.count()).where(
    of_tenant(Redemption, bindparam("tenant_id")),
    Redemption.member_id == bindparam("member_id"),
    Redemption.reward_id == bindparam("reward_id"),
    Redemption.status != Status.cancelled,
)
_REDEEMED_ON = _REDEEMED.where(Redemption.day == bindparam("day"))


async def count_redeemed(
    session: AsyncSession, *, tenant_id: int, member_id: int, reward_id: int, day: date | None = None
) -> int:
    """Redemptions of the reward by the member that were not cancelled (on `day` only, when given)."""
    connection = await session.connection()
    values: dict[str, Any] = {"tenant_id": tenant_id, "member_id": member_id, "reward_id": reward_id}
    if day is not None:
        values["day"] = day
    return int((await connection.execute(_REDEEMED if day is None else _REDEEMED_ON, values)).scalar() or 0)


async def insert_stored(session: AsyncSession, row: Redemption | Draw) -> None:
    """Write a new row (a redemption, a draw) in one Core INSERT, then hand it to the session as the stored row it
    now is (persistent, every column loaded, nothing left to flush), so callers may refresh or change it."""
    connection = await session.connection()
    values = {column.key: getattr(row, column.key) for column in type(row).__table__.columns}
    await connection.execute(_INSERTS[row.__tablename__], values)
    for key, value in values.items():  # the unset ones are None: none left to lazy-load
        setattr(row, key, value)
    make_transient_to_detached(row)
    session.add(row)


async def of_member(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int) -> list[Redemption]:
    rows = await session.scalars(
        select(Redemption)
        .where(of_tenant(Redemption, tenant_id), Redemption.member_id == member_id)
        .order_by(Redemption.created_at.desc(), Redemption.id.desc())
        .limit(limit)
    )
    return list(rows)


async def search(
    session: AsyncSession,
    *,
    tenant_id: int,
    status: str | None,
    reward_id: int | None,
    member_id: int | None,
    page: PageRequest,
    sort: Sort | None = None,
) -> Page[Redemption]:
    statement = select(Redemption).where(of_tenant(Redemption, tenant_id))
    if status:
        statement = statement.where(Redemption.status == status)
    if reward_id is not None:
        statement = statement.where(Redemption.reward_id == reward_id)
    if member_id is not None:
        statement = statement.where(Redemption.member_id == member_id)
    order_by = (sort or Sort("created_at")).order_by(REDEMPTION_SORTS, Redemption.id)
    return await paginate(session, statement, page, order_by)


REDEMPTION_SORTS: dict[str, Any] = {"created_at": Redemption.created_at, "points": Redemption.points}


async def to_ship(session: AsyncSession, *, tenant_id: int, limit: int) -> list[Redemption]:
    rows = await session.scalars(
        select(Redemption)
        .where(of_tenant(Redemption, tenant_id), Redemption.status == Status.pending_shipment)
        .order_by(Redemption.created_at, Redemption.id)
        .limit(limit)
    )
    return list(rows)


async def status_counts(session: AsyncSession, *, tenant_id: int) -> dict[str, int]:
    rows = await session.execute(
        select(Redemption.status, func.count()).where(of_tenant(Redemption, tenant_id)).group_by(Redemption.status)
    )
    return {status: int(n) for status, n in rows}


async def per_reward(session: AsyncSession, *, tenant_id: int) -> list[tuple[int, int, int]]:
    """(reward id, redemptions, points) of redemptions not cancelled."""
    rows = await session.execute(
        select(Redemption.reward_id, func.count(), func.coalesce(func.sum(Redemption.points), 0))
        .where(of_tenant(Redemption, tenant_id), Redemption.status != Status.cancelled)
        .group_by(Redemption.reward_id)
    )
    return [(int(r), int(n), int(p)) for r, n, p in rows]


# Addresses


async def addresses(session: AsyncSession, *, tenant_id: int, member_id: int) -> list[Address]:
    rows = await session.scalars(
        select(Address)
        .where(of_tenant(Address, tenant_id), Address.member_id == member_id)
        .order_by(Address.is_default.desc(), Address.created_at.desc(), Address.id.desc())
    )
    return list(rows)


async def get_address(session: AsyncSession, *, tenant_id: int, member_id: int, address_id: int) -> Address | None:
    row = await session.get(Address, (tenant_id, address_id))
    return row if row is not None and row.member_id == member_id else None


async def clear_default(session: AsyncSession, *, tenant_id: int, member_id: int) -> None:
    await session.execute(
        update(Address)
        .where(of_tenant(Address, tenant_id), Address.member_id == member_id, Address.is_default.is_(True))
        .values(is_default=False)
        .execution_options(synchronize_session="fetch")
    )


async def delete_address(session: AsyncSession, *, tenant_id: int, address_id: int) -> None:
    await session.execute(
        delete(Address)
        .where(of_tenant(Address, tenant_id), Address.id == address_id)
        .execution_options(synchronize_session="fetch")
    )


# Lottery


async def lotteries(session: AsyncSession, *, tenant_id: int, enabled_only: bool = False) -> list[Lottery]:
    statement = select(Lottery).where(of_tenant(Lottery, tenant_id))
    if enabled_only:
        statement = statement.where(Lottery.enabled.is_(True))
    return list(await session.scalars(statement.order_by(Lottery.starts_at.desc(), Lottery.id.desc())))


async def get_lottery(session: AsyncSession, *, tenant_id: int, lottery_id: int) -> Lottery | None:
    return await session.get(Lottery, (tenant_id, lottery_id))


async def prizes(session: AsyncSession, *, tenant_id: int, lottery_id: int) -> list[Prize]:
    rows = await session.scalars(
        select(Prize)
        .where(of_tenant(Prize, tenant_id), Prize.lottery_id == lottery_id)
        .order_by(Prize.sort_order, Prize.id)
        .execution_options(populate_existing=True)
    )
    return list(rows)


async def delete_prize(session: AsyncSession, *, tenant_id: int, prize_id: int) -> None:
    await session.execute(
        delete(Prize)
        .where(of_tenant(Prize, tenant_id), Prize.id == prize_id)
        .execution_options(synchronize_session="fetch")
    )


_TAKE_PRIZE = (
    update(Prize)
    .where(
        of_tenant(Prize, bindparam("b_tenant_id")),
        Prize.id == bindparam("b_prize_id"),
        (Prize.stock.is_(None)) | (Prize.stock >= 1),
    )
    .values(stock=Prize.stock - 1, won=Prize.won + 1)
)


async def take_prize(session: AsyncSession, *, tenant_id: int, prize_id: int) -> bool:
    """Take one of the prize in one conditional update: False when none is left. Unlimited prizes only count."""
    connection = await session.connection()
    result = await connection.execute(_TAKE_PRIZE, {"b_tenant_id": tenant_id, "b_prize_id": prize_id})
    return bool(result.rowcount)


async def give_back_prize(session: AsyncSession, *, tenant_id: int, prize_id: int) -> None:
    await session.execute(
        update(Prize)
        .where(of_tenant(Prize, tenant_id), Prize.id == prize_id)
        .values(stock=Prize.stock + 1, won=Prize.won - 1)
        .execution_options(synchronize_session=False)
    )


_DRAWS = select(func.count()).where(
    of_tenant(Draw, bindparam("tenant_id")),
    Draw.lottery_id == bindparam("lottery_id"),
    Draw.member_id == bindparam("member_id"),
)
_DRAWS_ON = _DRAWS.where(Draw.day == bindparam("day"))


async def count_draws(
    session: AsyncSession, *, tenant_id: int, lottery_id: int, member_id: int, day: date | None = None
) -> int:
    connection = await session.connection()
    values: dict[str, Any] = {"tenant_id": tenant_id, "lottery_id": lottery_id, "member_id": member_id}
    if day is not None:
        values["day"] = day
    return int((await connection.execute(_DRAWS if day is None else _DRAWS_ON, values)).scalar() or 0)


async def has_draws(session: AsyncSession, *, tenant_id: int, lottery_id: int, prize_id: int | None = None) -> bool:
    statement = select(Draw.id).where(of_tenant(Draw, tenant_id), Draw.lottery_id == lottery_id)
    if prize_id is not None:
        statement = statement.where(Draw.drawn_prize_id == prize_id)
    return await session.scalar(statement.limit(1)) is not None


_DRAW_BY_KEY = select(Draw.id).where(
    of_tenant(Draw, bindparam("tenant_id")),
    Draw.member_id == bindparam("member_id"),
    Draw.idempotency_key == bindparam("key"),
)


async def draw_by_key(session: AsyncSession, *, tenant_id: int, member_id: int, key: str) -> Draw | None:
    connection = await session.connection()
    found = (
        await connection.execute(_DRAW_BY_KEY, {"tenant_id": tenant_id, "member_id": member_id, "key": key})
    ).scalar()
    return None if found is None else await session.get(Draw, (tenant_id, found))


async def draws(
    session: AsyncSession, *, tenant_id: int, lottery_id: int, member_id: int | None = None, limit: int = 100
) -> list[Draw]:
    statement = select(Draw).where(of_tenant(Draw, tenant_id), Draw.lottery_id == lottery_id)
    if member_id is not None:
        statement = statement.where(Draw.member_id == member_id)
    return list(await session.scalars(statement.order_by(Draw.created_at.desc(), Draw.id.desc()).limit(limit)))


async def delete_lottery(session: AsyncSession, lottery: Lottery) -> None:
    await session.delete(lottery)


async def gated_rewards(session: AsyncSession) -> list[Reward]:
    """Rewards a flash gate may front (every tenant's): enabled, counted stock, one per member."""
    rows = await session.scalars(
        select(Reward).where(Reward.enabled.is_(True), Reward.stock.is_not(None), Reward.limit_per_member == 1)
    )
    return list(rows)


_INSERTS = {Redemption.__tablename__: insert(Redemption), Draw.__tablename__: insert(Draw)}


# Figures for analytics


async def redemption_totals(
    session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime
) -> tuple[int, int]:
    """Redemptions made in [start, end) and not cancelled, and the points they cost."""
    row = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Redemption.points), 0)).where(
                of_tenant(Redemption, tenant_id),
                Redemption.created_at >= start,
                Redemption.created_at < end,
                Redemption.status != Status.cancelled,
            )
        )
    ).one()
    return int(row[0]), int(row[1])


async def draw_totals(session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime) -> tuple[int, int]:
    """Lottery draws made in [start, end), and the points they cost."""
    row = (
        await session.execute(
            select(func.count(), func.coalesce(func.sum(Draw.points_cost), 0)).where(
                of_tenant(Draw, tenant_id), Draw.created_at >= start, Draw.created_at < end
            )
        )
    ).one()
    return int(row[0]), int(row[1])


def _free_draws(tenant_id: int, member_id: int, lottery_id: int) -> Any:
    return (
        of_tenant(FreeDraw, tenant_id),
        FreeDraw.member_id == member_id,
        FreeDraw.lottery_id == lottery_id,
        FreeDraw.used_draw_id.is_(None),
    )


async def count_free_draws(session: AsyncSession, *, tenant_id: int, member_id: int, lottery_id: int) -> int:
    statement = select(func.count()).select_from(FreeDraw).where(*_free_draws(tenant_id, member_id, lottery_id))
    return int(await session.scalar(statement) or 0)


async def use_free_draw(
    session: AsyncSession, *, tenant_id: int, member_id: int, lottery_id: int, draw_id: int
) -> bool:
    """Spend one of her free draws of the lottery on `draw_id` (the caller holds her lock); False: she has none."""
    first = await session.scalar(
        select(FreeDraw.id).where(*_free_draws(tenant_id, member_id, lottery_id)).order_by(FreeDraw.id).limit(1)
    )
    if first is None:
        return False
    await session.execute(
        update(FreeDraw)
        .where(of_tenant(FreeDraw, tenant_id), FreeDraw.id == first)
        .values(used_draw_id=draw_id)
        .execution_options(synchronize_session=False)
    )
    return True


def lives_in(
    cities: Collection[str], tenant_id: ColumnExpressionArgument[int], member_id: ColumnExpressionArgument[int]
) -> Exists:
    """In SQL: whether an address in the address book of the member named by these columns names one of these
    cities (its region, 省 市 区, contains the name)."""
    return exists(
        select(Address.id).where(
            of_tenant(Address, tenant_id),
            Address.member_id == member_id,
            or_(*[Address.region.contains(city, autoescape=True) for city in sorted(cities)]),
        )
    )
