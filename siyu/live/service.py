"""The live calendar: ops plan shows on their channels, fans reserve them, and a cancel or a new time is queued
for everyone who reserved (`live.show_changed`), as is a reminder before the start (`live.show_reminder`), in the
same transaction as the change. Nothing here commits.

Reservations are unique per (show, member): a double tap is one reservation, cancelling twice changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.audit import service as audit
from siyu.jobs import service as jobs
from siyu.kit import images
from siyu.kit.errors import Conflict, InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.time import format_local, to_local, utcnow
from siyu.kit.web import Principal
from siyu.live import repository, rules
from siyu.live.models import STATUS_LABELS, Product, Reservation, Show, ShowStatus
from siyu.live.schemas import LiveSettings, ProductIn, ShowIn
from siyu.tenants import service as tenants

CHANGED_JOB = "live.show_changed"
REMINDER_JOB = "live.show_reminder"
SETTINGS_KEY = "live"
IMAGE_AREA = "live-images"


class ShowNotFound(NotFound):
    code = "show_not_found"
    message = "找不到这场直播"


class ProductNotFound(NotFound):
    code = "live_product_not_found"
    message = "找不到这个商品"


class ShowInPast(InvalidInput):
    code = "show_in_past"
    message = "开播时间已经过去了，请选择以后的时间"


class EndsBeforeStart(InvalidInput):
    code = "ends_before_start"
    message = "下播时间要晚于开播时间"


class PriceRequired(InvalidInput):
    code = "price_required"
    message = "请填写商品的直播价"


class ShowClosed(Conflict):
    code = "show_closed"
    message = "这场直播已经结束或取消，不能预约了"


class ShowFixed(Conflict):
    code = "show_fixed"
    message = "已结束或已取消的直播不能再修改"


def status_of(show: Show, now: datetime | None = None) -> ShowStatus:
    return rules.status_of(
        starts_at=show.starts_at, ends_at=show.ends_at, cancelled_at=show.cancelled_at, now=now or utcnow()
    )


def status_label(show: Show, now: datetime | None = None) -> str:
    return STATUS_LABELS[status_of(show, now)]


def _view(show: Show) -> dict[str, Any]:
    return {
        "title": show.title,
        "channel_id": show.channel_id,
        "live_room": show.live_room,
        "author_id": show.author_id,
        "starts_at": stamp(show.starts_at),
        "ends_at": stamp(show.ends_at),
        "benefits": list(show.benefits or []),
        "cancelled": show.cancelled_at is not None,
    }


# Settings


def settings_of(config: tenants.TenantConfig) -> LiveSettings:
    stored = config.section(SETTINGS_KEY)
    try:
        return LiveSettings.model_validate(stored or {})
    except ValueError:
        return LiveSettings()


async def save_settings(session: AsyncSession, *, actor: Principal, data: LiveSettings) -> LiveSettings:
    before = await tenants.put_setting(
        session, tenant_id=actor.tenant_id, key=SETTINGS_KEY, value=data.model_dump(mode="json")
    )
    audit.record_change(
        session,
        actor=actor,
        action="live.settings",
        target_type="tenant",
        target_id=actor.tenant_id,
        before=before or {},
        after=data.model_dump(mode="json"),
    )
    return data


# Shows (ops)


async def get_show(session: AsyncSession, *, tenant_id: int, show_id: int, lock: bool = False) -> Show:
    show = await repository.get_show(session, tenant_id=tenant_id, show_id=show_id, lock=lock)
    if show is None:
        raise ShowNotFound()
    return show


def _check_window(data: ShowIn, now: datetime, *, start_changed: bool = True) -> None:
    if data.ends_at <= data.starts_at:
        raise EndsBeforeStart()
    if start_changed and data.starts_at <= now:
        raise ShowInPast()


def stamp(moment: datetime) -> str:
    """A time as jobs carry it (UTC, ISO): a reminder is for one start time."""
    return moment.astimezone(UTC).isoformat()


def _benefits(values: list[str]) -> list[str]:
    return [v.strip()[:40] for v in values if v.strip()]


async def _schedule_reminder(session: AsyncSession, show: Show) -> None:
    config = await tenants.config_of(session, show.tenant_id)
    minutes = settings_of(config).remind_minutes
    if not minutes:
        return
    await jobs.enqueue(
        session,
        REMINDER_JOB,
        {"show_id": show.id, "starts_at": stamp(show.starts_at), "after_member": 0},
        tenant_id=show.tenant_id,
        dedupe_key=f"{REMINDER_JOB}:{show.tenant_id}:{show.id}:{stamp(show.starts_at)}:0",
        run_after=max(utcnow(), show.starts_at - timedelta(minutes=minutes)),
    )


async def _tell_reserved(session: AsyncSession, show: Show, change: str) -> None:
    """One job per change; its handler tells every member holding a reservation, batch by batch."""
    show.version += 1
    show.notice_at = utcnow()
    await jobs.enqueue(
        session,
        CHANGED_JOB,
        {"show_id": show.id, "version": show.version, "change": change, "after_member": 0},
        tenant_id=show.tenant_id,
        dedupe_key=f"{CHANGED_JOB}:{show.tenant_id}:{show.id}:{show.version}:0",
    )


async def create_show(session: AsyncSession, *, actor: Principal, data: ShowIn) -> Show:
    _check_window(data, utcnow())
    channel = await tenants.get_channel(session, tenant_id=actor.tenant_id, channel_id=data.channel_id)
    show = Show(
        tenant_id=actor.tenant_id,
        id=new_id(),
        channel_id=channel.id,
        platform=channel.platform,
        live_room=data.live_room or None,
        author_id=data.author_id or None,
        title=data.title,
        benefits=_benefits(data.benefits),
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        version=0,
        notice="",
    )
    repository.add(session, show)
    await session.flush()
    await _schedule_reminder(session, show)
    audit.record(
        session, actor=actor, action="live.create", target_type="live_show", target_id=show.id, after=_view(show)
    )
    return show


async def update_show(session: AsyncSession, *, actor: Principal, show_id: int, data: ShowIn) -> Show:
    show = await get_show(session, tenant_id=actor.tenant_id, show_id=show_id, lock=True)
    if status_of(show) in (ShowStatus.ended, ShowStatus.cancelled):
        raise ShowFixed()
    start_changed = data.starts_at != show.starts_at
    _check_window(data, utcnow(), start_changed=start_changed)
    channel = await tenants.get_channel(session, tenant_id=actor.tenant_id, channel_id=data.channel_id)
    before = _view(show)
    time_changed = start_changed or data.ends_at != show.ends_at
    show.channel_id, show.platform = channel.id, channel.platform
    show.title, show.live_room, show.author_id = data.title, data.live_room or None, data.author_id or None
    show.benefits = _benefits(data.benefits)
    show.starts_at, show.ends_at = data.starts_at, data.ends_at
    if time_changed:
        tenant = await tenants.get_tenant(session, actor.tenant_id)
        show.notice = f"直播时间改为 {format_local(show.starts_at, tenant.timezone, '%m月%d日 %H:%M')}"[:200]
        await _tell_reserved(session, show, "time")
        if start_changed:
            await _schedule_reminder(session, show)
    await session.flush()
    audit.record_change(
        session,
        actor=actor,
        action="live.update",
        target_type="live_show",
        target_id=show.id,
        before=before,
        after=_view(show),
    )
    return show


async def cancel_show(session: AsyncSession, *, actor: Principal, show_id: int) -> Show:
    """Cancel a show (once: cancelling again changes nothing and tells nobody twice)."""
    show = await get_show(session, tenant_id=actor.tenant_id, show_id=show_id, lock=True)
    if show.cancelled_at is not None:
        return show
    if status_of(show) == ShowStatus.ended:
        raise ShowFixed()
    show.cancelled_at = utcnow()
    show.notice = "这场直播已取消"
    await _tell_reserved(session, show, "cancelled")
    await session.flush()
    audit.record(session, actor=actor, action="live.cancel", target_type="live_show", target_id=show.id)
    return show


async def set_cover(session: AsyncSession, *, actor: Principal, show_id: int, data: bytes, data_dir: Path) -> Show:
    show = await get_show(session, tenant_id=actor.tenant_id, show_id=show_id)
    show.cover = images.store(data_dir, IMAGE_AREA, actor.tenant_id, data)
    await session.flush()
    audit.record(session, actor=actor, action="live.cover", target_type="live_show", target_id=show.id)
    return show


def image_path(data_dir: Path, tenant_id: int, name: str | None) -> Path | None:
    return None if not name else images.path_of(data_dir, IMAGE_AREA, tenant_id, name)


async def calendar(session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime) -> list[Show]:
    return await repository.shows_between(session, tenant_id=tenant_id, start=start, end=end)


async def reservation_counts(session: AsyncSession, *, tenant_id: int, show_ids: list[int]) -> dict[int, int]:
    return await repository.reservation_counts(session, tenant_id=tenant_id, show_ids=show_ids)


# Featured products


async def products_of(session: AsyncSession, *, tenant_id: int, show_ids: list[int]) -> dict[int, list[Product]]:
    grouped: dict[int, list[Product]] = {show_id: [] for show_id in show_ids}
    for product in await repository.products_of(session, tenant_id=tenant_id, show_ids=show_ids):
        grouped.setdefault(product.show_id, []).append(product)
    return grouped


async def add_product(
    session: AsyncSession,
    *,
    actor: Principal,
    show_id: int,
    data: ProductIn,
    image: bytes | None = None,
    data_dir: Path | None = None,
) -> Product:
    show = await get_show(session, tenant_id=actor.tenant_id, show_id=show_id)
    if data.price_fen is None:
        raise PriceRequired()
    stored = None
    if image:
        assert data_dir is not None
        stored = images.store(data_dir, IMAGE_AREA, actor.tenant_id, image)
    product = Product(
        tenant_id=actor.tenant_id,
        id=new_id(),
        show_id=show.id,
        title=data.title,
        price_fen=data.price_fen,
        image=stored,
        sort_order=data.sort_order,
    )
    repository.add(session, product)
    await session.flush()
    audit.record(
        session,
        actor=actor,
        action="live.product_add",
        target_type="live_show",
        target_id=show.id,
        after={"title": product.title, "price_fen": product.price_fen},
    )
    return product


async def get_product(session: AsyncSession, *, tenant_id: int, show_id: int, product_id: int) -> Product:
    product = await repository.get_product(session, tenant_id=tenant_id, product_id=product_id)
    if product is None or product.show_id != show_id:
        raise ProductNotFound()
    return product


async def remove_product(session: AsyncSession, *, actor: Principal, show_id: int, product_id: int) -> None:
    product = await get_product(session, tenant_id=actor.tenant_id, show_id=show_id, product_id=product_id)
    before = {"title": product.title, "price_fen": product.price_fen}
    await repository.delete(session, product)
    await session.flush()
    audit.record(
        session, actor=actor, action="live.product_remove", target_type="live_show", target_id=show_id, before=before
    )


# Reservations (fans)


async def reserve(session: AsyncSession, *, tenant_id: int, member_id: int, show_id: int) -> Reservation:
    """Reserve a planned or running show: once per member (a second tap is the same reservation)."""
    show = await get_show(session, tenant_id=tenant_id, show_id=show_id)
    if status_of(show) in (ShowStatus.ended, ShowStatus.cancelled):
        raise ShowClosed()
    now = utcnow()
    row = await repository.get_reservation(session, tenant_id=tenant_id, show_id=show_id, member_id=member_id)
    if row is None:
        row = Reservation(
            tenant_id=tenant_id, id=new_id(), show_id=show_id, member_id=member_id, reserved_at=now, cancelled_at=None
        )
        try:
            async with session.begin_nested():
                repository.add(session, row)
                await session.flush()
            return row
        except IntegrityError:  # a second tap at the same moment: hers already
            row = await repository.get_reservation(session, tenant_id=tenant_id, show_id=show_id, member_id=member_id)
            assert row is not None
    if row.cancelled_at is not None:
        await repository.reserve_again(session, tenant_id=tenant_id, reservation_id=row.id, now=now)
        await session.refresh(row)
    return row


async def cancel_reservation(session: AsyncSession, *, tenant_id: int, member_id: int, show_id: int) -> None:
    """Cancel her reservation; nothing happens when she holds none."""
    await get_show(session, tenant_id=tenant_id, show_id=show_id)
    row = await repository.get_reservation(session, tenant_id=tenant_id, show_id=show_id, member_id=member_id)
    if row is not None and row.cancelled_at is None:
        await repository.cancel_reservation(session, tenant_id=tenant_id, reservation_id=row.id, now=utcnow())
        await session.refresh(row)


async def upcoming(session: AsyncSession, *, tenant_id: int, limit: int = 100) -> list[Show]:
    """Shows not over yet, earliest first (a cancelled one stays listed until its time has passed, marked)."""
    return await repository.shows_ending_after(session, tenant_id=tenant_id, after=utcnow(), limit=limit)


async def reserved_shows(session: AsyncSession, *, tenant_id: int, member_id: int, show_ids: list[int]) -> set[int]:
    return await repository.reserved_shows(session, tenant_id=tenant_id, member_id=member_id, show_ids=show_ids)


async def holds_reservation(
    session: AsyncSession, *, tenant_id: int, member_id: int, since: datetime | None = None
) -> bool:
    """Whether she holds a reservation (made at or after `since`): the "reserve a live show" points task."""
    return await repository.holds_reservation(session, tenant_id=tenant_id, member_id=member_id, since=since)


async def my_reservations(session: AsyncSession, *, tenant_id: int, member_id: int) -> list[Show]:
    """The shows she reserved, the coming ones first (earliest first), then the past ones (latest first)."""
    rows = await repository.reservations_of_member(session, tenant_id=tenant_id, member_id=member_id)
    shows = await repository.shows_by_id(session, tenant_id=tenant_id, show_ids=[r.show_id for r in rows])
    now = utcnow()
    coming = sorted((s for s in shows.values() if s.ends_at > now), key=lambda s: (s.starts_at, s.id))
    past = sorted((s for s in shows.values() if s.ends_at <= now), key=lambda s: (s.starts_at, s.id), reverse=True)
    return coming + past


async def reserved_batch(
    session: AsyncSession, *, tenant_id: int, show_id: int, after_member: int, size: int
) -> list[int]:
    return await repository.reserved_batch(
        session, tenant_id=tenant_id, show_id=show_id, after_member=after_member, size=size
    )


@dataclass(frozen=True)
class Series:
    days: list[str]
    counts: list[int]


async def reservation_series(session: AsyncSession, *, show: Show, timezone: str) -> Series:
    """Reservations held at the end of each tenant-local day, from the first reservation to the start (or today)."""
    times = await repository.reservation_times(session, tenant_id=show.tenant_id, show_id=show.id)
    if not times:
        return Series([], [])
    first = min(t for t, _ in times)
    last = min(max(utcnow(), first), show.starts_at)
    day = to_local(first, timezone).date()
    end_day = to_local(last, timezone).date()
    days: list[str] = []
    counts: list[int] = []
    while day <= end_day and len(days) < 120:
        days.append(day.strftime("%m-%d"))
        counts.append(
            sum(
                1
                for reserved, cancelled in times
                if to_local(reserved, timezone).date() <= day
                and (cancelled is None or to_local(cancelled, timezone).date() > day)
            )
        )
        day += timedelta(days=1)
    return Series(days, counts)


async def reservers_between(
    session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime
) -> list[tuple[int, datetime]]:
    """(member, the show's start) of the reservations held for shows starting in [start, end), neither cancelled."""
    return await repository.reservers_between(session, tenant_id=tenant_id, start=start, end=end)


reserved = repository.reserved  # (an SQL condition over a member's columns, for saved segments)
