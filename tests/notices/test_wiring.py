"""Every existing piece of news reaches the notices outbox: claim results (credited after waiting, expired), through
the claims' own job and the registry."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from siyu.claims import service as claims
from siyu.jobs.worker import Worker
from siyu.kit.time import utcnow
from siyu.notices import service
from siyu.notices.models import Notice
from siyu.notices.schemas import NoticeSettings
from siyu.tasks import load_handlers
from tests.notices.conftest import Receiver, Shop
from tests.support import factories


async def test_claim_results_are_filed_as_notices_and_sent(
    shop: Shop, sessionmaker: async_sessionmaker[AsyncSession], receiver: tuple[Receiver, str]
) -> None:
    load_handlers()
    await service.save_settings(
        shop.session, actor=shop.owner, settings=NoticeSettings(quiet_start="00:00", quiet_end="00:00")
    )
    await service.add_endpoint(shop.session, actor=shop.owner, url=receiver[1])
    fan = await shop.fan()
    args = {"tenant_id": shop.tenant_id, "member_id": fan.id, "platform": "douyin"}
    waiting = await claims.claim(shop.session, text="6938472013455026992", **args)  # type: ignore[arg-type]
    lost = await claims.claim(shop.session, text="6938472013455026993", **args)  # type: ignore[arg-type]
    await factories.order(
        shop.session, shop.tenant_id, platform="douyin", order_id="6938472013455026992", paid_fen=5000
    )
    assert await claims.resolve_pending(shop.session, tenant_id=shop.tenant_id) == (1, 0)
    later = utcnow() + timedelta(days=16)
    assert await claims.resolve_pending(shop.session, tenant_id=shop.tenant_id, now=later) == (0, 1)
    await shop.session.flush()
    await Worker(sessionmaker).drain()
    rows = (await shop.session.scalars(select(Notice).where(Notice.tenant_id == shop.tenant_id))).all()
    assert sorted((n.kind, n.subject, n.status) for n in rows) == sorted(
        [("claim_credited", str(waiting.id), "sent"), ("claim_expired", str(lost.id), "sent")]
    )
    credited = next(n for n in rows if n.kind == "claim_credited")
    assert credited.payload["points"] == 5 and credited.payload["order_tail"] == "6992"
    assert {body.count("notice.claim_") for _headers, body in receiver[0].got} == {1} and len(receiver[0].got) == 2
