"""Tables of the points mall: rewards, the codes of virtual rewards, redemptions, fans' addresses.

Stock is taken by one conditional UPDATE (never read, then written); a code is given by one conditional UPDATE
of its row; a double tap is one redemption because (tenant, member, idempotency key) is unique.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, Json, created_at_column
from siyu.ledger import models as ledger_models


class RewardKind(StrEnum):
    physical = "physical"  # goods, shipped to an address
    virtual_code = "virtual_code"  # a code from the reward's imported pool
    coupon = "coupon"  # a coupon the host honours in its shops
    trial = "trial"  # the right to a product trial


KIND_LABELS: dict[str, str] = {
    RewardKind.physical: "实物商品",
    RewardKind.virtual_code: "虚拟卡券（兑换码）",
    RewardKind.coupon: "优惠券",
    RewardKind.trial: "试用资格",
}


class Status(StrEnum):
    awaiting_address = "awaiting_address"  # goods won in a lottery: she tells us where to send them
    pending_shipment = "pending_shipment"
    shipped = "shipped"
    delivered = "delivered"
    completed = "completed"  # nothing to ship: the code or right was handed over at once
    cancelled = "cancelled"


STATUS_LABELS: dict[str, str] = {
    Status.awaiting_address: "待填地址",
    Status.pending_shipment: "待发货",
    Status.shipped: "已发货",
    Status.delivered: "已签收",
    Status.completed: "已完成",
    Status.cancelled: "已取消",
}


def redeem_ref(redemption_id: int) -> str:
    """How a redemption names its spend in the ledger."""
    return f"redeem:{redemption_id}"


class Reward(Base):
    __tablename__ = "mall_rewards"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("points_price > 0", name="price_positive"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        CheckConstraint("sold >= 0", name="sold_not_negative"),
        Index(None, "tenant_id", "enabled", "sort_order"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(2000), default="")
    category: Mapped[str] = mapped_column(String(20), default="")
    sort_order: Mapped[int] = mapped_column(default=0)  # higher first
    points_price: Mapped[int]
    stock: Mapped[int | None]  # what is left to give; None: unlimited
    sold: Mapped[int] = mapped_column(default=0)  # redeemed and not cancelled
    limit_per_member: Mapped[int | None]  # in all (cancelled redemptions do not count)
    limit_per_day: Mapped[int | None]  # per member per local day of the tenant
    tier_ids: Mapped[list[Any]] = mapped_column(Json, default=list)  # empty: every member
    visible_from: Mapped[datetime | None]  # shown in the mall (with a countdown until redeem_from)
    visible_until: Mapped[datetime | None]
    redeem_from: Mapped[datetime | None]  # a flash redemption opens at this instant
    redeem_until: Mapped[datetime | None]
    image: Mapped[str | None] = mapped_column(String(80))  # "<sha256>.<ext>" in the tenant's image store
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at_column()


class Code(Base):
    """One code of a virtual reward's pool, given to at most one redemption."""

    __tablename__ = "mall_codes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "reward_id"], ["mall_rewards.tenant_id", "mall_rewards.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "reward_id", "code"),
        Index(None, "tenant_id", "reward_id", "redemption_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    reward_id: Mapped[int]
    code: Mapped[str] = mapped_column(String(120))
    redemption_id: Mapped[int | None]
    claimed_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class Redemption(Base):
    """A fan's redemption: the points she paid, what she gets, and (goods) where it goes and how it travels."""

    __tablename__ = "mall_redemptions"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["tenant_id", "reward_id"], ["mall_rewards.tenant_id", "mall_rewards.id"], ondelete="RESTRICT"
        ),
        UniqueConstraint("tenant_id", "member_id", "idempotency_key"),
        Index(None, "tenant_id", "member_id", "reward_id", "day"),
        Index(None, "tenant_id", "status", "created_at"),
        Index(None, "tenant_id", "reward_id", "status"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int]
    reward_id: Mapped[int]
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(60))  # as it was when redeemed
    points: Mapped[int]
    status: Mapped[str] = mapped_column(String(20))
    day: Mapped[date] = mapped_column(Date)  # the tenant's local day (per-day limits)
    address: Mapped[dict[str, Any] | None] = mapped_column(Json)  # snapshot: name, phone, region, detail
    code: Mapped[str | None] = mapped_column(String(120))
    carrier: Mapped[str | None] = mapped_column(String(30))
    tracking_no: Mapped[str | None] = mapped_column(String(40))
    shipped_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = created_at_column()


class Address(Base):
    """An address in a fan's address book (a few; one is the default)."""

    __tablename__ = "mall_addresses"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "member_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int]
    name: Mapped[str] = mapped_column(String(20))
    phone: Mapped[str] = mapped_column(String(20))
    region: Mapped[str] = mapped_column(String(60))  # 省 市 区
    detail: Mapped[str] = mapped_column(String(120))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = created_at_column()


# 积分抽奖: a campaign with a points cost and caps, its weighted prizes, and every draw.


class PrizeKind(StrEnum):
    points = "points"  # points credited through the ledger
    reward = "reward"  # a mall reward, handed over as a redemption without spending
    nothing = "nothing"  # 谢谢参与


