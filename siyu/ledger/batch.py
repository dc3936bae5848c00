"""The ledger's batch path: many credits at once (an import's orders, a campaign) and the post sweep, set-wise.

The same books as siyu.ledger.service, written a set at a time: rows go straight into their tables (COPY on
PostgreSQL, one executemany on SQLite) and changes are a few UPDATE ... FROM statements, never an ORM object
per row. The outcome for each credit or held lot is what the service's operation would have written:

- Members are locked first, all at once, in member-id order (their balance rows, created when missing), as
  every service operation locks its member first: batches and single operations compose.
- Like every service operation, crediting a member or posting her points first expires her lots that are due.
- The rare cases go through the service one at a time, so their rules stay in one place: a member in debt
  (new points pay it off first), a member merged away (refused), a held lot whose expiry passed while it was
  held (it expires as it posts).

Nothing here commits.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit import bulk
from siyu.kit.errors import Conflict, InvalidInput
from siyu.kit.ids import new_id
from siyu.kit.time import utcnow
from siyu.ledger import batch_queries as queries
from siyu.ledger import service
from siyu.ledger.models import EntryKind, LotStatus
from siyu.members import service as members


@dataclass(frozen=True)
class Credit:
    """Points from one source (an order) for one member, as service.earn takes them."""

    member_id: int
    source_ref: str
    amount: int
    explanation: str
    pending: bool = True
    post_after: datetime | None = None
    expires_at: datetime | None = None


@dataclass(frozen=True)
class EarnResult:
    credited: int = 0  # credits written
    already_credited: int = 0  # their source was credited before, or earlier in the batch
    refused: int = 0  # their member was merged into another one
    points: int = 0  # points credited, held or available


# Credits


async def earn_many(
    session: AsyncSession,
    *,
    tenant_id: int,
    credits: Sequence[Credit],
    now: datetime | None = None,
    created_by: str | None = None,
) -> EarnResult:
    """Credit many sources at once, each exactly as service.earn would, in the caller's transaction.

    A source credited before, or earlier in the batch, is skipped (already_credited); a credit of a member
    merged away is refused (refused). The whole batch is refused, nothing written, when one amount is outside
    1..MAX_POINTS (InvalidAmount), one expiry is not in the future (InvalidExpiry), a credit available at once
    has a hold end (invalid_post_after), or one member is not a member of this tenant (MemberNotFound)."""
    now = now or utcnow()
    for credit in credits:
        _check(credit, now)
    if not credits:
        return EarnResult()
    await session.flush()
    async with bulk.bulk_work(session):
        staged = await queries.stage_ids(
            session, queries.MEMBERS, "member_id", sorted({credit.member_id for credit in credits})
        )
        unknown = await queries.first_unknown_member(session, tenant_id=tenant_id, members=staged)
        if unknown is not None:
            raise members.MemberNotFound(member_id=unknown)
        await queries.lock_balances(session, tenant_id=tenant_id, members=staged, now=now)
        special = await queries.special_accounts(session, tenant_id=tenant_id, members=staged)
        taken = await bulk.existing_keys(
            session,
            "ledger_lots",
            fixed={"tenant_id": tenant_id},
            key="source_ref",
            values=sorted({credit.source_ref for credit in credits}),
            lock=False,
        )
        # In the batch's order, as one service.earn after another: a merged member is refused before anything
        # else; then the first credit of a source wins.
        fast: list[Credit] = []
        slow: list[Credit] = []
        duplicates = 0
        for credit in credits:
            account = special.get(credit.member_id)
            if account is not None and account.merged_into is not None:
                slow.append(credit)
            elif credit.source_ref in taken:
                duplicates += 1
            else:
                taken.add(credit.source_ref)
                (fast if account is None else slow).append(credit)
        written = await _credit_set(
            session, tenant_id=tenant_id, members=staged, credits=fast, now=now, created_by=created_by
        )
        duplicates += len(fast) - len(written)
        points = sum(credit.amount for credit in written)
        credited, refused = len(written), 0
        for credit in slow:
            try:
                async with session.begin_nested():
                    await service.earn(
                        session,
                        tenant_id=tenant_id,
                        member_id=credit.member_id,
                        amount=credit.amount,
                        source_ref=credit.source_ref,
                        explanation=credit.explanation,
                        pending=credit.pending,
                        post_after=credit.post_after,
                        expires_at=credit.expires_at,
                        created_by=created_by,
                        now=now,
                    )
            except service.MemberMerged:
                refused += 1
            except service.AlreadyCredited:
                duplicates += 1
            else:
                credited += 1
                points += credit.amount
        await queries.drop(session, queries.MEMBERS)
    return EarnResult(credited=credited, already_credited=duplicates, refused=refused, points=points)


def _check(credit: Credit, now: datetime) -> None:
    """service.earn's refusals, for one credit of the batch."""
    if not 0 < credit.amount <= service.MAX_POINTS:
        raise service.InvalidAmount(amount=credit.amount, source_ref=credit.source_ref)
    for value in (credit.post_after, credit.expires_at):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; siyu stores UTC-aware datetimes only")
    if credit.expires_at is not None and credit.expires_at <= now:
        raise service.InvalidExpiry(source_ref=credit.source_ref)
    if credit.post_after is not None and not credit.pending:
        raise InvalidInput("只有待入账的积分才有入账时间", code="invalid_post_after", source_ref=credit.source_ref)


