"""积分抽奖: campaigns with a points cost, a window and per-member caps; weighted prizes with stock; draws.

A draw, in the caller's one transaction (nothing here commits):
1. The campaign must be on and open; a double tap (same idempotency key) returns the first draw.
2. The member's points are locked (siyu.ledger.service.lock_member) before her draws are counted, so two draws
   at once cannot both pass a cap; then her balance is compared with the cost.
3. The cost is spent through the ledger; the wheel is spun with secrets.SystemRandom (`pick`).
4. The prize is taken by one conditional UPDATE of its stock (a mall reward's stock too); a prize out of stock
   falls back to the campaign's "no prize" entry. Points are credited through the ledger; a mall reward becomes
   a redemption that spent nothing.
   (The mall's own statements on this path, counting, taking a prize, writing the draw, are SQLAlchemy Core built
   once: siyu.mall.repository.)
5. The draw is stored (what the wheel said, what she got, whether it fell back) and audited.
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.jobs import service as jobs
from siyu.kit.errors import AppError, Conflict, InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.time import format_local, to_local, utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.mall import repository, service
from siyu.mall.models import (
    Draw,
    FreeDraw,
    Lottery,
    Prize,
    PrizeKind,
    Redemption,
    draw_ref,
    win_ref,
)
from siyu.mall.schemas import LotteryIn

K = TypeVar("K")
PRIZE_JOB = "mall.prize_won"
_wheel = secrets.SystemRandom()


class LotteryNotFound(NotFound):
    code = "lottery_not_found"
    message = "找不到这个抽奖活动，可能已经结束"


class LotteryClosed(Conflict):
    code = "outside_window"
    message = "现在不在抽奖时间内"


class OverDrawLimit(Conflict):
    code = "over_draw_limit"
    message = "你的抽奖次数已经用完了"


class InsufficientPoints(ledger.InsufficientPoints):
    message = "积分不够抽奖"


class PrizeNotFound(InvalidInput):
    code = "prize_not_found"
    message = "奖项不属于这个抽奖活动"


class PrizeInUse(Conflict):
    code = "prize_in_use"
    message = "已经有人抽中过这个奖项，不能删除，可以把权重改成 0"


class LotteryInUse(Conflict):
    code = "lottery_in_use"
    message = "这个抽奖活动已经有人抽过，不能删除，可以停用"


def pick(entries: Sequence[tuple[K, int]], rng: random.Random) -> K:
    """One key, drawn with probability weight / sum of weights (weights are integers >= 0, their sum > 0)."""
    total = sum(weight for _key, weight in entries)
    if total <= 0:
        raise ValueError("no entry has a weight")
    point = rng.randrange(total)
    for key, weight in entries:
        if point < weight:
            return key
        point -= weight
    raise AssertionError("unreachable")  # pragma: no cover


def is_open(lottery: Lottery, now: datetime) -> bool:
    return lottery.enabled and lottery.starts_at <= now < lottery.ends_at


# Set-up (staff)


def _view(lottery: Lottery, prizes: list[Prize]) -> dict[str, Any]:
    return {
        "title": lottery.title,
        "points_cost": lottery.points_cost,
        "starts_at": lottery.starts_at.isoformat(),
        "ends_at": lottery.ends_at.isoformat(),
        "cap_per_day": lottery.cap_per_day,
        "cap_total": lottery.cap_total,
        "enabled": lottery.enabled,
        "prizes": [
            {
                "id": p.id,
                "kind": p.kind,
                "title": p.title,
                "weight": p.weight,
                "stock": p.stock,
                "points": p.points,
                "reward_id": p.reward_id,
            }
            for p in prizes
        ],
    }


async def list_lotteries(session: AsyncSession, *, tenant_id: int) -> list[Lottery]:
    return await repository.lotteries(session, tenant_id=tenant_id)


async def get_lottery(session: AsyncSession, *, tenant_id: int, lottery_id: int) -> Lottery:
    row = await repository.get_lottery(session, tenant_id=tenant_id, lottery_id=lottery_id)
    if row is None:
        raise LotteryNotFound()
    return row


async def prizes_of(session: AsyncSession, *, tenant_id: int, lottery_id: int) -> list[Prize]:
    return await repository.prizes(session, tenant_id=tenant_id, lottery_id=lottery_id)


async def _check_rewards(session: AsyncSession, tenant_id: int, data: LotteryIn) -> None:
    """A reward prize must be a reward of this tenant (goods too: the winner gives her address afterwards)."""
    for prize in data.prizes:
        if prize.kind == PrizeKind.reward and prize.reward_id is not None:
            await service.get_reward(session, tenant_id=tenant_id, reward_id=prize.reward_id)


async def _put_prizes(session: AsyncSession, lottery: Lottery, data: LotteryIn) -> list[Prize]:
    """Make the campaign's prizes those of `data`: given ids are changed, new ones added, missing ones removed
    (a prize somebody drew stays: set its weight to 0 instead)."""
    tenant_id = lottery.tenant_id
    existing = {p.id: p for p in await repository.prizes(session, tenant_id=tenant_id, lottery_id=lottery.id)}
    wanted = {p.id for p in data.prizes if p.id is not None}
    if wanted - set(existing):
        raise PrizeNotFound()
    for prize_id in set(existing) - wanted:
        if await repository.has_draws(session, tenant_id=tenant_id, lottery_id=lottery.id, prize_id=prize_id):
            raise PrizeInUse(f"“{existing[prize_id].title}”已经有人抽中过，不能删除，可以把权重改成 0")
        await repository.delete_prize(session, tenant_id=tenant_id, prize_id=prize_id)
    for order, item in enumerate(data.prizes):
        values = item.model_dump(exclude={"id"})
        values["points"] = item.points if item.kind == PrizeKind.points else None
        values["reward_id"] = item.reward_id if item.kind == PrizeKind.reward else None
        if item.id is None:
            repository.add(
                session,
                Prize(tenant_id=tenant_id, id=new_id(), lottery_id=lottery.id, won=0, sort_order=order, **values),
            )
        else:
            prize = existing[item.id]
            for key, value in values.items():
                setattr(prize, key, value)
            prize.sort_order = order
    await session.flush()
    return await repository.prizes(session, tenant_id=tenant_id, lottery_id=lottery.id)


def _fields(data: LotteryIn) -> dict[str, Any]:
    return data.model_dump(exclude={"prizes"})


async def create_lottery(session: AsyncSession, *, actor: Principal, data: LotteryIn) -> Lottery:
    await _check_rewards(session, actor.tenant_id, data)
    lottery = Lottery(tenant_id=actor.tenant_id, id=new_id(), **_fields(data))
    repository.add(session, lottery)
    await session.flush()
    prizes = await _put_prizes(session, lottery, data)
    audit.record(
        session,
        actor=actor,
        action="lottery.create",
        target_type="lottery",
        target_id=lottery.id,
        after=_view(lottery, prizes),
    )
    return lottery


async def update_lottery(session: AsyncSession, *, actor: Principal, lottery_id: int, data: LotteryIn) -> Lottery:
    lottery = await get_lottery(session, tenant_id=actor.tenant_id, lottery_id=lottery_id)
    await _check_rewards(session, actor.tenant_id, data)
    before = _view(lottery, await repository.prizes(session, tenant_id=actor.tenant_id, lottery_id=lottery_id))
    for key, value in _fields(data).items():
        setattr(lottery, key, value)
    prizes = await _put_prizes(session, lottery, data)
    after = _view(lottery, prizes)
    audit.record_change(
        session,
        actor=actor,
        action="lottery.update",
        target_type="lottery",
        target_id=lottery.id,
        before=before,
        after=after,
    )
    return lottery


async def delete_lottery(session: AsyncSession, *, actor: Principal, lottery_id: int) -> None:
    lottery = await get_lottery(session, tenant_id=actor.tenant_id, lottery_id=lottery_id)
    if await repository.has_draws(session, tenant_id=actor.tenant_id, lottery_id=lottery_id):
        raise LotteryInUse()
    before = _view(lottery, await repository.prizes(session, tenant_id=actor.tenant_id, lottery_id=lottery_id))
    await repository.delete_lottery(session, lottery)
    await session.flush()
    audit.record(
        session, actor=actor, action="lottery.delete", target_type="lottery", target_id=lottery_id, before=before
    )


async def draws_of(
    session: AsyncSession, *, tenant_id: int, lottery_id: int, member_id: int | None = None, limit: int = 100
) -> list[Draw]:
    await get_lottery(session, tenant_id=tenant_id, lottery_id=lottery_id)
    return await repository.draws(session, tenant_id=tenant_id, lottery_id=lottery_id, member_id=member_id, limit=limit)


# What a fan sees and does


async def open_lotteries(session: AsyncSession, *, tenant_id: int, now: datetime | None = None) -> list[Lottery]:
    now = now or utcnow()
    return [r for r in await repository.lotteries(session, tenant_id=tenant_id, enabled_only=True) if is_open(r, now)]


async def open_lottery(session: AsyncSession, *, tenant_id: int, lottery_id: int) -> Lottery:
    """A campaign that is on (open or not yet / no longer open: the page says which)."""
    lottery = await repository.get_lottery(session, tenant_id=tenant_id, lottery_id=lottery_id)
    if lottery is None or not lottery.enabled:
        raise LotteryNotFound()
    return lottery


@dataclass(frozen=True)
class Chances:
    today: int | None  # draws left today; None: no daily cap
    total: int | None  # draws left in the campaign; None: no cap
    free: int = 0  # free draws she was given (no points, no caps)


async def chances(
    session: AsyncSession, *, tenant_id: int, lottery: Lottery, member_id: int, timezone: str, now: datetime
) -> Chances:
    day = to_local(now, timezone).date()
    today = total = None
    if lottery.cap_per_day is not None:
        had = await repository.count_draws(
            session, tenant_id=tenant_id, lottery_id=lottery.id, member_id=member_id, day=day
        )
        today = max(lottery.cap_per_day - had, 0)
    if lottery.cap_total is not None:
        had = await repository.count_draws(session, tenant_id=tenant_id, lottery_id=lottery.id, member_id=member_id)
        total = max(lottery.cap_total - had, 0)
    free = await repository.count_free_draws(session, tenant_id=tenant_id, member_id=member_id, lottery_id=lottery.id)
    return Chances(today, total, free)


def draw_refusal(lottery: Lottery, left: Chances, available: int, now: datetime, timezone: str) -> AppError | None:
    """What refuses her a draw now, in words (None: she may draw): closed, no draws left, short of points. The page
    disables its button with it; `draw` decides again under the lock."""
    try:
        _check_window(lottery, now, timezone)
    except LotteryClosed as closed:
        return closed
    if left.free:  # a free draw: neither the caps nor her points hold it back
        return None
    if left.total == 0:
        return OverDrawLimit(f"每人最多抽 {lottery.cap_total} 次，你的次数已经用完了")
    if left.today == 0:
        return OverDrawLimit(f"每人每天最多抽 {lottery.cap_per_day} 次，明天再来吧")
    if available < lottery.points_cost:
        short = lottery.points_cost - max(available, 0)
        return InsufficientPoints(f"积分不够：抽一次要 {lottery.points_cost} 积分，还差 {short} 积分", short=short)
    return None


def _check_window(lottery: Lottery, now: datetime, timezone: str) -> None:
    if now < lottery.starts_at:
        when = format_local(lottery.starts_at, timezone, "%m月%d日 %H:%M")
        raise LotteryClosed(f"抽奖还没开始，{when} 开始")
    if now >= lottery.ends_at:
        raise LotteryClosed("这个抽奖活动已经结束了")


async def draw(
    session: AsyncSession,
    *,
    tenant_id: int,
    timezone: str,
    member_id: int,
    lottery_id: int,
    idempotency_key: str | None = None,
    now: datetime | None = None,
    rng: random.Random | None = None,
) -> Draw:
    """Spend the cost and spin the wheel once for the member. Raises, having taken nothing: lottery_not_found,
    outside_window, over_draw_limit, insufficient_points."""
    now = now or utcnow()
    key = (idempotency_key or "").strip()[:64] or None
    if key is not None:
        earlier = await repository.draw_by_key(session, tenant_id=tenant_id, member_id=member_id, key=key)
        if earlier is not None:
            return earlier
    lottery = await open_lottery(session, tenant_id=tenant_id, lottery_id=lottery_id)
    _check_window(lottery, now, timezone)
    prizes = await repository.prizes(session, tenant_id=tenant_id, lottery_id=lottery_id)
    blanks = [p for p in prizes if p.kind == PrizeKind.nothing]
    if not blanks or not any(p.weight > 0 for p in prizes):
        raise LotteryNotFound("这个抽奖活动还没设置好奖项")

    points = await ledger.lock_member(session, tenant_id=tenant_id, member_id=member_id, now=now)
    if key is not None:  # the first tap finished while this one waited for the lock
        earlier = await repository.draw_by_key(session, tenant_id=tenant_id, member_id=member_id, key=key)
        if earlier is not None:
            return earlier
    left = await chances(session, tenant_id=tenant_id, lottery=lottery, member_id=member_id, timezone=timezone, now=now)
    refused = draw_refusal(lottery, left, points.available, now, timezone)
    if refused is not None:
        raise refused

    draw_id = new_id()
    free = bool(left.free) and await repository.use_free_draw(
        session, tenant_id=tenant_id, member_id=member_id, lottery_id=lottery_id, draw_id=draw_id
    )
    cost = 0 if free else lottery.points_cost
    if cost:
        await ledger.spend(
            session,
            tenant_id=tenant_id,
            member_id=member_id,
            amount=cost,
            source_ref=draw_ref(draw_id),
            explanation=f"抽奖 {lottery.title}"[:300],
            now=now,
        )
    drawn = pick([(p, p.weight) for p in prizes], rng or _wheel)
    row = Draw(
        tenant_id=tenant_id,
        id=draw_id,
        lottery_id=lottery_id,
        member_id=member_id,
        idempotency_key=key,
        points_cost=cost,
        drawn_prize_id=drawn.id,
        prize_id=None,
        kind=PrizeKind.nothing,
        title=blanks[0].title,
        points_won=0,
        redemption_id=None,
        fell_back=False,
        day=to_local(now, timezone).date(),
        created_at=now,
    )
    if drawn.kind == PrizeKind.nothing:
        row.title = drawn.title
        await repository.take_prize(session, tenant_id=tenant_id, prize_id=drawn.id)  # counts it as drawn
    elif await _award(session, row, drawn, lottery, now):
        row.prize_id, row.kind, row.title = drawn.id, drawn.kind, drawn.title
        await jobs.enqueue(  # she is told of a prize (not of a blank), in this transaction
            session,
            PRIZE_JOB,
            {"member_id": member_id, "draw_id": row.id, "title": row.title, "lottery": lottery.title},
            tenant_id=tenant_id,
            dedupe_key=f"{PRIZE_JOB}:{tenant_id}:{row.id}",
        )
    else:
        row.fell_back = True
    await session.flush()  # a prize's redemption first (nothing to write otherwise: no round trip)
    await repository.insert_stored(session, row)
    audit.record(
        session,
        actor=Principal(tenant_id=tenant_id, kind="member", actor_id=member_id, label=f"会员 {member_id}"),
        action="lottery.draw",
        target_type="lottery",
        target_id=lottery_id,
        after={
            "draw": row.id,
            "cost": row.points_cost,
            "drawn": drawn.id,
            "prize": row.prize_id,
            "title": row.title,
            "points_won": row.points_won,
            "redemption": row.redemption_id,
            "fell_back": row.fell_back,
        },
    )
    return row


async def _award(session: AsyncSession, row: Draw, prize: Prize, lottery: Lottery, now: datetime) -> bool:
    """Hand the prize over; False (nothing taken) when it, or the mall reward behind it, is out of stock."""
    tenant_id = row.tenant_id
    if not await repository.take_prize(session, tenant_id=tenant_id, prize_id=prize.id):
        return False
    if prize.kind == PrizeKind.points and prize.points:
        await ledger.earn(
            session,
            tenant_id=tenant_id,
            member_id=row.member_id,
            amount=prize.points,
            source_ref=win_ref(row.id),
            explanation=f"抽奖中奖 {lottery.title}"[:300],
            now=now,
        )
        row.points_won = prize.points
        return True
    if prize.kind == PrizeKind.reward and prize.reward_id is not None:
        redemption = await _hand_over(session, row, prize.reward_id, now)
        if redemption is None:
            await repository.give_back_prize(session, tenant_id=tenant_id, prize_id=prize.id)
            return False
        row.redemption_id = redemption.id
        return True
    await repository.give_back_prize(session, tenant_id=tenant_id, prize_id=prize.id)
    return False


async def _hand_over(session: AsyncSession, row: Draw, reward_id: int, now: datetime) -> Redemption | None:
    """The prize's reward, given for nothing (the draw paid); None when it is out of stock."""
    return await service.give(
        session,
        tenant_id=row.tenant_id,
        member_id=row.member_id,
        reward_id=reward_id,
        key=service.gift_key("lottery", row.id),
        day=row.day,
        now=now,
    )


async def give_free_draw(
    session: AsyncSession, *, tenant_id: int, member_id: int, lottery_id: int, key: str, now: datetime
) -> bool:
    """Give her one free draw of the lottery (a check-in's day-N gift); False, giving nothing, when the lottery is
    gone or over. The key (`service.gift_key`) is unique per member: the caller owns "once"."""
    lottery = await repository.get_lottery(session, tenant_id=tenant_id, lottery_id=lottery_id)
    if lottery is None or not lottery.enabled or now >= lottery.ends_at:
        return False
    repository.add(
        session,
        FreeDraw(tenant_id=tenant_id, id=new_id(), member_id=member_id, lottery_id=lottery_id, key=key, created_at=now),
    )
    return True
