"""Order imports and queries. The import pipeline: file -> layout -> batches -> canonical rows -> upsert.

Nothing here commits: `siyu.orders.tasks.run_import` drives the batches, one transaction each.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import polars as pl
from sqlalchemy.ext.asyncio import AsyncSession

from siyu.kit.errors import InvalidInput, NotFound
from siyu.kit.ids import new_id
from siyu.kit.pagination import Page, PageRequest
from siyu.kit.time import utcnow
from siyu.kit.web import Principal
from siyu.orders import layouts, reading, repository
from siyu.orders.layouts import Layout
from siyu.orders.models import ColumnMapping, Order, OrderChange, OrderImport, SubOrder
from siyu.orders.normalise import ROW, fold_orders, normalise, rank_expr
from siyu.orders.reading import FileRefused

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


def _frames(path: Path, workdir: Path, text_or_xlsx: reading.TextFile | None) -> Iterator[pl.DataFrame]:
    if text_or_xlsx is None:
        frame = reading.read_xlsx(path)
        frame = frame.rename({c: layouts.clean_header(c) for c in frame.columns}).with_row_index(ROW, offset=2)
        for start in range(0, frame.height, BATCH_ROWS):
            yield frame.slice(start, BATCH_ROWS).with_columns(pl.col(ROW).cast(pl.Int64))
        return
    scan = pl.scan_csv(
        text_or_xlsx.path,
        infer_schema=False,
        separator=text_or_xlsx.separator,
        has_header=True,
        row_index_name=ROW,
        row_index_offset=2,
        truncate_ragged_lines=True,
        encoding="utf8-lossy",
        with_column_names=lambda names: [layouts.clean_header(n) for n in names],
        quote_char='"',
        raise_if_empty=False,
    )
    yield from (batch.with_columns(pl.col(ROW).cast(pl.Int64)) for batch in scan.collect_batches(chunk_size=BATCH_ROWS))


@dataclass
class OpenedFile:
    headers: list[str]
    frames: Iterator[pl.DataFrame]
    estimated_rows: int


def open_file(path: Path, workdir: Path) -> OpenedFile:
    with open(path, "rb") as handle:
        head = handle.read(reading.SNIFF_BYTES)
    if not head:
        raise FileRefused("文件是空的", code="empty_file")
    if reading.is_xlsx(head):
        frame = reading.read_xlsx(path)
        headers = [layouts.clean_header(str(c)) for c in frame.columns]
        return OpenedFile(headers=headers, frames=_frames(path, workdir, None), estimated_rows=frame.height)
    text = reading.open_text(path, workdir)
    with open(text.path, "rb") as handle:
        sample = handle.read(reading.SNIFF_BYTES)
    lines = max(1, sample.count(b"\n"))
    estimated = int(text.path.stat().st_size / max(1, len(sample) / lines))
    return OpenedFile(
        headers=[layouts.clean_header(h) for h in text.headers],
        frames=_frames(path, workdir, text),
        estimated_rows=estimated,
    )


class Batcher:
    """Normalises raw frames into batches, keeping all lines of an order in one batch when they are adjacent."""

    def __init__(self, layout: Layout, headers: list[str]) -> None:
        self.layout = layout
        self.headers = headers
        self.carry: pl.DataFrame | None = None

    def _finish(self, good: pl.DataFrame, rejected: pl.DataFrame, rows: int, skipped: int) -> Batch:
        layout = self.layout
        items = None
        if layout.line_items:
            sub = pl.coalesce(
                [
                    pl.col("sub_id"),
                    pl.format("{}#{}", pl.col("order_id"), pl.col("order_id").cum_count().over("order_id")),
                ]
            )
            good = good.with_columns(sub.alias("sub_id"))
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
            items = items.unique(subset=["order_id", "sub_id"], keep="last", maintain_order=True)
        orders = fold_orders(good, layout).with_columns(
            rank_expr(pl.col("status")).alias("status_rank"), pl.col("quantity").alias("item_count")
        )
        return Batch(orders=orders, items=items, rejected=rejected, rows=rows, skipped=skipped)

    def feed(self, raw: pl.DataFrame) -> Batch | None:
        good, rejected, skipped = normalise(raw, self.layout, self.headers, EXPORT_TIMEZONE)
        if self.carry is not None:
            good = pl.concat([self.carry, good])
            self.carry = None
        if self.layout.line_items and good.height:
            last = good["order_id"][-1]
            tail = good.filter(pl.col("order_id") == last)
            if tail.height < good.height:
                self.carry = tail
                good = good.filter(pl.col("order_id") != last)
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
    )
    if batch.items is not None:
        await repository.apply_items(
            session,
            tenant_id=tenant_id,
            platform=layout.platform,
            items=batch.items,
            sum_amounts=not layout.order_level_amount,
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


async def previous_import(session: AsyncSession, *, tenant_id: int, sha256: str) -> OrderImport | None:
    return await repository.find_import_by_hash(session, tenant_id=tenant_id, sha256=sha256)


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
) -> Page[Order]:
    return await repository.search_orders(
        session,
        tenant_id=tenant_id,
        page=page,
        query=(query or "").strip() or None,
        platform=platform or None,
        status=status or None,
        paid_from=paid_from,
        paid_to=paid_to,
    )


@dataclass
class OrderDetail:
    order: Order
    items: list[SubOrder]
    changes: list[OrderChange]


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