async def _credit_set(
    session: AsyncSession,
    *,
    tenant_id: int,
    members: str,
    credits: list[Credit],
    now: datetime,
    created_by: str | None,
) -> list[Credit]:
    """Write credits of members without debt (locked; `members` stages them) whose sources were free when
    looked up: an entry and a lot each, the members' due lots expired first, the balances. Returns the credits
    written (a source a concurrent transaction credited meanwhile is left out)."""
    if not credits:
        return []
    # Their due lots expire first, as service.earn's would (ids taken first: the expiry is written before).
    due = await queries.due_lots(session, tenant_id=tenant_id, members=members, now=now)
    expiries = [(new_id(), lot) for lot in due]
    ids = {credit.source_ref: _credit_ids() for credit in credits}
    while not await _insert_credits(session, tenant_id=tenant_id, credits=credits, ids=ids, now=now, by=created_by):
        # A concurrent transaction credited one of the sources and committed since we looked (PostgreSQL: our
        # INSERT waited for it, then failed as a whole). Look again and leave out what is taken now; each round
        # leaves out at least one source, or something else is wrong.
        taken = await bulk.existing_keys(
            session,
            "ledger_lots",
            fixed={"tenant_id": tenant_id},
            key="source_ref",
            values=sorted(credit.source_ref for credit in credits),
            lock=False,
        )
        if not taken:
            raise Conflict("积分记录正在变动，请稍后重试", code="ledger_busy")
        credits = [credit for credit in credits if credit.source_ref not in taken]
    credited = {credit.member_id for credit in credits}
    expired = await _expire(
        session,
        tenant_id=tenant_id,
        expiries=[(entry_id, lot) for entry_id, lot in expiries if lot.member_id in credited],
        now=now,
    )
    deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for credit in credits:
        deltas[credit.member_id][1 if credit.pending else 0] += credit.amount
    for member_id, points in expired.items():
        deltas[member_id][0] -= points
    await _change_balances(session, tenant_id=tenant_id, deltas=deltas, now=now)
    return credits


def _credit_ids() -> tuple[int, int]:
    """(entry id, lot id) of a new credit."""
    lot_id = new_id()
    return new_id(), lot_id


class _Taken(Exception):
    """A key was taken: undo what this attempt wrote."""


