"""File a SER video (a Sol'ex scan): check it is a whole SER file, store it, write its row.

Only the header and the size are checked here (cheap, before the bytes are filed); the frames are
read by the reconstruction job. The sha256 is unique, so the same video sent twice is one row.
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from sqlalchemy import select

from master.models import SerCapture
from master.science.ser import SerError, read_ser
from .filing import add_once

__all__ = ["SerError", "SER_SUFFIXES", "looks_like_ser_name", "ser_key", "inspect_ser", "find_capture", "file_ser"]

SER_SUFFIXES = (".ser",)


def looks_like_ser_name(path: str | Path) -> bool:
    return str(path).lower().endswith(SER_SUFFIXES)


def ser_key(row: SerCapture) -> str:
    night = row.night.isoformat() if row.night else "undated"
    return f"ser/{night}/{row.sha256}.ser"


def _text(value: str | None) -> str | None:
    cleaned = (value or "").replace("\x00", "").strip()
    return cleaned[:40] or None


def inspect_ser(path: str | Path) -> SerCapture:
    """A row (without sha256, key and size) from the file's header; raises SerError with a reason."""
    ser = read_ser(path, max_frames=1)
    h = ser.header
    if h.frame_count < 1 or h.width < 1 or h.height < 1:
        raise SerError(f"the header announces {h.frame_count} frames of {h.width} x {h.height} pixels")
    start = h.start_utc or next((t for t in ser.timestamps if t is not None), None)
    return SerCapture(width=h.width, height=h.height, frame_count=h.frame_count, pixel_depth=h.pixel_depth,
                      color=h.color, observer=_text(h.observer), instrument=_text(h.instrument),
                      telescope=_text(h.telescope), start_utc=start,
                      # a solar scan is taken in daylight: its UTC date is its "night"
                      night=start.date() if start else None, state="queued")


def find_capture(session, sha256: str) -> SerCapture | None:
    return session.scalar(select(SerCapture).where(SerCapture.sha256 == sha256))


def file_ser(sessions, row: SerCapture, sha256: str, size: int, place_object: Callable[[str], None], *,
             node: str | None, original_name: str | None, source: str) -> tuple[SerCapture, bool]:
    """Store the object, then the row. Returns (capture, duplicate)."""
    row.sha256, row.size, row.node_name, row.source = sha256, size, node, source
    row.original_name = original_name[:512] if original_name else None
    row.key = ser_key(row)
    place_object(row.key)
    return add_once(sessions, row, find_capture, sha256)
