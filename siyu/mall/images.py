"""Reward images: pictures checked and stored by siyu.kit.images (at most 2 MB, no decompression bombs), in the
tenant's own "mall-images" folder under the data directory."""

from __future__ import annotations

from pathlib import Path

from siyu.kit import images
from siyu.kit.images import MAX_BYTES, MEDIA_TYPES, ImageTooLarge, ImageTooManyPixels, NotAnImage, kind_of

AREA = "mall-images"

__all__ = ["MAX_BYTES", "MEDIA_TYPES", "ImageTooLarge", "ImageTooManyPixels", "NotAnImage", "kind_of"]


def folder(data_dir: Path, tenant_id: int) -> Path:
    return images.folder(data_dir, AREA, tenant_id)


def store(data_dir: Path, tenant_id: int, data: bytes) -> str:
    """Check and keep an uploaded image; returns its stored name."""
    return images.store(data_dir, AREA, tenant_id, data)


def path_of(data_dir: Path, tenant_id: int, name: str) -> Path | None:
    """Where a stored image is, or None for a name that is not one of ours."""
    return images.path_of(data_dir, AREA, tenant_id, name)
