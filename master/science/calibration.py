"""Calibrate a light before photometry with the calibration library's masters, and say which.

A frame the library has already calibrated (a ``frame_calibrations`` row, e.g. from the live stack)
is calibrated again with the same masters, so both products rest on one calibration. Otherwise the
library's current masters are chosen as ``library.apply`` would. Masters are downloaded once per
run. Nothing is hidden: a frame measured without a bias, dark or flat carries the reason.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy.orm import Session

from master.fitsmeta.reader import FitsReadError
from master.library.catalog import current_masters, fetch, stand_in
from master.library.groups import frame_meta
from master.models import Frame, FrameCalibration, MasterFrame
from master.processing.calibrate import calibrate_light, select_masters
from master.processing.masters import CalibrationError

__all__ = ["RunCalibration"]

KINDS = ("bias", "dark", "flat")


@dataclass
class RunCalibration:
    """Calibrates the frames of one photometry run and collects what was used for the provenance."""

    services: object
    masters: dict = field(default_factory=dict)  # master id → downloaded Master
    per_frame: dict = field(default_factory=dict)  # frame id → {"bias": id, ..., "source", "missing"}

    def __post_init__(self):
        self._tmp = tempfile.TemporaryDirectory(prefix="obsy-phot-masters-")

    def close(self) -> None:
        self._tmp.cleanup()

    def _stand_ins(self, session: Session, frame: Frame):
        recorded = session.get(FrameCalibration, frame.id)
        if recorded is not None and any((recorded.bias_id, recorded.dark_id, recorded.flat_id)):
            rows = [session.get(MasterFrame, i) if i else None for i in
                    (recorded.bias_id, recorded.dark_id, recorded.flat_id)]
            return [stand_in(r) if r is not None else None for r in rows], list(recorded.missing or []), "recorded"
        chosen = select_masters(frame_meta(frame), current_masters(session, frame.width, frame.height),
                                self.services.config.library.temp_tolerance_c)
        return [chosen.bias, chosen.dark, chosen.flat], list(chosen.warnings), "library"

    def _fetch(self, stand):
        if stand is None:
            return None
        if stand.row_id not in self.masters:
            self.masters[stand.row_id] = fetch(self.services.store, stand, self._tmp.name)
        return self.masters[stand.row_id]

    def apply(self, frame: Frame, data: np.ndarray) -> np.ndarray:
        """The calibrated pixels (or ``data`` itself when the library has nothing for this frame)."""
        with self.services.sessions() as session:
            stands, warnings, source = self._stand_ins(session, frame)
        note = {"source": source, **{k: (s.row_id if s is not None else None) for k, s in zip(KINDS, stands)}}
        self.per_frame[frame.id] = note
        if all(s is None for s in stands):
            note.update(source="none", missing=warnings or ["the calibration library has no master for this frame"])
            return data
        try:
            bias, dark, flat = (self._fetch(s) for s in stands)
            out, record = calibrate_light(data, frame_meta(frame), bias=bias, dark=dark, flat=flat,
                                          warnings=warnings)
        except (CalibrationError, FitsReadError) as exc:  # a broken or ill-fitting master: measure raw, say why
            note.update(source="none", bias=None, dark=None, flat=None, missing=[f"not calibrated: {exc}"])
            return data
        note.update(dark_scale=record.dark_scale, missing=record.warnings or None)
        return out

    def provenance(self, frame_ids) -> dict:
        """What the product records: the masters used, and per frame what was applied or missing."""
        used = {self.per_frame[i][k] for i in frame_ids for k in KINDS if self.per_frame[i].get(k)}
        with self.services.sessions() as session:
            masters = [{"id": row.id, "kind": row.kind, "key": row.key, "sha256": row.sha256}
                       for row in (session.get(MasterFrame, i) for i in sorted(used))]
        missing = sorted({m for i in frame_ids for m in (self.per_frame[i].get("missing") or [])})
        uncalibrated = [i for i in frame_ids if self.per_frame[i]["source"] == "none"]
        return {"masters": masters, "frames": {str(i): self.per_frame[i] for i in frame_ids},
                "uncalibrated_frames": uncalibrated, "missing": missing}
