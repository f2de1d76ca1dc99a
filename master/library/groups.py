"""Calibration groups of ingested frames: the job that names one, its storage path, its frames.

The grouping rule is ``processing.masters.calibration_group``; this module only maps database rows
onto it, so ``obsy process masters`` on files and the library on ingested frames group alike.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from common.contracts import RebuildMaster
from master.fitsmeta.normalize import FrameMeta
from master.ingest.keys import slug
from master.models import Frame
from master.processing.masters import MASTER_KINDS, calibration_group

META_FROM_ROW = ("frame_type", "filter_name", "exposure_s", "date_obs", "night", "camera", "ccd_temp_c",
                 "set_temp_c", "binning_x", "binning_y", "gain", "offset", "width", "height", "object_name")


def frame_meta(row) -> FrameMeta:
    """The normalised metadata a frame row was made from (enough to group and match it)."""
    return FrameMeta(**{name: getattr(row, name) for name in META_FROM_ROW})


def group_job(meta: FrameMeta, temp_tolerance: float) -> RebuildMaster | None:
    """The rebuild job of the group ``meta`` belongs to; None for frames that make no master."""
    if meta.frame_type not in MASTER_KINDS:
        return None
    kind, camera, bx, by, gain, offset, temp, exposure, filter_name = calibration_group(meta, temp_tolerance)
    return RebuildMaster(kind=kind, camera=camera, binning_x=bx, binning_y=by, gain=gain, offset=offset,
                         temperature=temp, exposure_s=exposure, filter_name=filter_name)


def group_key(job: RebuildMaster) -> tuple:
    return (job.kind, job.camera, job.binning_x, job.binning_y, job.gain, job.offset, job.temperature,
            job.exposure_s, job.filter_name)


def _number(value) -> str:
    return "any" if value is None else f"{value:g}"


def group_path(job: RebuildMaster) -> str:
    """``<kind>/<camera>/bin<x>x<y>/gain<g>_offset<o>/<temp>C/<exposure>s/<filter>``: one folder per group."""
    return "/".join([
        job.kind, slug(job.camera, "unknown-camera"),
        f"bin{_number(job.binning_x)}x{_number(job.binning_y)}",
        f"gain{_number(job.gain)}_offset{_number(job.offset)}",
        f"{_number(job.temperature)}C", f"{_number(job.exposure_s)}s", slug(job.filter_name, "no-filter"),
    ])


def group_frames(session: Session, job: RebuildMaster, temp_tolerance: float) -> list[Frame]:
    """Accepted frames of the group, oldest first."""
    query = select(Frame).where(Frame.frame_type == job.kind, Frame.accepted.is_(True))
    query = query.where(Frame.camera.is_(None) if job.camera is None else Frame.camera == job.camera)
    wanted = group_key(job)
    rows = session.scalars(query.order_by(Frame.id)).all()
    return [row for row in rows if calibration_group(frame_meta(row), temp_tolerance) == wanted]
