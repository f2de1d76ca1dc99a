"""Folders of labelled all-sky frames: ``DIR/<class>/<image>``, one folder per class."""
from __future__ import annotations

from pathlib import Path

from .imageio import FITS_SUFFIXES

__all__ = ["IMAGE_SUFFIXES", "is_image_name", "labelled_images"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp") + FITS_SUFFIXES


def is_image_name(path: Path) -> bool:
    return not path.name.startswith(".") and path.name.lower().endswith(IMAGE_SUFFIXES)


def labelled_images(directory: str | Path) -> list[tuple[Path, str]]:
    """Every image under a class folder, as (path, class folder name), sorted."""
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"{directory}: not a folder")
    items = [(path, folder.name)
             for folder in sorted(p for p in directory.iterdir() if p.is_dir() and not p.name.startswith("."))
             for path in sorted(folder.iterdir()) if path.is_file() and is_image_name(path)]
    if not items:
        raise ValueError(f"{directory}: no images in class folders (expected {directory}/<class>/<image>)")
    return items
