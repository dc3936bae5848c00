"""Points ledger operations: earn, post, void, spend, refund, clawback, expire, adjust, merge.

Every operation on a member first locks her balance row (two members: in primary-key order), then
expires her lots that are due, then writes its entries, lot changes, allocations and balance in the
caller's transaction. Nothing here commits.

Accounting (checked by siyu.ledger.audit.check_invariants):
- available == sum(entries.amount) == sum(remaining of posted lots) - debt
- pending == sum(entries.pending_amount) == sum(remaining of pending lots)
- debt is what a clawback could not take because the points were already spent. Any points that become
  available later (an earn, a post, a refund, a merge) pay it off first, so debt > 0 only while the
  member has no posted points left; available is then -debt.

Exactly once: (kind, source_ref) is unique per tenant and a source is credited at most once (one lot per
source). A new credit or spend with a used source_ref is refused (already_credited, duplicate_source);
a resolution that already happened (post, void, refund, clawback of the same share, merge) is a no-op
that returns None, so jobs can run again safely.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.kit.db import adopt, adopt_new
from siyu.kit.errors import Conflict, InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import refs, repository
from siyu.ledger.models import Allocation, Entry, EntryKind, Lot, LotStatus
from siyu.ledger.repository import Account
from siyu.ledger.repository import available_of as available_of  # (an SQL expression, to sort members by)
from siyu.ledger.repository import holds_more_than as holds_more_than  # (an SQL condition, to filter members by)
from siyu.members import service as members


class InvalidAmount(InvalidInput):
    code = "invalid_amount"
    message = "积分数量必须是大于 0 的整数"


class InvalidExpiry(InvalidInput):
    code = "invalid_expiry"
    message = "积分的过期时间必须晚于现在"


class InvalidFraction(InvalidInput):
    code = "invalid_fraction"
    message = "退款比例不正确"


class ReasonRequired(InvalidInput):
    code = "reason_required"
    message = "请填写调整积分的原因"


class MergeIntoSelf(InvalidInput):
    code = "merge_into_self"
    message = "不能把会员合并到自己"


class EntryNotFound(NotFound):
    code = "points_record_not_found"
    message = "找不到这笔积分记录"


class InsufficientPoints(Conflict):
    code = "insufficient_points"
    message = "可用积分不足"


class AlreadyCredited(Conflict):
    code = "already_credited"
    message = "这笔订单已经换过积分了"


class DuplicateSource(Conflict):
    code = "duplicate_source"
    message = "这笔积分操作已经处理过了"


class AlreadyPosted(Conflict):
    code = "already_posted"
    message = "这笔积分已经入账，不能再取消"


class AlreadyVoided(Conflict):
    code = "already_voided"
    message = "这笔待入账积分已经取消"


class NotPending(Conflict):
    code = "not_pending"
    message = "这笔积分不是待入账积分"


class MemberMerged(Conflict):
    code = "member_merged"
    message = "这位会员已合并到其他会员"


class AlreadyMerged(Conflict):
    code = "already_merged"
    message = "这位会员已经合并到另一位会员了"


MAX_POINTS = 1_000_000_000  # one operation; keeps sums far from 64-bit limits
MAX_REASON = 200


@dataclass
class Spend:
    entry: Entry
    allocations: list[Allocation]  # which lots it drew, soonest-expiring first


@dataclass
class _Moves:
    """Changes of lots' `remaining` by entry, written as allocation rows (net per entry and lot)."""

    tenant_id: int
    rows: dict[tuple[int, int], int] = field(default_factory=dict)

    def draw(self, entry: Entry, lot: Lot, points: int) -> None:
        lot.remaining -= points
        key = (entry.id, lot.id)
        self.rows[key] = self.rows.get(key, 0) + points

    def give_back(self, entry: Entry, lot: Lot, points: int) -> None:
        self.draw(entry, lot, -points)

    async def write(self, session: AsyncSession) -> list[Allocation]:
        written = [
            Allocation(tenant_id=self.tenant_id, entry_id=entry_id, lot_id=lot_id, amount=amount)
            for (entry_id, lot_id), amount in self.rows.items()
            if amount != 0
        ]
        for allocation in written:
            repository.add(session, allocation)
        self.rows.clear()
        await session.flush()
        return written


# Building blocks


def _check_amount(amount: int) -> None:
    if not 0 < amount <= MAX_POINTS:
        raise InvalidAmount(amount=amount)


def _is_duplicate_source(error: IntegrityError) -> bool:
    message = str(error.orig)
    return "source_ref" in message and ("UNIQUE" in message or "unique" in message)


