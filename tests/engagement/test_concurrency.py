"""Check-ins at the same moment on real PostgreSQL connections: a fan tapping twice (and checking in while she
makes up yesterday) is credited once a day, and many fans at once are each credited once."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.db import create_engine, create_sessionmaker
from siyu.engagement.checkin import service
from siyu.engagement.checkin.models import Checkin
from siyu.engagement.checkin.schemas import CheckinOut
from siyu.kit.errors import AppError
from siyu.ledger import service as ledger
from siyu.ledger.audit import check_invariants
from siyu.ledger.models import Entry
from siyu.members import service as members
from siyu.tenants import service as tenants
from tests.support.databases import backend, fresh_database

pytestmark = pytest.mark.skipif(backend() != "postgres", reason="concurrent writers need PostgreSQL")

NOW = datetime(2030, 3, 10, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
JOINED = NOW - timedelta(days=30)


@pytest.fixture(scope="module")
def checkin_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("checkin-db"), "checkin") as url:
        yield url


@pytest.fixture
async def db(checkin_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(checkin_database_url, pool_size=16)
    yield create_sessionmaker(engine)
    await engine.dispose()


async def _setup(db: async_sessionmaker[AsyncSession], fans: int) -> tuple[int, list[int]]:
    async with db() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug=f"shop-{secrets.token_hex(5)}", name="星河直播间")
        ids = []
        for n in range(fans):
            member = await members.create_member(session, tenant_id=tenant.id)
            await ledger.earn(session, tenant_id=tenant.id, member_id=member.id, amount=100, source_ref=f"seed:{n}")
            ids.append(member.id)
        return tenant.id, ids


async def _check_in(db: async_sessionmaker[AsyncSession], tenant_id: int, member_id: int) -> CheckinOut | str:
    try:
        async with db() as session, session.begin():
            config = await tenants.config_of(session, tenant_id)
            return await service.check_in(session, tenant=config, member_id=member_id, now=NOW)
    except AppError as error:
        return error.code


async def _make_up(db: async_sessionmaker[AsyncSession], tenant_id: int, member_id: int, day: date) -> Any:
    try:
        async with db() as session, session.begin():
            config = await tenants.config_of(session, tenant_id)
            return await service.make_up(
                session, tenant=config, member_id=member_id, joined=JOINED.date(), day=day, now=NOW
            )
    except AppError as error:
        return error.code


async def test_many_fans_tapping_twice_at_once_are_credited_once_each(db: async_sessionmaker[AsyncSession]) -> None:
    tenant_id, fans = await _setup(db, 12)
    results = await asyncio.gather(*(_check_in(db, tenant_id, m) for m in fans for _ in range(3)))
    assert all(isinstance(r, CheckinOut) for r in results), results
    assert sum(1 for r in results if isinstance(r, CheckinOut) and r.created) == len(fans)
    async with db() as session:
        rows = await session.scalar(select(func.count()).select_from(Checkin).where(Checkin.tenant_id == tenant_id))
        credits = await session.scalar(
            select(func.count()).where(Entry.tenant_id == tenant_id, Entry.source_ref.like("checkin:%"))
        )
        assert rows == credits == len(fans)
        assert await check_invariants(session, tenant_id) == []


async def test_a_check_in_and_a_make_up_of_yesterday_at_once_keep_the_streak(
    db: async_sessionmaker[AsyncSession],
) -> None:
    tenant_id, (fan,) = await _setup(db, 1)
    yesterday = date(2030, 3, 9)
    results = await asyncio.gather(_check_in(db, tenant_id, fan), _make_up(db, tenant_id, fan, yesterday))
    assert not any(isinstance(r, str) for r in results), results
    async with db() as session:
        rows = {
            row.day: row.streak for row in await session.scalars(select(Checkin).where(Checkin.tenant_id == tenant_id))
        }
        assert rows == {yesterday: 1, date(2030, 3, 10): 2}
        assert await check_invariants(session, tenant_id) == []
