"""Rebuild one calibration group's master from its ingested frames (the ``rebuild_master`` job).

Idempotent: the master remembers a digest of its inputs (frames, and the masters subtracted from
them), and a group whose inputs have not changed is left alone, so a batch of frames that each asked for a rebuild makes one master. A unique index
on (group, inputs digest) settles two workers racing on the same group. The object is stored
before the row, so a row never points at a missing file; the previous master stays, superseded.
A new bias asks the darks, dark-flats and flats of its camera to rebuild; a new dark, the flats.
"""
from __future__ import annotations

import hashlib
import logging
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from common import names
from common.contracts import MasterBuilt, RebuildMaster
from master.ingest.process import sha256_file
from master.models import Frame, MasterFrame
from master.processing.calibrate import matching_masters, select_masters
from master.processing.masters import SAME_EXPOSURE, Master, build_master, scan_frames, write_master

from .catalog import current_masters, fetch
from .groups import frame_meta, group_frames, group_path
from .triggers import enqueue

log = logging.getLogger(__name__)


DEPENDENTS = {"bias": ("dark", "dark_flat", "flat"), "dark": ("flat",), "dark_flat": ("flat",)}


def inputs_digest(frames: list[Frame], helpers: list[Master] = ()) -> str:
    """Of the frames and of the masters removed from them: a new bias makes the darks' inputs new."""
    parts = sorted(f.sha256 for f in frames) + [f"{m.kind}:{m.row_id}" for m in helpers]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def helpers_used(kind: str, selection) -> list[Master]:
    """The masters ``_combine`` subtracts from frames of ``kind`` (stand-ins)."""
    if kind == "bias":
        return []
    used = [selection.bias]
    if kind == "flat":
        used.append(selection.dark_flat or selection.dark)
    return [m for m in used if m is not None]


def _still_arriving(frames: list[Frame], debounce_s: float) -> bool:
    newest = max(f.ingested_at for f in frames)
    if newest.tzinfo is None:  # SQLite hands back naive UTC
        newest = newest.replace(tzinfo=timezone.utc)
    return (datetime.now(timezone.utc) - newest).total_seconds() < debounce_s * 0.9


def current_master(session, path: str) -> MasterFrame | None:
    return session.scalar(select(MasterFrame).where(MasterFrame.group_path == path,
                                                    MasterFrame.superseded_at.is_(None))
                          .order_by(MasterFrame.id.desc()))


def rebuild_master(services, job: RebuildMaster) -> MasterFrame | None:
    """The group's master after this job: a new one, the unchanged current one, or None (too few frames)."""
    settings = services.config.library
    path = group_path(job)
    with services.sessions() as session:
        frames = group_frames(session, job, settings.temp_tolerance_c)
        if len(frames) < settings.min_frames:
            log.info("group %s has %d of %d frames: no master yet", path, len(frames), settings.min_frames)
            return None
        if _still_arriving(frames, settings.debounce_s):
            return None  # the newest frame's own job comes later and sees the whole batch
        first = frames[0]
        candidates = current_masters(session, first.width, first.height)
        helpers = select_masters(frame_meta(first), candidates, settings.temp_tolerance_c)
        helpers.dark_flat = _dark_flat(frame_meta(first), candidates, settings.temp_tolerance_c)
        digest = inputs_digest(frames, helpers_used(job.kind, helpers))
        current = current_master(session, path)
        if current is not None and current.inputs_sha256 == digest:
            return current
        inputs = [(f.id, f.key) for f in frames]
    with tempfile.TemporaryDirectory(prefix="obsy-master-") as tmp:
        master, bias_id = _combine(services.store, job.kind, inputs, helpers, Path(tmp), settings.temp_tolerance_c)
        file = write_master(master, Path(tmp) / "master.fits")
        sha256, _ = sha256_file(file)
        key = f"masters/{path}/{sha256}.fits"
        services.store.put_file(key, file)
    row = _row(job, path, master, digest, key, sha256, bias_id)
    row = _commit(services, row, [i for i, _ in inputs])
    rebuild_dependents(services, row)
    return row


def rebuild_dependents(services, row: MasterFrame) -> int:
    """Ask the groups built on this kind of master (darks and flats on a bias...) to rebuild; how many."""
    kinds = DEPENDENTS.get(row.kind, ())
    if not kinds:
        return 0
    with services.sessions() as session:
        rows = session.scalars(select(MasterFrame).where(
            MasterFrame.kind.in_(kinds), MasterFrame.superseded_at.is_(None),
            MasterFrame.camera.is_(None) if row.camera is None else MasterFrame.camera == row.camera)).all()
        jobs = [RebuildMaster(kind=r.kind, camera=r.camera, binning_x=r.binning_x, binning_y=r.binning_y,
                              gain=r.gain, offset=r.offset, temperature=r.temperature, exposure_s=r.exposure_s,
                              filter_name=r.filter_name) for r in rows]
    for job in jobs:  # each rebuilds only if its choice of masters really changed (the digest)
        enqueue(services.job_broker, names.REBUILD_MASTER_ACTOR, job)
    return len(jobs)