def _entry_values(
    *,
    tenant_id: int,
    member_id: int,
    kind: EntryKind,
    source_ref: str,
    explanation: str,
    now: datetime,
    amount: int = 0,
    pending_amount: int = 0,
    lot_id: int | None = None,
    created_by: str | None = None,
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "id": new_id(),
        "member_id": member_id,
        "kind": str(kind),
        "amount": amount,
        "pending_amount": pending_amount,
        "source_ref": source_ref,
        "lot_id": lot_id,
        "explanation": explanation[:300],
        "created_by": created_by,
        "created_at": now,
    }


def _lot_values(
    entry: dict[str, Any],
    *,
    amount: int,
    pending: bool,
    now: datetime,
    post_after: datetime | None = None,
    expires_at: datetime | None = None,
) -> dict[str, Any]:
    return {
        "tenant_id": entry["tenant_id"],
        "id": entry["lot_id"],
        "member_id": entry["member_id"],
        "entry_id": entry["id"],
        "source_ref": entry["source_ref"],
        "amount": amount,
        "remaining": amount,
        "status": str(LotStatus.pending if pending else LotStatus.posted),
        "post_after": post_after,
        "expires_at": expires_at,
        "created_at": now,
    }


async def _add_entry(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    kind: EntryKind,
    source_ref: str,
    explanation: str,
    now: datetime,
    amount: int = 0,
    pending_amount: int = 0,
    lot_id: int | None = None,
    created_by: str | None = None,
) -> Entry:
    """Write one entry (a plain INSERT; the entry returned is not tracked by the session: entries never change)."""
    values = _entry_values(
        tenant_id=tenant_id,
        member_id=member_id,
        kind=kind,
        source_ref=source_ref,
        explanation=explanation,
        now=now,
        amount=amount,
        pending_amount=pending_amount,
        lot_id=lot_id,
        created_by=created_by,
    )
    try:
        await repository.insert_entry(session, values)
    except IntegrityError as error:
        # Two transactions raced past the check for the same source: the database decided.
        if _is_duplicate_source(error):
            raise (AlreadyCredited() if kind in _CREDITS else DuplicateSource()) from error
        raise
    entry = Entry(**values)
    adopt(session, entry, values)
    return entry


_CREDITS = {EntryKind.earn, EntryKind.earn_pending, EntryKind.adjust}


async def _add_lot(
    session: AsyncSession,
    *,
    tenant_id: int,
    entry: Entry,
    amount: int,
    pending: bool,
    now: datetime,
    post_after: datetime | None = None,
    expires_at: datetime | None = None,
) -> None:
    assert entry.lot_id is not None
    of_entry: dict[str, Any] = {"tenant_id": tenant_id, "lot_id": entry.lot_id, "member_id": entry.member_id}
    of_entry.update(id=entry.id, source_ref=entry.source_ref)
    values = _lot_values(
        of_entry, amount=amount, pending=pending, now=now, post_after=post_after, expires_at=expires_at
    )
    try:
        await repository.insert_lot(session, values)
    except IntegrityError as error:
        if _is_duplicate_source(error):
            raise AlreadyCredited() from error
        raise


async def _expire_due(session: AsyncSession, *, tenant_id: int, account: Account, now: datetime) -> int:
    """Expire what is left of the member's posted lots past their expiry: one expire entry per lot."""
    lots = await repository.due_lots(session, tenant_id=tenant_id, member_id=account.member_id, now=now)
    if not lots:
        return 0
    moves = _Moves(tenant_id)
    total = 0
    for lot in lots:
        points = lot.remaining
        entry = await _add_entry(
            session,
            tenant_id=tenant_id,
            member_id=account.member_id,
            kind=EntryKind.expire,
            source_ref=f"lot:{lot.id}",
            amount=-points,
            lot_id=lot.id,
            explanation=f"{points} 积分已过期",
            now=now,
        )
        moves.draw(entry, lot, points)
        total += points
    await moves.write(session)
    await repository.change_balance(session, tenant_id=tenant_id, account=account, now=now, available=-total)
    return len(lots)


HELD = "siyu.ledger.held"


def _held(session: AsyncSession) -> dict[tuple[int, int], tuple[Account, datetime | None]]:
    """The balances this transaction has locked, as it last saw them (every change goes through them), and
    the time her due lots were last expired."""
    transaction = session.get_nested_transaction() or session.get_transaction()
    memo = session.info.get(HELD)
    if memo is None or memo[0] is not transaction:
        memo = (transaction, {})
        session.info[HELD] = memo
    held: dict[tuple[int, int], tuple[Account, datetime | None]] = memo[1]
    return held


