"""Tables of the daily check-in: one row per member per tenant-local day, and who asked to be reminded.

(tenant, member, day) is the primary key: the database, not a read before the write, decides that a day is
checked in once. The streak and the points of the day are stored on the row, so the calendar and the statistics
read them instead of working them out again.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKeyConstraint, Index
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, created_at_column


class Checkin(Base):
    __tablename__ = "checkins"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
        Index(None, "tenant_id", "day"),  # statistics by day
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # the tenant's local day
    streak: Mapped[int]  # days in a row ending with this one
    points: Mapped[int]  # credited for this day (0 for a made-up day)
    made_up_on: Mapped[date | None] = mapped_column(Date)  # a make-up (补签): the local day it was made
    cost: Mapped[int] = mapped_column(default=0)  # points a make-up cost
    created_at: Mapped[datetime] = created_at_column()

    @property
    def made_up(self) -> bool:
        return self.made_up_on is not None


class Reminder(Base):
    """A member who asked to be reminded to check in (the row exists while the reminder is on)."""

    __tablename__ = "checkin_reminders"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "member_id"], ["members.tenant_id", "members.id"], ondelete="CASCADE"),
    )

    tenant_id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[datetime] = created_at_column()
