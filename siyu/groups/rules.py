"""Who may join a group, as pure functions: her standing against a group's thresholds, and each unmet one said in
words a fan understands ("还差 320 积分", "需要金卡及以上").

A threshold is met at its value exactly: 1000 points meets "at least 1000 points"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

QR_DAYS = 7  # a WeChat group's QR code works for 7 days from when it was made
WARN_BEFORE = timedelta(days=1)


@dataclass(frozen=True)
class TierRef:
    id: int
    name: str
    threshold: int  # growth needed: a higher tier has a higher threshold


@dataclass(frozen=True)
class Thresholds:
    min_tier: TierRef | None
    tier_missing: bool  # the group asks for a tier that no longer exists: nobody qualifies
    min_points: int | None
    min_orders: int | None
    min_paid_fen: int | None
    window_days: int
    segment_id: int | None = None  # only the members of this saved segment
    segment_name: str = ""
    segment_missing: bool = False  # the segment asked for no longer exists: nobody qualifies


@dataclass(frozen=True)
class Standing:
    tier: TierRef | None
    points: int
    orders: int  # credited orders paid within the group's window
    paid_fen: int
    in_segment: bool = False  # she is in the group's segment (when it has one)


def _yuan(fen: int) -> str:
    yuan, cents = divmod(fen, 100)
    return f"{yuan}" if cents == 0 else f"{yuan}.{cents:02d}"


def shortfalls(rules: Thresholds, standing: Standing) -> list[str]:
    """Every threshold she has not reached, in words; empty: she qualifies."""
    missing: list[str] = []
    if rules.tier_missing or rules.segment_missing:
        return ["这个群暂未开放"]
    if rules.segment_id is not None and not standing.in_segment:
        missing.append("这个群只对部分会员开放")
    if rules.min_tier is not None and (standing.tier is None or standing.tier.threshold < rules.min_tier.threshold):
        missing.append(f"需要{rules.min_tier.name}及以上")
    if rules.min_points is not None and standing.points < rules.min_points:
        missing.append(f"还差 {rules.min_points - max(standing.points, 0)} 积分")
    if rules.min_orders is not None and standing.orders < rules.min_orders:
        missing.append(f"近 {rules.window_days} 天还差 {rules.min_orders - standing.orders} 笔订单")
    if rules.min_paid_fen is not None and standing.paid_fen < rules.min_paid_fen:
        missing.append(f"近 {rules.window_days} 天还差消费 {_yuan(rules.min_paid_fen - max(standing.paid_fen, 0))} 元")
    return missing


def describe(rules: Thresholds, *, for_fans: bool = False) -> list[str]:
    """The thresholds themselves, in words (none: everyone may join). Fans are not told a segment's name (it is
    ops' own word for them, "沉睡会员")."""
    said: list[str] = []
    if rules.tier_missing:
        said.append("要求的等级已删除，暂不开放")
    if rules.segment_missing:
        said.append("暂不开放" if for_fans else "要求的会员分群已删除，暂不开放")
    elif rules.segment_id is not None:
        said.append("仅限部分会员" if for_fans else f"会员分群“{rules.segment_name}”的会员")
    if rules.min_tier is not None:
        said.append(f"{rules.min_tier.name}及以上")
    if rules.min_points is not None:
        said.append(f"积分不少于 {rules.min_points}")
    if rules.min_orders is not None:
        said.append(f"近 {rules.window_days} 天至少 {rules.min_orders} 笔订单")
    if rules.min_paid_fen is not None:
        said.append(f"近 {rules.window_days} 天消费满 {_yuan(rules.min_paid_fen)} 元")
    return said


def qr_state(expires_at: datetime | None, now: datetime) -> str:
    """`missing` (never uploaded), `expired`, `expiring` (within a day) or `valid`."""
    if expires_at is None:
        return "missing"
    if expires_at <= now:
        return "expired"
    if expires_at - now <= WARN_BEFORE:
        return "expiring"
    return "valid"


QR_STATE_LABELS = {
    "missing": "还没有上传群二维码",
    "expired": "群二维码已过期，请更换",
    "expiring": "群二维码一天内过期，请尽快更换",
    "valid": "群二维码有效",
}