def forget_held(session: AsyncSession) -> None:
    """Balances were changed set-wise (the batch path): lock and read them afresh next time."""
    session.info.pop(HELD, None)


async def _lock(session: AsyncSession, *, tenant_id: int, member_id: int, now: datetime) -> Account:
    account = await repository.lock_account(session, tenant_id=tenant_id, member_id=member_id, now=now)
    # Nothing due when locked: as good as expired at `now`.
    _held(session)[(tenant_id, member_id)] = (account, None if account.due else now)
    return account


async def _open(session: AsyncSession, *, tenant_id: int, member_id: int, now: datetime) -> Account:
    """Lock the member's balance (she must exist in this tenant and not be merged away) and expire her due lots.
    Opening her again in the same transaction (a claim, then its credit) finds her locked and expired already."""
    held = _held(session)
    account, expired_at = held.get((tenant_id, member_id), (None, None))
    if account is None:
        await members.get_member(session, tenant_id=tenant_id, member_id=member_id)
        account = await _lock(session, tenant_id=tenant_id, member_id=member_id, now=now)
        expired_at = held[(tenant_id, member_id)][1]
    if account.merged_into is not None:
        raise MemberMerged()
    if expired_at is None or expired_at < now:
        await _expire_due(session, tenant_id=tenant_id, account=account, now=now)
        held[(tenant_id, member_id)] = (account, now)
    return account


async def _open_lot(session: AsyncSession, *, tenant_id: int, source_ref: str, now: datetime) -> tuple[Lot, Account]:
    """The credit of a source and its owner's locked balance (a merge may move the lot meanwhile: follow it)."""
    for _attempt in range(5):
        lot = await repository.find_lot(session, tenant_id=tenant_id, source_ref=source_ref)
        if lot is None:
            raise EntryNotFound()
        account = await _lock(session, tenant_id=tenant_id, member_id=lot.member_id, now=now)
        lot = await repository.find_lot(session, tenant_id=tenant_id, source_ref=source_ref)
        if lot is not None and lot.member_id == account.member_id:
            await _expire_due(session, tenant_id=tenant_id, account=account, now=now)
            return lot, account
    raise Conflict("积分记录正在变动，请稍后重试", code="ledger_busy")


async def _draw(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    points: int,
    entry: Entry,
    moves: _Moves,
    now: datetime,
    skip_lot: int | None = None,
) -> int:
    """Draw up to `points` from the member's posted lots, soonest-expiring first. Returns what was drawn."""
    left = points
    for lot in await repository.drawable_lots(session, tenant_id=tenant_id, member_id=member_id, now=now):
        if left == 0:
            break
        if lot.id == skip_lot:
            continue
        take = min(left, lot.remaining)
        moves.draw(entry, lot, take)
        left -= take
    return points - left


async def _settle_debt(
    session: AsyncSession, *, tenant_id: int, account: Account, entry: Entry, moves: _Moves, now: datetime
) -> int:
    """Pay the member's debt from her posted points (by the entry that made them available)."""
    if account.debt <= 0:
        return 0
    paid = await _draw(
        session,
        tenant_id=tenant_id,
        member_id=account.member_id,
        points=account.debt,
        entry=entry,
        moves=moves,
        now=now,
    )
    if paid:
        await repository.change_balance(session, tenant_id=tenant_id, account=account, now=now, debt=-paid)
    return paid


def posted_note(source_ref: str, points: int) -> str:
    """How a post entry reads for the fan."""
    number = refs.order_number(source_ref)
    if number is not None:
        return f"订单 {number} 的 {points} 积分已入账"
    return f"{points} 积分已入账"


def _repay_note(account: Account, points: int) -> str:
    repaid = min(account.debt, points)
    return f"（其中 {repaid} 积分抵扣了之前退款扣回的欠分）" if repaid > 0 else ""


async def _debit(
    session: AsyncSession,
    *,
    tenant_id: int,
    account: Account,
    points: int,
    kind: EntryKind,
    source_ref: str,
    explanation: str,
    created_by: str | None,
    now: datetime,
) -> Spend:
    # One conditional UPDATE decides: never below zero, whoever else is spending.
    if not await repository.change_balance(
        session, tenant_id=tenant_id, account=account, now=now, available=-points, keep_available=points
    ):
        raise InsufficientPoints(available=max(account.available, 0), requested=points)
    entry = await _add_entry(
        session,
        tenant_id=tenant_id,
        member_id=account.member_id,
        kind=kind,
        source_ref=source_ref,
        amount=-points,
        explanation=explanation,
        created_by=created_by,
        now=now,
    )
    moves = _Moves(tenant_id)
    drawn = await _draw(
        session, tenant_id=tenant_id, member_id=account.member_id, points=points, entry=entry, moves=moves, now=now
    )
    if drawn != points:  # the balance said yes but the lots say no: refuse rather than write a lie
        raise RuntimeError(f"ledger out of balance for member {account.member_id}: lots hold {drawn} < {points}")
    return Spend(entry=entry, allocations=await moves.write(session))  # in drawing order


