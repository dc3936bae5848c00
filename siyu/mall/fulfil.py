"""Fulfilment of redemptions: 待发货 -> 已发货 (carrier, tracking number) -> 已签收, or 已取消 (stock restored,
points back to the lots they came from; lots that expired meanwhile stay expired). Tracking numbers in bulk from
a file (good rows applied, the others reported by row); the pick list of what to ship as XLSX. Nothing commits.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.jobs import service as jobs
from siyu.kit.errors import AppError, Conflict
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.ledger import service as ledger
from siyu.mall import files, repository, service
from siyu.mall.models import STATUS_LABELS, Redemption, Status, redeem_ref
from siyu.mall.schemas import ImportReport, RowProblem, ShipIn
from siyu.tenants import service as tenants

PICK_LIST_ROWS = 5000


class WrongStatus(Conflict):
    code = "wrong_status"
    message = "这笔兑换现在的状态不能这样操作"


SHIPPED_JOB = "mall.shipped"


async def _locked(session: AsyncSession, *, tenant_id: int, redemption_id: int) -> Redemption:
    row = await repository.lock_redemption(session, tenant_id=tenant_id, redemption_id=redemption_id)
    if row is None:
        raise service.RedemptionNotFound()
    return row


def _refuse(row: Redemption, doing: str) -> WrongStatus:
    return WrongStatus(f"这笔兑换{STATUS_LABELS.get(row.status, row.status)}，不能{doing}", status=row.status)


async def ship(
    session: AsyncSession, *, actor: Principal, redemption_id: int, data: ShipIn, now: datetime | None = None
) -> Redemption:
    """Record the carrier and tracking number (again, to correct them, while it is on its way)."""
    row = await _locked(session, tenant_id=actor.tenant_id, redemption_id=redemption_id)
    if row.status not in (Status.pending_shipment, Status.shipped):
        raise _refuse(row, "发货")
    before = {"status": row.status, "carrier": row.carrier, "tracking_no": row.tracking_no}
    first = row.status == Status.pending_shipment
    row.status, row.carrier, row.tracking_no = Status.shipped, data.carrier, data.tracking_no
    row.shipped_at = row.shipped_at or now or utcnow()
    await session.flush()
    if first:  # she is told once, in this transaction (a correction of the tracking number is not news)
        await jobs.enqueue(
            session,
            SHIPPED_JOB,
            {
                "member_id": row.member_id,
                "redemption_id": row.id,
                "title": row.title,
                "carrier": row.carrier,
                "tracking_no": row.tracking_no,
            },
            tenant_id=row.tenant_id,
            dedupe_key=f"shipped:{row.tenant_id}:{row.id}",
        )
    audit.record(
        session,
        actor=actor,
        action="redemption.ship",
        target_type="redemption",
        target_id=row.id,
        before=before,
        after={"status": row.status, "carrier": row.carrier, "tracking_no": row.tracking_no},
    )
    return row


async def deliver(
    session: AsyncSession, *, actor: Principal, redemption_id: int, now: datetime | None = None
) -> Redemption:
    row = await _locked(session, tenant_id=actor.tenant_id, redemption_id=redemption_id)
    if row.status != Status.shipped:
        raise _refuse(row, "确认签收")
    row.status, row.delivered_at = Status.delivered, now or utcnow()
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="redemption.deliver",
        target_type="redemption",
        target_id=row.id,
        before={"status": Status.shipped},
        after={"status": row.status},
    )
    return row


async def cancel(
    session: AsyncSession, *, actor: Principal, redemption_id: int, reason: str, now: datetime | None = None
) -> Redemption:
    """Cancel a redemption not yet delivered: one back to stock, the points back to their lots (a lottery prize
    spent none: its draw paid)."""
    now = now or utcnow()
    row = await _locked(session, tenant_id=actor.tenant_id, redemption_id=redemption_id)
    if row.status not in (Status.awaiting_address, Status.pending_shipment, Status.shipped):
        raise _refuse(row, "取消")
    before = {"status": row.status}
    row.status, row.cancelled_at, row.cancel_reason = Status.cancelled, now, reason.strip()[:200]
    await repository.give_back_stock(session, tenant_id=actor.tenant_id, reward_id=row.reward_id)
    if row.points:
        await ledger.refund_spend(
            session, tenant_id=actor.tenant_id, source_ref=redeem_ref(row.id), created_by=actor.label[:80], now=now
        )
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="redemption.cancel",
        target_type="redemption",
        target_id=row.id,
        before=before,
        after={"status": row.status, "reason": row.cancel_reason},
    )
    return row


async def import_tracking(
    session: AsyncSession, *, actor: Principal, data: bytes, filename: str, now: datetime | None = None
) -> ImportReport:
    """Ship every row of a tracking file (兑换单号, 快递公司, 运单号) that can be; report the others by row."""
    rows = await asyncio.to_thread(files.tracking_rows, data, filename)  # never parse a sheet on the event loop
    problems: list[RowProblem] = []
    applied = 0
    seen: dict[int, int] = {}
    for line in rows:
        value = line.redemption_id
        if not value.isdigit() or len(value) > 19:
            problems.append(RowProblem(row=line.row, value=value, reason="兑换单号不正确"))
            continue
        redemption_id = int(value)
        if redemption_id in seen:
            problems.append(RowProblem(row=line.row, value=value, reason=f"与第 {seen[redemption_id]} 行重复"))
            continue
        seen[redemption_id] = line.row
        try:
            ship_data = ShipIn(carrier=line.carrier, tracking_no=line.tracking_no)
        except ValueError:
            reason = "缺少快递公司" if not line.carrier else "运单号不正确（4-40 位字母、数字或 -）"
            problems.append(RowProblem(row=line.row, value=value, reason=reason))
            continue
        try:
            await ship(session, actor=actor, redemption_id=redemption_id, data=ship_data, now=now)
        except AppError as error:
            problems.append(RowProblem(row=line.row, value=value, reason=error.message))
            continue
        applied += 1
    return ImportReport(applied=applied, problems=problems)


async def pick_list(session: AsyncSession, *, tenant_id: int) -> bytes:
    """What to ship, oldest first, as XLSX: fill in 快递公司 and 运单号 and import the same file back."""
    tenant = await tenants.get_tenant(session, tenant_id)
    rows = await repository.to_ship(session, tenant_id=tenant_id, limit=PICK_LIST_ROWS)
    return files.pick_list_xlsx(rows, tenant.timezone)