def _combine(store, kind: str, inputs, helpers, tmp: Path, tolerance: float) -> tuple[Master, int | None]:
    raw = tmp / "raw"
    raw.mkdir()
    paths = []
    for frame_id, key in inputs:
        paths.append(raw / f"{frame_id}.fits")
        store.get_file(key, paths[-1])
    frames, errors = scan_frames(paths)
    if errors:
        raise RuntimeError("; ".join(f"{p.name}: {reason}" for p, reason in errors))  # retried: store trouble
    # Darks lose their bias so they can be scaled; flats lose bias and dark (dark-flat when there is one).
    bias = fetch(store, helpers.bias, tmp) if kind != "bias" else None
    dark = dark_flat = None
    if kind == "flat":
        dark_flat = fetch(store, helpers.dark_flat, tmp)
        dark = None if dark_flat is not None else fetch(store, helpers.dark, tmp)
    master = build_master(kind, frames, bias=bias, dark=dark, dark_flat=dark_flat, temp_tolerance=tolerance,
                          workdir=tmp)
    return master, getattr(bias, "row_id", None)


def _dark_flat(meta, candidates, tolerance) -> Master | None:
    """A dark-flat of the flats' exposure, nearest in temperature; None leaves the scaled dark to do."""
    same = [m for m in matching_masters(meta, candidates, "dark_flat", tolerance)
            if m.meta.exposure_s is not None and meta.exposure_s is not None
            and abs(m.meta.exposure_s - meta.exposure_s) <= SAME_EXPOSURE * max(meta.exposure_s, 1e-9)]
    return min(same, key=lambda m: abs((m.meta.set_temp_c or 0) - (meta.set_temp_c or 0))) if same else None


def _quality(master: Master, n_inputs: int) -> dict:
    data = master.data
    center = float(np.nanmedian(data))
    noise = 1.482602218505602 * float(np.nanmedian(np.abs(data - center)))
    quality = {"median": round(center, 6), "noise": round(noise, 6)}
    if master.rejected is not None:
        quality["rejected_fraction"] = round(float(master.rejected.sum()) / (n_inputs * data.size), 6)
    if master.bad_pixels is not None:
        quality["bad_pixels"] = int(master.bad_pixels.sum())
    return quality


def _row(job: RebuildMaster, path: str, master: Master, digest: str, key: str, sha256: str,
         bias_id: int | None) -> MasterFrame:
    meta = master.meta
    return MasterFrame(
        kind=job.kind, group_path=path, camera=job.camera, binning_x=job.binning_x, binning_y=job.binning_y,
        gain=job.gain, offset=job.offset, temperature=job.temperature, exposure_s=job.exposure_s,
        filter_name=job.filter_name, set_temp_c=meta.set_temp_c if meta.set_temp_c is not None else meta.ccd_temp_c,
        date_obs=meta.date_obs, n_inputs=int(master.header["NCOMBINE"]), inputs_sha256=digest, key=key,
        sha256=sha256, width=master.data.shape[1], height=master.data.shape[0],
        quality=_quality(master, int(master.header["NCOMBINE"])), bias_master_id=bias_id)


def _commit(services, row: MasterFrame, frame_ids: list[int]) -> MasterFrame:
    now = datetime.now(timezone.utc)
    with services.sessions() as session:
        previous = session.scalars(select(MasterFrame).where(MasterFrame.group_path == row.group_path,
                                                             MasterFrame.superseded_at.is_(None))).all()
        row.inputs = session.scalars(select(Frame).where(Frame.id.in_(frame_ids))).all()
        session.add(row)
        for old in previous:
            old.superseded_at = now
        try:
            session.commit()
        except IntegrityError:
            # Another worker filed the same inputs first: its master is this group's master.
            session.rollback()
            return session.scalar(select(MasterFrame).where(MasterFrame.group_path == row.group_path,
                                                            MasterFrame.inputs_sha256 == row.inputs_sha256))
        superseded = previous[-1].id if previous else None
        session.refresh(row)
        services.bus.publish(names.MASTER_BUILT_KEY, MasterBuilt(master_id=row.id, kind=row.kind, key=row.key,
                                                                 n_inputs=row.n_inputs, superseded_id=superseded))
        log.info("master %s %s from %d frames (%s)", row.kind, row.id, row.n_inputs, row.key)
        return row