# Operations


async def earn(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    amount: int,
    source_ref: str,
    explanation: str = "订单积分",
    pending: bool = False,
    post_after: datetime | None = None,
    expires_at: datetime | None = None,
    created_by: str | None = None,
    now: datetime | None = None,
) -> Entry:
    """Credit points from one source (an order): held (pending) until posted, or available at once.
    Available points first pay off any debt."""
    now = now or utcnow()
    _check_amount(amount)
    if expires_at is not None and expires_at <= now:
        raise InvalidExpiry()
    if post_after is not None and not pending:
        raise InvalidInput("只有待入账的积分才有入账时间", code="invalid_post_after")
    account = await _open(session, tenant_id=tenant_id, member_id=member_id, now=now)
    values = _entry_values(
        tenant_id=tenant_id,
        member_id=member_id,
        kind=EntryKind.earn_pending if pending else EntryKind.earn,
        source_ref=source_ref,
        amount=0 if pending else amount,
        pending_amount=amount if pending else 0,
        lot_id=new_id(),
        explanation=explanation + ("" if pending else _repay_note(account, amount)),
        created_by=created_by,
        now=now,
    )
    lot = _lot_values(values, amount=amount, pending=pending, now=now, post_after=post_after, expires_at=expires_at)
    try:
        owner = await repository.write_credit(
            session, tenant_id=tenant_id, account=account, entry=values, lot=lot, now=now
        )
    except IntegrityError as error:
        if _is_duplicate_source(error):  # a concurrent credit of the same source got there first
            raise AlreadyCredited() from error
        raise
    if owner is not None:
        raise AlreadyCredited(by_this_member=owner == member_id)
    entry = adopt_new(session, Entry, values)
    if pending or account.debt <= 0:  # nothing to pay off
        return entry
    moves = _Moves(tenant_id)
    await _settle_debt(session, tenant_id=tenant_id, account=account, entry=entry, moves=moves, now=now)
    await moves.write(session)
    return entry


async def post(
    session: AsyncSession,
    *,
    tenant_id: int,
    source_ref: str,
    created_by: str | None = None,
    now: datetime | None = None,
) -> Entry | None:
    """Held points of a source become available (at most once; None when already posted)."""
    now = now or utcnow()
    lot, account = await _open_lot(session, tenant_id=tenant_id, source_ref=source_ref, now=now)
    if lot.status == LotStatus.voided:
        raise AlreadyVoided()
    if lot.status == LotStatus.posted:
        if await repository.find_entry(session, tenant_id=tenant_id, kind=EntryKind.post, source_ref=source_ref):
            return None
        raise NotPending()
    points = lot.remaining
    entry = await _add_entry(
        session,
        tenant_id=tenant_id,
        member_id=account.member_id,
        kind=EntryKind.post,
        source_ref=source_ref,
        amount=points,
        pending_amount=-points,
        lot_id=lot.id,
        explanation=posted_note(source_ref, points) + _repay_note(account, points),
        created_by=created_by,
        now=now,
    )
    lot.status = LotStatus.posted
    await repository.change_balance(
        session, tenant_id=tenant_id, account=account, now=now, available=points, pending=-points
    )
    if lot.expires_at is not None and lot.expires_at <= now:
        # Held points do not expire while held; posted after their expiry, they expire at once.
        await _expire_due(session, tenant_id=tenant_id, account=account, now=now)
    moves = _Moves(tenant_id)
    await _settle_debt(session, tenant_id=tenant_id, account=account, entry=entry, moves=moves, now=now)
    await moves.write(session)
    return entry


async def schedule_post(
    session: AsyncSession,
    *,
    tenant_id: int,
    source_ref: str,
    post_after: datetime,
    created_by: str | None = None,
    now: datetime | None = None,
) -> Entry | None:
    """The hold of a source's held points ends at `post_after` (its order was completed): posted at once when
    that moment has passed, else by the post sweep. Returns the post entry when posted now.
    Nothing happens to points already posted or voided."""
    now = now or utcnow()
    lot, _account = await _open_lot(session, tenant_id=tenant_id, source_ref=source_ref, now=now)
    if lot.status != LotStatus.pending:
        return None
    if post_after <= now:
        return await post(session, tenant_id=tenant_id, source_ref=source_ref, created_by=created_by, now=now)
    if lot.post_after != post_after:
        await repository.set_post_after(session, tenant_id=tenant_id, lot_id=lot.id, post_after=post_after)
        lot.post_after = post_after
    return None


