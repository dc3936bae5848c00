"""Order imports and queries. The import pipeline: file -> layout -> batches -> canonical rows -> upsert.

Nothing here commits: `siyu.orders.tasks.run_import` drives the batches, one transaction each.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import AsyncIterator, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.jobs import service as jobs
from siyu.kit.errors import InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.pagination import Page, PageRequest, Sort
from siyu.kit.time import aware_or_none, utcnow
from siyu.kit.web import Principal
from siyu.orders import layouts, reading, repository
from siyu.orders.layouts import Layout
from siyu.orders.models import ChangeView, ColumnMapping, Order, OrderChange, OrderImport, OrderView, SubOrder
from siyu.orders.normalise import FILLED, ROW, clean_column, fold_orders, normalise, order_limits, rank_expr
from siyu.orders.reading import FileRefused
from siyu.tenants import service as tenants

EXPORT_TIMEZONE = "Asia/Shanghai"  # platforms write China time in their exports
BATCH_ROWS = 100_000
PLATFORMS = ("taobao", "douyin", "kuaishou", "channels", "jd", "pdd")


class ImportNotFound(NotFound):
    code = "import_not_found"
    message = "找不到这次导入"


class OrderNotFound(NotFound):
    code = "order_not_found"
    message = "找不到这个订单"


@dataclass
class Totals:
    rows: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    skipped: int = 0
    rejections: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Batch:
    orders: pl.DataFrame
    items: pl.DataFrame | None
    rejected: pl.DataFrame
    rows: int
    skipped: int
    repeats: list[str] = field(default_factory=list)  # order ids also in an earlier batch (so stored by now)


def header_key(headers: list[str]) -> str:
    return hashlib.sha256("\x1f".join(layouts.clean_header(h) for h in headers).encode()).hexdigest()


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def check_platform(platform: str | None) -> str | None:
    if platform in (None, "", "auto"):
        return None
    if platform not in PLATFORMS:
        raise InvalidInput(f"未知平台：{platform}", code="unknown_platform")
    return platform


async def choose_layout(session: AsyncSession, *, tenant_id: int, headers: list[str], platform: str | None) -> Layout:
    """The saved mapping for exactly these headers, else a known layout, else a refusal naming what we expect."""
    cleaned = [layouts.clean_header(h) for h in headers]
    saved = await repository.get_mapping(session, tenant_id=tenant_id, header_key=header_key(headers))
    if saved is not None and (platform is None or saved.platform == platform):
        return layouts.from_mapping(saved.name, saved.platform, dict(saved.columns))
    layout = layouts.detect(cleaned, platform)
    if layout is not None:
        return layout
    if not layouts.looks_like_order_export(cleaned):
        raise FileRefused(
            "这不是订单导出文件：找不到“订单编号”或“订单号”列。请上传淘宝/天猫、抖店、快手小店、视频号小店或拼多多后台导出的订单文件",
            code="not_an_order_export",
        )
    raise FileRefused(
        "无法识别这种表格格式。请在后台“订单导入”页面为它设置一次列映射（订单编号、实付金额、订单状态），以后同样的表头会自动使用",
        code="unknown_layout",
        headers=cleaned[:60],
    )


def _frames(
    path: Path,
    workdir: Path,
    text: reading.TextFile,
    columns: Sequence[str] | None = None,
    id_column: str | None = None,
) -> Iterator[pl.DataFrame]:
    """The file's rows as all-text frames of BATCH_ROWS rows (the last one shorter), row numbers in ROW.

    With `columns` (and the `id_column` among them), a CSV is parsed for those columns only, and each frame
    carries FILLED: the number of non-blank cells of a row over all the file's columns, counted (from a full
    parse of that piece) only for rows whose id cell has no digit (blank, summary and stray lines; the only
    rows normalise needs it for); 1 elsewhere."""
    # The text is parsed a piece at a time (memory stays bounded whatever the file's size); Polars' own
    # streaming reader reads the whole file ahead of a slower consumer.
    options: dict[str, Any] = {
        "infer_schema": False,
        "separator": text.separator,
        "quote_char": '"',
        "truncate_ragged_lines": True,
        "encoding": "utf8-lossy",
        "raise_if_empty": False,
    }
    schema: dict[str, Any] | None = None
    wanted: list[int] | None = None
    pending: pl.DataFrame | None = None
    row = 2
    for piece in reading.record_chunks(text.files):
        full: pl.DataFrame | None = None
        if schema is None:
            full = pl.read_csv(piece, has_header=True, **options)
            full = full.rename({c: layouts.clean_header(c) for c in full.columns})
            schema = dict.fromkeys(full.columns, pl.String)
            if columns is not None and id_column in schema and len(schema) == full.width:
                wanted = [n for n, name in enumerate(full.columns) if name in set(columns)]
            frame = full if wanted is None else full.select(full.columns[n] for n in wanted)
        elif wanted is None:
            frame = pl.read_csv(piece, has_header=False, schema=schema, **options)
        else:
            frame = pl.read_csv(piece, has_header=False, schema=schema, columns=wanted, **options)
        if wanted is not None:
            assert id_column is not None
            frame = frame.with_columns(_filled(frame[id_column], full, piece, schema, options))
        frame = frame.with_row_index(ROW, offset=row).with_columns(pl.col(ROW).cast(pl.Int64))
        row += frame.height
        pending = frame if pending is None else pl.concat([pending, frame], rechunk=False)
        while pending.height >= BATCH_ROWS:
            yield pending.slice(0, BATCH_ROWS).rechunk()
            pending = pending.slice(BATCH_ROWS)
    if pending is not None and (pending.height or row == 2):
        yield pending.rechunk()


def _filled(
    ids: pl.Series, full: pl.DataFrame | None, piece: bytes, schema: dict[str, Any], options: dict[str, Any]
) -> pl.Series:
    """FILLED for one parsed piece (see `_frames`): the full parse of the piece is done only when needed."""
    filled = pl.Series(FILLED, [1] * len(ids), dtype=pl.Int64)
    digitless = ~ids.str.contains(r"\d").fill_null(False)
    if not digitless.any():
        return filled
    if full is None:
        full = pl.read_csv(piece, has_header=False, schema=schema, **options)
    rows = digitless.arg_true()
    cells = [pl.col(c).is_not_null() & (pl.col(c).str.strip_chars() != "") for c in full.columns]
    return filled.scatter(rows, full[rows].select(pl.sum_horizontal(cells).cast(pl.Int64)).to_series())


def _sheet_frames(frame: pl.DataFrame) -> Iterator[pl.DataFrame]:
    """A sheet's rows as frames of BATCH_ROWS rows, row numbers in ROW: slices of the sheet, which is read whole."""
    frame = frame.with_row_index(ROW, offset=2)
    for start in range(0, frame.height, BATCH_ROWS):
        yield frame.slice(start, BATCH_ROWS).with_columns(pl.col(ROW).cast(pl.Int64))


