"""The figures of analytics: the dashboard over a period (with the period before beside it), RFM and churn risk.

The dashboard asks each owning domain for its totals over the period (each one query on an index of that
domain); RFM reads the tenant's columnar snapshot (see `snapshot.py`), which a refresh keeps current.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.analytics import audience, repository, rfm, snapshot
from siyu.analytics import contribution as figures
from siyu.analytics.models import DEFAULT_YUAN_PER_POINT, AnalyticsSettings, SnapshotState
from siyu.analytics.periods import Period
from siyu.analytics.ties import Reading
from siyu.claims import service as claims
from siyu.kit.errors import InvalidInput
from siyu.kit.time import utcnow
from siyu.ledger import service as ledger
from siyu.live import attribution
from siyu.live import service as live
from siyu.mall import service as mall
from siyu.members import service as members
from siyu.orders import service as orders
from siyu.tenants.models import PLATFORM_LABELS

MAX_BUCKETS = 31
# Claims made (and ledger entries numbered) this long before a refresh started are read again by the next one: a
# row written by a transaction that began before the refresh and committed after it is not missed.
CLAIM_OVERLAP = timedelta(minutes=10)
Known = audience.Known  # criteria of saved segments the snapshot answers
ENTRY_OVERLAP_MS = 10 * 60 * 1000


# Settings


@dataclass(frozen=True)
class Settings:
    yuan_per_point: Decimal
    rfm_edges: dict[str, list[float]] | None  # the tenant's own, or None: quintiles of the data


def parse_rate(text: str) -> Decimal:
    """A yuan-per-point rate as typed: a decimal from 0 to 1000 with at most 4 places."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError) as error:
        raise InvalidInput("每积分价值请填写数字，例如 0.01", code="invalid_rate") from error
    if not value.is_finite() or value < 0 or value > 1000 or value != value.quantize(Decimal("0.0001")):
        raise InvalidInput("每积分价值需在 0 到 1000 元之间，最多 4 位小数", code="invalid_rate")
    return value


async def settings_of(session: AsyncSession, *, tenant_id: int) -> Settings:
    row = await repository.get_settings(session, tenant_id=tenant_id)
    if row is None:
        return Settings(Decimal(DEFAULT_YUAN_PER_POINT), None)
    try:
        rate = parse_rate(row.yuan_per_point)
    except InvalidInput:
        rate = Decimal(DEFAULT_YUAN_PER_POINT)
    return Settings(rate, rfm.valid_edges(row.rfm_edges))


async def save_settings(
    session: AsyncSession,
    *,
    tenant_id: int,
    yuan_per_point: Decimal | None = None,
    rfm_edges: dict[str, list[float]] | None = None,
    clear_edges: bool = False,
) -> Settings:
    """Change what is given; edges must be four ascending numbers per letter (or cleared: quintiles again)."""
    if rfm_edges is not None and rfm.valid_edges(rfm_edges) is None:
        raise InvalidInput("每项需要 4 个从小到大、不小于 0 的分界值", code="invalid_edges")
    row = await repository.get_settings(session, tenant_id=tenant_id)
    if row is None:
        row = AnalyticsSettings(tenant_id=tenant_id, yuan_per_point=DEFAULT_YUAN_PER_POINT, rfm_edges=None)
        repository.add(session, row)
    if yuan_per_point is not None:
        row.yuan_per_point = format(yuan_per_point.quantize(Decimal("0.0001")).normalize(), "f")
    if rfm_edges is not None:
        row.rfm_edges = rfm.valid_edges(rfm_edges)
    elif clear_edges:
        row.rfm_edges = None
    row.updated_at = utcnow()
    await session.flush()
    return await settings_of(session, tenant_id=tenant_id)


def liability_fen(points: int, yuan_per_point: Decimal) -> int:
    """What `points` are worth in fen at the tenant's rate, rounded to the nearest fen."""
    return int((Decimal(points) * yuan_per_point * 100).to_integral_value())


# Dashboard


@dataclass(frozen=True)
class Pair:
    """A figure over the period and over the period before."""

    now: int
    before: int

    @property
    def change(self) -> float | None:
        """Relative change (0.25 = +25 %), None when there is nothing to compare with."""
        return None if self.before == 0 else (self.now - self.before) / self.before


def ratio(part: int, whole: int) -> float | None:
    return None if whole <= 0 else part / whole


