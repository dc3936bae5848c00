"""Receiving an uploaded order file (API and console): stream it to disk, check its header, queue the job."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
from collections.abc import Iterable
from pathlib import Path

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import UploadFile
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from siyu.jobs import service as jobs
from siyu.kit.errors import AppError
from siyu.kit.web import Principal
from siyu.orders import reading, service
from siyu.orders.models import OrderImport


class UploadTooLarge(AppError):
    status = 413
    code = "file_too_large"
    message = "文件太大"


# Room for the multipart envelope around the file (boundaries, part headers, the platform and force fields).
ENVELOPE_BYTES = 64 << 10
# Temporary directories of uploads and imports carry their process id, so a restart can tell its own from the
# leftovers of a process that died mid-upload (a killed worker never runs its `finally`).
TEMP_PREFIXES = ("siyu-upload-", "siyu-import-")


def too_large(limit_bytes: int) -> UploadTooLarge:
    return UploadTooLarge(f"文件超过 {limit_bytes >> 20} MB，请按时间分段导出")


def declared_too_large(headers: Iterable[tuple[bytes, bytes]], limit_bytes: int) -> bool:
    """True when the request's Content-Length already says the body is over the limit."""
    for name, value in headers:
        if name == b"content-length":
            return value.isdigit() and int(value) > limit_bytes + ENVELOPE_BYTES
    return False


def refuse_declared_oversize(request: Request, limit_bytes: int) -> None:
    """Refuse an upload whose Content-Length is over the limit, before a byte of its body is read."""
    if declared_too_large(request.scope["headers"], limit_bytes):
        raise too_large(limit_bytes)


class UploadLimit:
    """Refuses an API upload over the limit from its Content-Length (413 `file_too_large`), before FastAPI reads
    and spools the body to parse the form. The console's upload form checks the same in its route."""

    def __init__(self, app: ASGIApp, *, paths: frozenset[str], limit_bytes: int) -> None:
        self.app, self.paths, self.limit_bytes = app, paths, limit_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] in self.paths
            and declared_too_large(scope["headers"], self.limit_bytes)
        ):
            refusal = too_large(self.limit_bytes)
            body = {"code": refusal.code, "message": refusal.message}
            await JSONResponse(body, status_code=refusal.status, headers={"Connection": "close"})(scope, receive, send)
            return
        await self.app(scope, receive, send)


def temp_dir(kind: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary directory for one upload or import, named with this process's id."""
    return tempfile.TemporaryDirectory(prefix=f"siyu-{kind}-{os.getpid()}-")


def remove_abandoned_temp_dirs() -> int:
    """Remove the upload and import directories of processes no longer running (run at start). Returns how many."""
    removed = 0
    for entry in Path(tempfile.gettempdir()).iterdir():
        if not entry.name.startswith(TEMP_PREFIXES) or not entry.is_dir():
            continue
        pid = entry.name.split("-")[2]
        if pid.isdigit() and int(pid) != os.getpid() and not _alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def save_upload(upload: UploadFile, directory: Path, limit_bytes: int) -> Path:
    """Stream the upload to disk, refusing it once it passes the limit."""
    target = directory / "upload"
    written = 0
    with open(target, "wb") as handle:
        while chunk := await upload.read(1 << 20):
            written += len(chunk)
            if written > limit_bytes:
                raise too_large(limit_bytes)
            handle.write(chunk)
    return target


async def start_import(
    session: AsyncSession, request: Request, principal: Principal, upload: UploadFile, platform: str, force: bool
) -> OrderImport:
    """Check the file's header now (a refusal stores nothing), keep the file, queue the import job."""
    settings = request.app.state.settings
    with temp_dir("upload") as workdir:
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
