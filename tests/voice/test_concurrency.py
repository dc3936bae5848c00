"""Taps at the same time (PostgreSQL: real connections committing together): one member's "+1"s, encore votes and
survey answers sent six times at once count once (her survey points paid once); many members' "+1"s at once are
each counted."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.db import create_engine, create_sessionmaker
from siyu.kit.errors import AppError
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.live import service as live
from siyu.live.schemas import ProductIn, ShowIn
from siyu.members import service as members
from siyu.tenants import service as tenants
from siyu.tenants.schemas import ChannelIn
from siyu.voice import service
from siyu.voice.models import EncoreVote, Wish
from siyu.voice.schemas import SurveyIn, WishIn
from tests.support.databases import backend, fresh_database

pytestmark = pytest.mark.skipif(backend() != "postgres", reason="concurrent writers need PostgreSQL")


@pytest.fixture(scope="module")
def voice_database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with fresh_database(tmp_path_factory.mktemp("voice-db"), "voice") as url:
        yield url


@pytest.fixture
async def db(voice_database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    engine = create_engine(voice_database_url, pool_size=8)
    yield create_sessionmaker(engine)
    await engine.dispose()


def _owner(tenant_id: int) -> Principal:
    return Principal(
        tenant_id=tenant_id,
        kind="staff",
        actor_id=None,
        label="运营",
        permissions=frozenset({"channels.write", "members.write"}),
    )


async def _run(db: async_sessionmaker[AsyncSession], work: Any) -> Any:
    try:
        async with db() as session, session.begin():
            await work(session)
            return "done"
    except AppError as error:
        return error.code


async def test_one_member_s_taps_at_once_count_once(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug=f"shop-{secrets.token_hex(5)}", name="星河直播间")
        owner = _owner(tenant.id)
        maker = await members.create_member(session, tenant_id=tenant.id)
        fan = await members.create_member(session, tenant_id=tenant.id)
        wish = await service.add_wish(session, tenant_id=tenant.id, member_id=maker.id, data=WishIn(product="围巾"))
        channel = await tenants.create_channel(session, actor=owner, data=ChannelIn(platform="douyin", name="星河"))
        starts = utcnow() + timedelta(days=1)
        show = await live.create_show(
            session,
            actor=owner,
            data=ShowIn(channel_id=channel.id, title="专场", starts_at=starts, ends_at=starts + timedelta(hours=2)),
        )
        product = await live.add_product(
            session, actor=owner, show_id=show.id, data=ProductIn(title="精华", price_fen=100)
        )
        show.starts_at, show.ends_at = utcnow() - timedelta(hours=3), utcnow() - timedelta(hours=1)
        survey = await service.create_survey(
            session, actor=owner, data=SurveyIn(title="调查", points=10, questions=[{"text": "几分", "kind": "rating"}])
        )
    t, m = tenant.id, fan.id
    pluses = await asyncio.gather(
        *(_run(db, lambda s: service.plus(s, tenant_id=t, member_id=m, wish_id=wish.id)) for _ in range(6))
    )
    votes = await asyncio.gather(
        *(_run(db, lambda s: service.encore_vote(s, tenant_id=t, member_id=m, product_id=product.id)) for _ in range(6))
    )
    answers = await asyncio.gather(
        *(
            _run(db, lambda s: service.answer(s, tenant_id=t, member_id=m, survey_id=survey.id, answers={"1": "5"}))
            for _ in range(6)
        )
    )
    assert sorted(pluses) == ["already_plused"] * 5 + ["done"]
    assert sorted(votes) == ["already_voted"] * 5 + ["done"]
    assert sorted(answers) == ["already_answered"] * 5 + ["done"]
    async with db() as session, session.begin():
        assert (await session.get(Wish, (t, wish.id))).plus_count == 1  # type: ignore[union-attr]
        assert await session.scalar(select(func.count()).select_from(EncoreVote).where(EncoreVote.tenant_id == t)) == 1
        assert (await ledger.balance(session, tenant_id=t, member_id=m)).available == 10


async def test_many_members_plus_at_once_are_each_counted(db: async_sessionmaker[AsyncSession]) -> None:
    async with db() as session, session.begin():
        tenant = await tenants.create_tenant(session, slug=f"shop-{secrets.token_hex(5)}", name="星河直播间")
        maker = await members.create_member(session, tenant_id=tenant.id)
        others = [await members.create_member(session, tenant_id=tenant.id) for _ in range(8)]
        wish = await service.add_wish(session, tenant_id=tenant.id, member_id=maker.id, data=WishIn(product="围巾"))
    results = await asyncio.gather(
        *(
            _run(
                db, lambda s, member_id=o.id: service.plus(s, tenant_id=tenant.id, member_id=member_id, wish_id=wish.id)
            )
            for o in others
        )
    )
    assert results == ["done"] * 8
    async with db() as session, session.begin():
        assert (await session.get(Wish, (tenant.id, wish.id))).plus_count == 8  # type: ignore[union-attr]
