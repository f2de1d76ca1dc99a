"""File a processed frame: objects into the store first, then the row.

A row never points at a missing object. The sha256 is unique in the
database, so two workers racing on the same frame end with one row.
"""
from __future__ import annotations

from typing import Callable

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from master.models import Frame, FrameHeader
from . import keys
from .process import ProcessedFrame

META_FIELDS = (
    "frame_type", "filter_name", "exposure_s", "object_name", "date_obs", "night", "camera", "telescope",
    "observer", "site_name", "capture_program", "ccd_temp_c", "set_temp_c", "binning_x", "binning_y", "gain",
    "offset", "ra_deg", "dec_deg", "site_lat", "site_lon", "site_elev", "focal_length_mm", "pixel_size_um",
    "bayer_pattern", "width", "height",
)
GRADE_FIELDS = ("star_count", "hfr_px", "fwhm_px", "eccentricity", "background", "noise")


def find_frame(session: Session, sha256: str) -> Frame | None:
    return session.scalar(select(Frame).where(Frame.sha256 == sha256))


def target_name(object_name: str | None) -> str | None:
    return " ".join(object_name.split()) if object_name and object_name.strip() else None


def _clip(value, length):
    return value[:length] if isinstance(value, str) else value


def build_row(processed: ProcessedFrame, sha256: str, size: int, key: str, *, node: str | None,
              original_name: str | None, source: str) -> Frame:
    meta, grade = processed.meta, processed.grade
    values = {name: getattr(meta, name, None) for name in META_FIELDS}
    for name, length in (("object_name", 200), ("camera", 120), ("telescope", 120), ("observer", 120),
                         ("site_name", 120), ("capture_program", 120), ("filter_name", 60), ("bayer_pattern", 8)):
        values[name] = _clip(values[name], length)
    if grade is not None:
        values.update({name: getattr(grade, name) for name in GRADE_FIELDS})
    frame = Frame(
        sha256=sha256, key=key, size=size, original_name=_clip(original_name, 512), node_name=node, source=source,
        target_name=_clip(target_name(meta.object_name), 200), accepted=processed.accepted,
        reject_reason=_clip(processed.reject_reason, 300), warnings=list(meta.warnings or []) or None,
        thumb_key=keys.thumb_key(sha256), preview_key=keys.preview_key(sha256), **values,
    )
    frame.header = FrameHeader(cards=processed.cards, text=processed.header_text)
    return frame


def file_frame(sessions: sessionmaker[Session], store, processed: ProcessedFrame, sha256: str, size: int,
               place_object: Callable[[str], None], *, node: str | None = None,
               original_name: str | None = None, source: str = "node") -> tuple[Frame, bool]:
    """Store objects and the row. Returns (frame, duplicate)."""
    key = keys.frame_key(processed.meta, sha256)
    place_object(key)
    if processed.thumb_png:
        store.put_bytes(keys.thumb_key(sha256), processed.thumb_png, "image/png")
    if processed.preview_png:
        store.put_bytes(keys.preview_key(sha256), processed.preview_png, "image/png")
    row = build_row(processed, sha256, size, key, node=node, original_name=original_name, source=source)
    return add_once(sessions, row, find_frame, sha256)


def add_once(sessions: sessionmaker[Session], row, find: Callable, sha256: str):
    """Insert a row unique by sha256; a racing worker's row wins. Returns (row, duplicate)."""
    with sessions() as session:
        session.add(row)
        try:
            session.commit()
        except IntegrityError:
            session.rollback()
            existing = find(session, sha256)
            if existing is None:
                raise
            return existing, True
        return find(session, sha256), False
