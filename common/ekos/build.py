"""Build EKOS files from an OBSY schedule.

``ObsySchedule`` is the simple structure the planner hands to a telescope node:
targets (J2000 RA/Dec in degrees, constraints, steps) each with exposure rows.
``build_files`` writes one scheduler list and one sequence queue per target.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .codec import write_file
from .model import (
    Calibration, Condition, Constraints, Procedure, SchedulerJob, SchedulerList, SequenceJob, SequenceQueue, Toggle,
)

SCHEDULER_FILE = "schedule.esl"
PLACEHOLDER_FORMAT = "/%t/%T/%F/%t_%T_%F_%e_%D"

Step = Literal["Track", "Focus", "Align", "Guide"]


class ScheduleError(ValueError):
    """An OBSY schedule that cannot be turned into EKOS files."""


class ExposureRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filter: str | None = None
    exposure_s: float = Field(gt=0, le=86400)
    count: int = Field(ge=1)
    binning: int = Field(default=1, ge=1, le=16)
    gain: float | None = None
    offset: float | None = None
    frame_type: Literal["Light", "Dark", "Bias", "Flat"] = "Light"


class ScheduleTarget(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    ra_deg: float = Field(ge=0, lt=360)
    dec_deg: float = Field(ge=-90, le=90)
    min_altitude: float | None = Field(default=None, ge=0, le=90)
    position_angle: float | None = Field(default=None, ge=-180, le=360)
    steps: list[Step] = Field(default_factory=lambda: ["Track", "Focus", "Align", "Guide"])
    enforce_twilight: bool = True
    repeat: int | None = Field(default=None, ge=1)
    dither_every: int | None = Field(default=None, ge=1)  # frames; None: the Guide module's own setting
    focus_every_min: float | None = Field(default=None, gt=0)
    focus_temp_delta: float | None = Field(default=None, gt=0)
    exposures: list[ExposureRow] = Field(min_length=1)


class ObsySchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    capture_dir: str = Field(min_length=1)
    profile: str = "Default"
    unpark_mount: bool = True
    park_mount: bool = True
    targets: list[ScheduleTarget] = Field(min_length=1)

    @field_validator("targets")
    @classmethod
    def _unique_names(cls, targets: list[ScheduleTarget]) -> list[ScheduleTarget]:
        names = [t.name for t in targets]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"target names must be unique; repeated: {', '.join(repeated)}")
        return targets


def load_schedule(data: dict | ObsySchedule) -> ObsySchedule:
    if isinstance(data, ObsySchedule):
        return data
    try:
        return ObsySchedule.model_validate(data)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(schedule)'}: {e['msg']}" for e in exc.errors())
        raise ScheduleError(f"invalid schedule: {reasons}") from None


def _file_stem(name: str, used: set[str]) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "target"
    candidate, n = stem, 2
    while candidate.lower() in used:
        candidate, n = f"{stem}-{n}", n + 1
    used.add(candidate.lower())
    return candidate


def sequence_for(target: ScheduleTarget, capture_dir: str) -> SequenceQueue:
    jobs = []
    for row in target.exposures:
        jobs.append(SequenceJob(
            exposure=row.exposure_s, count=row.count, filter=row.filter, frame_type=row.frame_type,
            bin_x=row.binning, bin_y=row.binning, delay=0, encoding="FITS", target_name=target.name,
            fits_directory=capture_dir, placeholder_format=PLACEHOLDER_FORMAT, placeholder_suffix=3,
            upload_mode=0, gain=row.gain, offset=row.offset,
            guide_dither_per_job=target.dither_every if row.frame_type == "Light" else None,
            calibration=Calibration(pre_action=0, flat_duration="Manual", dark=False),
        ))
    # Refocusing is a setting of the whole sequence queue (<RefocusEveryN enabled='true'>minutes</...>).
    every, delta = target.focus_every_min, target.focus_temp_delta
    return SequenceQueue(
        version="2.6", jobs=jobs,
        refocus_every_n=Toggle(True, every) if every else None,
        refocus_on_temperature_delta=Toggle(True, delta) if delta else None)


def scheduler_job_for(target: ScheduleTarget, sequence_path: Path) -> SchedulerJob:
    return SchedulerJob(
        name=target.name, group="", ra_hours=target.ra_deg / 15.0, dec_deg=target.dec_deg,
        position_angle=target.position_angle, sequence=str(sequence_path),
        startup=Condition("ASAP"),
        constraints=Constraints(min_altitude=target.min_altitude, enforce_twilight=target.enforce_twilight),
        completion=Condition("Repeat", str(target.repeat)) if target.repeat else Condition("Sequence"),
        steps=list(target.steps),
    )


def build_files(schedule: dict | ObsySchedule, out_dir: str | Path,
                sequence_dir: str | None = None) -> tuple[Path, dict[str, Path]]:
    """Write ``schedule.esl`` and one ``.esq`` per target into ``out_dir``.

    The scheduler list names each sequence by its path in ``sequence_dir`` (default: where it is
    written): files made for download name the folder they will be unpacked into on the KStars
    machine. Returns the scheduler list's path and each target's sequence path, by target name.
    """
    plan = load_schedule(schedule)
    out = Path(out_dir).expanduser().resolve()
    used = {Path(SCHEDULER_FILE).stem.lower()}
    sequences: dict[str, Path] = {}
    jobs = []
    for target in plan.targets:
        path = out / f"{_file_stem(target.name, used)}.esq"
        write_file(sequence_for(target, plan.capture_dir), path)
        sequences[target.name] = path
        jobs.append(scheduler_job_for(target, Path(sequence_dir) / path.name if sequence_dir else path))
    scheduler = SchedulerList(
        version="1.6", profile=plan.profile, jobs=jobs,
        startup_procedure=[Procedure("UnparkMount")] if plan.unpark_mount else [],
        shutdown_procedure=[Procedure("ParkMount")] if plan.park_mount else [],
    )
    esl = write_file(scheduler, out / SCHEDULER_FILE)
    return esl, sequences