def _sheet_filled(path: Path, headers: list[str], frame: pl.DataFrame, id_column: str) -> pl.Series:
    """FILLED (see `_frames`) for a sheet read for some of its columns: the non-blank cells of each row among them,
    and, for the rows that have no order id and at most one such cell (whether one is skipped or rejected depends
    on the others), among the other columns too: the sheet is read again for those rows only, when there are some.
    """
    cells = [pl.col(c).is_not_null() & (pl.col(c).str.strip_chars() != "") for c in frame.columns]
    filled = frame.select(pl.sum_horizontal(cells).cast(pl.Int64).alias(FILLED)).to_series()
    unsure = (clean_column(frame[id_column]).is_null() & (filled <= 1)).arg_true()
    if unsure.len() == 0 or set(headers) <= set(frame.columns):
        return filled
    rest = reading.read_xlsx(path, columns=lambda h: h not in frame.columns, rows=unsure.to_list()).frame
    rest_cells = [pl.col(c).is_not_null() & (pl.col(c).str.strip_chars() != "") for c in rest.columns]
    more = rest.select(pl.sum_horizontal(rest_cells).cast(pl.Int64)).to_series() if rest.width else 0
    return filled.scatter(unsure, filled.gather(unsure) + more)


@dataclass
class OpenedFile:
    headers: list[str]
    frames: Iterator[pl.DataFrame]
    estimated_rows: int
    source: reading.TextFile | reading.Sheet | None = None
    path: Path | None = None

    def frames_for(self, layout: Layout) -> Iterator[pl.DataFrame]:
        """The file's frames with only the columns `layout` reads (plus FILLED): less to parse and to hold."""
        if self.path is None or self.source is None:
            return self.frames
        columns = list(dict.fromkeys(h for f in layouts.FIELDS if (h := layout.header_for(f, self.headers))))
        id_column = layout.header_for("order_id", self.headers)
        if id_column is None:
            return self.frames
        if isinstance(self.source, reading.TextFile):
            return _frames(self.path, self.path.parent, self.source, columns, id_column)
        frame = self.source.frame
        if not set(columns) <= set(frame.columns):
            # A saved mapping reading a column the sheet was not read for (see open_file): read it again.
            frame = reading.read_xlsx(self.path, columns=set(columns).__contains__).frame
        filled = _sheet_filled(self.path, self.headers, frame, id_column)
        return _sheet_frames(frame.select(columns).with_columns(filled))


