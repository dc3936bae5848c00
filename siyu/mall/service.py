"""The mall's catalogue (rewards, their images and code pools), fans' address books, what the mall shows a fan,
and the redemption lists and statistics. Redeeming is siyu.mall.redeem; shipping and cancelling siyu.mall.fulfil.
Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.kit.errors import Conflict, InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.pagination import Page, PageRequest, Sort
from siyu.kit.time import localise_fields, utcnow
from siyu.kit.web import Principal
from siyu.loyalty import service as loyalty
from siyu.mall import files, images, repository
from siyu.mall.models import STATUS_LABELS, Address, Code, Redemption, Reward, RewardKind, Status
from siyu.mall.schemas import AddressIn, ImportReport, RewardIn, RewardStats, RowProblem, StatsOut
from siyu.tenants import service as tenants

M = TypeVar("M", bound=BaseModel)

MAX_ADDRESSES = 10


class RewardNotFound(NotFound):
    code = "reward_not_found"
    message = "找不到这个奖品，可能已经下架"


class RedemptionNotFound(NotFound):
    code = "redemption_not_found"
    message = "找不到这笔兑换"


class AddressNotFound(NotFound):
    code = "address_not_found"
    message = "找不到这个收货地址"


class RewardInUse(Conflict):
    code = "reward_in_use"
    message = "这个奖品已经有人兑换过，不能删除，可以下架"


class NotACodeReward(InvalidInput):
    code = "not_a_code_reward"
    message = "只有兑换码奖品可以导入兑换码"


class StockFromCodes(InvalidInput):
    code = "stock_from_codes"
    message = "兑换码奖品的库存由导入的兑换码决定，不能直接修改"


class TooManyAddresses(Conflict):
    code = "too_many_addresses"
    message = f"最多保存 {MAX_ADDRESSES} 个收货地址"


# Rewards


def _view(reward: Reward) -> dict[str, Any]:
    return {
        "kind": reward.kind,
        "title": reward.title,
        "category": reward.category,
        "sort_order": reward.sort_order,
        "points_price": reward.points_price,
        "stock": reward.stock,
        "limit_per_member": reward.limit_per_member,
        "limit_per_day": reward.limit_per_day,
        "tier_ids": list(reward.tier_ids or []),
        "visible_from": reward.visible_from.isoformat() if reward.visible_from else None,
        "visible_until": reward.visible_until.isoformat() if reward.visible_until else None,
        "redeem_from": reward.redeem_from.isoformat() if reward.redeem_from else None,
        "redeem_until": reward.redeem_until.isoformat() if reward.redeem_until else None,
        "image": reward.image,
        "enabled": reward.enabled,
    }


async def list_rewards(session: AsyncSession, *, tenant_id: int) -> list[Reward]:
    return await repository.rewards(session, tenant_id=tenant_id)


async def get_reward(session: AsyncSession, *, tenant_id: int, reward_id: int) -> Reward:
    reward = await repository.get_reward(session, tenant_id=tenant_id, reward_id=reward_id)
    if reward is None:
        raise RewardNotFound()
    return reward


async def _check_tiers(session: AsyncSession, tenant_id: int, tier_ids: list[int]) -> None:
    known = {t.id for t in await loyalty.list_tiers(session, tenant_id=tenant_id)}
    if set(tier_ids) - known:
        raise loyalty.TierNotFound()


async def local_times(session: AsyncSession, *, tenant_id: int, data: M) -> M:
    """`data` with its times given without a zone read as the shop's local time (as ops mean them)."""
    timezone = (await tenants.get_tenant(session, tenant_id)).timezone
    return localise_fields(data, timezone)


async def create_reward(session: AsyncSession, *, actor: Principal, data: RewardIn) -> Reward:
    data = await local_times(session, tenant_id=actor.tenant_id, data=data)
    await _check_tiers(session, actor.tenant_id, data.tier_ids)
    values = data.model_dump()
    if data.kind == RewardKind.virtual_code:
        values["stock"] = 0  # codes bring the stock
    reward = Reward(tenant_id=actor.tenant_id, id=new_id(), sold=0, description=values.pop("description"), **values)
    repository.add(session, reward)
    await session.flush()
    audit.record(
        session, actor=actor, action="reward.create", target_type="reward", target_id=reward.id, after=_view(reward)
    )
    return reward


