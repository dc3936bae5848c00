"""Audit entries as ops read them: who (a name, not a code), what (a Chinese label), on which object (its name,
with a link), and each changed field as before → after in words and local times.

Used by the audit log, the dashboard's recent actions and a member's page.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit.labels import ACTOR_KIND_LABELS, TARGET_LABELS, action_label, field_label
from siyu.audit.models import AuditEntry
from siyu.claims import lookup as claims_lookup
from siyu.claims.models import OUTCOME_LABELS, REVIEW_REASONS
from siyu.claims.schemas import CHECK_LABELS
from siyu.kit.time import format_local
from siyu.loyalty import service as loyalty
from siyu.loyalty.schemas import EXPIRY_LABELS, HOLD_LABELS, ROUNDING_LABELS
from siyu.mall.models import KIND_LABELS as REWARD_KIND_LABELS
from siyu.mall.models import PRIZE_KIND_LABELS
from siyu.mall.models import STATUS_LABELS as REDEMPTION_STATUS_LABELS
from siyu.members import service as members
from siyu.members.models import IDENTITY_LABELS
from siyu.staff.models import ROLE_LABELS
from siyu.staff.permissions import PERMISSION_LABELS
from siyu.tenants import service as tenants
from siyu.tenants.models import PLATFORM_LABELS

# Values that are codes, per field: shown by their label.
VALUE_LABELS: dict[str, dict[str, str]] = {
    "role": dict(ROLE_LABELS),
    "status": dict(REDEMPTION_STATUS_LABELS),
    "outcome": dict(OUTCOME_LABELS),
    "reason": dict(REVIEW_REASONS),
    "kind": {**IDENTITY_LABELS, **REWARD_KIND_LABELS, **PRIZE_KIND_LABELS},
    "platform": dict(PLATFORM_LABELS),
    "rounding": {str(k): v for k, v in ROUNDING_LABELS.items()},
    "hold_mode": {str(k): v for k, v in HOLD_LABELS.items()},
    "expiry_mode": {str(k): v for k, v in EXPIRY_LABELS.items()},
    "check": {str(k): v for k, v in CHECK_LABELS.items()},
    "permissions": dict(PERMISSION_LABELS),
    "scope": {"snsapi_base": "静默授权", "snsapi_userinfo": "用户授权（获取昵称头像）"},
}
# Internal numbers that mean nothing to ops.
HIDDEN_FIELDS = frozenset({"id", "entry_id", "draw", "drawn", "prize", "redemption", "reward_id", "identities"})
NAME_FIELDS = ("name", "title", "nickname", "email")


@dataclass(frozen=True)
class Change:
    label: str
    before: str | None  # None: the field was not there before (created)
    after: str | None  # None: removed (deleted)


@dataclass(frozen=True)
class EntryView:
    entry: AuditEntry
    at: str
    actor: str
    action: str
    target: str  # e.g. 会员「小满」
    link: str | None
    changes: list[Change] = field(default_factory=list)
    ip: str = ""

    @property
    def one_sided(self) -> bool:
        """Created or deleted: values, not changes (shown on one line)."""
        return all(c.before is None or c.after is None for c in self.changes)


@dataclass
class Names:
    """Names of the objects the entries mention, looked up once per page."""

    members: dict[int, str]
    tiers: dict[int, str]
    channels: dict[int, str]
    claims: dict[int, tuple[str, str]]  # claim id -> (platform, order number)
    timezone: str


def _int(value: object) -> int | None:
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 20:
        return int(value)
    return None


def _is_time(value: str) -> datetime | None:
    if len(value) < 16 or value[4:5] != "-" or "T" not in value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def show(key: str, value: Any, names: Names) -> str:
    """One value in words."""
    if value is None or value == "" or value == []:
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if key in ("tier_ids",) and isinstance(value, list):
        return "、".join(names.tiers.get(int(v), "已删除的等级") for v in value)
    if key in ("channel_ids",) and isinstance(value, list):
        return "、".join(names.channels.get(int(v), "已删除的渠道") for v in value)
    if key == "channel_fen_per_point" and isinstance(value, dict):
        return "；".join(f"{names.channels.get(int(k), '已删除的渠道')} {v}" for k, v in value.items()) or "（空）"
    if key in ("member_id", "into"):
        number = _int(value)
        return names.members.get(number, "已合并的会员") if number is not None else str(value)
    if key == "questions" and isinstance(value, list):  # a survey's questions, by their text
        return "、".join(str(q.get("text", "")) for q in value if isinstance(q, dict)) or "（空）"
    if key == "prizes" and isinstance(value, list):
        return "、".join(str(p.get("title", "")) for p in value if isinstance(p, dict)) or "（空）"
    labels = VALUE_LABELS.get(key)
    if isinstance(value, list):
        return "、".join(labels.get(str(v), str(v)) if labels else str(v) for v in value)
    if labels and str(value) in labels:
        return labels[str(value)]
    if isinstance(value, str) and (moment := _is_time(value)) is not None:
        return format_local(moment, names.timezone, "%Y-%m-%d %H:%M")
    if isinstance(value, dict):
        return "；".join(f"{field_label(k)} {show(k, v, names)}" for k, v in value.items())
    return str(value)


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def changes_of(entry: AuditEntry, names: Names) -> list[Change]:
    before, after = entry.before or {}, entry.after or {}
    out: list[Change] = []
    for key in list(dict.fromkeys([*before, *after])):
        if key in HIDDEN_FIELDS:
            continue
        had, has = key in before, key in after
        if had != has and _empty(before.get(key) if had else after.get(key)):
            continue  # created or deleted: only the fields that had a value
        if had and has and before[key] == after[key]:
            continue
        out.append(
            Change(
                label=field_label(key),
                before=show(key, before[key], names) if had else None,
                after=show(key, after[key], names) if has else None,
            )
        )
    return out


def _actor(entry: AuditEntry, names: Names) -> str:
    if entry.actor_kind == "member" and entry.actor_id is not None:
        return f"会员 {names.members.get(entry.actor_id, '')}".strip()
    if entry.actor_kind == "system":
        return "系统"
    label = entry.actor_label.split(" <")[0]
    if entry.actor_kind == "api_key":
        return label if label.startswith("API") else f"API 密钥 {label}"
    return label or ACTOR_KIND_LABELS.get(entry.actor_kind, "")


def _target(entry: AuditEntry, names: Names) -> tuple[str, str | None]:
    kind, number = entry.target_type, _int(entry.target_id)
    label = TARGET_LABELS.get(kind, "对象")
    data = {**(entry.before or {}), **(entry.after or {})}
    name = next((str(data[k]) for k in NAME_FIELDS if data.get(k)), "")
    deleted = entry.action.endswith((".delete", ".remove", ".revoke"))
    link: str | None = None
    if entry.action.startswith("auth."):
        return "", None
    if kind == "member" and number is not None:
        name = names.members.get(number, name)
        link = f"/console/members/{number}"
    elif kind == "claim" and number is not None and number in names.claims:
        platform, order_id = names.claims[number]
        name = f"{PLATFORM_LABELS.get(platform, '')}订单 {order_id}"
        link = f"/console/claims?q={order_id}"
    elif kind == "redemption" and number is not None:
        name = str(number)
        link = "/console/mall/redemptions?status=all"
    elif kind == "tenant":
        link = {"points.policy": "/console/points", "claims.policy": "/console/claims"}.get(
            entry.action, "/console/settings"
        )
        name = ""
    elif kind == "tier" and number is not None:
        name = name or names.tiers.get(number, "")
        link = "/console/points"
    elif not deleted and number is not None:
        link = {
            "reward": f"/console/mall/rewards/{number}",
            "lottery": f"/console/mall/lottery/{number}",
            "referral_board": f"/console/referrals/leaderboards/{number}",
            "referral": "/console/referrals",
            "referral_rules": "/console/referrals",
            "campaign": f"/console/points/campaigns/{number}",
            "channel": "/console/channels",
            "staff": "/console/staff",
            "api_key": "/console/api-keys",
        }.get(kind)
    return (f"{label}「{name}」" if name else label), (None if deleted and kind != "member" else link)


async def names_for(session: AsyncSession, *, tenant_id: int, timezone: str, entries: Sequence[AuditEntry]) -> Names:
    member_ids: set[int] = set()
    claim_ids: list[int] = []
    for e in entries:
        if e.actor_kind == "member" and e.actor_id is not None:
            member_ids.add(e.actor_id)
        number = _int(e.target_id)
        if number is not None and e.target_type == "member":
            member_ids.add(number)
        if number is not None and e.target_type == "claim":
            claim_ids.append(number)
        for data in (e.before or {}, e.after or {}):
            for key in ("member_id", "into"):
                if (found := _int(data.get(key))) is not None:
                    member_ids.add(found)
    claims = await claims_lookup.by_ids(session, tenant_id=tenant_id, claim_ids=claim_ids)
    return Names(
        members=await members.nicknames(session, tenant_id=tenant_id, member_ids=list(member_ids)),
        tiers={t.id: t.name for t in await loyalty.list_tiers(session, tenant_id=tenant_id)},
        channels={c.id: c.name for c in await tenants.list_channels(session, tenant_id=tenant_id)},
        claims={c.id: (c.platform, c.order_id) for c in claims},
        timezone=timezone,
    )


async def views(
    session: AsyncSession, *, tenant_id: int, timezone: str, entries: Sequence[AuditEntry]
) -> list[EntryView]:
    names = await names_for(session, tenant_id=tenant_id, timezone=timezone, entries=entries)
    out = []
    for e in entries:
        target, link = _target(e, names)
        out.append(
            EntryView(
                entry=e,
                at=format_local(e.created_at, timezone, "%Y-%m-%d %H:%M:%S"),
                actor=_actor(e, names),
                action=action_label(e.action),
                target=target,
                link=link,
                changes=changes_of(e, names),
                ip=e.ip or "",
            )
        )
    return out
