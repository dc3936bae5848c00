"""Members and their identities. One identity (kind, value) belongs to one member of a tenant."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from siyu.audit import service as audit
from siyu.kit.errors import Conflict, InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.pagination import Page, PageRequest, Sort
from siyu.kit.time import to_local, utcnow
from siyu.kit.web import Principal
from siyu.members import repository
from siyu.members.models import Identity, IdentityKind, Member
from siyu.members.schemas import IdentityIn


class MemberNotFound(NotFound):
    code = "member_not_found"
    message = "找不到这位会员"


class IdentityTaken(Conflict):
    code = "identity_taken"
    message = "这个账号已经绑定了其他会员"


class IdentityNotFound(NotFound):
    code = "identity_not_found"
    message = "这位会员没有绑定这个账号"


class LastSignInIdentity(Conflict):
    code = "last_sign_in_identity"
    message = "这是会员唯一的登录方式，不能解绑"


SIGN_IN_KINDS = frozenset({IdentityKind.wechat_openid, IdentityKind.wechat_unionid, IdentityKind.phone})


def normalise_identity(kind: str, value: str) -> str:
    value = value.strip()
    if kind == IdentityKind.phone:
        digits = re.sub(r"\D", "", value)
        if digits.startswith("86") and len(digits) == 13:
            digits = digits[2:]
        if not re.fullmatch(r"1\d{10}", digits):
            raise InvalidInput("手机号格式不正确", code="invalid_phone")
        return digits
    if not value:
        raise InvalidInput("账号不能为空", code="invalid_identity")
    return value


def phone_fingerprint(phone: str) -> str:
    """For logs: a phone number never appears in plaintext."""
    return hashlib.sha256(phone.encode()).hexdigest()[:12]


async def create_member(
    session: AsyncSession,
    *,
    tenant_id: int,
    nickname: str = "",
    identities: list[IdentityIn] | None = None,
    actor: Principal | None = None,
) -> Member:
    member = Member(tenant_id=tenant_id, id=new_id(), nickname=nickname.strip(), status="active")
    repository.add(session, member)
    await session.flush()
    for identity in identities or []:
        await bind_identity(session, tenant_id=tenant_id, member=member, kind=identity.kind, value=identity.value)
    if actor is not None:
        audit.record(
            session,
            actor=actor,
            action="member.create",
            target_type="member",
            target_id=member.id,
            after={"nickname": member.nickname, "identities": len(identities or [])},
        )
    return member


async def bind_identity(session: AsyncSession, *, tenant_id: int, member: Member, kind: str, value: str) -> Identity:
    value = normalise_identity(kind, value)
    existing = await repository.get_identity(session, tenant_id=tenant_id, kind=kind, value=value)
    if existing is not None:
        if existing.member_id != member.id:
            raise IdentityTaken()
        return existing
    identity = Identity(tenant_id=tenant_id, kind=kind, value=value, member_id=member.id)
    repository.add(session, identity)
    await session.flush()
    return identity


async def unbind_identity(session: AsyncSession, *, tenant_id: int, member_id: int, kind: str, value: str) -> None:
    """Take an account off a member. The last way she signs in (WeChat or phone) stays."""
    value = value.strip()
    mine = await repository.identities_of(session, tenant_id=tenant_id, member_id=member_id)
    if not any(i.kind == kind and i.value == value for i in mine):
        raise IdentityNotFound()
    if kind in SIGN_IN_KINDS and not any(i.kind in SIGN_IN_KINDS and i.value != value for i in mine):
        raise LastSignInIdentity()
    await repository.delete_identity(session, tenant_id=tenant_id, member_id=member_id, kind=kind, value=value)


async def absorb(session: AsyncSession, *, tenant_id: int, from_member_id: int, into_member_id: int) -> int:
    """The member side of a merge: her identities move over and she is marked merged. Returns identities moved."""
    moved = await repository.move_identities(
        session, tenant_id=tenant_id, from_member_id=from_member_id, into_member_id=into_member_id
    )
    await repository.mark_merged(session, tenant_id=tenant_id, member_id=from_member_id, into_member_id=into_member_id)
    return moved


async def current(session: AsyncSession, *, tenant_id: int, member_id: int) -> Member | None:
    """The member now answering to this id: a merged member's id leads to the member she was merged into."""
    for _hop in range(5):
        member = await repository.get(session, tenant_id=tenant_id, member_id=member_id)
        if member is None or member.status != "merged" or member.merged_into is None:
            return member
        member_id = member.merged_into
    return None