async def update_reward(session: AsyncSession, *, actor: Principal, reward_id: int, data: RewardIn) -> Reward:
    reward = await get_reward(session, tenant_id=actor.tenant_id, reward_id=reward_id)
    data = await local_times(session, tenant_id=actor.tenant_id, data=data)
    await _check_tiers(session, actor.tenant_id, data.tier_ids)
    reward = await repository.fresh_reward(session, tenant_id=actor.tenant_id, reward_id=reward_id) or reward
    values = data.model_dump()
    if reward.kind == RewardKind.virtual_code or data.kind == RewardKind.virtual_code:
        if data.kind != reward.kind:
            raise StockFromCodes("兑换码奖品不能改成其他类型，其他奖品也不能改成兑换码奖品")
        values.pop("stock")  # the pool decides
    before = _view(reward)
    for key, value in values.items():
        setattr(reward, key, value)
    await session.flush()
    after = _view(reward)
    audit.record_change(
        session,
        actor=actor,
        action="reward.update",
        target_type="reward",
        target_id=reward.id,
        before=before,
        after=after,
    )
    return reward


async def delete_reward(session: AsyncSession, *, actor: Principal, reward_id: int) -> None:
    reward = await get_reward(session, tenant_id=actor.tenant_id, reward_id=reward_id)
    if await repository.has_redemptions(session, tenant_id=actor.tenant_id, reward_id=reward_id):
        raise RewardInUse()
    before = _view(reward)
    await repository.delete_reward(session, reward)
    await session.flush()
    audit.record(session, actor=actor, action="reward.delete", target_type="reward", target_id=reward_id, before=before)


async def set_image(session: AsyncSession, *, actor: Principal, reward_id: int, data: bytes, data_dir: Path) -> Reward:
    reward = await get_reward(session, tenant_id=actor.tenant_id, reward_id=reward_id)
    name = images.store(data_dir, actor.tenant_id, data)
    if reward.image != name:
        before, reward.image = reward.image, name
        await session.flush()
        audit.record(
            session,
            actor=actor,
            action="reward.image",
            target_type="reward",
            target_id=reward.id,
            before={"image": before},
            after={"image": name},
        )
    return reward


async def import_codes(
    session: AsyncSession, *, actor: Principal, reward_id: int, data: bytes, filename: str
) -> ImportReport:
    """Add codes to a virtual reward's pool, one per line. Blank lines, codes too long, codes twice in the file
    and codes already in the pool are reported by row; the others are added and raise the stock by as many."""
    reward = await get_reward(session, tenant_id=actor.tenant_id, reward_id=reward_id)
    if reward.kind != RewardKind.virtual_code:
        raise NotACodeReward()
    lines = files.code_lines(data, filename)
    known = await repository.existing_codes(
        session, tenant_id=actor.tenant_id, reward_id=reward_id, codes=[line.value for line in lines if line.value]
    )
    problems: list[RowProblem] = []
    fresh: list[str] = []
    seen: dict[str, int] = {}
    for line in lines:
        if not line.value:
            problems.append(RowProblem(row=line.row, value="", reason="空行"))
        elif len(line.value) > files.MAX_CODE:
            problems.append(RowProblem(row=line.row, value=line.value[:40], reason=f"超过 {files.MAX_CODE} 个字符"))
        elif line.value in seen:
            problems.append(RowProblem(row=line.row, value=line.value, reason=f"与第 {seen[line.value]} 行重复"))
        elif line.value in known:
            problems.append(RowProblem(row=line.row, value=line.value, reason="已经导入过"))
        else:
            seen[line.value] = line.row
            fresh.append(line.value)
    now = utcnow()
    for code in fresh:
        repository.add(
            session, Code(tenant_id=actor.tenant_id, id=new_id(), reward_id=reward_id, code=code, created_at=now)
        )
    await session.flush()
    if fresh:
        await repository.add_stock(session, tenant_id=actor.tenant_id, reward_id=reward_id, amount=len(fresh))
        audit.record(
            session,
            actor=actor,
            action="reward.codes",
            target_type="reward",
            target_id=reward_id,
            after={"added": len(fresh), "refused": len(problems), "file": filename[:100]},
        )
    return ImportReport(applied=len(fresh), problems=problems)


async def unclaimed_codes(session: AsyncSession, *, tenant_id: int, reward_id: int) -> int:
    await get_reward(session, tenant_id=tenant_id, reward_id=reward_id)
    return await repository.unclaimed_codes(session, tenant_id=tenant_id, reward_id=reward_id)


# What a fan sees


