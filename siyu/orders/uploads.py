"""Receiving an uploaded order file (API and console): stream it to disk, check its header, queue the job."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile

from siyu.jobs import service as jobs
from siyu.kit.errors import AppError
from siyu.kit.web import Principal
from siyu.orders import reading, service
from siyu.orders.models import OrderImport


class UploadTooLarge(AppError):
    status = 413
    code = "file_too_large"
    message = "文件太大"


async def save_upload(upload: UploadFile, directory: Path, limit_bytes: int) -> Path:
    """Stream the upload to disk, refusing it once it passes the limit."""
    target = directory / "upload"
    written = 0
    with open(target, "wb") as handle:
        while chunk := await upload.read(1 << 20):
            written += len(chunk)
            if written > limit_bytes:
                raise UploadTooLarge(f"文件超过 {limit_bytes // (1 << 20)} MB，请按时间分段导出")
            handle.write(chunk)
    return target


async def start_import(
    session: AsyncSession, request: Request, principal: Principal, upload: UploadFile, platform: str, force: bool
) -> OrderImport:
    """Check the file's header now (a refusal stores nothing), keep the file, queue the import job."""
    settings = request.app.state.settings
    with tempfile.TemporaryDirectory(prefix="siyu-upload-") as workdir:
        path = await save_upload(upload, Path(workdir), settings.max_upload_mb << 20)
        wanted = service.check_platform(platform)
        headers = await asyncio.to_thread(reading.peek_headers, path)  # never parse a sheet on the event loop
        await service.choose_layout(session, tenant_id=principal.tenant_id, headers=headers, platform=wanted)
        row = await service.create_import(
            session,
            tenant_id=principal.tenant_id,
            source=path,
            filename=upload.filename or "upload",
            storage_dir=settings.uploads_dir,
            requested_platform=platform,
            created_by=principal.label,
        )
    previous = await service.previous_import(session, tenant_id=principal.tenant_id, sha256=row.sha256)
    if previous is not None and not force:
        row.status, row.platform, row.layout, row.finished_at = (
            "done",
            previous.platform,
            previous.layout,
            row.created_at,
        )
        row.unchanged = previous.inserted + previous.updated + previous.unchanged
        row.error = f"与导入 {previous.id} 是同一个文件，已跳过"
        return row
    row.job_id = await jobs.enqueue(
        session,
        "orders.import",
        {"import_id": row.id},
        tenant_id=principal.tenant_id,
        dedupe_key=f"orders.import:{principal.tenant_id}:{row.id}",
        max_attempts=3,
    )
    return row