async def _insert_credits(
    session: AsyncSession,
    *,
    tenant_id: int,
    credits: list[Credit],
    ids: dict[str, tuple[int, int]],
    now: datetime,
    by: str | None,
) -> bool:
    """One entry and one lot per credit, all or none (False: a source was credited meanwhile)."""
    if not credits:
        return True
    entries = []
    lots = []
    # In source order: two batches crediting some of the same sources wait for each other instead of deadlocking.
    for credit in sorted(credits, key=lambda credit: credit.source_ref):
        entry_id, lot_id = ids[credit.source_ref]
        pending = credit.pending
        entries.append(
            (
                entry_id,
                credit.member_id,
                EntryKind.earn_pending if pending else EntryKind.earn,
                0 if pending else credit.amount,
                credit.amount if pending else 0,
                credit.source_ref,
                lot_id,
                credit.explanation[:300],  # no debt to repay: nothing to add to it
            )
        )
        lots.append(
            (
                lot_id,
                credit.member_id,
                entry_id,
                credit.source_ref,
                credit.amount,
                credit.amount,
                LotStatus.pending if pending else LotStatus.posted,
                _utc(credit.post_after),
                _utc(credit.expires_at),
            )
        )
    try:
        async with session.begin_nested():
            constants = _constants(tenant_id, now, by)
            if not await bulk.insert_new(
                session,
                "ledger_entries",
                queries.ENTRY_COLUMNS,
                queries.frame(queries.ENTRY_COLUMNS, entries),
                constants,
            ):
                raise _Taken()
            constants = {"tenant_id": tenant_id, "created_at": now}
            if not await bulk.insert_new(
                session, "ledger_lots", queries.LOT_COLUMNS, queries.frame(queries.LOT_COLUMNS, lots), constants
            ):
                raise _Taken()
    except _Taken:
        return False
    return True


# Posting


async def post_due(
    session: AsyncSession,
    *,
    tenant_id: int,
    now: datetime | None = None,
    limit: int = 50_000,
    created_by: str | None = None,
) -> int:
    """Post every held lot whose hold has ended (post_after <= now), each exactly as service.post would.
    At most `limit` lots per call, the longest due first: run again until it returns less than `limit`.
    Idempotent: a lot posted (or voided) meanwhile is left alone. Returns the number of lots posted."""
    posted, _members = await post_due_for(session, tenant_id=tenant_id, now=now, limit=limit, created_by=created_by)
    return posted


async def post_due_for(
    session: AsyncSession,
    *,
    tenant_id: int,
    now: datetime | None = None,
    limit: int = 50_000,
    created_by: str | None = None,
) -> tuple[int, list[int]]:
    """`post_due`, also saying whose points posted (members in id order), e.g. to look at their tiers."""
    now = now or utcnow()
    await session.flush()
    async with bulk.bulk_work(session):
        candidates = await queries.pending_due(session, tenant_id=tenant_id, now=now, limit=limit)
        if not candidates:
            return 0, []
        owners = sorted({row.member_id for row in candidates})
        staged = await queries.stage_ids(session, queries.MEMBERS, "member_id", owners)
        await queries.lock_balances(session, tenant_id=tenant_id, members=staged, now=now)
        special = await queries.special_accounts(session, tenant_id=tenant_id, members=staged)
        lots_staged = await queries.stage_lot_order(session, [row.id for row in candidates])
        # Read again with the owners locked: still held, still hers (a merge may have moved it: next run).
        locked = set(owners)
        held = [
            lot
            for lot in await queries.pending_lots(session, tenant_id=tenant_id, lots=lots_staged, now=now)
            if lot.member_id in locked
        ]
        await queries.drop(session, queries.LOTS)
        fast = [lot for lot in held if lot.member_id not in special and not lot.expired]
        slow = [lot for lot in held if lot.member_id in special or lot.expired]
        posted = await _post_set(
            session, tenant_id=tenant_id, members=staged, lots=fast, now=now, created_by=created_by
        )
        owners_posted = {lot.member_id for lot in fast} if posted else set()
        for lot in slow:  # in debt (posted points repay it), or expired while held (expires as it posts)
            entry = await service.post(
                session, tenant_id=tenant_id, source_ref=lot.source_ref, created_by=created_by, now=now
            )
            if entry is not None:
                posted += 1
                owners_posted.add(lot.member_id)
        await queries.drop(session, queries.MEMBERS)
    return posted, sorted(owners_posted)


