"""Uploaded pictures (a mall reward's image, a fan's review screenshot): checked to really be images by their first
bytes, capped in size, refused when their header announces more pixels than any real picture has (a decompression
bomb: a small file that would unpack to gigabytes), and stored by content hash in the tenant's own folder of an
area under the data directory (the same picture uploaded twice is stored once).

Nothing is written before every check has passed, so a refused upload stores nothing."""

from __future__ import annotations

import hashlib
import os
import re
import struct
from pathlib import Path

from siyu.kit.errors import InvalidInput

MAX_BYTES = 2 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a phone's longest screenshot is under 5 million; a bomb announces hundreds of millions
NAME = re.compile(r"^[0-9a-f]{64}\.(png|jpg|gif|webp)$")
MEDIA_TYPES = {"png": "image/png", "jpg": "image/jpeg", "gif": "image/gif", "webp": "image/webp"}


class NotAnImage(InvalidInput):
    code = "not_an_image"
    message = "请上传 JPG、PNG、GIF 或 WebP 格式的图片"


class ImageTooLarge(InvalidInput):
    code = "image_too_large"
    message = "图片不能超过 2 MB"


class ImageTooManyPixels(InvalidInput):
    code = "image_too_many_pixels"
    message = "图片尺寸过大，请截图后重新上传"


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


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 9 < len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # padding
            at += 1
            continue
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:  # markers without a length
            at += 2
            continue
        (length,) = struct.unpack(">H", data[at + 2 : at + 4])
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):  # a start of frame
            height, width = struct.unpack(">HH", data[at + 5 : at + 9])
            return width, height
        at += 2 + length
    return None


def size_of(data: bytes, kind: str) -> tuple[int, int] | None:
    """(width, height) as the image's header announces them, or None when the header does not say."""
    if kind == "png" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    if kind == "gif" and len(data) >= 10:
        return struct.unpack("<HH", data[6:10])
    if kind == "jpg":
        return _jpeg_size(data)
    if kind == "webp" and len(data) >= 30:
        chunk = data[12:16]
        if chunk == b"VP8 ":
            width, height = struct.unpack("<HH", data[26:30])
            return width & 0x3FFF, height & 0x3FFF
        if chunk == b"VP8L":
            bits = int.from_bytes(data[21:25], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
        if chunk == b"VP8X":
            return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    return None


def check(data: bytes, *, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS) -> str:
    """The format of an acceptable picture; refuses (in words) one that is too large, not a picture, or a bomb."""
    if len(data) > max_bytes:
        raise ImageTooLarge(size=len(data))
    kind = kind_of(data)
    if kind is None or len(data) < 16:
        raise NotAnImage()
    size = size_of(data, kind)
    if size is not None and size[0] * size[1] > max_pixels:
        raise ImageTooManyPixels(width=size[0], height=size[1])
    return kind


def folder(data_dir: Path, area: str, tenant_id: int) -> Path:
    return data_dir / area / str(tenant_id)


def store(data_dir: Path, area: str, tenant_id: int, data: bytes, *, max_bytes: int = MAX_BYTES) -> str:
    """Check and keep an uploaded image; returns its stored name."""
    kind = check(data, max_bytes=max_bytes)
    name = f"{hashlib.sha256(data).hexdigest()}.{kind}"
    target = folder(data_dir, area, tenant_id) / name
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(f".{os.getpid()}.part")
        partial.write_bytes(data)
        partial.replace(target)
    return name


def path_of(data_dir: Path, area: str, tenant_id: int, name: str) -> Path | None:
    """Where a stored image is, or None for a name that is not one of ours."""
    if not NAME.match(name):
        return None
    path = folder(data_dir, area, tenant_id) / name
    return path if path.is_file() else None
