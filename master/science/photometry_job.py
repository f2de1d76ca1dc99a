"""The photometry_run job: one ``photometry_runs`` request → light curve products.

Frames: the target's accepted light frames in the repository (``frames.target_name``, optionally one
filter), in time order, fetched one at a time so memory does not grow with the night. Comparison
stars: the request's list, or an automatic ensemble picked on the first frame (a star of it that varies
is dropped once every frame is measured: ``comparison_choice``). Each frame is first
calibrated with the library's masters (``calibration``); the products record which, or what was
missing. Products: the light curve as CSV and as an AAVSO Extended report, linked to every frame
that was measured.

A frame that cannot be measured is listed on the run with its reason; a run with no usable frame
ends ``failed`` with the reason. Neither is retried.
"""
from __future__ import annotations

import logging
import math
import os
import tempfile
from dataclasses import replace
from datetime import datetime, timezone

from sqlalchemy import select

from common.contracts import InvalidMessage, PhotometryJob, parse_message
from master.fitsmeta.reader import FitsReadError, read_fits
from master.models import Frame, PhotometryRun
from .calibration import RunCalibration
from .comparison_choice import steady_comparisons
from .followed_runs import requeue
from .ensemble import auto_comparisons
from .frame_wcs import PlateSolveError, RunSolver
from .lightcurve_csv import format_lightcurve_csv
from .photometry import PhotometryError, Star, differential_photometry, format_aavso_extended, measure_frame
from .products import store_product

log = logging.getLogger(__name__)

__all__ = ["run_photometry_job", "run_frames", "target_star", "comparison_stars"]


def run_frames(session, run: PhotometryRun) -> list[Frame]:
    query = select(Frame).where(Frame.target_name == run.target_name, Frame.frame_type == "light",
                                Frame.accepted.is_(True))
    if run.filter_name:
        query = query.where(Frame.filter_name == run.filter_name)
    return list(session.scalars(query.order_by(Frame.date_obs, Frame.id)))


def target_star(run: PhotometryRun) -> Star:
    return Star(run.target_name[:30] or "TARGET", run.ra_deg, run.dec_deg, x=run.target_x, y=run.target_y)


def comparison_stars(run: PhotometryRun) -> list[Star] | None:
    if not run.comparisons:
        return None
    return [Star(str(c.get("name") or f"C{i + 1}"), c.get("ra"), c.get("dec"), c.get("mag"), c.get("x"), c.get("y"))
            for i, c in enumerate(run.comparisons)]


def _finish(services, run_id: int, **values) -> None:
    with services.sessions() as session:
        run = session.get(PhotometryRun, run_id)
        for name, value in values.items():
            setattr(run, name, value)
        run.finished_at = datetime.now(timezone.utc)
        session.commit()


def _reference_magnitudes(comps: list[Star], first) -> list[Star]:
    """Automatic comparisons get their instrumental magnitudes on the first frame as "catalogue" values.

    Without any, the ensemble's weighted zero point mixes stars magnitudes apart with weights that
    change from frame to frame, and moves by hundredths of a magnitude for nothing. The result stays
    a differential magnitude (the run is reported as DIF)."""
    kept = []
    for star in comps:
        m = first.stars.get(star.name)
        if m is not None and not m.flags and math.isfinite(m.mag):
            kept.append(replace(star, mag=round(m.mag, 4)))
    if not kept:
        raise PhotometryError("no automatic comparison star could be measured on the first frame")
    return kept


def _measure_all(services, run: PhotometryRun, frames: list[Frame], comps: list[Star] | None,
                 calibration: RunCalibration, solver: RunSolver):
    target = target_star(run)
    needs_wcs = target.x is None or any(c.x is None for c in comps or [])
    automatic = comps is None
    measured, rejected = [], []
    fd, tmp = tempfile.mkstemp(prefix="obsy-phot-", suffix=".fits")
    os.close(fd)
    try:
        for frame in frames:
            try:
                services.store.get_file(frame.key, tmp)
                header, data = read_fits(tmp, require_image=True)
                data = calibration.apply(frame, data)
                if needs_wcs:
                    header = solver.ensure_wcs(frame, tmp, header, data)
                if comps is None:
                    comps = auto_comparisons(data, header, target, fwhm=frame.fwhm_px or 3.0,
                                             saturation=header.get("SATURATE"))
                    if not comps:
                        raise PhotometryError("no comparison star could be picked automatically")
                measured.append(measure_frame(
                    data, header, [target, *comps], path=frame.key, aperture_fwhm=run.aperture_fwhm,
                    annulus_fwhm=(run.annulus_inner_fwhm, run.annulus_outer_fwhm)))
                if automatic and len(measured) == 1:
                    comps = _reference_magnitudes(comps, measured[0])
            except (FitsReadError, PhotometryError, PlateSolveError, OSError) as exc:
                rejected.append([frame.id, str(getattr(exc, "reason", exc))[:300]])
    finally:
        os.unlink(tmp)
    return target, comps, measured, rejected