async def _post_set(
    session: AsyncSession,
    *,
    tenant_id: int,
    members: str,
    lots: list[Row[Any]],
    now: datetime,
    created_by: str | None,
) -> int:
    """Post held lots of members without debt (locked; `members` stages them), not expired: the members'
    due lots expire first, then a post entry per lot, the lots' state, the balances."""
    if not lots:
        return 0
    owners = {lot.member_id for lot in lots}
    due = await queries.due_lots(session, tenant_id=tenant_id, members=members, now=now)
    expiries = [(new_id(), lot) for lot in due if lot.member_id in owners]
    entries = [
        (
            new_id(),
            lot.member_id,
            EntryKind.post,
            lot.remaining,
            -lot.remaining,
            lot.source_ref,
            lot.id,
            service.posted_note(lot.source_ref, lot.remaining),  # no debt to repay: nothing to add to it
        )
        for lot in lots
    ]
    expired = await _expire(session, tenant_id=tenant_id, expiries=expiries, now=now)
    if not await bulk.insert_new(
        session,
        "ledger_entries",
        queries.ENTRY_COLUMNS,
        queries.frame(queries.ENTRY_COLUMNS, entries),
        _constants(tenant_id, now, created_by),
    ):
        # Every writer of a post locks the lot's owner first, and we hold them all: not expected.
        raise Conflict("积分记录正在变动，请稍后重试", code="ledger_busy")
    changed = await queries.update_lots(
        session, tenant_id=tenant_id, lot_ids=[lot.id for lot in lots], assignments=f"status = '{LotStatus.posted}'"
    )
    if changed != len(lots):
        raise RuntimeError(f"{len(lots)} held lots to post, {changed} found")
    deltas: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for lot in lots:
        deltas[lot.member_id][0] += lot.remaining
        deltas[lot.member_id][1] -= lot.remaining
    for member_id, points in expired.items():
        deltas[member_id][0] -= points
    await _change_balances(session, tenant_id=tenant_id, deltas=deltas, now=now)
    return len(lots)


# Shared steps


async def _expire(
    session: AsyncSession,
    *,
    tenant_id: int,
    expiries: list[tuple[int, Row[Any]]],
    now: datetime,
) -> dict[int, int]:
    """Expire what is left of these due lots (entry id, lot): an expire entry (by nobody: time did it) and an
    allocation each, the lot emptied. The members' balances are the caller's to change. Returns the points
    expired by member."""
    if not expiries:
        return {}
    entries = [
        (
            entry_id,
            lot.member_id,
            EntryKind.expire,
            -lot.remaining,
            0,
            f"lot:{lot.id}",
            lot.id,
            f"{lot.remaining} 积分已过期",
        )
        for entry_id, lot in expiries
    ]
    allocations = [(entry_id, lot.id, lot.remaining) for entry_id, lot in expiries]
    written = await bulk.insert_new(
        session,
        "ledger_entries",
        queries.ENTRY_COLUMNS,
        queries.frame(queries.ENTRY_COLUMNS, entries),
        _constants(tenant_id, now, None),
    ) and await bulk.insert_new(
        session,
        "ledger_allocations",
        queries.ALLOCATION_COLUMNS,
        queries.frame(queries.ALLOCATION_COLUMNS, allocations),
        {"tenant_id": tenant_id},
    )
    if not written:  # the owners are locked: nobody else expires their lots
        raise Conflict("积分记录正在变动，请稍后重试", code="ledger_busy")
    changed = await queries.update_lots(
        session, tenant_id=tenant_id, lot_ids=[lot.id for _, lot in expiries], assignments="remaining = 0"
    )
    if changed != len(expiries):
        raise RuntimeError(f"{len(expiries)} due lots to expire, {changed} found")
    out: dict[int, int] = defaultdict(int)
    for _, lot in expiries:
        out[lot.member_id] += lot.remaining
    return out


async def _change_balances(
    session: AsyncSession, *, tenant_id: int, deltas: dict[int, list[int]], now: datetime
) -> None:
    service.forget_held(session)
    rows = [(member_id, available, pending) for member_id, (available, pending) in sorted(deltas.items())]
    await queries.update_balances(
        session, tenant_id=tenant_id, deltas=queries.frame(queries.DELTA_COLUMNS, rows), now=now
    )


def _constants(tenant_id: int, now: datetime, created_by: str | None) -> dict[str, int | str | datetime]:
    constants: dict[str, int | str | datetime] = {"tenant_id": tenant_id, "created_at": now}
    if created_by is not None:
        constants["created_by"] = created_by[:200]
    return constants


def _utc(value: datetime | None) -> datetime | None:
    return None if value is None else value.astimezone(UTC)