def open_file(path: Path, workdir: Path, also_read: Collection[str] = ()) -> OpenedFile:
    """The file's headers and rows. An XLSX is read here, once (fastexcel parses the whole sheet at every read),
    for the columns some known layout reads and those in `also_read` (the tenant's saved mappings'): converting
    only those is most of what there is to save in time and memory."""
    with open(path, "rb") as handle:
        head = handle.read(reading.SNIFF_BYTES)
    if not head:
        raise FileRefused("文件是空的", code="empty_file")
    if reading.is_xlsx(head):
        reading.check_xlsx(path)
        wanted = layouts.KNOWN_HEADERS | set(also_read)
        sheet = reading.read_xlsx(path, columns=wanted.__contains__)
        return OpenedFile(
            headers=sheet.headers,
            frames=_sheet_frames(sheet.frame),
            estimated_rows=sheet.frame.height,
            source=sheet,
            path=path,
        )
    text = reading.open_text(path, workdir)
    with open(text.path, "rb") as handle:
        sample = handle.read(reading.SNIFF_BYTES)
    lines = max(1, sample.count(b"\n"))
    estimated = int(sum(f.stat().st_size for f in text.files) / max(1, len(sample) / lines))
    return OpenedFile(
        headers=[layouts.clean_header(h) for h in text.headers],
        frames=_frames(path, workdir, text),
        estimated_rows=estimated,
        source=text,
        path=path,
    )


async def mapped_headers(session: AsyncSession, *, tenant_id: int) -> set[str]:
    """The headers the tenant's saved column mappings read."""
    return {h for m in await repository.list_mappings(session, tenant_id=tenant_id) for h in m.columns.values() if h}


