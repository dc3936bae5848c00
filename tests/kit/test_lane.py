"""The hot routes' lane connections (siyu.kit.lane) on real PostgreSQL: a transaction commits or leaves nothing, a
failed statement or savepoint is rolled back and the connection serves again, a busy lane sends the request the
usual way, and a connection goes back to the pool with its own setting (a later transaction there still rolls back).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from siyu.app import create_app
from siyu.config import Settings
from siyu.db import create_engine, create_sessionmaker
from siyu.engagement.checkin.models import Checkin
from siyu.fans.service import access_token
from siyu.kit.errors import AppError, Conflict
from siyu.kit.lane import Lane
from siyu.kit.ratelimit import RateLimiter
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.members import service as members
from siyu.tenants import service as tenants
from siyu.tenants.schemas import TenantUpdate
from tests.support.databases import backend, fresh_database

pytestmark = pytest.mark.skipif(backend() != "postgres", reason="the lane is PostgreSQL's")


class Refused(Conflict):
    code = "refused"
    message = "不行"


@pytest.fixture(scope="module")
def lane_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("lane-db"), "lane") as url:
        yield url


@pytest.fixture
async def engine(lane_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(lane_database_url, pool_size=3, max_overflow=0)
    yield engine
    await engine.dispose()


async def _member(engine: AsyncEngine) -> tuple[int, int]:
    async with create_sessionmaker(engine)() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug=f"shop-{secrets.token_hex(5)}", name="星河直播间")
        member = await members.create_member(session, tenant_id=tenant.id)
        return tenant.id, member.id


async def _available(engine: AsyncEngine, tenant_id: int, member_id: int) -> int:
    async with create_sessionmaker(engine)() as session:
        return (await ledger.balance(session, tenant_id=tenant_id, member_id=member_id)).available


async def test_a_transaction_commits_and_its_connection_serves_again(engine: AsyncEngine) -> None:
    tenant_id, member_id = await _member(engine)
    lane = Lane(engine, limit=2)
    for n in range(3):
        async with lane.transaction() as session:
            assert session is not None
            await ledger.earn(session, tenant_id=tenant_id, member_id=member_id, amount=10, source_ref=f"lane:{n}")
    assert await _available(engine, tenant_id, member_id) == 30
    assert lane.open == 1  # one connection, three transactions
    await lane.close()


async def test_a_refused_step_or_a_failed_statement_leaves_nothing(engine: AsyncEngine) -> None:
    tenant_id, member_id = await _member(engine)
    lane = Lane(engine, limit=1)
    with pytest.raises(Refused):
        async with lane.transaction() as session:
            assert session is not None
            await ledger.earn(session, tenant_id=tenant_id, member_id=member_id, amount=10, source_ref="lane:refused")
            raise Refused()
    with pytest.raises(DBAPIError):
        async with lane.transaction() as session:
            assert session is not None
            await ledger.earn(session, tenant_id=tenant_id, member_id=member_id, amount=10, source_ref="lane:failed")
            await session.execute(text("SELECT 1 / 0"))
    assert await _available(engine, tenant_id, member_id) == 0
    async with lane.transaction() as session:  # the same connection, clean again
        assert session is not None
        await ledger.earn(session, tenant_id=tenant_id, member_id=member_id, amount=7, source_ref="lane:after")
    assert await _available(engine, tenant_id, member_id) == 7
    assert lane.open == 1
    await lane.close()


async def test_a_savepoint_inside_is_rolled_back_alone(engine: AsyncEngine) -> None:
    tenant_id, member_id = await _member(engine)
    lane = Lane(engine, limit=1)
    async with lane.transaction() as session:
        assert session is not None
        await ledger.earn(session, tenant_id=tenant_id, member_id=member_id, amount=5, source_ref="lane:kept")
        with pytest.raises(AppError):
            async with session.begin_nested():
                await ledger.earn(session, tenant_id=tenant_id, member_id=member_id, amount=9, source_ref="lane:gone")
                raise Refused()
    assert await _available(engine, tenant_id, member_id) == 5
    await lane.close()


async def test_a_busy_lane_sends_the_request_the_usual_way(engine: AsyncEngine) -> None:
    lane = Lane(engine, limit=1)
    async with lane.transaction() as first:
        assert first is not None
        async with lane.transaction() as second:
            assert second is None
    await lane.close()


async def test_idle_connections_go_back_to_the_pool_as_they_came(engine: AsyncEngine) -> None:
    fans = [await _member(engine) for _ in range(3)]
    lane = Lane(engine, limit=3)
    async with lane.transaction() as session:
        assert session is not None
    assert await lane.release_idle(older_than=0) == 1
    assert lane.open == 0
    # The pool's connections (the one given back among them) run real transactions again: a rollback undoes.
    sessions = [create_sessionmaker(engine)() for _ in fans]
    for session, (tenant_id, member_id) in zip(sessions, fans, strict=True):
        await session.begin()
        raw = await (await session.connection()).get_raw_connection()
        assert getattr(raw.dbapi_connection, "autocommit", None) is False
        await ledger.earn(session, tenant_id=tenant_id, member_id=member_id, amount=3, source_ref=secrets.token_hex(4))
    for session in sessions:
        await session.rollback()
        await session.close()
    assert [await _available(engine, tenant_id, member_id) for tenant_id, member_id in fans] == [0, 0, 0]


async def test_a_fans_check_in_through_the_lane_is_credited_once(engine: AsyncEngine, lane_database_url: str) -> None:
    tenant_id, member_id = await _member(engine)
    settings = Settings(database_url=lane_database_url, env="test", embedded_worker=False, _env_file=None)
    app = create_app(settings)
    app.state.engine = engine
    app.state.sessionmaker = create_sessionmaker(engine)
    app.state.limiter = RateLimiter()
    app.state.lane = Lane(engine, limit=2)
    async with create_sessionmaker(engine)() as session:
        slug = (await tenants.get_tenant(session, tenant_id)).slug
    token = access_token(settings.secret_key, tenant_id=tenant_id, member_id=member_id)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        path, headers = f"/api/v1/fan/{slug}/checkin", {"Authorization": f"Bearer {token}"}
        answers = await asyncio.gather(*(client.post(path, headers=headers) for _ in range(4)))
        refused = await client.post(path, headers={"Authorization": "Bearer not-a-token"})
    assert [a.status_code for a in answers] == [200] * 4
    assert sorted(a.json()["created"] for a in answers) == [False, False, False, True]
    assert refused.status_code == 401
    async with create_sessionmaker(engine)() as session:
        rows = await session.scalar(select(func.count()).select_from(Checkin).where(Checkin.member_id == member_id))
    assert rows == 1
    assert await _available(engine, tenant_id, member_id) == answers[0].json()["points"]
    await app.state.lane.close()


async def test_a_connection_the_database_closed_while_idle_is_not_used_again(engine: AsyncEngine) -> None:
    tenant_id, member_id = await _member(engine)
    lane = Lane(engine, limit=1)
    async with lane.transaction() as session:
        assert session is not None
        backend = await session.scalar(text("SELECT pg_backend_pid()"))
    async with create_sessionmaker(engine)() as other:
        await other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
    for _ in range(50):  # the driver hears of it as soon as the loop reads the closed socket
        await asyncio.sleep(0.02)
    async with lane.transaction() as session:
        assert session is not None
        assert await session.scalar(text("SELECT pg_backend_pid()")) != backend
        await ledger.earn(session, tenant_id=tenant_id, member_id=member_id, amount=4, source_ref="lane:fresh")
    assert await _available(engine, tenant_id, member_id) == 4
    assert lane.open == 1
    await lane.close()


async def test_a_settings_change_is_seen_at_once_by_the_lane_of_the_same_process(engine: AsyncEngine) -> None:
    tenant_id, _member_id = await _member(engine)
    lane = Lane(engine, limit=1)
    async with create_sessionmaker(engine)() as pooled:
        slug = (await tenants.get_tenant(pooled, tenant_id)).slug
    async with lane.transaction() as session:
        assert session is not None
        assert (await tenants.config_by_slug(session, slug)).name == "星河直播间"  # now remembered for a second
    async with create_sessionmaker(engine)() as pooled, pooled.begin():  # a console change, on the pool
        actor = Principal(tenant_id=tenant_id, kind="system", actor_id=None, label="测试")
        await tenants.update_tenant(pooled, actor=actor, changes=TenantUpdate(name="星河新号"))
    async with lane.transaction() as session:
        assert session is not None
        assert (await tenants.config_by_slug(session, slug)).name == "星河新号"
    await lane.close()