async def lock_member(session: AsyncSession, *, tenant_id: int, member_id: int, now: datetime | None = None) -> Points:
    """Lock the member's points for the rest of the transaction (for decisions taken before an operation,
    e.g. a campaign's daily cap) and return her balance after expiring her due lots."""
    account = await _open(session, tenant_id=tenant_id, member_id=member_id, now=now or utcnow())
    return Points(account.available, account.pending, account.debt)


async def void(
    session: AsyncSession,
    *,
    tenant_id: int,
    source_ref: str,
    explanation: str = "订单已关闭或退款，待入账积分已取消",
    created_by: str | None = None,
    now: datetime | None = None,
) -> Entry | None:
    """Cancel held points of a source (at most once; None when already voided)."""
    now = now or utcnow()
    lot, account = await _open_lot(session, tenant_id=tenant_id, source_ref=source_ref, now=now)
    if lot.status == LotStatus.voided:
        return None
    if lot.status == LotStatus.posted:
        if await repository.find_entry(session, tenant_id=tenant_id, kind=EntryKind.post, source_ref=source_ref):
            raise AlreadyPosted()
        raise NotPending()
    points = lot.remaining
    entry = await _add_entry(
        session,
        tenant_id=tenant_id,
        member_id=account.member_id,
        kind=EntryKind.void,
        source_ref=source_ref,
        pending_amount=-points,
        lot_id=lot.id,
        explanation=explanation,
        created_by=created_by,
        now=now,
    )
    moves = _Moves(tenant_id)
    moves.draw(entry, lot, points)
    lot.status = LotStatus.voided
    await moves.write(session)
    await repository.change_balance(session, tenant_id=tenant_id, account=account, now=now, pending=-points)
    return entry


async def spend(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    amount: int,
    source_ref: str,
    explanation: str = "积分兑换",
    created_by: str | None = None,
    now: datetime | None = None,
) -> Spend:
    """Spend available points, drawing posted lots soonest-expiring first (ties: oldest; never-expiring last)."""
    now = now or utcnow()
    _check_amount(amount)
    account = await _open(session, tenant_id=tenant_id, member_id=member_id, now=now)
    if await repository.find_entry(session, tenant_id=tenant_id, kind=EntryKind.spend, source_ref=source_ref):
        raise DuplicateSource()
    return await _debit(
        session,
        tenant_id=tenant_id,
        account=account,
        points=amount,
        kind=EntryKind.spend,
        source_ref=source_ref,
        explanation=explanation,
        created_by=created_by,
        now=now,
    )


async def refund_spend(
    session: AsyncSession,
    *,
    tenant_id: int,
    source_ref: str,
    created_by: str | None = None,
    now: datetime | None = None,
    reason: str = "兑换已取消",
) -> Entry | None:
    """Give a spend's points back to the lots they came from, with their original expiry. What came from
    lots that have expired meanwhile stays expired. At most once: None when already refunded. `reason` opens the
    entry's explanation ("兑换已取消，N 积分已退回")."""
    now = now or utcnow()
    spent = await repository.find_entry(session, tenant_id=tenant_id, kind=EntryKind.spend, source_ref=source_ref)
    if spent is None:
        raise EntryNotFound()
    drawn = await repository.allocations_of(session, tenant_id=tenant_id, entry_id=spent.id)
    lot_ids = [a.lot_id for a in drawn]
    for _attempt in range(5):
        lots = await repository.get_lots(session, tenant_id=tenant_id, lot_ids=lot_ids)
        owners = {lot.member_id for lot in lots.values()}
        if len(owners) != 1:
            raise RuntimeError(f"spend {spent.id} drew lots of {len(owners)} members")
        account = await _lock(session, tenant_id=tenant_id, member_id=owners.pop(), now=now)
        lots = await repository.get_lots(session, tenant_id=tenant_id, lot_ids=lot_ids)
        if all(lot.member_id == account.member_id for lot in lots.values()):
            break
    else:
        raise Conflict("积分记录正在变动，请稍后重试", code="ledger_busy")
    await _expire_due(session, tenant_id=tenant_id, account=account, now=now)
    if await repository.find_entry(session, tenant_id=tenant_id, kind=EntryKind.refund, source_ref=source_ref):
        return None
    returnable = [a for a in drawn if _alive(lots[a.lot_id], now)]
    returned = sum(a.amount for a in returnable)
    lost = sum(a.amount for a in drawn) - returned
    explanation = f"{reason}，{returned} 积分已退回" + (f"，{lost} 积分已过期未退回" if lost else "")
    entry = await _add_entry(
        session,
        tenant_id=tenant_id,
        member_id=account.member_id,
        kind=EntryKind.refund,
        source_ref=source_ref,
        amount=returned,
        explanation=explanation + _repay_note(account, returned),
        created_by=created_by,
        now=now,
    )
    moves = _Moves(tenant_id)
    for allocation in returnable:
        moves.give_back(entry, lots[allocation.lot_id], allocation.amount)
    await repository.change_balance(session, tenant_id=tenant_id, account=account, now=now, available=returned)
    await _settle_debt(session, tenant_id=tenant_id, account=account, entry=entry, moves=moves, now=now)
    await moves.write(session)
    return entry


