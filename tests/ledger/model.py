"""A pure-Python ledger with the same rules as siyu.ledger.service, for the state machine to compare against.

Each operation either returns what the service should return or raises Refused(code); on Refused the
caller restores its copy of the model (the service's transaction would roll back).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import datetime

_seq = itertools.count()


class Refused(Exception):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass
class MLot:
    ref: str
    owner: int
    amount: int
    remaining: int
    status: str  # pending | posted | voided
    credit: str  # earn_pending | earn | adjust
    expires_at: datetime | None
    created_at: datetime
    seq: int = field(default_factory=lambda: next(_seq))
    posted_by_post: bool = False
    expired: int = 0  # points this lot lost to expiry
    clawed: int = 0  # points clawed back for it (debt included)

    def drawable(self, now: datetime) -> bool:
        return self.status == "posted" and self.remaining > 0 and (self.expires_at is None or self.expires_at > now)

    def order(self) -> tuple[bool, datetime, datetime, int]:
        return (self.expires_at is None, self.expires_at or self.created_at, self.created_at, self.seq)


@dataclass
class MAccount:
    available: int = 0
    pending: int = 0
    debt: int = 0
    merged_into: int | None = None


@dataclass
class Model:
    now: datetime
    accounts: dict[int, MAccount]
    lots: dict[str, MLot] = field(default_factory=dict)
    spends: dict[str, list[tuple[str, int]]] = field(default_factory=dict)  # ref -> drawn (lot ref, points)
    refunded: set[str] = field(default_factory=set)
    clawbacks: set[str] = field(default_factory=set)
    merges: dict[int, int] = field(default_factory=dict)

    # Building blocks

    def _expire_due(self, member: int) -> int:
        count = 0
        for lot in self.lots.values():
            due = lot.expires_at is not None and lot.expires_at <= self.now
            if lot.owner == member and lot.status == "posted" and lot.remaining > 0 and due:
                self.accounts[member].available -= lot.remaining
                lot.expired += lot.remaining
                lot.remaining = 0
                count += 1
        return count

    def _open(self, member: int) -> MAccount:
        account = self.accounts[member]
        if account.merged_into is not None:
            raise Refused("member_merged")
        self._expire_due(member)
        return account

    def _draw(self, member: int, points: int, skip: str | None = None) -> list[tuple[str, int]]:
        drawn: list[tuple[str, int]] = []
        lots = sorted(
            (lot for lot in self.lots.values() if lot.owner == member and lot.drawable(self.now) and lot.ref != skip),
            key=MLot.order,
        )
        for lot in lots:
            if points == 0:
                break
            take = min(points, lot.remaining)
            lot.remaining -= take
            points -= take
            drawn.append((lot.ref, take))
        return drawn

    def _settle(self, member: int) -> None:
        account = self.accounts[member]
        if account.debt > 0:
            paid = sum(take for _, take in self._draw(member, account.debt))
            account.debt -= paid

    def _lot(self, ref: str) -> MLot:
        lot = self.lots.get(ref)
        if lot is None:
            raise Refused("points_record_not_found")
        return lot

    # Operations

    def earn(self, member: int, amount: int, ref: str, pending: bool, expires_at: datetime | None) -> None:
        account = self._open(member)
        if ref in self.lots:
            raise Refused("already_credited")
        self.lots[ref] = MLot(
            ref=ref,
            owner=member,
            amount=amount,
            remaining=amount,
            status="pending" if pending else "posted",
            credit="earn_pending" if pending else "earn",
            expires_at=expires_at,
            created_at=self.now,
        )
        if pending:
            account.pending += amount
        else:
            account.available += amount
            self._settle(member)

    def post(self, ref: str) -> bool:
        """True: posted now; False: had been posted already."""
        lot = self._lot(ref)
        if lot.status == "voided":
            raise Refused("already_voided")
        if lot.status == "posted" and not lot.posted_by_post:
            raise Refused("not_pending")
        self._expire_due(lot.owner)
        if lot.status == "posted":
            return False
        account = self.accounts[lot.owner]
        lot.status, lot.posted_by_post = "posted", True
        account.available += lot.remaining
        account.pending -= lot.remaining
        if lot.expires_at is not None and lot.expires_at <= self.now:
            self._expire_due(lot.owner)
        self._settle(lot.owner)
        return True

    def void(self, ref: str) -> bool:
        lot = self._lot(ref)
        if lot.status == "posted":
            raise Refused("already_posted" if lot.posted_by_post else "not_pending")
        self._expire_due(lot.owner)
        if lot.status == "voided":
            return False
        self.accounts[lot.owner].pending -= lot.remaining
        lot.remaining, lot.status = 0, "voided"
        return True

    def spend(self, member: int, amount: int, ref: str) -> list[tuple[str, int]]:
        account = self._open(member)
        if ref in self.spends:
            raise Refused("duplicate_source")
        if account.available < amount:
            raise Refused("insufficient_points")
        account.available -= amount
        drawn = self._draw(member, amount)
        assert sum(take for _, take in drawn) == amount
        self.spends[ref] = drawn
        return drawn

    def refund(self, ref: str) -> int | None:
        drawn = self.spends[ref]
        owner = self.lots[drawn[0][0]].owner
        self._expire_due(owner)
        if ref in self.refunded:
            return None
        self.refunded.add(ref)
        returned = 0
        for lot_ref, points in drawn:
            lot = self.lots[lot_ref]
            if lot.expires_at is None or lot.expires_at > self.now:
                lot.remaining += points
                returned += points
        self.accounts[owner].available += returned
        self._settle(owner)
        return returned

    def clawback(self, ref: str, numerator: int, denominator: int) -> int | None:
        """The points taken (None: nothing to take)."""
        lot = self._lot(ref)
        numerator = min(numerator, denominator)
        key = f"{ref}#refund:{numerator}/{denominator}"
        self._expire_due(lot.owner)
        if lot.status == "voided" or key in self.clawbacks:
            return None
        due = max(0, lot.amount * numerator // denominator - lot.expired) - lot.clawed
        if due <= 0:
            return None
        self.clawbacks.add(key)
        account = self.accounts[lot.owner]
        if lot.status == "pending":
            take = min(due, lot.remaining)
            lot.remaining -= take
            lot.clawed += take
            account.pending -= take
            return take
        own = min(due, lot.remaining)
        others = min(due - own, account.available + account.debt - lot.remaining)
        lot.remaining -= own
        assert sum(take for _, take in self._draw(lot.owner, others, skip=ref)) == others
        account.available -= due
        account.debt += due - own - others
        lot.clawed += due
        return due

    def expire(self) -> int:
        return sum(self._expire_due(member) for member in sorted(self.accounts))

    def adjust(self, member: int, amount: int, ref: str) -> None:
        account = self._open(member)
        if amount < 0:
            if account.available < -amount:
                raise Refused("insufficient_points")
            account.available += amount
            self._draw(member, -amount)
            return
        self.lots[ref] = MLot(
            ref=ref,
            owner=member,
            amount=amount,
            remaining=amount,
            status="posted",
            credit="adjust",
            expires_at=None,
            created_at=self.now,
        )
        account.available += amount
        self._settle(member)

    def merge(self, source: int, target: int) -> bool:
        if source == target:
            raise Refused("merge_into_self")
        if source in self.merges:
            if self.merges[source] == target:
                return False
            raise Refused("already_merged")
        a, b = self.accounts[source], self.accounts[target]
        if a.merged_into is not None or b.merged_into is not None:
            raise Refused("member_merged")
        for member in sorted((source, target)):
            self._expire_due(member)
        for lot in self.lots.values():
            if lot.owner == source:
                lot.owner = target
        b.available += a.available
        b.pending += a.pending
        b.debt += a.debt
        a.available = a.pending = a.debt = 0
        a.merged_into = target
        self.merges[source] = target
        self._settle(target)
        return True
