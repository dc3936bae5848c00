"""`siyu orders import|export`: the same pipeline the worker runs, driven from the command line."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path
from typing import Any

from siyu.config import Settings
from siyu.db import create_sessionmaker, engine_for
from siyu.kit.errors import AppError
from siyu.orders import exporting, service, tasks
from siyu.tenants import service as tenants


async def import_path(
    settings: Settings,
    *,
    tenant_slug: str,
    path: Path,
    platform: str = "auto",
    force: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Import one file; a refusal is reported in the summary (``refused``), not raised."""
    engine = engine_for(settings, jobs=True)
    sessionmaker = create_sessionmaker(engine)
    summary: dict[str, Any] = {"file": str(path)}
    try:
        async with sessionmaker() as session, session.begin():
            tenant = await tenants.get_by_slug(session, tenant_slug)
            row = await service.create_import(
                session,
                tenant_id=tenant.id,
                source=path,
                filename=path.name,
                storage_dir=settings.uploads_dir,
                requested_platform=platform,
                created_by="命令行",
            )
            previous = await service.previous_import(session, tenant_id=tenant.id, sha256=row.sha256)
            if previous is not None and not force:
                row.status, row.platform, row.layout = "done", previous.platform, previous.layout
                row.unchanged = previous.inserted + previous.updated + previous.unchanged
                return {
                    **summary,
                    "platform": previous.platform,
                    "duplicate_of": previous.id,
                    "rows": 0,
                    "inserted": 0,
                    "updated": 0,
                    "unchanged": row.unchanged,
                    "rejected": [],
                }
            # A command killed mid-file left its import unfinished: this run carries it on (the batches it
            # committed count as this import's own), so no import stays "running" for ever.
            left = await service.unfinished_import(session, like=row)
            if left is not None:
                await session.delete(row)
                row = left
            tenant_id, import_id = tenant.id, row.id
        totals = await tasks.run_import(
            sessionmaker,
            tenant_id=tenant_id,
            import_id=import_id,
            storage_dir=settings.uploads_dir,
            on_progress=on_progress,
        )
        async with sessionmaker() as session:
            row = await service.get_import(session, tenant_id=tenant_id, import_id=import_id)
            summary["platform"] = row.platform
        return {
            **summary,
            "import_id": import_id,
            "rows": totals.rows,
            "inserted": totals.inserted,
            "updated": totals.updated,
            "unchanged": totals.unchanged,
            "skipped": totals.skipped,
            "rejected": totals.rejections,
            "rejected_count": totals.rejected,
        }
    except AppError as refusal:
        return {
            **summary,
            "refused": refusal.code,
            "message": refusal.message,
            "platform": None,
            "rows": 0,
            "inserted": 0,
            "updated": 0,
            "unchanged": 0,
            "rejected": [],
        }
    finally:
        await engine.dispose()


async def export_csv(settings: Settings, *, tenant_slug: str, path: Path) -> int:
    engine = engine_for(settings, jobs=True)
    count = 0
    try:
        async with create_sessionmaker(engine)() as session:
            tenant = await tenants.get_by_slug(session, tenant_slug)
            with open(path, "w", encoding="utf-8-sig", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(exporting.EXPORT_COLUMNS)
                async for chunk in service.stream_orders(session, tenant_id=tenant.id):
                    for order in chunk:
                        # Long ids as text for Excel: the value itself stays exact in the file.
                        writer.writerow(exporting.export_row(order, tenant.timezone))
                    count += len(chunk)
    finally:
        await engine.dispose()
    return count