def is_visible(reward: Reward, now: datetime) -> bool:
    return (
        reward.enabled
        and (reward.visible_from is None or reward.visible_from <= now)
        and (reward.visible_until is None or now < reward.visible_until)
    )


def is_open(reward: Reward, now: datetime) -> bool:
    return (reward.redeem_from is None or reward.redeem_from <= now) and (
        reward.redeem_until is None or now < reward.redeem_until
    )


@dataclass(frozen=True)
class Shelf:
    rewards: list[Reward]
    categories: list[str]


async def shelf(
    session: AsyncSession, *, tenant_id: int, category: str | None = None, now: datetime | None = None
) -> Shelf:
    """The rewards a fan sees now (categories in their order of appearance)."""
    now = now or utcnow()
    visible = [
        r for r in await repository.rewards(session, tenant_id=tenant_id, enabled_only=True) if is_visible(r, now)
    ]
    categories = list(dict.fromkeys(r.category for r in visible if r.category))
    if category:
        visible = [r for r in visible if r.category == category]
    return Shelf(visible, categories)


async def visible_reward(
    session: AsyncSession, *, tenant_id: int, reward_id: int, now: datetime | None = None
) -> Reward:
    reward = await repository.get_reward(session, tenant_id=tenant_id, reward_id=reward_id)
    if reward is None or not is_visible(reward, now or utcnow()):
        raise RewardNotFound()
    return reward


# Addresses


async def addresses(session: AsyncSession, *, tenant_id: int, member_id: int) -> list[Address]:
    return await repository.addresses(session, tenant_id=tenant_id, member_id=member_id)


async def get_address(session: AsyncSession, *, tenant_id: int, member_id: int, address_id: int) -> Address:
    row = await repository.get_address(session, tenant_id=tenant_id, member_id=member_id, address_id=address_id)
    if row is None:
        raise AddressNotFound()
    return row


async def add_address(
    session: AsyncSession, *, tenant_id: int, member_id: int, data: AddressIn, make_default: bool = False
) -> Address:
    """Save an address; the first one is the default."""
    saved = await repository.addresses(session, tenant_id=tenant_id, member_id=member_id)
    if len(saved) >= MAX_ADDRESSES:
        raise TooManyAddresses()
    if make_default and saved:
        await repository.clear_default(session, tenant_id=tenant_id, member_id=member_id)
    row = Address(
        tenant_id=tenant_id, id=new_id(), member_id=member_id, is_default=make_default or not saved, **data.model_dump()
    )
    repository.add(session, row)
    await session.flush()
    return row


async def update_address(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    address_id: int,
    data: AddressIn,
    make_default: bool = False,
) -> Address:
    """Change a saved address (redemptions keep the address they were given: each has its own copy)."""
    row = await get_address(session, tenant_id=tenant_id, member_id=member_id, address_id=address_id)
    for key, value in data.model_dump().items():
        setattr(row, key, value)
    if make_default and not row.is_default:
        await repository.clear_default(session, tenant_id=tenant_id, member_id=member_id)
        row.is_default = True
    await session.flush()
    return row


async def make_default(session: AsyncSession, *, tenant_id: int, member_id: int, address_id: int) -> Address:
    row = await get_address(session, tenant_id=tenant_id, member_id=member_id, address_id=address_id)
    await repository.clear_default(session, tenant_id=tenant_id, member_id=member_id)
    row.is_default = True
    await session.flush()
    return row


async def remove_address(session: AsyncSession, *, tenant_id: int, member_id: int, address_id: int) -> None:
    row = await get_address(session, tenant_id=tenant_id, member_id=member_id, address_id=address_id)
    was_default = row.is_default
    await repository.delete_address(session, tenant_id=tenant_id, address_id=address_id)
    if was_default:
        rest = await repository.addresses(session, tenant_id=tenant_id, member_id=member_id)
        if rest:
            rest[0].is_default = True
    await session.flush()


def address_snapshot(address: Address | AddressIn) -> dict[str, Any]:
    return {"name": address.name, "phone": address.phone, "region": address.region, "detail": address.detail}


# Redemptions: lists and statistics


async def get_redemption(session: AsyncSession, *, tenant_id: int, redemption_id: int) -> Redemption:
    row = await repository.get_redemption(session, tenant_id=tenant_id, redemption_id=redemption_id)
    if row is None:
        raise RedemptionNotFound()
    return row