async def get_member(session: AsyncSession, *, tenant_id: int, member_id: int) -> Member:
    member = await repository.get(session, tenant_id=tenant_id, member_id=member_id)
    if member is None:
        raise MemberNotFound()
    return member


async def nicknames(session: AsyncSession, *, tenant_id: int, member_ids: list[int]) -> dict[int, str]:
    """Nicknames of these members (those of another tenant are not found)."""
    rows = await repository.get_many(session, tenant_id=tenant_id, member_ids=sorted(set(member_ids)))
    return {m.id: m.nickname for m in rows}


async def find_by_identity(session: AsyncSession, *, tenant_id: int, kind: str, value: str) -> Member | None:
    identity = await repository.get_identity(
        session, tenant_id=tenant_id, kind=kind, value=normalise_identity(kind, value)
    )
    if identity is None:
        return None
    return await repository.get(session, tenant_id=tenant_id, member_id=identity.member_id)


async def identities_of(session: AsyncSession, *, tenant_id: int, member_id: int) -> list[Identity]:
    return await repository.identities_of(session, tenant_id=tenant_id, member_id=member_id)


async def identities_by_member(
    session: AsyncSession, *, tenant_id: int, member_ids: list[int]
) -> dict[int, list[Identity]]:
    grouped: dict[int, list[Identity]] = {member_id: [] for member_id in member_ids}
    for identity in await repository.identities_of_many(session, tenant_id=tenant_id, member_ids=member_ids):
        grouped.setdefault(identity.member_id, []).append(identity)
    return grouped


def mask(kind: str, value: str) -> str:
    """How staff see an identity in lists: phone numbers masked, others as they are."""
    if kind == IdentityKind.phone and len(value) == 11:
        return f"{value[:3]}****{value[-4:]}"
    return value


async def search(
    session: AsyncSession,
    *,
    tenant_id: int,
    query: str | None,
    page: PageRequest,
    sort: Sort | None = None,
    where: Sequence[ColumnElement[bool]] = (),
    sort_columns: Mapping[str, Any] | None = None,
) -> Page[Member]:
    """Active members matching `query` (nickname, a bound account or phone, the member number). `where` and
    `sort_columns`: conditions and sort keys over the member's columns that a higher domain supplies (her
    points, her tier) without members reading its tables."""
    return await repository.search(
        session,
        tenant_id=tenant_id,
        query=(query or "").strip() or None,
        page=page,
        sort=sort,
        where=where,
        sort_columns=sort_columns,
    )


MEMBER_SORTS = tuple(repository.MEMBER_SORTS)


async def count(session: AsyncSession, *, tenant_id: int) -> int:
    return await repository.count(session, tenant_id=tenant_id)


async def joined_by_day(session: AsyncSession, *, tenant_id: int, timezone: str, days: int) -> list[tuple[str, int]]:
    """New members per tenant-local day for the last `days` days, oldest first."""
    today = to_local(utcnow(), timezone).replace(hour=0, minute=0, second=0, microsecond=0)
    out: list[tuple[str, int]] = []
    for back in range(days - 1, -1, -1):
        start = today - timedelta(days=back)
        n = await repository.count_created_between(
            session, tenant_id=tenant_id, start=start, end=start + timedelta(days=1)
        )
        out.append((start.strftime("%m-%d"), n))
    return out


async def count_joined(session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime) -> int:
    """Members who joined in [start, end) (merged ones included: they joined)."""
    return await repository.count_created_between(session, tenant_id=tenant_id, start=start, end=end)


