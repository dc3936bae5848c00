"""Taps and decisions at the same time (PostgreSQL: real connections committing together): a fan tapping 领取 six
times at once is paid as often as the cap allows, and two ops approving one screenshot at once pay it once."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.db import create_engine, create_sessionmaker
from siyu.engagement.missions import service
from siyu.engagement.missions.schemas import TaskIn
from siyu.kit.errors import AppError
from siyu.kit.web import Principal
from siyu.ledger import refs
from siyu.ledger import service as ledger
from siyu.ledger.audit import check_invariants
from siyu.members import service as members
from siyu.tenants import service as tenants
from tests.engagement.missions.conftest import TZ, png
from tests.support.databases import backend, fresh_database

pytestmark = pytest.mark.skipif(backend() != "postgres", reason="concurrent writers need PostgreSQL")


@pytest.fixture(scope="module")
def tasks_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("tasks-db"), "tasks") as url:
        yield url


@pytest.fixture
async def db(tasks_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(tasks_database_url, pool_size=8)
    yield create_sessionmaker(engine)
    await engine.dispose()


def _owner(tenant_id: int) -> Principal:
    return Principal(
        tenant_id=tenant_id,
        kind="staff",
        actor_id=None,
        label="运营",
        permissions=frozenset({"points.rules", "claims.review"}),
    )


async def _run(db: async_sessionmaker[AsyncSession], work: Any) -> Any:
    try:
        async with db() as session, session.begin():
            return await work(session)
    except AppError as error:
        return error.code


async def test_taps_at_once_pay_up_to_the_cap(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug=f"shop-{secrets.token_hex(5)}", name="星河直播间")
        data = TaskIn(
            kind="follow", title="关注", points=10, period="daily", cap_per_period=2, config={"channel": "星河"}
        )
        task = await service.create_task(session, actor=_owner(tenant.id), data=data, timezone=TZ)
        member = await members.create_member(session, tenant_id=tenant.id)
    results = await asyncio.gather(
        *(
            _run(
                db,
                lambda s: service.complete(
                    s, tenant_id=tenant.id, member_id=member.id, task_id=task.id, timezone=TZ, confirm=True
                ),
            )
            for _ in range(6)
        )
    )
    assert sorted(r if isinstance(r, str) else "paid" for r in results) == ["paid"] * 2 + ["task_done"] * 4
    async with db() as session, session.begin():
        assert (await ledger.balance(session, tenant_id=tenant.id, member_id=member.id)).available == 20
        await check_invariants(session, tenant_id=tenant.id)


async def test_two_approvals_at_once_pay_once(db: async_sessionmaker[AsyncSession], tmp_path: Path) -> None:
    async with db() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug=f"shop-{secrets.token_hex(5)}", name="星河直播间")
        owner = _owner(tenant.id)
        task = await service.create_task(
            session, actor=owner, data=TaskIn(kind="review", title="晒评价", points=30), timezone=TZ
        )
        member = await members.create_member(session, tenant_id=tenant.id)
        await ledger.earn(
            session, tenant_id=tenant.id, member_id=member.id, amount=5, source_ref=refs.order_ref("douyin", "D1")
        )
        row = await service.submit_review(
            session,
            tenant_id=tenant.id,
            member_id=member.id,
            task_id=task.id,
            platform="douyin",
            order_id="D1",
            data=png(),
            data_dir=tmp_path,
            timezone=TZ,
        )
    results = await asyncio.gather(
        *(_run(db, lambda s: service.decide(s, actor=owner, review_id=row.id, approve=True)) for _ in range(4))
    )
    assert sorted(r if isinstance(r, str) else "approved" for r in results) == ["approved"] + ["review_decided"] * 3
    async with db() as session, session.begin():
        assert (await ledger.balance(session, tenant_id=tenant.id, member_id=member.id)).available == 5 + 30
        await check_invariants(session, tenant_id=tenant.id)
