"""From an OBSY schedule job (what is still to take) to EKOS files, and from a captured frame back to its row.

Rows are named ``"<target index>.<row index>"`` in the job. A target that
appears twice in a job (the planner splits blocks) becomes one EKOS job with
the rows of both, because EKOS keys its jobs by name.
"""
from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from common.contracts import ScheduleJob
from .build import ObsySchedule, build_files

EKOS_FRAME_TYPES = {"light": "Light", "dark": "Dark", "flat": "Flat", "bias": "Bias"}
# How INDI/EKOS write IMAGETYP or FRAME, by meaning.
FRAME_TYPE_WORDS = {"light": "light", "dark": "dark", "flat": "flat", "bias": "bias", "offset": "bias", "zero": "bias"}


def row_key(target_index: int, row_index: int) -> str:
    return f"{target_index}.{row_index}"


def remaining_rows(job: ScheduleJob, done: dict[str, int]) -> dict[str, int]:
    """Frames still to take per row, rows with nothing left omitted."""
    left = {}
    for ti, target in enumerate(job.targets):
        for ri, row in enumerate(target.rows):
            n = row.count - done.get(row_key(ti, ri), 0)
            if n > 0:
                left[row_key(ti, ri)] = n
    return left


@dataclass(frozen=True)
class EkosOptions:
    capture_dir: str
    profile: str
    steps: tuple[str, ...] = ("Track",)
    enforce_twilight: bool = True
    min_altitude_deg: float = 0.0
    filter_aliases: dict[str, str] | None = None

    def ekos_filter(self, name: str | None) -> str | None:
        if name is None:
            return None
        return (self.filter_aliases or {}).get(name, name)


def _steps(target, options: EkosOptions) -> list[str]:
    if target.calibration:
        return []
    steps = list(options.steps)
    if target.focus_at_start and "Focus" not in steps:
        steps.insert(1 if steps[:1] == ["Track"] else 0, "Focus")
    return steps


def schedule_for(job: ScheduleJob, left: dict[str, int], options: EkosOptions) -> ObsySchedule:
    targets: dict[str, dict] = {}
    for ti, target in enumerate(job.targets):
        for ri, row in enumerate(target.rows):
            count = left.get(row_key(ti, ri), 0)
            if count <= 0:
                continue
            entry = targets.setdefault(target.name, {
                "name": target.name, "ra_deg": target.ra_deg, "dec_deg": target.dec_deg,
                "steps": _steps(target, options), "exposures": [],
                # Calibration runs after the night, wherever the mount is: no twilight or altitude limit.
                "enforce_twilight": options.enforce_twilight and not target.calibration,
                "min_altitude": None if target.calibration else (options.min_altitude_deg or None),
                "dither_every": target.dither_every, "focus_every_min": target.focus_every_min,
                "focus_temp_delta": target.focus_temp_delta})
            entry["exposures"].append({
                "filter": options.ekos_filter(row.filter_name), "exposure_s": row.exposure_s, "count": count,
                "binning": row.binning, "gain": row.gain, "offset": row.offset,
                "frame_type": EKOS_FRAME_TYPES[row.frame_type]})
    return ObsySchedule.model_validate({
        "capture_dir": options.capture_dir, "profile": options.profile, "unpark_mount": True,
        "park_mount": job.park_at_end, "targets": list(targets.values())})


def write_job_files(job: ScheduleJob, left: dict[str, int], options: EkosOptions, out_dir: Path,
                    sequence_dir: str | None = None) -> Path:
    """The scheduler list (and its sequence queues) for what is left; returns the ``.esl`` path."""
    esl, _ = build_files(schedule_for(job, left, options), out_dir, sequence_dir)
    return esl


def job_archive(job: ScheduleJob, options: EkosOptions, files_dir: str) -> bytes:
    """The whole job as a zip of ``schedule.esl`` + one ``.esq`` per target, naming ``files_dir`` as
    the folder they are unpacked into on the KStars machine."""
    with tempfile.TemporaryDirectory() as tmp:
        write_job_files(job, remaining_rows(job, {}), options, Path(tmp), sequence_dir=files_dir)
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(Path(tmp).iterdir()):
                archive.write(path, path.name)
    return buffer.getvalue()


def frame_type_of(header) -> str | None:
    for card in ("FRAME", "IMAGETYP"):
        value = str(header.get(card, "")).strip().lower()
        for word, kind in FRAME_TYPE_WORDS.items():
            if value.startswith(word):
                return kind
    return None


def match_row(job: ScheduleJob, left: dict[str, int], options: EkosOptions, header) -> str | None:
    """The row a captured frame belongs to (OBJECT, FILTER, EXPTIME, frame type), or None."""
    name = str(header.get("OBJECT", "")).strip()
    filt = str(header.get("FILTER", "")).strip() or None
    try:
        exposure = float(header.get("EXPTIME", header.get("EXPOSURE")))
    except (TypeError, ValueError):
        return None
    kind = frame_type_of(header)
    for ti, target in enumerate(job.targets):
        if target.name != name:
            continue
        for ri, row in enumerate(target.rows):
            key = row_key(ti, ri)
            if left.get(key, 0) <= 0:
                continue
            if (options.ekos_filter(row.filter_name) or None) != filt and row.frame_type in ("light", "flat"):
                continue
            if abs(row.exposure_s - exposure) > max(1e-3, 1e-4 * row.exposure_s):
                continue
            if kind is not None and kind != row.frame_type:
                continue
            return key
    return None