class Batcher:
    """Normalises raw frames into batches, keeping all lines of an order in one batch when they are adjacent.

    The last order of a frame may go on in the next one, so its lines wait for the next frame (all of them, even
    when they are the whole frame: an order with more lines than a batch is still folded once, whole)."""

    def __init__(self, layout: Layout, headers: list[str]) -> None:
        self.layout = layout
        self.headers = headers
        self.carry: pl.DataFrame | None = None
        self.seen = pl.Series("seen", [], dtype=pl.UInt64)  # hashes of the order ids of earlier batches

    def _finish(self, good: pl.DataFrame, rejected: pl.DataFrame, rows: int, skipped: int) -> Batch:
        layout = self.layout
        # An order whose lines together overflow its columns is rejected, line by line, before it can fail a batch.
        too_large = order_limits(good) if layout.line_items else None
        if too_large is not None and too_large.height:
            lines = good.join(too_large, on="order_id", how="inner")
            rejected = pl.concat(
                [rejected, lines.select("row", pl.col("order_id").str.slice(0, 80), "reason")], how="vertical_relaxed"
            ).sort("row")
            good = good.join(too_large, on="order_id", how="anti")
        items = None
        if layout.line_items:
            sub = pl.coalesce(
                [
                    pl.col("sub_id"),
                    pl.format("{}#{}", pl.col("order_id"), pl.col("order_id").cum_count().over("order_id")),
                ]
            )
            # A line listed twice (overlapping exports) counts once, as it is stored: the last one wins.
            good = good.with_columns(sub.alias("sub_id")).unique(
                subset=["order_id", "sub_id"], keep="last", maintain_order=True
            )
            items = good.select(
                "order_id",
                "sub_id",
                "title",
                "quantity",
                "paid_fen",
                "refund_fen",
                "status",
                rank_expr(pl.col("status")).alias("status_rank"),
            )
        orders = fold_orders(good, layout).with_columns(
            rank_expr(pl.col("status")).alias("status_rank"), pl.col("quantity").alias("item_count")
        )
        hashes = orders["order_id"].hash()
        repeats = orders.filter(hashes.is_in(self.seen))["order_id"].to_list() if self.seen.len() else []
        self.seen = pl.concat([self.seen, hashes.rename("seen")])
        return Batch(orders=orders, items=items, rejected=rejected, rows=rows, skipped=skipped, repeats=repeats)

    def feed(self, raw: pl.DataFrame) -> Batch | None:
        good, rejected, skipped = normalise(raw, self.layout, self.headers, EXPORT_TIMEZONE)
        if self.carry is not None:
            good = pl.concat([self.carry, good])
            self.carry = None
        if self.layout.line_items and good.height:
            last = pl.col("order_id") == good["order_id"][-1]
            self.carry = good.filter(last)
            good = good.filter(~last)
        # (A batch may then have no order at all: its rows, rejections and skipped lines still count.)
        return self._finish(good, rejected, raw.height, skipped)

    def flush(self) -> Batch | None:
        if self.carry is None:
            return None
        carry, self.carry = self.carry, None
        nothing = pl.DataFrame(schema={"row": pl.Int64, "order_id": pl.String, "reason": pl.String})
        return self._finish(carry, nothing, 0, 0)


async def apply_batch(
    session: AsyncSession, *, tenant_id: int, import_row: OrderImport, layout: Layout, batch: Batch
) -> repository.BatchCounts:
    now = utcnow()
    counts = await repository.apply_orders(
        session,
        tenant_id=tenant_id,
        platform=layout.platform,
        import_id=import_row.id,
        now=now,
        orders=batch.orders,
        stored=batch.repeats,
        items=batch.items,
        order_level_amount=layout.order_level_amount,
    )
    await repository.add_rejections(session, tenant_id=tenant_id, import_id=import_row.id, rejected=batch.rejected)
    return counts


async def create_import(
    session: AsyncSession,
    *,
    tenant_id: int,
    source: Path,
    filename: str,
    storage_dir: Path,
    requested_platform: str | None,
    created_by: str | None,
) -> OrderImport:
    """Keep the uploaded file under its content hash and record the import (queued)."""
    platform = check_platform(requested_platform)
    size = source.stat().st_size
    if size == 0:
        raise FileRefused("文件是空的", code="empty_file")
    digest = sha256_of(source)
    target = storage_dir / str(tenant_id) / digest
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.exists():
        shutil.copyfile(source, target)
    row = OrderImport(
        tenant_id=tenant_id,
        id=new_id(),
        sha256=digest,
        filename=filename[:255],
        size=size,
        requested_platform=platform or "auto",
        status="queued",
        created_by=created_by,
    )
    repository.add(session, row)
    await session.flush()
    return row


def stored_file(storage_dir: Path, row: OrderImport) -> Path:
    return storage_dir / str(row.tenant_id) / row.sha256


async def get_import(session: AsyncSession, *, tenant_id: int, import_id: int) -> OrderImport:
    row = await repository.get_import(session, tenant_id=tenant_id, import_id=import_id)
    if row is None:
        raise ImportNotFound()
    return row


async def count_retried(session: AsyncSession, *, tenant_id: int, import_id: int, totals: Totals) -> None:
    """Make a retried import's counts those of the file: orders an earlier attempt inserted or updated are seen as
    unchanged by the retry, yet this import did insert or update them."""
    inserted, updated = await repository.written_by_import(session, tenant_id=tenant_id, import_id=import_id)
    more_inserted, more_updated = max(0, inserted - totals.inserted), max(0, updated - totals.updated)
    totals.inserted += more_inserted
    totals.updated += more_updated
    totals.unchanged = max(0, totals.unchanged - more_inserted - more_updated)