PRIZE_KIND_LABELS: dict[str, str] = {
    PrizeKind.points: "积分",
    PrizeKind.reward: "商城奖品",
    PrizeKind.nothing: "未中奖",
}


def draw_ref(draw_id: int) -> str:
    """How a draw names its cost in the ledger."""
    return f"lottery:{draw_id}"


def win_ref(draw_id: int) -> str:
    """How a draw names the points it won in the ledger."""
    return f"lottery-win:{draw_id}"


# What the mall's own entries in a fan's points history are, by the prefix of their source_ref: the ledger only knows
# "spend" and "earn", which would call a draw's cost 积分兑换.
LEDGER_LABELS: dict[tuple[str, str], str] = {
    ("spend", "redeem"): "积分兑换",
    ("refund", "redeem"): "兑换取消退回",
    ("spend", "lottery"): "积分抽奖",
    ("refund", "lottery"): "抽奖退回",
    ("earn", "lottery-win"): "抽奖中奖",
    ("spend", "trial"): "申请商品试用",
    ("refund", "trial"): "试用未中选退回",
    ("spend", "trial-penalty"): "试用报告逾期扣回",
}


def ledger_label(kind: str, source_ref: str) -> str | None:
    """The label of a points entry the mall made (None: not the mall's)."""
    return LEDGER_LABELS.get((kind, source_ref.split(":", 1)[0]))


def entry_label(entry: ledger_models.Entry) -> str:
    """What a line of a member's points history was, in words, for her and for ops alike: a lottery draw is
    积分抽奖, not 积分兑换."""
    return ledger_label(entry.kind, entry.source_ref) or ledger_models.KIND_LABELS.get(entry.kind, entry.kind)


class Lottery(Base):
    __tablename__ = "mall_lotteries"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("points_cost > 0", name="cost_positive"),
        Index(None, "tenant_id", "enabled", "starts_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(40))
    description: Mapped[str] = mapped_column(String(1000), default="")
    points_cost: Mapped[int]
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    cap_per_day: Mapped[int | None]  # draws per member per local day of the tenant
    cap_total: Mapped[int | None]  # draws per member in the whole campaign
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = created_at_column()


class Prize(Base):
    """One entry of a campaign's wheel: drawn with probability weight / sum of weights."""

    __tablename__ = "mall_lottery_prizes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "lottery_id"], ["mall_lotteries.tenant_id", "mall_lotteries.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(
            ["tenant_id", "reward_id"], ["mall_rewards.tenant_id", "mall_rewards.id"], ondelete="RESTRICT"
        ),
        CheckConstraint("weight >= 0", name="weight_not_negative"),
        CheckConstraint("stock IS NULL OR stock >= 0", name="stock_not_negative"),
        Index(None, "tenant_id", "lottery_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    lottery_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(40))
    weight: Mapped[int]
    stock: Mapped[int | None]  # prizes left to give; None: unlimited
    won: Mapped[int] = mapped_column(default=0)
    points: Mapped[int | None]  # kind points
    reward_id: Mapped[int | None]  # kind reward
    sort_order: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = created_at_column()


class Draw(Base):
    """One draw, kept for good: who, what it cost, what the wheel said and what she got (the audit trail)."""

    __tablename__ = "mall_lottery_draws"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["tenant_id", "lottery_id"], ["mall_lotteries.tenant_id", "mall_lotteries.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "member_id", "idempotency_key"),
        Index(None, "tenant_id", "lottery_id", "member_id", "day"),
        Index(None, "tenant_id", "lottery_id", "created_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    lottery_id: Mapped[int]
    member_id: Mapped[int]
    idempotency_key: Mapped[str | None] = mapped_column(String(64))
    points_cost: Mapped[int]
    drawn_prize_id: Mapped[int]  # what the wheel picked
    prize_id: Mapped[int | None]  # what she got (None: nothing)
    kind: Mapped[str] = mapped_column(String(16))  # of what she got
    title: Mapped[str] = mapped_column(String(40))
    points_won: Mapped[int] = mapped_column(default=0)
    redemption_id: Mapped[int | None]
    fell_back: Mapped[bool] = mapped_column(Boolean, default=False)  # the drawn prize was out of stock
    day: Mapped[date] = mapped_column(Date)
    created_at: Mapped[datetime] = created_at_column()


class FreeDraw(Base):
    """A free draw of a lottery given to a member (a check-in's day-N gift): it spends no points and is not held
    back by the lottery's caps. Used once: `used_draw_id` is the draw that spent it. The key is unique per member,
    so the occasion that gave it never gives twice."""

    __tablename__ = "mall_lottery_free_draws"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(
            ["tenant_id", "lottery_id"], ["mall_lotteries.tenant_id", "mall_lotteries.id"], ondelete="CASCADE"
        ),
        UniqueConstraint("tenant_id", "member_id", "key"),
        Index("ix_mall_lottery_free_draws_unused", "tenant_id", "member_id", "lottery_id", "used_draw_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int]
    lottery_id: Mapped[int]
    key: Mapped[str] = mapped_column(String(64))
    used_draw_id: Mapped[int | None]
    created_at: Mapped[datetime] = created_at_column()