async def redemption_of_member(
    session: AsyncSession, *, tenant_id: int, member_id: int, redemption_id: int
) -> Redemption:
    row = await get_redemption(session, tenant_id=tenant_id, redemption_id=redemption_id)
    if row.member_id != member_id:
        raise RedemptionNotFound()
    return row


async def redemptions_of(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int = 50) -> list[Redemption]:
    return await repository.of_member(session, tenant_id=tenant_id, member_id=member_id, limit=limit)


async def search(
    session: AsyncSession,
    *,
    tenant_id: int,
    status: str | None = None,
    reward_id: int | None = None,
    member_id: int | None = None,
    page: PageRequest,
    sort: Sort | None = None,
) -> Page[Redemption]:
    return await repository.search(
        session, tenant_id=tenant_id, status=status, reward_id=reward_id, member_id=member_id, page=page, sort=sort
    )


REDEMPTION_SORTS = tuple(repository.REDEMPTION_SORTS)


async def stats(session: AsyncSession, *, tenant_id: int) -> StatsOut:
    rewards = {r.id: r for r in await repository.rewards(session, tenant_id=tenant_id)}
    per_reward = await repository.per_reward(session, tenant_id=tenant_id)
    lines = [
        RewardStats(
            reward_id=reward_id,
            title=rewards[reward_id].title if reward_id in rewards else str(reward_id),
            redeemed=n,
            points=points,
            stock=rewards[reward_id].stock if reward_id in rewards else None,
        )
        for reward_id, n, points in sorted(per_reward, key=lambda line: -line[1])
    ]
    return StatsOut(
        by_status=await repository.status_counts(session, tenant_id=tenant_id),
        points_spent=sum(line.points for line in lines),
        rewards=lines,
    )


class NoAddressNeeded(Conflict):
    code = "no_address_needed"
    message = "这笔兑换不需要收货地址"


class AddressLocked(Conflict):
    code = "address_locked"
    message = "包裹已经发出，不能再改收货地址了"


# Until it ships (there is no picked state: the pick list is an export), the parcel can still go elsewhere.
ADDRESS_OPEN = (Status.awaiting_address, Status.pending_shipment)


def _one_line(address: dict[str, Any] | None) -> str | None:
    """An address as the audit log shows it to ops: in words, not a structure."""
    if not address:
        return None
    return " ".join(str(address.get(k) or "") for k in ("name", "phone", "region", "detail")).strip()


def address_changeable(row: Redemption) -> bool:
    return row.kind == RewardKind.physical and row.status in ADDRESS_OPEN


async def set_address(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    redemption_id: int,
    address_id: int | None = None,
    address: AddressIn | None = None,
) -> Redemption:
    """Where to send her goods (a prize waiting for it, or a redemption not yet shipped): a saved address, or a
    new one that is then saved. The row is locked, so ops shipping it at the same moment come first or after."""
    row = await repository.lock_redemption(session, tenant_id=tenant_id, redemption_id=redemption_id)
    if row is None or row.member_id != member_id:
        raise RedemptionNotFound()
    if row.kind != RewardKind.physical:
        raise NoAddressNeeded()
    if row.status not in ADDRESS_OPEN:
        raise AddressLocked(f"这笔兑换{STATUS_LABELS.get(row.status, row.status)}，不能再改收货地址了")
    if address is not None:
        snapshot = address_snapshot(address)
        if len(await addresses(session, tenant_id=tenant_id, member_id=member_id)) < MAX_ADDRESSES:
            await add_address(session, tenant_id=tenant_id, member_id=member_id, data=address)
    elif address_id is not None:
        snapshot = address_snapshot(
            await get_address(session, tenant_id=tenant_id, member_id=member_id, address_id=address_id)
        )
    else:
        raise InvalidInput("请选择或填写收货地址", code="address_required")
    before = {"status": row.status, "address": _one_line(row.address)}
    row.address = snapshot
    row.status = Status.pending_shipment
    await session.flush()
    audit.record(
        session,
        actor=Principal(tenant_id=tenant_id, kind="member", actor_id=member_id, label=f"会员 {member_id}"),
        action="redemption.address",
        target_type="redemption",
        target_id=row.id,
        before=before,
        after={"status": row.status, "address": _one_line(row.address)},
    )
    return row


# For analytics


async def redemption_totals(
    session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime
) -> tuple[int, int]:
    """(redemptions made in [start, end) and not cancelled, the points they cost)."""
    return await repository.redemption_totals(session, tenant_id=tenant_id, start=start, end=end)


