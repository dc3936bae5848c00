"""Tables of analytics: the tenant's settings for its reports, and the bookkeeping of its columnar snapshot."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from siyu.kit.db import Base, Json
from siyu.kit.time import utcnow

DEFAULT_YUAN_PER_POINT = "0.01"


class AnalyticsSettings(Base):
    """What a point is worth in yuan (for the liability) and the tenant's own RFM score edges."""

    __tablename__ = "analytics_settings"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),)

    tenant_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    yuan_per_point: Mapped[str] = mapped_column(String(16), default=DEFAULT_YUAN_PER_POINT)  # a decimal, as typed
    # {"r": [days x4], "f": [orders x4], "m": [fen x4]}, each ascending; None: quintiles of the data.
    rfm_edges: Mapped[dict[str, Any] | None] = mapped_column(Json)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class SnapshotState(Base):
    """Up to where the tenant's columnar snapshot has read: the next refresh reads only what changed since."""

    __tablename__ = "analytics_snapshots"
    __table_args__ = (ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),)

    tenant_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    import_mark: Mapped[int]  # orders written by imports up to this id are in the snapshot
    claim_mark: Mapped[datetime]  # claims made before this instant are in the snapshot
    entry_mark: Mapped[int]  # ledger entries up to this id are in the snapshot
    rows: Mapped[int]  # credited orders in the snapshot
    built_at: Mapped[datetime]  # the last full build
    refreshed_at: Mapped[datetime]  # the last refresh, full or not