def _alive(lot: Lot, now: datetime) -> bool:
    return lot.expires_at is None or lot.expires_at > now


async def clawback(
    session: AsyncSession,
    *,
    tenant_id: int,
    source_ref: str,
    numerator: int,
    denominator: int,
    created_by: str | None = None,
    now: datetime | None = None,
) -> Entry | None:
    """Take back the share numerator/denominator (the refunded part of an order) of a source's points,
    rounded down. The share is cumulative: a later, larger refund takes only the difference, and the part
    of the lot that expired unused counts as already gone. Held points are reduced; posted points are
    taken from the lot, then from the member's other points, and what she already spent becomes debt.
    None when there is nothing (more) to take."""
    now = now or utcnow()
    if denominator <= 0 or numerator < 0:
        raise InvalidFraction(numerator=numerator, denominator=denominator)
    numerator = min(numerator, denominator)
    ref = f"{source_ref}#refund:{numerator}/{denominator}"
    lot, account = await _open_lot(session, tenant_id=tenant_id, source_ref=source_ref, now=now)
    if lot.status == LotStatus.voided:
        return None
    if await repository.find_entry(session, tenant_id=tenant_id, kind=EntryKind.clawback, source_ref=ref):
        return None
    expired, already = await repository.lot_totals(session, tenant_id=tenant_id, lot_id=lot.id)
    due = max(0, lot.amount * numerator // denominator - expired) - already
    if due <= 0:
        return None
    moves = _Moves(tenant_id)
    if lot.status == LotStatus.pending:
        take = min(due, lot.remaining)
        entry = await _add_entry(
            session,
            tenant_id=tenant_id,
            member_id=account.member_id,
            kind=EntryKind.clawback,
            source_ref=ref,
            pending_amount=-take,
            lot_id=lot.id,
            explanation=f"订单部分退款，待入账积分按比例减少 {take}",
            created_by=created_by,
            now=now,
        )
        moves.draw(entry, lot, take)
        await moves.write(session)
        await repository.change_balance(session, tenant_id=tenant_id, account=account, now=now, pending=-take)
        return entry
    own = min(due, lot.remaining)
    posted_total = account.available + account.debt
    from_others = min(due - own, posted_total - lot.remaining)
    shortfall = due - own - from_others
    explanation = f"订单退款，按比例扣回 {due} 积分" + (
        f"，其中 {shortfall} 积分已经用掉，将从之后获得的积分中抵扣" if shortfall else ""
    )
    entry = await _add_entry(
        session,
        tenant_id=tenant_id,
        member_id=account.member_id,
        kind=EntryKind.clawback,
        source_ref=ref,
        amount=-due,
        lot_id=lot.id,
        explanation=explanation,
        created_by=created_by,
        now=now,
    )
    if own:
        moves.draw(entry, lot, own)
    if from_others:
        drawn = await _draw(
            session,
            tenant_id=tenant_id,
            member_id=account.member_id,
            points=from_others,
            entry=entry,
            moves=moves,
            now=now,
            skip_lot=lot.id,
        )
        if drawn != from_others:
            raise RuntimeError(f"ledger out of balance for member {account.member_id}")
    await moves.write(session)
    await repository.change_balance(
        session, tenant_id=tenant_id, account=account, now=now, available=-due, debt=shortfall
    )
    return entry


async def expire(
    session: AsyncSession, *, tenant_id: int, now: datetime | None = None, limit: int | None = None
) -> int:
    """Expire what is left of every posted lot past its expiry (one expire entry per lot). Idempotent.
    Members are locked in id order; `limit` bounds the lots looked at (run again for the rest).
    Returns the number of lots expired."""
    now = now or utcnow()
    due = await repository.due_lots(session, tenant_id=tenant_id, now=now, limit=limit)
    expired = 0
    for member_id in sorted({lot.member_id for lot in due}):
        account = await _lock(session, tenant_id=tenant_id, member_id=member_id, now=now)
        expired += await _expire_due(session, tenant_id=tenant_id, account=account, now=now)
    return expired


async def adjust(
    session: AsyncSession,
    *,
    tenant_id: int,
    member_id: int,
    amount: int,
    reason: str,
    actor: Principal,
    source_ref: str | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> Entry:
    """Staff add (amount > 0) or deduct (amount < 0) points with a reason, recorded in the audit log.
    A deduction never goes below zero."""
    now = now or utcnow()
    if amount == 0 or abs(amount) > MAX_POINTS:
        raise InvalidAmount(amount=amount)
    reason = reason.strip()
    if not reason:
        raise ReasonRequired()
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"原因最多 {MAX_REASON} 个字", code="reason_too_long")
    if expires_at is not None and expires_at <= now:
        raise InvalidExpiry()
    account = await _open(session, tenant_id=tenant_id, member_id=member_id, now=now)
    source_ref = source_ref or f"adjust:{uuid.uuid4()}"
    if await repository.find_entry(session, tenant_id=tenant_id, kind=EntryKind.adjust, source_ref=source_ref):
        raise DuplicateSource()
    before = account.available
    explanation = f"积分调整：{reason}"
    if amount < 0:
        entry = (
            await _debit(
                session,
                tenant_id=tenant_id,
                account=account,
                points=-amount,
                kind=EntryKind.adjust,
                source_ref=source_ref,
                explanation=explanation,
                created_by=actor.label,
                now=now,
            )
        ).entry
    else:
        entry = await _add_entry(
            session,
            tenant_id=tenant_id,
            member_id=member_id,
            kind=EntryKind.adjust,
            source_ref=source_ref,
            amount=amount,
            lot_id=new_id(),
            explanation=explanation + _repay_note(account, amount),
            created_by=actor.label,
            now=now,
        )
        await _add_lot(
            session, tenant_id=tenant_id, entry=entry, amount=amount, pending=False, expires_at=expires_at, now=now
        )
        await repository.change_balance(session, tenant_id=tenant_id, account=account, now=now, available=amount)
        moves = _Moves(tenant_id)
        await _settle_debt(session, tenant_id=tenant_id, account=account, entry=entry, moves=moves, now=now)
        await moves.write(session)
    audit.record(
        session,
        actor=actor,
        action="points.adjust",
        target_type="member",
        target_id=member_id,
        before={"available": before},
        after={"available": account.available, "amount": amount, "reason": reason, "entry_id": entry.id},
    )
    return entry


async def merge(
    session: AsyncSession,
    *,
    tenant_id: int,
    from_member_id: int,
    into_member_id: int,
    created_by: str | None = None,
    now: datetime | None = None,
) -> Entry | None:
    """Move one member's ledger into another's: lots (with their expiry and holds), debt and balances.
    The entries stay where they were written; a merge_out and a merge_in entry record the move.
    Returns the merge_in entry; None when this merge already happened."""
    now = now or utcnow()
    if from_member_id == into_member_id:
        raise MergeIntoSelf()
    for member_id in (from_member_id, into_member_id):
        await members.get_member(session, tenant_id=tenant_id, member_id=member_id)
    accounts = {
        member_id: await _lock(session, tenant_id=tenant_id, member_id=member_id, now=now)
        for member_id in sorted((from_member_id, into_member_id))
    }
    source, target = accounts[from_member_id], accounts[into_member_id]
    ref = f"merge:{from_member_id}"
    done = await repository.find_entry(session, tenant_id=tenant_id, kind=EntryKind.merge_in, source_ref=ref)
    if done is not None:
        if done.member_id == into_member_id:
            return None
        raise AlreadyMerged()
    if source.merged_into is not None or target.merged_into is not None:
        raise MemberMerged()
    for account in accounts.values():
        await _expire_due(session, tenant_id=tenant_id, account=account, now=now)
    available, pending, debt = source.available, source.pending, source.debt
    await _add_entry(
        session,
        tenant_id=tenant_id,
        member_id=from_member_id,
        kind=EntryKind.merge_out,
        source_ref=ref,
        amount=-available,
        pending_amount=-pending,
        explanation="账户已合并，积分转入合并后的会员",
        created_by=created_by,
        now=now,
    )
    entry = await _add_entry(
        session,
        tenant_id=tenant_id,
        member_id=into_member_id,
        kind=EntryKind.merge_in,
        source_ref=ref,
        amount=available,
        pending_amount=pending,
        explanation="合并了另一个会员账户的积分",
        created_by=created_by,
        now=now,
    )
    await repository.move_lots(
        session, tenant_id=tenant_id, from_member_id=from_member_id, into_member_id=into_member_id
    )
    await repository.mark_merged(session, tenant_id=tenant_id, account=source, into_member_id=into_member_id, now=now)
    await repository.change_balance(
        session, tenant_id=tenant_id, account=target, now=now, available=available, pending=pending, debt=debt
    )
    moves = _Moves(tenant_id)
    await _settle_debt(session, tenant_id=tenant_id, account=target, entry=entry, moves=moves, now=now)
    await moves.write(session)
    return entry


# Reading


@dataclass(frozen=True)
class Points:
    available: int
    pending: int
    debt: int


async def balance(session: AsyncSession, *, tenant_id: int, member_id: int) -> Points:
    """The member's balance (zeros when she never had points)."""
    await members.get_member(session, tenant_id=tenant_id, member_id=member_id)
    row = await repository.get_balance(session, tenant_id=tenant_id, member_id=member_id)
    return Points(0, 0, 0) if row is None else Points(row.available, row.pending, row.debt)


async def balances(session: AsyncSession, *, tenant_id: int, member_ids: Collection[int]) -> dict[int, Points]:
    """Each member's balance; members who never had points are missing (read them as zeros)."""
    rows = await repository.balances_of(session, tenant_id=tenant_id, member_ids=member_ids)
    return {row.member_id: Points(row.available, row.pending, row.debt) for row in rows}


async def recent_entries(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int = 20) -> list[Entry]:
    await members.get_member(session, tenant_id=tenant_id, member_id=member_id)
    return await repository.recent_entries(session, tenant_id=tenant_id, member_id=member_id, limit=limit)


async def lots(session: AsyncSession, *, tenant_id: int, member_id: int, limit: int = 100) -> list[Lot]:
    """The member's credits (held, posted or voided), newest first."""
    await members.get_member(session, tenant_id=tenant_id, member_id=member_id)
    return await repository.lots_of(session, tenant_id=tenant_id, member_id=member_id, limit=limit)


async def credit_owners(session: AsyncSession, *, tenant_id: int, source_refs: list[str]) -> dict[str, int]:
    """{source: member holding its credit} for those of these sources that were credited."""
    return await repository.credit_owners(session, tenant_id=tenant_id, source_refs=source_refs)


async def find_credit(session: AsyncSession, *, tenant_id: int, source_ref: str) -> Lot | None:
    """The credit of a source (one per source), whoever holds it."""
    return await repository.find_lot(session, tenant_id=tenant_id, source_ref=source_ref)


async def has_credit_from(session: AsyncSession, *, tenant_id: int, member_id: int, prefix: str) -> bool:
    """Whether the member holds a credit whose source starts with `prefix` (e.g. "order:": she claimed before)."""
    return await repository.has_credit_like(session, tenant_id=tenant_id, member_id=member_id, prefix=prefix)


async def richest_member(session: AsyncSession, *, tenant_id: int) -> int | None:
    """The member with the most points (available and pending): the demo's sample fan."""
    return await repository.richest_member(session, tenant_id=tenant_id)


# For analytics


async def entry_totals(
    session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """Per entry kind: (change to available points, change to pending points) of the entries in [start, end)."""
    return await repository.entry_totals(session, tenant_id=tenant_id, start=start, end=end)


async def positive_adjustments(session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime) -> int:
    return await repository.positive_adjustments(session, tenant_id=tenant_id, start=start, end=end)


async def outstanding(session: AsyncSession, *, tenant_id: int) -> tuple[int, int, int]:
    """(available points held now, pending points, points owed by members in debt)."""
    return await repository.outstanding(session, tenant_id=tenant_id)


def balances_since(session: AsyncSession, *, tenant_id: int, since: datetime | None) -> AsyncIterator[pl.DataFrame]:
    """Frames of (member_id, available) of the balances written at or after `since` (None: every balance)."""
    return repository.balances_since(session, tenant_id=tenant_id, since=since)


def entries_after(session: AsyncSession, *, tenant_id: int, after_id: int | None) -> AsyncIterator[pl.DataFrame]:
    """Frames of the tenant's entries (id, kind, amount, pending_amount, created_at: naive UTC) with an id above
    `after_id` (None: all of them)."""
    return repository.entries_after(session, tenant_id=tenant_id, after_id=after_id)
