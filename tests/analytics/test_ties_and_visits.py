"""The second view of member value (every imported order tied to a member) and its tie rules; visits recorded
once a tenant-local day from signed-in fan pages and calls, never from anonymous pages; churn counting visits."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import httpx
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from siyu.analytics import rfm, service, snapshot
from siyu.app import _write_visits
from siyu.fans import service as fans
from siyu.kit.time import utcnow
from siyu.members import service as members
from tests.analytics.support import credit, order
from tests.support import factories
from tests.support.fans import h5_cookies

EDGES = {"r": [7, 30, 90, 180], "f": [1, 2, 3, 5], "m": [10000, 50000, 100000, 500000]}


def _con(
    rows: list[tuple[int | None, str, str, list[str]]], bindings: list[tuple[int, str]]
) -> duckdb.DuckDBPyConnection:
    """(member credited or None, platform, order id, accounts); every order paid 1000 fen yesterday."""
    con = duckdb.connect()
    snapshot.create_tables(con)
    paid = utcnow().replace(tzinfo=None) - timedelta(days=1)
    con.executemany(
        "INSERT INTO orders VALUES (?, ?, ?, 'paid', 1000, 0, ?, ?, NULL)", [(m, p, o, paid, a) for m, p, o, a in rows]
    )
    con.executemany("INSERT INTO bindings VALUES (?, ?)", bindings)
    return con


def _frequencies(con: duckdb.DuckDBPyConnection, view: str) -> dict[int, int]:
    rfm.compute(con, now=utcnow(), own_edges=EDGES, reading=view)  # type: ignore[arg-type]
    return {int(m): int(f) for m, f in con.execute("SELECT member_id, frequency FROM per_member").fetchall()}


def test_who_an_order_is_tied_to() -> None:
    x, y, z, w, q, m = (f"taobao_nick:{n}" for n in "xyzwqm")
    con = _con(
        [
            (1, "taobao", "o1", [x]),  # 1 claimed an order of buyer x ...
            (None, "taobao", "o2", [x]),  # ... so x's other orders are hers
            (None, "douyin", "o3", ["douyin_open_id:x"]),  # another platform's account of the same name is not
            (None, "taobao", "o4", [y]),  # y is bound to 2, who never claimed
            (3, "taobao", "o5", [z]),  # z seen on orders of 3 and of 4: ties to nobody
            (4, "taobao", "o6", [z]),
            (None, "taobao", "o7", [z]),
            (6, "taobao", "o8", [w]),  # w seen on 6's order but bound to 5: the binding wins
            (None, "taobao", "o9", [w]),
            (None, "taobao", "o10", [y, "taobao_open_uid:q"]),  # two accounts leading to 2 and to nobody: 2's
            (None, "taobao", "o11", [x, y]),  # two accounts leading to 1 and 2: nobody's
            (7, "taobao", "o12", [m]),  # 7 was merged into 1: what she claimed ties to 1
            (None, "taobao", "o13", [m]),
            (None, "taobao", "o14", []),  # no account at all
        ],
        [(2, y), (5, w)],
    )
    con.execute("INSERT INTO merges VALUES (7, 1)")
    assert _frequencies(con, "claimed") == {1: 2, 3: 1, 4: 1, 6: 1}
    assert _frequencies(con, "tied") == {1: 4, 2: 2, 3: 1, 4: 1, 5: 1, 6: 1}
    del q


async def test_the_second_view_through_the_snapshot_and_the_api(
    session: AsyncSession, client: httpx.AsyncClient, app: FastAPI, tmp_path: Path
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"data_dir": tmp_path})
    shop = (await factories.tenant(session)).id
    fan = await factories.member(session, shop)
    await credit(session, await order(session, shop, paid_at=utcnow(), paid_fen=1000, buyer_nick="鱼"), fan.id)
    await order(session, shop, paid_at=utcnow() - timedelta(days=3), paid_fen=2000, buyer_nick="鱼")
    await order(session, shop, paid_at=utcnow() - timedelta(days=3), paid_fen=4000, buyer_nick="别人")
    login = await factories.staff_login(session, shop, role="analyst")
    await client.post("/console/analytics/refresh", data={"csrf_token": login.csrf}, cookies=login.cookies)
    claimed = (await client.get("/api/v1/analytics/rfm", cookies=login.cookies)).json()
    tied = (await client.get("/api/v1/analytics/rfm", params={"view": "tied"}, cookies=login.cookies)).json()
    assert (claimed["members"], claimed["monetary_fen"]) == (1, 1000)
    assert (tied["members"], tied["monetary_fen"]) == (1, 3000)
    page = await client.get("/console/analytics/rfm", params={"view": "tied"}, cookies=login.cookies)
    assert page.status_code == 200 and "可关联的全部订单" in page.text and "¥30.00" in page.text
    assert (await client.get("/api/v1/analytics/rfm", params={"view": "x"}, cookies=login.cookies)).status_code == 422


async def test_a_visit_is_written_once_a_local_day(session: AsyncSession) -> None:
    tenant = await factories.tenant(session)  # Asia/Shanghai
    fan = await factories.member(session, tenant.id)
    late = datetime(2026, 12, 4, 15, 58, tzinfo=UTC)  # 23:58 in Shanghai
    assert await members.record_visit(session, member=fan, timezone=tenant.timezone, now=late)
    assert not await members.record_visit(
        session, member=fan, timezone=tenant.timezone, now=late + timedelta(minutes=1)
    )
    next_day = late + timedelta(minutes=3)  # 00:01 the next local day
    assert await members.record_visit(session, member=fan, timezone=tenant.timezone, now=next_day)
    await session.refresh(fan)
    assert fan.last_visit_at == next_day
    # visits noted by requests that loaded her before a later one was written never move her last visit back
    book = members.VisitBook()
    set_committed_value(fan, "last_visit_at", late)
    assert not book.note(fan, timezone=tenant.timezone, now=late + timedelta(minutes=1))  # her row's day
    assert book.note(fan, timezone=tenant.timezone, now=late + timedelta(minutes=2))  # 00:00, before 00:01
    assert await book.write(session) == 1
    await session.refresh(fan)
    assert fan.last_visit_at == next_day


async def test_signed_in_pages_and_calls_are_visits_anonymous_ones_are_not(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    fan = await factories.member(session, tenant.id)
    other = await factories.member(session, tenant.id, "另一位")
    anonymous = await client.get(f"/h5/{tenant.slug}/")
    assert anonymous.status_code in (200, 303)
    await session.refresh(fan)
    assert fan.last_visit_at is None
    assert len(app.state.visits) == 0
    jar = await h5_cookies(app, session, tenant, fan.id)
    assert (await client.get(f"/h5/{tenant.slug}/", cookies=jar)).status_code == 200
    await session.refresh(fan)
    assert fan.last_visit_at is None  # noted, not yet written: the request did not wait for it
    assert await app.state.visits.write(session) == 1
    await session.refresh(fan)
    assert fan.last_visit_at is not None
    first = fan.last_visit_at
    assert (await client.get(f"/h5/{tenant.slug}/points", cookies=jar)).status_code == 200
    assert len(app.state.visits) == 0  # the same day, known from her row: nothing noted
    await session.refresh(fan)
    assert fan.last_visit_at == first

    pair = await fans.issue_tokens(
        session, secret=app.state.settings.secret_key, tenant_id=tenant.id, member_id=other.id
    )
    me = await client.get(f"/api/v1/fan/{tenant.slug}/me", headers={"Authorization": f"Bearer {pair.access_token}"})
    assert me.status_code == 200
    assert await app.state.visits.write(session) == 1
    await session.refresh(other)
    assert other.last_visit_at is not None
    refused = await client.get(f"/api/v1/fan/{tenant.slug}/me", headers={"Authorization": "Bearer nonsense"})
    assert refused.status_code == 401


async def test_the_server_writes_noted_visits_in_the_background_and_once_more_on_the_way_out(
    session: AsyncSession, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    tenant = await factories.tenant(session)
    first, second = await factories.member(session, tenant.id), await factories.member(session, tenant.id, "二号")
    await session.commit()  # (a savepoint: the writer's own session sees them)
    book = members.VisitBook()
    for fan in (second, first):
        assert book.note(fan, timezone=tenant.timezone)
    stop = asyncio.Event()
    stop.set()  # the server is stopping: one last round, then the writer returns
    await asyncio.wait_for(_write_visits(book, sessionmaker, stop), 10)
    assert len(book) == 0
    for fan in (first, second):
        await session.refresh(fan)
        assert fan.last_visit_at is not None


async def test_churn_uses_the_later_of_last_order_and_last_visit(session: AsyncSession, tmp_path: Path) -> None:
    shop = (await factories.tenant(session)).id
    elsewhere = (await factories.tenant(session)).id
    now = utcnow()
    fan = await factories.member(session, shop, "常来看看")
    quiet = await factories.member(session, shop, "不来了")
    for who in (fan, quiet):
        for days in (100, 110, 120):  # every 10 days, then 100 days without an order
            await credit(session, await order(session, shop, paid_at=now - timedelta(days=days)), who.id)
    await service.refresh(session, tenant_id=shop, directory=tmp_path)
    _, risk = await service.at_risk(session, tenant_id=shop, directory=tmp_path, limit=None)
    assert {r["member_id"] for r in risk} == {fan.id, quiet.id}
    assert all(r["visit_days"] is None for r in risk)

    await members.record_visit(session, member=fan, timezone="Asia/Shanghai", now=now - timedelta(days=3))
    await members.record_visit(session, member=quiet, timezone="Asia/Shanghai", now=now - timedelta(days=40))
    stranger = await factories.member(session, elsewhere)  # another tenant's visits are not read
    await members.record_visit(session, member=stranger, timezone="Asia/Shanghai", now=now)
    refreshed = await service.refresh(session, tenant_id=shop, directory=tmp_path)
    assert not refreshed.full
    summary, risk = await service.at_risk(session, tenant_id=shop, directory=tmp_path, limit=None)
    # came 3 days ago (within her usual 10): not at risk; came 40 days ago: still at risk
    assert [(r["member_id"], r["recency_days"], r["visit_days"]) for r in risk] == [(quiet.id, 100, 40)]
    assert summary.at_risk == 1
    rebuilt = await service.rfm_of(session, tenant_id=shop, directory=tmp_path)
    assert rebuilt.at_risk == 1