def _catch_up(services, run: PhotometryRun, measured_count: int) -> None:
    """A following run measures again when frames of its target arrived while it was running."""
    with services.sessions() as session:
        arrived = len(run_frames(session, run)) > measured_count
        if arrived:
            session.get(PhotometryRun, run.id).state = "queued"
            session.commit()
    if arrived:
        requeue(services, run.id)


def _comp_parameters(comps: list[Star]) -> list[dict]:
    return [{"name": c.name, "ra": c.ra, "dec": c.dec, "x": c.x, "y": c.y, "mag": c.mag} for c in comps]


def run_photometry_job(services, raw) -> str:
    """Run one photometry request; returns its final state."""
    job = parse_message(raw, PhotometryJob)
    with services.sessions() as session:
        run = session.get(PhotometryRun, job.run_id)
        if run is None:
            raise InvalidMessage(f"no photometry run with id {job.run_id}")
        run.state, run.reason = "running", None
        session.commit()
        frames = run_frames(session, run)
        session.expunge_all()
    if not frames:
        _finish(services, run.id, state="failed", reason=f"no accepted light frames of {run.target_name!r}")
        return "failed"
    calibration, solver = RunCalibration(services), RunSolver(services, run.target_name)
    try:
        target, comps, measured, rejected = _measure_all(services, run, frames, comparison_stars(run), calibration,
                                                         solver)
    finally:
        calibration.close()
    if not measured:
        _finish(services, run.id, state="failed", reason="no frame could be measured", frames_rejected=rejected,
                frames_used=0)
        return "failed"
    dropped = []
    if run.comparisons is None:  # an automatic ensemble may hold a variable star
        comps, dropped = steady_comparisons(measured, comps)
    curve = differential_photometry(measured, target, comps)
    curve.standardized = bool(run.comparisons) and all(c.get("mag") is not None for c in run.comparisons)
    by_key = {f.key: f for f in frames}
    names = {m.path: f"{by_key[m.path].id}:{by_key[m.path].original_name or m.path}" for m in measured}
    parameters = {"target": {"name": target.name, "ra": target.ra, "dec": target.dec, "x": target.x, "y": target.y},
                  "comparisons": _comp_parameters(comps), "automatic": run.comparisons is None,
                  "aperture_fwhm": run.aperture_fwhm,
                  "annulus_fwhm": [run.annulus_inner_fwhm, run.annulus_outer_fwhm], "filter": run.filter_name,
                  "frames": len(measured), "frames_rejected": len(rejected), "comparisons_dropped": dropped}
    charts = {c.get("chart") for c in run.comparisons or []}
    chart = charts.pop() if len(charts) == 1 and None not in charts else "na"  # the VSP chart the comparisons came from
    report = format_aavso_extended(curve, obscode=run.obscode, software="OBSY", date_type="BJD",
                                   filter_name=None, star_id=target.name, chart=chart)
    frame_ids = [by_key[m.path].id for m in measured]
    parameters["calibration"] = calibration.provenance(frame_ids)
    parameters["plate_solved"] = {i: how for i, how in solver.solved.items() if int(i) in frame_ids}
    prefix = f"products/photometry/run-{run.id}"
    with services.sessions() as session:
        store_product(session, services.store, kind="lightcurve_csv", key=f"{prefix}/lightcurve.csv",
                      data=format_lightcurve_csv(curve, names).encode(), parameters=parameters,
                      frame_ids=frame_ids, photometry_run_id=run.id)
        store_product(session, services.store, kind="aavso_extended", key=f"{prefix}/aavso_extended.txt",
                      data=report.encode(), parameters=parameters, frame_ids=frame_ids, photometry_run_id=run.id)
        session.commit()
    _finish(services, run.id, state="done", reason=None, frames_used=len(measured), frames_rejected=rejected)
    if run.follow:
        _catch_up(services, run, len(frames))
    log.info("photometry run %s: %d frames measured, %d rejected", run.id, len(measured), len(rejected))
    return "done"