async def merged(session: AsyncSession, *, tenant_id: int) -> list[tuple[int, int]]:
    """(member, the member she was merged into) for every merged member."""
    return await repository.merged(session, tenant_id=tenant_id)


def joined_since(session: AsyncSession, *, tenant_id: int, since: datetime | None) -> AsyncIterator[pl.DataFrame]:
    """Frames of (id, joined_at: naive UTC) of the members who joined at or after `since` (None: every member)."""
    return repository.joined_since(session, tenant_id=tenant_id, since=since)


async def joined_at(session: AsyncSession, *, tenant_id: int, member_ids: list[int]) -> dict[int, datetime]:
    """When each of these members joined (those of another tenant are not found)."""
    rows = await repository.get_many(session, tenant_id=tenant_id, member_ids=sorted(set(member_ids)))
    return {m.id: m.created_at for m in rows}


# Visits


class VisitBook:
    """The visits (a signed-in page or fan API call) this process has seen and not yet written. A fan's request
    only notes hers, decided on the value loaded with her, so it costs no query; `write` stores them all a few
    seconds later in one statement (siyu.app runs it). Only the first visit of her tenant-local day is noted: once
    written, the rest of her day is known. A process killed in between loses those few seconds of visits: a last
    visit is a hint for the churn list, not an account."""

    def __init__(self) -> None:
        self._due: dict[tuple[int, int], datetime] = {}

    def __len__(self) -> int:
        return len(self._due)

    def note(self, member: Member, *, timezone: str, now: datetime | None = None) -> bool:
        """Note that she came; whether it is her first visit of the day as far as her row knows."""
        now = now or utcnow()
        last = member.last_visit_at
        if last is not None:
            if last.tzinfo is None:
                last = last.replace(tzinfo=UTC)
            if to_local(last, timezone).date() >= to_local(now, timezone).date():
                return False
        key = (member.tenant_id, member.id)
        if key not in self._due or self._due[key] < now:
            self._due[key] = now
        return True

    async def write(self, session: AsyncSession) -> int:
        """Store the visits noted so far (kept for the next try if the statement fails). Returns how many."""
        due, self._due = self._due, {}
        try:
            await repository.note_visits(session, [(t, m, at) for (t, m), at in sorted(due.items())])
        except BaseException:
            for key, at in due.items():
                if key not in self._due or self._due[key] < at:
                    self._due[key] = at
            raise
        return len(due)


async def record_visit(session: AsyncSession, *, member: Member, timezone: str, now: datetime | None = None) -> bool:
    """Her visit at `now`, written at once (the demo's history; requests go through a VisitBook). Whether it was her
    first of that tenant-local day as far as her row knew."""
    now = now or utcnow()
    book = VisitBook()
    if not book.note(member, timezone=timezone, now=now):
        return False
    await book.write(session)
    set_committed_value(member, "last_visit_at", now)
    return True


async def visits_since(session: AsyncSession, *, tenant_id: int, since: datetime | None) -> list[tuple[int, datetime]]:
    """(member, her last visit) of the members who visited at or after `since` (None: all who ever did)."""
    return await repository.visits_since(session, tenant_id=tenant_id, since=since)


async def identities_of_kinds(
    session: AsyncSession, *, tenant_id: int, kinds: Sequence[str]
) -> list[tuple[int, str, str]]:
    """(member, kind, value) of every identity of these kinds the tenant's members hold."""
    return await repository.identities_of_kinds(session, tenant_id=tenant_id, kinds=kinds)


async def get_many(session: AsyncSession, *, tenant_id: int, member_ids: list[int]) -> list[Member]:
    """These members (those of another tenant are not found)."""
    return await repository.get_many(session, tenant_id=tenant_id, member_ids=sorted(set(member_ids)))


# Members by conditions of higher domains (saved segments)

count_where = repository.count_where
ids_where = repository.ids_where
id_frames_where = repository.id_frames_where
joined_within = repository.joined_within  # (SQL conditions over the member's columns)
has_identity = repository.has_identity
