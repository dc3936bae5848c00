"""Tables of invitations (邀请有礼) and share leaderboards (分享排行榜).

Exactly once is kept by keys, not by reading first: one invite code per member and one code per tenant
(`referral_codes`), one invitation per invitee (`referrals`), one prize per leaderboard rank
(`referral_board_prizes`); the points themselves go through the ledger under unique source references
(siyu.ledger.refs.invite_ref / board_ref).
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, Json, created_at_column

DEFAULT_INVITER_POINTS = 100
DEFAULT_INVITEE_POINTS = 50
DEFAULT_CAP = 20  # rewarded invitations per inviter
DEFAULT_NETWORK_LIMIT = 5  # invitees from one network address within an hour before the next is suspected
MAX_POINTS = 100_000  # of one side of an invitation, or of one rank's prize


class State(StrEnum):
    signed_up = "signed_up"  # she joined through the code; both sides wait for her first credited order
    suspected = "suspected"  # waits in the review queue
    rewarded = "rewarded"  # both sides were paid
    capped = "capped"  # the invitee was paid; the inviter had reached her cap of rewarded invitations
    rejected = "rejected"  # ops refused it in the review queue: nobody is paid


STATE_LABELS: dict[str, str] = {
    State.signed_up: "已注册，等待首单领积分",
    State.suspected: "审核中",
    State.rewarded: "双方已得积分",
    State.capped: "已达邀请奖励上限",
    State.rejected: "未通过审核",
}

SUSPICION_LABELS: dict[str, str] = {
    "busy_network": "同一网络短时间内注册了多位受邀人",
    "shared_device": "与另一位受邀人使用同一台设备",
}


class BoardStatus(StrEnum):
    open = "open"
    settling = "settling"  # the settle job is queued
    settled = "settled"


class BoardMetric(StrEnum):
    invitations = "invitations"  # new members who joined through her code
    sign_ins = "sign_ins"  # sign-ins through her link: new members and members who came back (one a friend a day)


BOARD_METRIC_LABELS: dict[str, str] = {
    BoardMetric.invitations: "邀请注册人数",
    BoardMetric.sign_ins: "分享带来的登录人次",
}

BOARD_STATUS_LABELS: dict[str, str] = {
    BoardStatus.open: "进行中",
    BoardStatus.settling: "结算中",
    BoardStatus.settled: "已结算",
}


class Rules(Base):
    """A tenant's invitation rules (no row: the defaults of siyu.engagement.referrals.rules)."""

    __tablename__ = "referral_rules"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("inviter_points >= 0 AND invitee_points >= 0", name="points_not_negative"),
        CheckConstraint("cap >= 0", name="cap_not_negative"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    inviter_points: Mapped[int]
    invitee_points: Mapped[int]
    cap: Mapped[int]  # rewarded invitations per inviter
    network_limit: Mapped[int]  # invitees from one network address within an hour before the next is suspected
    updated_at: Mapped[datetime] = created_at_column()


class InviteCode(Base):
    """A member's invite code, made the first time she opens her invite page; with where she was seen then."""

    __tablename__ = "referral_codes"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "code"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(12))
    device_hash: Mapped[str | None] = mapped_column(String(64))  # keyed hashes, never the address itself
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = created_at_column()


class Referral(Base):
    """One invitee who joined through a member's code. Refusals (self-referral, another tenant's code, an existing
    member) leave no row: what is stored is what may yet be paid, or what ops decided."""

    __tablename__ = "referrals"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "inviter_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "invitee_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "invitee_id"),
        Index(None, "tenant_id", "inviter_id", "state"),
        Index(None, "tenant_id", "state", "created_at"),
        Index(None, "tenant_id", "ip_hash", "created_at"),
        Index(None, "tenant_id", "device_hash"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    inviter_id: Mapped[int]
    invitee_id: Mapped[int]
    state: Mapped[str] = mapped_column(String(16))
    suspicion: Mapped[str | None] = mapped_column(String(20))  # why it went to review
    device_hash: Mapped[str | None] = mapped_column(String(64))
    ip_hash: Mapped[str | None] = mapped_column(String(64))
    inviter_points: Mapped[int] = mapped_column(default=0)  # what each side was paid
    invitee_points: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(String(200))  # the reviewer's reason
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    rewarded_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()


class Leaderboard(Base):
    """A share leaderboard, on its own or of a points campaign or a live show: members ranked by the invitees who
    joined in its window; each prize rank gives points, a mall reward, or both."""

    __tablename__ = "referral_boards"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        CheckConstraint("ends_at > starts_at", name="window_forward"),
        Index(None, "tenant_id", "starts_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    title: Mapped[str] = mapped_column(String(40))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    prizes: Mapped[list[Any]] = mapped_column(Json, default=list)  # points of rank 1, 2, ...
    reward_prizes: Mapped[list[Any] | None] = mapped_column(Json)  # mall reward id of rank 1, 2, ... (0: none)
    show_id: Mapped[int | None]  # the live show (siyu.live) it belongs to, if any
    campaign_id: Mapped[int | None]  # the points campaign (siyu.loyalty) it belongs to, if any
    metric: Mapped[str | None] = mapped_column(String(12))  # BoardMetric (None: invitations, as before it existed)
    status: Mapped[str] = mapped_column(String(12), default=BoardStatus.open)
    settled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = created_at_column()

    @property
    def reward_ids(self) -> list[int | None]:
        return [int(r) if r else None for r in self.reward_prizes or []]

    @property
    def prize_ranks(self) -> int:
        """How many ranks win something."""
        return max(len(self.prizes or []), len(self.reward_prizes or []))


class Prize(Base):
    """The prize of one rank of a settled leaderboard: (board, rank) is the key, so it is given once."""

    __tablename__ = "referral_board_prizes"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "board_id"], ["referral_boards.tenant_id", "referral_boards.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "member_id"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    board_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    rank: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    member_id: Mapped[int]
    invitations: Mapped[int]
    points: Mapped[int]
    reward_title: Mapped[str | None] = mapped_column(String(100))  # the mall reward given too, if any
    redemption_id: Mapped[int | None]  # its redemption (None: there was none, or it was out of stock)
    created_at: Mapped[datetime] = created_at_column()


class Visit(Base):
    """A sign-in through a member's link (a share that led to a sign-in): a new member's first, or a member who
    came back. One a day for each friend and sharer: (sharer, friend, local day) is the key."""

    __tablename__ = "referral_visits"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "inviter_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        ForeignKeyConstraint(["tenant_id", "visitor_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "created_at"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    inviter_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    visitor_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    created_at: Mapped[datetime] = created_at_column()