@dataclass(frozen=True)
class PlatformClaims:
    platform: str
    label: str
    orders: Pair  # imported paid orders
    claimed: Pair  # of those, credited to a member
    gmv_fen: Pair
    claimed_fen: Pair

    @property
    def rate(self) -> tuple[float | None, float | None]:
        return ratio(self.claimed.now, self.orders.now), ratio(self.claimed.before, self.orders.before)

    @property
    def gmv_rate(self) -> tuple[float | None, float | None]:
        return ratio(self.claimed_fen.now, self.gmv_fen.now), ratio(self.claimed_fen.before, self.gmv_fen.before)


@dataclass(frozen=True)
class Dashboard:
    period: Period
    previous: Period
    members: int  # active members now
    new_members: Pair
    platforms: list[PlatformClaims]
    total: PlatformClaims
    issued: Pair
    spent: Pair
    expired: Pair
    available: int  # points members hold now
    pending: int
    debt: int
    yuan_per_point: Decimal
    liability_fen: int
    redemptions: Pair
    redemption_points: Pair
    draws: Pair
    draw_points: Pair
    joined_series: list[tuple[date, date, int]]  # (first day, last day, members who joined)
    orders_as_of: datetime | None  # orders and points figures from the snapshot of this time (None: the database)


def _buckets(period: Period) -> list[Period]:
    size = -(-period.days // MAX_BUCKETS)
    out = []
    first = period.first
    while first <= period.last:
        last = min(first + timedelta(days=size - 1), period.last)
        out.append(Period(first, last))
        first = last + timedelta(days=1)
    return out


@dataclass(frozen=True)
class _Points:
    issued: int
    spent: int
    expired: int


def _points_of(kinds: dict[str, tuple[int, int]], added: int) -> _Points:
    def available(kind: str) -> int:
        return kinds.get(kind, (0, 0))[0]

    issued = kinds.get("earn_pending", (0, 0))[1] + available("earn") + added
    return _Points(issued=issued, spent=-(available("spend") + available("refund")), expired=-available("expire"))


async def _points(session: AsyncSession, tenant_id: int, start: datetime, end: datetime) -> _Points:
    kinds = await ledger.entry_totals(session, tenant_id=tenant_id, start=start, end=end)
    return _points_of(kinds, await ledger.positive_adjustments(session, tenant_id=tenant_id, start=start, end=end))


Totals = dict[str, tuple[int, int]]


async def _from_snapshot_or_database(
    session: AsyncSession, tenant_id: int, directory: Path | None, ranges: list[tuple[datetime, datetime]]
) -> tuple[list[Totals], list[Totals], list[_Points], datetime | None]:
    """Per range: paid and claimed orders per platform and the points figures, from the snapshot when there is one
    (column scans, no matter how many orders and entries), else from the database."""
    state = await repository.get_state(session, tenant_id=tenant_id) if directory is not None else None
    if state is not None and directory is not None and snapshot.path_of(directory, tenant_id).exists():
        path = snapshot.path_of(directory, tenant_id)

        def read() -> list[tuple[Totals, Totals, _Points]]:
            with snapshot.opened(path) as con:
                return [
                    (*snapshot.paid_and_claimed(con, start, end), _points_of(*snapshot.points_totals(con, start, end)))
                    for start, end in ranges
                ]

        found = await asyncio.to_thread(read)
        return [p for p, _, _ in found], [c for _, c, _ in found], [x for _, _, x in found], state.refreshed_at
    paid = [await orders.paid_totals(session, tenant_id=tenant_id, start=s, end=e) for s, e in ranges]
    claimed = [await claims.claimed_totals(session, tenant_id=tenant_id, start=s, end=e) for s, e in ranges]
    points = [await _points(session, tenant_id, s, e) for s, e in ranges]
    return paid, claimed, points, None


async def dashboard(
    session: AsyncSession, *, tenant_id: int, timezone: str, period: Period, directory: Path | None = None
) -> Dashboard:
    """The figures of `period` and of the period before. Orders figures come from the snapshot in `directory` when
    the tenant has one (as of its last refresh), else from the database."""
    previous = period.previous()
    now_start, now_end = period.bounds(timezone)
    before_start, before_end = previous.bounds(timezone)
    settings = await settings_of(session, tenant_id=tenant_id)
    paid, claimed, (points_now, points_before), as_of = await _from_snapshot_or_database(
        session, tenant_id, directory, [(now_start, now_end), (before_start, before_end)]
    )
    platforms = []
    known = [p for p in PLATFORM_LABELS if any(p in d for d in (*paid, *claimed))]
    known += sorted({p for d in (*paid, *claimed) for p in d} - set(known))
    for platform in known:

        def pair(totals: list[dict[str, tuple[int, int]]], index: int, platform: str = platform) -> Pair:
            return Pair(totals[0].get(platform, (0, 0))[index], totals[1].get(platform, (0, 0))[index])

        platforms.append(
            PlatformClaims(
                platform=platform,
                label=PLATFORM_LABELS.get(platform, "其他平台"),
                orders=pair(paid, 0),
                claimed=pair(claimed, 0),
                gmv_fen=pair(paid, 1),
                claimed_fen=pair(claimed, 1),
            )
        )

    def summed(name: str) -> Pair:
        return Pair(sum(getattr(p, name).now for p in platforms), sum(getattr(p, name).before for p in platforms))

    total = PlatformClaims(
        "all", "全部平台", summed("orders"), summed("claimed"), summed("gmv_fen"), summed("claimed_fen")
    )
    available, pending, debt = await ledger.outstanding(session, tenant_id=tenant_id)
    redemptions = [
        await mall.redemption_totals(session, tenant_id=tenant_id, start=s, end=e)
        for s, e in ((now_start, now_end), (before_start, before_end))
    ]
    draws = [
        await mall.draw_totals(session, tenant_id=tenant_id, start=s, end=e)
        for s, e in ((now_start, now_end), (before_start, before_end))
    ]
    series = []
    for bucket in _buckets(period):
        start, end = bucket.bounds(timezone)
        series.append(
            (bucket.first, bucket.last, await members.count_joined(session, tenant_id=tenant_id, start=start, end=end))
        )
    return Dashboard(
        period=period,
        previous=previous,
        members=await members.count(session, tenant_id=tenant_id),
        new_members=Pair(
            sum(n for _, _, n in series),
            await members.count_joined(session, tenant_id=tenant_id, start=before_start, end=before_end),
        ),
        platforms=platforms,
        total=total,
        issued=Pair(points_now.issued, points_before.issued),
        spent=Pair(points_now.spent, points_before.spent),
        expired=Pair(points_now.expired, points_before.expired),
        available=available,
        pending=pending,
        debt=debt,
        yuan_per_point=settings.yuan_per_point,
        liability_fen=liability_fen(available, settings.yuan_per_point),
        redemptions=Pair(redemptions[0][0], redemptions[1][0]),
        redemption_points=Pair(redemptions[0][1], redemptions[1][1]),
        draws=Pair(draws[0][0], draws[1][0]),
        draw_points=Pair(draws[0][1], draws[1][1]),
        joined_series=series,
        orders_as_of=as_of,
    )


# The snapshot


@dataclass(frozen=True)
class Refreshed:
    full: bool
    read: int  # credited orders read from the database
    rows: int  # credited orders in the snapshot now
    refreshed_at: datetime


async def refresh(session: AsyncSession, *, tenant_id: int, directory: Path, full: bool = False) -> Refreshed:
    """Bring the tenant's snapshot up to date: read what changed since the last refresh (or everything, for the
    first build, when the file is gone, or when asked)."""
    started = utcnow()
    mark = await orders.import_watermark(session, tenant_id=tenant_id)
    state = await repository.get_state(session, tenant_id=tenant_id)
    path = snapshot.path_of(directory, tenant_id)
    merges = await members.merged(session, tenant_id=tenant_id)
    bindings = await claims.bound_accounts(session, tenant_id=tenant_id)
    if full or state is None or await asyncio.to_thread(snapshot.outdated, path):
        rows = await snapshot.build(
            path,
            claims.orders_with_members(session, tenant_id=tenant_id),
            merges,
            ledger.entries_after(session, tenant_id=tenant_id, after_id=None),
            bindings=bindings,
            visits=await members.visits_since(session, tenant_id=tenant_id, since=None),
            joined=members.joined_since(session, tenant_id=tenant_id, since=None),
            balances=ledger.balances_since(session, tenant_id=tenant_id, since=None),
        )
        read, full = rows, True
    else:
        since = await asyncio.to_thread(snapshot.visit_mark, path, CLAIM_OVERLAP)
        read, rows = await snapshot.apply_changes(
            path,
            claims.orders_with_members(
                session,
                tenant_id=tenant_id,
                changed_after_import=state.import_mark,
                claimed_since=state.claim_mark - CLAIM_OVERLAP,
            ),
            merges,
            ledger.entries_after(session, tenant_id=tenant_id, after_id=state.entry_mark),
            bindings=bindings,
            visits=await members.visits_since(session, tenant_id=tenant_id, since=since),
            joined=members.joined_since(session, tenant_id=tenant_id, since=state.claim_mark - CLAIM_OVERLAP),
            balances=ledger.balances_since(session, tenant_id=tenant_id, since=state.claim_mark - CLAIM_OVERLAP),
        )
    entry_mark = await asyncio.to_thread(snapshot.entry_mark, path, ENTRY_OVERLAP_MS)
    if state is None:
        state = SnapshotState(
            tenant_id=tenant_id,
            import_mark=mark,
            claim_mark=started,
            entry_mark=entry_mark,
            rows=rows,
            built_at=started,
            refreshed_at=started,
        )
        repository.add(session, state)
    state.import_mark, state.claim_mark, state.rows, state.refreshed_at = mark, started, rows, started
    state.entry_mark = entry_mark
    if full:
        state.built_at = started
    await session.flush()
    return Refreshed(full=full, read=read, rows=rows, refreshed_at=started)


async def tenants_with_snapshots(session: AsyncSession) -> list[int]:
    return await repository.tenants_with_snapshots(session)


async def snapshot_state(session: AsyncSession, *, tenant_id: int) -> SnapshotState | None:
    return await repository.get_state(session, tenant_id=tenant_id)


# RFM


async def rfm_of(
    session: AsyncSession,
    *,
    tenant_id: int,
    directory: Path,
    now: datetime | None = None,
    reading: Reading = "claimed",
) -> rfm.Rfm:
    """Every member's RFM scores summed into the grid and the named segments, from the snapshot as it is: over the
    orders credited to her (`claimed`), or every imported order tied to her (`tied`)."""
    settings = await settings_of(session, tenant_id=tenant_id)
    path = snapshot.path_of(directory, tenant_id)
    moment = now or utcnow()

    def compute() -> rfm.Rfm:
        with snapshot.opened(path) as con:
            return rfm.compute(con, now=moment, own_edges=settings.rfm_edges, reading=reading)

    return await asyncio.to_thread(compute)


async def at_risk(
    session: AsyncSession,
    *,
    tenant_id: int,
    directory: Path,
    limit: int | None = 200,
    offset: int = 0,
    now: datetime | None = None,
    reading: Reading = "claimed",
) -> tuple[rfm.Rfm, list[dict[str, Any]]]:
    """The members whose last order and last visit are both further back than their own usual gap between
    orders, most valuable first, with their nicknames."""
    settings = await settings_of(session, tenant_id=tenant_id)
    path = snapshot.path_of(directory, tenant_id)
    moment = now or utcnow()

    def compute() -> tuple[rfm.Rfm, list[dict[str, Any]]]:
        with snapshot.opened(path) as con:
            summary = rfm.compute(con, now=moment, own_edges=settings.rfm_edges, reading=reading)
            return summary, rfm.at_risk_members(con, now=moment, edges=summary.edges, limit=limit, offset=offset)

    summary, rows = await asyncio.to_thread(compute)
    names: dict[int, str] = {}
    ids = [row["member_id"] for row in rows]
    for start in range(0, len(ids), 1000):
        names.update(await members.nicknames(session, tenant_id=tenant_id, member_ids=ids[start : start + 1000]))
    for row in rows:
        row["nickname"] = names.get(row["member_id"], "")
        row["segment_name"] = rfm.SEGMENT_NAMES.get(row["segment"], "")
    return summary, rows


# Private-domain contribution


@dataclass(frozen=True)
class Contribution:
    months: list[tuple[str, figures.MonthFigures]]  # ("2026-03", its figures), oldest first
    members: figures.Repeat  # repeat purchase of members over the whole period
    others: figures.Repeat  # and of buyers unknown to siyu
    unidentified_orders: int
    as_of: datetime  # the snapshot's last refresh

    @property
    def total(self) -> figures.MonthFigures:
        return figures.MonthFigures(
            *(sum(getattr(m, name) for _, m in self.months) for name in figures.MonthFigures.__dataclass_fields__)
        )


async def contribution(
    session: AsyncSession, *, tenant_id: int, timezone: str, months: list[str], directory: Path
) -> Contribution | None:
    """Per month, imported paid GMV of members (and of those who reserved a show that month) and of unknown
    buyers, and repeat purchase over the months, from the snapshot as it is (None: the tenant has none yet).
    Which members reserved comes from the live calendar (the reservations of the shows of those months)."""
    state = await repository.get_state(session, tenant_id=tenant_id)
    path = snapshot.path_of(directory, tenant_id)
    if state is None or not months or not path.exists():
        return None
    bounds = [attribution.month_bounds(month, timezone) for month in months]
    reservers = await live.reservers_between(session, tenant_id=tenant_id, start=bounds[0][0], end=bounds[-1][1])
    reserved = []
    for member_id, starts_at in reservers:
        index = next((i for i, (s, e) in enumerate(bounds) if s <= starts_at < e), None)
        if index is not None:
            reserved.append((member_id, index))

    def compute() -> figures.Figures:
        with snapshot.opened(path) as con:
            return figures.compute(con, bounds, reserved)

    found = await asyncio.to_thread(compute)
    return Contribution(
        months=list(zip(months, found.months, strict=True)),
        members=found.members,
        others=found.others,
        unidentified_orders=found.unidentified_orders,
        as_of=state.refreshed_at,
    )


async def shows_of_month(
    session: AsyncSession, *, tenant_id: int, month: str, timezone: str
) -> attribution.MonthReport:
    """The live shows of a month with what each brought (the live calendar's own attribution)."""
    return await attribution.month_report(session, tenant_id=tenant_id, month=month, timezone=timezone)


def directory_of(data_dir: Path | None = None) -> Path:
    """Where the tenants' snapshots are kept, under `data_dir` (the configured one when not given)."""
    if data_dir is None:
        from siyu.config import get_settings

        data_dir = get_settings().data_dir
    return Path(data_dir) / "analytics"


# The members of some RFM segments, by (tenant, snapshot file, its refresh, edges, segments, hour): saved segments
# ask on every fan's look at a fan group or trial they guard, and the answer only changes with the snapshot (and,
# through recency, with the hours).
_RFM_MEMBERS: OrderedDict[tuple[Any, ...], frozenset[int]] = OrderedDict()
RFM_MEMBERS_KEPT = 32


async def rfm_members(
    session: AsyncSession, *, tenant_id: int, directory: Path, keys: list[str], now: datetime | None = None
) -> frozenset[int]:
    """The members in any of these RFM segments (keys of `rfm.SEGMENTS`), from the snapshot as it is; none while
    the tenant has no snapshot yet. Kept per process for the hour while the snapshot stays the same."""
    if not keys:
        return frozenset()
    state = await repository.get_state(session, tenant_id=tenant_id)
    path = snapshot.path_of(directory, tenant_id)
    if state is None or not path.exists():
        return frozenset()
    settings = await settings_of(session, tenant_id=tenant_id)
    moment = now or utcnow()
    hour = moment.replace(minute=0, second=0, microsecond=0)
    key = (tenant_id, str(path), state.refreshed_at, repr(settings.rfm_edges), tuple(sorted(keys)), hour)
    kept = _RFM_MEMBERS.get(key)
    if kept is not None:
        _RFM_MEMBERS.move_to_end(key)
        return kept

    def compute() -> list[int]:
        with snapshot.opened(path) as con:
            summary = rfm.compute(con, now=moment, own_edges=settings.rfm_edges)
            return rfm.segment_members(con, edges=summary.edges, keys=keys)

    found = frozenset(await asyncio.to_thread(compute))
    _RFM_MEMBERS[key] = found
    while len(_RFM_MEMBERS) > RFM_MEMBERS_KEPT:
        _RFM_MEMBERS.popitem(last=False)
    return found


async def count_known(
    session: AsyncSession,
    *,
    tenant_id: int,
    directory: Path,
    known: Known,
    now: datetime | None = None,
    among: AsyncIterator[pl.DataFrame] | None = None,
) -> int | None:
    """How many members meet the criteria, from the snapshot as of its last refresh, among the members `among`
    yields (frames of `id`: those meeting the rest of a filter) when given; None when the tenant has no snapshot of
    this version yet (then the database must answer). `among` is read only when the snapshot answers."""
    state = await repository.get_state(session, tenant_id=tenant_id)
    path = snapshot.path_of(directory, tenant_id)
    if state is None or not path.exists():
        return None
    chosen = (
        await rfm_members(session, tenant_id=tenant_id, directory=directory, keys=list(known.rfm), now=now)
        if known.rfm
        else frozenset()
    )
    with tempfile.TemporaryDirectory(prefix="siyu-among-") as workdir:
        files = None if among is None else await snapshot.id_files(among, Path(workdir))

        def run() -> int | None:
            with snapshot.opened(path) as con:
                return audience.count(con, known, chosen, files) if snapshot.current(con) else None

        return await asyncio.to_thread(run)


SEGMENT_NAMES = rfm.SEGMENT_NAMES
RFM_SEGMENTS = [(key, name) for key, name, _ in rfm.SEGMENTS]