async def draw_totals(session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime) -> tuple[int, int]:
    """(lottery draws made in [start, end), the points they cost)."""
    return await repository.draw_totals(session, tenant_id=tenant_id, start=start, end=end)


# Rewards given, not bought: a lottery's prize, a leaderboard's prize, a check-in's day-N gift


def gift_key(source: str, *parts: object) -> str:
    """The redemption key of a reward given for `source` ("lottery", "board", "checkin"): unique per member, so the
    same occasion never gives twice."""
    return ":".join((source, *(str(p) for p in parts)))


async def give(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    reward_id: int,
    key: str,
    day: date,
    now: datetime,
) -> Redemption | None:
    """A redemption of the reward that costs her nothing, taken from its stock (a code reserved for a virtual
    reward). None, with nothing taken, when the reward is gone or out of stock. Goods wait for her
    address before they can ship. The key (`gift_key`) is unique per member: the caller owns "once"."""
    reward = await repository.fresh_reward(session, tenant_id=tenant_id, reward_id=reward_id)
    if reward is None:
        return None
    if not await repository.take_stock(session, tenant_id=tenant_id, reward_id=reward_id):
        return None
    redemption_id = new_id()
    code = None
    if reward.kind == RewardKind.virtual_code:
        postgres = session.get_bind().dialect.name == "postgresql"
        code = await repository.claim_code(
            session, tenant_id=tenant_id, reward_id=reward_id, redemption_id=redemption_id, now=now, postgres=postgres
        )
        if code is None:
            await repository.give_back_stock(session, tenant_id=tenant_id, reward_id=reward_id)
            return None
    redemption = _free_redemption(
        tenant_id,
        member_id,
        reward,
        key=key,
        day=day,
        now=now,
        redemption_id=redemption_id,
        status=Status.awaiting_address if reward.kind == RewardKind.physical else Status.completed,
        code=code,
    )
    repository.add(session, redemption)
    return redemption


def _free_redemption(
    tenant_id: int,
    member_id: int,
    reward: Reward,
    *,
    key: str,
    day: date,
    now: datetime,
    status: str,
    redemption_id: int | None = None,
    address: dict[str, Any] | None = None,
    code: str | None = None,
) -> Redemption:
    """A redemption that spent no points: a reward given (a prize, a gift) or an item another programme ships."""
    return Redemption(
        tenant_id=tenant_id,
        id=redemption_id or new_id(),
        member_id=member_id,
        reward_id=reward.id,
        idempotency_key=key[:64],
        kind=reward.kind,
        title=reward.title,
        points=0,
        status=status,
        day=day,
        address=address,
        code=code,
        created_at=now,
    )


# Items another programme gives away (a product trial's winners): shipped through the same fulfilment queue


SHIPPING_CATEGORY = "商品试用"


async def shipping_item(session: AsyncSession, *, tenant_id: int, title: str, image: str | None = None) -> Reward:
    """A catalogue entry that is never on the shelf (disabled, not redeemable), so that what another programme
    gives away can be shipped, tracked and cancelled like a redemption."""
    reward = Reward(
        tenant_id=tenant_id,
        id=new_id(),
        kind=RewardKind.physical,
        title=title[:60],
        description="",
        category=SHIPPING_CATEGORY,
        points_price=1,
        stock=None,
        sold=0,
        limit_per_member=None,
        limit_per_day=None,
        tier_ids=[],
        image=image,
        enabled=False,
    )
    repository.add(session, reward)
    await session.flush()
    return reward


async def ship_item(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    reward_id: int,
    key: str,
    address: dict[str, Any],
    day: date,
    now: datetime | None = None,
) -> Redemption:
    """A fulfilment entry (待发货, no points spent) of a `shipping_item` for her address; once per `key` (the
    same key again returns the entry already made)."""
    earlier = await repository.by_idempotency_key(session, tenant_id=tenant_id, member_id=member_id, key=key)
    if earlier is not None:
        return earlier
    reward = await get_reward(session, tenant_id=tenant_id, reward_id=reward_id)
    row = _free_redemption(
        tenant_id,
        member_id,
        reward,
        key=key,
        day=day,
        now=now or utcnow(),
        status=Status.pending_shipment,
        address=address,
    )
    await repository.take_stock(session, tenant_id=tenant_id, reward_id=reward.id)  # unlimited: counts it as given
    repository.add(session, row)
    await session.flush()
    return row


lives_in = repository.lives_in  # (an SQL condition over a member's columns, for saved segments)
