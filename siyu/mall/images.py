"""Reward images: checked to really be images by their first bytes, at most 2 MB, stored by content hash in the
tenant's own folder under the data directory (the same picture uploaded twice is stored once)."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from siyu.kit.errors import InvalidInput

MAX_BYTES = 2 * 1024 * 1024
NAME = re.compile(r"^[0-9a-f]{64}\.(png|jpg|gif|webp)$")
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


class NotAnImage(InvalidInput):
    code = "not_an_image"
    message = "请上传 JPG、PNG、GIF 或 WebP 格式的图片"


class ImageTooLarge(InvalidInput):
    code = "image_too_large"
    message = "图片不能超过 2 MB"


def kind_of(data: bytes) -> str | None:
    """The image format by its magic bytes, whatever the file is called."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return None


def folder(data_dir: Path, tenant_id: int) -> Path:
    return data_dir / "mall-images" / str(tenant_id)


def store(data_dir: Path, tenant_id: int, data: bytes) -> str:
    """Check and keep an uploaded image; returns its stored name."""
    if len(data) > MAX_BYTES:
        raise ImageTooLarge(size=len(data))
    kind = kind_of(data)
    if kind is None or len(data) < 16:
        raise NotAnImage()
    name = f"{hashlib.sha256(data).hexdigest()}.{kind}"
    target = folder(data_dir, tenant_id) / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(target)
    return name


def path_of(data_dir: Path, tenant_id: int, name: str) -> Path | None:
    """Where a stored image is, or None for a name that is not one of ours."""
    if not NAME.match(name):
        return None
    path = folder(data_dir, tenant_id) / name
    return path if path.is_file() else None
