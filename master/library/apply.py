"""Calibrate an ingested light with the library's best masters and record which were used.

The choice is ``calibrate.select_masters`` (nearest temperature, then date; a dark of another
exposure is scaled when a bias exists) over the masters not superseded. What is missing is kept in
the record's ``missing`` list, never skipped in silence.
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from sqlalchemy.orm import Session

from master.fitsmeta.reader import read_fits
from master.models import Frame, FrameCalibration, utcnow
from master.processing.calibrate import CalibrationRecord, calibrate_light, select_masters

from .catalog import current_masters, fetch
from .groups import frame_meta


class NotALight(ValueError):
    pass


def calibrate_frame(services, frame_id: int, *, strict: bool = False
                    ) -> tuple[np.ndarray, CalibrationRecord, FrameCalibration]:
    """The calibrated pixels of frame ``frame_id``, what was done, and the stored record of it."""
    settings = services.config.library
    with services.sessions() as session:
        frame = session.get(Frame, frame_id)
        if frame is None or frame.frame_type != "light":
            raise NotALight(f"frame {frame_id} is not a light frame in the repository")
        meta, key = frame_meta(frame), frame.key
        chosen = select_masters(meta, current_masters(session, frame.width, frame.height),
                                settings.temp_tolerance_c)
    with tempfile.TemporaryDirectory(prefix="obsy-calibrate-") as tmp:
        light = Path(tmp) / "light.fits"
        services.store.get_file(key, light)
        _, data = read_fits(light, require_image=True)
        bias, dark, flat = (fetch(services.store, m, tmp) for m in (chosen.bias, chosen.dark, chosen.flat))
        out, record = calibrate_light(data, meta, bias=bias, dark=dark, flat=flat, strict=strict,
                                      warnings=chosen.warnings)
    with services.sessions() as session:
        row = _record(session, frame_id, bias, dark, flat, record)
        session.commit()
        session.refresh(row)
        session.expunge(row)
    return out, record, row


def _record(session: Session, frame_id: int, bias, dark, flat, record: CalibrationRecord) -> FrameCalibration:
    row = session.get(FrameCalibration, frame_id) or FrameCalibration(frame_id=frame_id)
    row.bias_id, row.dark_id, row.flat_id = (getattr(m, "row_id", None) for m in (bias, dark, flat))
    row.dark_scale = record.dark_scale
    row.calibrated_at = utcnow()
    row.missing = list(record.warnings) or None
    session.add(row)
    return row
