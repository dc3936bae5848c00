"""Receiving uploads: oversize files refused from their Content-Length, leftovers of a dead process removed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import Message

from siyu.app import create_app
from siyu.config import Settings
from siyu.orders import uploads
from tests.support import factories


async def test_api_upload_over_the_limit_is_refused_before_its_body_is_read(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"max_upload_mb": 1}))
    sent: list[Message] = []

    async def receive() -> Message:
        raise AssertionError("the body was read")

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/v1/order-imports",
        "raw_path": b"/api/v1/order-imports",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"multipart/form-data; boundary=x"),
            (b"content-length", str(3 << 20).encode()),
        ],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
        "app": app,
    }
    await app(scope, receive, send)

    assert sent[0]["type"] == "http.response.start" and sent[0]["status"] == 413
    body = json.loads(b"".join(m.get("body", b"") for m in sent[1:]))
    assert body["code"] == "file_too_large" and "1 MB" in body["message"]


def test_declared_size_allows_the_form_around_a_file_at_the_limit() -> None:
    limit = 1 << 20
    assert not uploads.declared_too_large([(b"content-length", str(limit + 2000).encode())], limit)
    assert uploads.declared_too_large([(b"content-length", str(limit + (1 << 20)).encode())], limit)
    assert not uploads.declared_too_large([(b"content-type", b"text/csv")], limit)  # no length: counted on disk
    assert not uploads.declared_too_large([(b"content-length", b"12abc")], limit)


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def _dead_pid() -> int:
    process = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, check=True)
    return int(process.stdout)


def test_temp_dirs_of_a_dead_process_are_removed_at_start(temp_root: Path) -> None:
    dead = _dead_pid()
    abandoned = [temp_root / f"siyu-upload-{dead}-a1b2", temp_root / f"siyu-import-{dead}-c3d4"]
    for directory in abandoned:
        directory.mkdir()
        (directory / "upload").write_bytes(b"x" * 1000)
    with uploads.temp_dir("upload") as ours:  # this process is alive and uploading
        other = temp_root / "someone-else"
        other.mkdir()

        assert uploads.remove_abandoned_temp_dirs() == 2

        assert not any(directory.exists() for directory in abandoned)
        assert Path(ours).exists() and other.exists()
        assert Path(ours).name.startswith(f"siyu-upload-{os.getpid()}-")


async def test_console_upload_over_the_limit_is_refused_in_words(
    app: FastAPI, client: httpx.AsyncClient, session: AsyncSession
) -> None:
    tenant = await factories.tenant(session)
    login = await factories.staff_login(session, tenant.id)
    app.state.settings = app.state.settings.model_copy(update={"max_upload_mb": 1})
    body = b"x" * (2 << 20)
    response = await client.post(
        "/console/orders/import",
        content=body,
        headers={"Content-Type": "multipart/form-data; boundary=x", "X-CSRF-Token": login.csrf},
        cookies=login.cookies,
    )
    assert response.status_code == 413
    assert "文件超过 1 MB" in response.text and "{" not in response.text.split("alert")[1][:200]
