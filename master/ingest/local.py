"""``obsy ingest``: bring existing FITS files and SER videos from disk into the repository."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

from .filing import file_frame, find_frame
from .process import FitsReadError, process_file, sha256_file
from .ser import SerError, file_ser, find_capture, inspect_ser, looks_like_ser_name

FITS_SUFFIXES = (".fits", ".fit", ".fts", ".fz", ".fits.gz", ".fit.gz", ".fts.gz", ".fits.fz")


def looks_like_fits_name(path: Path) -> bool:
    name = path.name.lower()
    return any(name.endswith(suffix) for suffix in FITS_SUFFIXES) or looks_like_ser_name(name)


def collect(paths: Iterable[str | Path]) -> list[Path]:
    """Files named explicitly are all tried; folders contribute their FITS- and SER-named files."""
    found: list[Path] = []
    for item in map(Path, paths):
        if item.is_dir():
            for root, dirs, files in os.walk(item):
                dirs.sort()
                found += [Path(root) / f for f in sorted(files) if looks_like_fits_name(Path(f))]
        else:
            found.append(item)
    return found


def _iso(value):
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def summary(path: Path, status: str, sha256: str | None, frame=None, reason: str | None = None) -> dict:
    row = {"path": str(path), "status": status, "sha256": sha256}
    if reason is not None:
        row["reason"] = reason
    fields = {
        "frame_type": None, "filter": None, "exposure_s": None, "object": None, "date_obs": None, "camera": None,
        "telescope": None, "ccd_temp_c": None, "binning": None, "gain": None, "star_count": None, "hfr_px": None,
    }
    if frame is not None:
        binning = None
        if frame.binning_x is not None:
            binning = f"{frame.binning_x}x{frame.binning_y or frame.binning_x}"
        fields.update(frame_type=frame.frame_type, filter=frame.filter_name, exposure_s=frame.exposure_s,
                      object=frame.object_name, date_obs=_iso(_utc(frame.date_obs)), camera=frame.camera,
                      telescope=frame.telescope, ccd_temp_c=frame.ccd_temp_c, binning=binning, gain=frame.gain,
                      star_count=frame.star_count, hfr_px=frame.hfr_px)
    row.update(fields)
    return row


def _utc(value):
    from datetime import timezone
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value


def ser_summary(path: Path, status: str, sha256: str | None, capture=None, reason: str | None = None) -> dict:
    row = {"path": str(path), "status": status, "sha256": sha256, "kind": "ser"}
    if reason is not None:
        row["reason"] = reason
    if capture is not None:
        row.update(ser_capture_id=capture.id, key=capture.key, frames=capture.frame_count,
                   width=capture.width, height=capture.height, start_utc=_iso(_utc(capture.start_utc)))
    return row


def ingest_ser(services, path: Path, sha256: str, size: int, on_ser) -> dict:
    with services.sessions() as session:
        existing = find_capture(session, sha256)
    if existing is not None:
        return ser_summary(path, "duplicate", sha256, existing)
    try:
        row = inspect_ser(path)
    except SerError as exc:
        return ser_summary(path, "rejected", sha256, reason=f"not a usable SER video: {exc}")
    store = services.store
    capture, duplicate = file_ser(services.sessions, row, sha256, size, lambda key: store.put_file(key, path),
                                  node=None, original_name=path.name, source="import")
    followed = on_ser(capture.id) if not duplicate and on_ser is not None else None
    row = ser_summary(path, "duplicate" if duplicate else "ingested", sha256, capture)
    row.update(followed or {})  # an inline reconstruction says how it went
    return row


def ingest_one(services, path: Path, on_ser=None) -> dict:
    try:
        sha256, size = sha256_file(path)
    except OSError as exc:
        return summary(path, "rejected", None, reason=f"cannot read file: {exc.strerror or exc}")
    if size == 0:
        return summary(path, "rejected", sha256, reason="empty file")
    if looks_like_ser_name(path):
        return ingest_ser(services, path, sha256, size, on_ser)
    with services.sessions() as session:
        existing = find_frame(session, sha256)
    if existing is not None:
        return summary(path, "duplicate", sha256, existing)
    try:
        processed = process_file(path)
    except FitsReadError as exc:
        return summary(path, "rejected", sha256, reason=str(exc))
    store = services.store
    frame, duplicate = file_frame(services.sessions, store, processed, sha256, size,
                                  lambda key: store.put_file(key, path), original_name=path.name, source="import")
    return summary(path, "duplicate" if duplicate else "ingested", sha256, frame)


def ingest_paths(services, paths: Iterable[Path], on_ser=None) -> Iterator[dict]:
    """``on_ser(capture_id)`` is called for each new SER video (to queue or run its reconstruction);
    a dict it returns is added to that file's row."""
    for path in paths:
        yield ingest_one(services, path, on_ser)
