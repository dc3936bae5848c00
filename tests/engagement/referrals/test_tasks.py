"""The background jobs: the periodic payer is registered and pays once; the settle job settles its board."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.engagement.referrals import service, tasks
from siyu.engagement.referrals.models import Leaderboard
from siyu.engagement.referrals.schemas import BoardIn
from siyu.jobs.models import Job
from siyu.jobs.registry import HANDLERS, PERIODIC
from tests.engagement.referrals.conftest import Invites


async def test_the_periodic_job_pays_due_invitations_once(invites: Invites, session: AsyncSession) -> None:
    assert (service.REWARD_JOB, tasks.REWARD_EVERY_S) in PERIODIC and service.REWARD_JOB in HANDLERS
    host = await invites.member()
    invitee, _row = await invites.join(await invites.code(host))
    await invites.first_order(invitee.id)
    job = Job(id=1, tenant_id=invites.tenant_id, kind=service.REWARD_JOB, payload={})
    assert await tasks.reward(session, job) == {"paid": {str(invites.tenant_id): 1}}
    assert await tasks.reward(session, job) == {"paid": {}}
    assert await invites.available(host.id) == 100


async def test_the_settle_job_settles_its_board(invites: Invites, session: AsyncSession) -> None:
    host = await invites.member()
    code = await invites.code(host)
    board = await service.create_board(
        session,
        actor=invites.owner,
        data=BoardIn(title="榜", starts_at=invites.later(-60), ends_at=invites.later(60), prizes=[10]),
    )
    await invites.join(code)
    await service.request_settle(session, actor=invites.owner, board_id=board.id, now=invites.later(61))
    [job] = list(
        await session.scalars(select(Job).where(Job.kind == service.SETTLE_JOB, Job.tenant_id == board.tenant_id))
    )
    assert await tasks.settle(session, job) == {"prizes": 1}
    assert await tasks.settle(session, job) == {"prizes": 0}  # a restarted worker runs it again
    settled = await session.get(Leaderboard, (board.tenant_id, board.id))
    assert settled is not None and settled.status == "settled" and await invites.available(host.id) == 10