ABANDONED_MESSAGE = (
    "导入没有完成：处理它的后台进程中途停止，重试几次后已放弃。已经导入的部分保留；请在导入页勾选“同一文件也重新导入”"
    "再导一次，已导入的部分不会重复"
)


async def fail_abandoned_imports(session: AsyncSession) -> int:
    """Mark failed, with a reason ops can read, the imports whose job will never run again (its worker died on the
    last attempt and the job was parked). Imports whose job is still queued or leased are left: a lease that runs
    out hands the job, and the import, to another worker. Returns how many were marked."""
    unfinished = await repository.unfinished_imports(session)
    dead = await jobs.given_up(session, sorted({row.job_id for row in unfinished if row.job_id is not None}))
    now = utcnow()
    marked = 0
    for row in unfinished:
        if row.job_id in dead:
            row.status, row.error, row.finished_at = "failed", ABANDONED_MESSAGE, now
            marked += 1
    return marked


async def previous_import(session: AsyncSession, *, tenant_id: int, sha256: str) -> OrderImport | None:
    return await repository.find_import_by_hash(session, tenant_id=tenant_id, sha256=sha256)


async def unfinished_import(session: AsyncSession, *, like: OrderImport) -> OrderImport | None:
    """An earlier import of the same file that a stopped process left unfinished (see `find_unfinished_by_hash`):
    running the file again carries on with that import rather than leaving it "running" for ever."""
    found = await repository.find_unfinished_by_hash(
        session,
        tenant_id=like.tenant_id,
        sha256=like.sha256,
        requested_platform=like.requested_platform,
        created_by=like.created_by,
    )
    return None if found is None or found.id == like.id else found


async def list_imports(session: AsyncSession, *, tenant_id: int, page: PageRequest) -> Page[OrderImport]:
    return await repository.list_imports(session, tenant_id=tenant_id, page=page)


async def rejections(session: AsyncSession, *, tenant_id: int, import_id: int) -> list[dict[str, Any]]:
    await get_import(session, tenant_id=tenant_id, import_id=import_id)
    rows = await repository.rejections(session, tenant_id=tenant_id, import_id=import_id)
    return [{"row": r.row, "order_id": r.order_id, "reason": r.reason} for r in rows]


async def changes_in_import(session: AsyncSession, *, tenant_id: int, import_id: int) -> int:
    return await repository.count_changes(session, tenant_id=tenant_id, import_id=import_id)


async def save_mapping(
    session: AsyncSession,
    *,
    actor: Principal,
    headers: list[str],
    name: str,
    platform: str,
    columns: dict[str, str],
) -> ColumnMapping:
    if check_platform(platform) is None:
        raise InvalidInput("请选择平台", code="unknown_platform")
    cleaned = [layouts.clean_header(h) for h in headers]
    missing = [layouts.FIELD_LABELS[f] for f in layouts.REQUIRED if not columns.get(f)]
    if missing:
        raise InvalidInput("必须指定：" + "、".join(missing), code="mapping_incomplete")
    unknown = [h for h in columns.values() if h and h not in cleaned]
    if unknown:
        raise InvalidInput("表头中没有这些列：" + "、".join(unknown), code="mapping_unknown_column")
    key = header_key(headers)
    existing = await repository.get_mapping(session, tenant_id=actor.tenant_id, header_key=key)
    chosen = {f: h for f, h in columns.items() if f in layouts.FIELDS and h}
    if existing is not None:
        existing.name, existing.platform, existing.columns = name.strip(), platform, chosen
        await session.flush()
        return existing
    mapping = ColumnMapping(
        tenant_id=actor.tenant_id,
        header_key=key,
        name=name.strip() or "自定义格式",
        platform=platform,
        columns=chosen,
    )
    repository.add(session, mapping)
    await session.flush()
    return mapping


async def list_mappings(session: AsyncSession, *, tenant_id: int) -> list[ColumnMapping]:
    return await repository.list_mappings(session, tenant_id=tenant_id)


# Queries ---------------------------------------------------------------------------------------------


