"""Where a member's points came from and who moved them, in words with links, instead of the ledger's codes
(`order:douyin:…`, `claim:3872…`, `system:hold`)."""

from __future__ import annotations

from dataclasses import dataclass

from siyu.tenants.models import PLATFORM_LABELS


@dataclass(frozen=True)
class Shown:
    text: str
    link: str | None = None


def _digits(value: str) -> bool:
    return value.isdigit() and len(value) < 20


def source(ref: str) -> Shown:
    """A ledger source (what earned or spent the points)."""
    base, _, extra = ref.partition("#")
    kind, _, rest = base.partition(":")
    if kind == "order":
        platform, _, order_id = rest.partition(":")
        name = PLATFORM_LABELS.get(platform, "平台")
        text = f"{name}订单 {order_id}" + ("（退款扣回）" if extra.startswith("refund") else "")
        return Shown(text, f"/console/orders/{platform}/{order_id}" if platform in PLATFORM_LABELS else None)
    if kind == "redeem":
        return Shown(f"积分商城兑换（兑换单 {rest}）", "/console/mall/redemptions?status=all")
    if kind == "lottery":
        return Shown("积分抽奖")
    if kind == "lottery-win":
        return Shown("积分抽奖中奖")
    if kind == "adjust":
        return Shown("手工调整")
    if kind == "merge":
        return Shown("合并会员转入", f"/console/members/{rest}" if _digits(rest) else None)
    if kind == "lot":
        return Shown("积分过期")
    return Shown("其他")


def actor(created_by: str | None) -> Shown:
    """Who or what made a ledger entry."""
    if not created_by:
        return Shown("系统")
    kind, _, rest = created_by.partition(":")
    if kind == "claim" and _digits(rest):
        return Shown("会员领取订单")
    if kind == "import" and _digits(rest):
        return Shown("订单导入", "/console/orders/import")
    if kind == "system":
        return Shown({"hold": "系统：入账", "expire": "系统：过期"}.get(rest, "系统"))
    if created_by.startswith("API 密钥 "):
        return Shown(created_by.split(" (")[0])
    return Shown(created_by.split(" <")[0])  # a staff member: her name, without the e-mail