async def search_orders(
    session: AsyncSession,
    *,
    tenant_id: int,
    page: PageRequest,
    query: str | None = None,
    platform: str | None = None,
    status: str | None = None,
    paid_from: datetime | None = None,
    paid_to: datetime | None = None,
    sort: Sort | None = None,
    where: Sequence[ColumnElement[bool]] = (),
) -> Page[Order]:
    """A page of orders. `where`: further conditions over the order's columns that a higher domain supplies
    (e.g. "claimed by a member"), so that orders need not know whose tables they read."""
    if (paid_from is not None and paid_from.tzinfo is None) or (paid_to is not None and paid_to.tzinfo is None):
        timezone = (await tenants.get_tenant(session, tenant_id)).timezone  # a time without a zone is the shop's
        paid_from, paid_to = aware_or_none(paid_from, timezone), aware_or_none(paid_to, timezone)
    return await repository.search_orders(
        session,
        tenant_id=tenant_id,
        page=page,
        query=(query or "").strip() or None,
        platform=platform or None,
        status=status or None,
        paid_from=paid_from,
        paid_to=paid_to,
        sort=sort,
        where=where,
    )


ORDER_SORTS = tuple(repository.ORDER_SORTS)


@dataclass
class OrderDetail:
    order: Order
    items: list[SubOrder]
    changes: list[OrderChange]


async def get_order(
    session: AsyncSession, *, tenant_id: int, platform: str, order_id: str, lock: bool = False
) -> Order:
    """One order (without its lines and history). `lock`: held until the transaction ends, so that two claims
    of the same order settle one after the other."""
    order = await repository.get_order(session, tenant_id=tenant_id, platform=platform, order_id=order_id, lock=lock)
    if order is None:
        raise OrderNotFound()
    return order


async def read_order(session: AsyncSession, *, tenant_id: int, platform: str, order_id: str) -> OrderView | None:
    """One order as plain values, locked until the transaction ends: two claims of it settle one after the other."""
    return await repository.read_order(session, tenant_id=tenant_id, platform=platform, order_id=order_id)


async def changes_of_import(session: AsyncSession, *, tenant_id: int, import_id: int) -> list[ChangeView]:
    """What one import changed in the orders it touched (for the points of those that earned some)."""
    return await repository.changes_of_import(session, tenant_id=tenant_id, import_id=import_id)


async def order_detail(session: AsyncSession, *, tenant_id: int, platform: str, order_id: str) -> OrderDetail:
    order = await repository.get_order(session, tenant_id=tenant_id, platform=platform, order_id=order_id)
    if order is None:
        raise OrderNotFound()
    return OrderDetail(
        order=order,
        items=await repository.items_of(session, tenant_id=tenant_id, platform=platform, order_id=order_id),
        changes=await repository.changes_of(session, tenant_id=tenant_id, platform=platform, order_id=order_id),
    )


def stream_orders(session: AsyncSession, *, tenant_id: int) -> AsyncIterator[list[Order]]:
    return repository.stream_orders(session, tenant_id=tenant_id)


async def failed_imports_since(session: AsyncSession, *, tenant_id: int, since: datetime) -> int:
    """Imports that failed or were refused since then: files ops must look at again."""
    return await repository.count_imports(session, tenant_id=tenant_id, statuses=("failed", "refused"), since=since)


# For analytics


async def paid_totals(
    session: AsyncSession, *, tenant_id: int, start: datetime, end: datetime
) -> dict[str, tuple[int, int]]:
    """Per platform: (orders paid in [start, end), their paid fen)."""
    return await repository.paid_totals(session, tenant_id=tenant_id, start=start, end=end)


async def import_watermark(session: AsyncSession, *, tenant_id: int) -> int:
    return await repository.import_watermark(session, tenant_id=tenant_id)


async def orders_in_window(
    session: AsyncSession,
    *,
    tenant_id: int,
    platforms: Sequence[str],
    start: datetime,
    end: datetime,
    live_rooms: Sequence[str] = (),
) -> list[OrderView]:
    """Orders placed on these platforms in [start, end) or carrying one of these live room ids (see
    repository.orders_in_window): what a live show's report attributes."""
    return await repository.orders_in_window(
        session, tenant_id=tenant_id, platforms=platforms, start=start, end=end, live_rooms=live_rooms
    )
