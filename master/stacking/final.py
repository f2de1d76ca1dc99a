"""The ``final_stack`` job: a target's accepted lights, calibrated and stacked into stored products.

Scope: one target, one filter or every filter (each stacked on its own), one night or every night.
Rejected frames (``frames.accepted`` false) are never used. Each light is calibrated with the
library's best masters (``library.apply.calibrate_frame``, which records them in
``frame_calibrations``), written to a temporary folder, and the folder is stacked by
``processing.stack.stack_files``: star registration, sigma-clipped mean, weights from the grading
ingest recorded (star count / HFR^2), the REJECTED and COVERAGE maps in the FITS.

Products (``products`` rows, linked to every frame used): ``stack_fits`` and ``stack_png`` per filter
under ``products/stacks/<target>/<night or all-nights>/<filter>``, and, once R, G and B stacks of
the same scope exist (L too for LRGB), a ``colour_png`` composite of them. A redelivered job
replaces its products. A scope with no usable frame raises ``NothingToStack`` (dead-lettered with
the reason, not retried).
"""
from __future__ import annotations

import io
import logging
import tempfile
import warnings
from datetime import date
from pathlib import Path

import numpy as np
from astropy.io import fits
from sqlalchemy import or_, select

from common.contracts import FinalStackJob, InvalidMessage, parse_message
from common.objectstore import ObjectStoreError
from master.fitsmeta.reader import FitsReadError
from master.ingest.keys import slug
from master.library.apply import NotALight, calibrate_frame
from master.models import Frame, Product, Target
from master.previews import make_previews
from master.processing.calibrate import write_calibrated
from master.processing.colour import ColourError, channel_of, combine_channels
from master.processing.masters import CalibrationError
from master.processing.stack import RegistrationError, stack_files, write_stack
from master.science.products import store_product

log = logging.getLogger(__name__)

__all__ = ["NothingToStack", "run_final_stack", "stack_frames", "scope_prefix"]


class NothingToStack(InvalidMessage):
    """No accepted light of the scope could be stacked; retrying would not help."""


def scope_prefix(target: str, night: str | None) -> str:
    return f"products/stacks/{slug(target, 'unknown-target')}/{night or 'all-nights'}"


def stack_frames(session, job: FinalStackJob) -> list[Frame]:
    """The accepted lights of the job's target (by name or by catalogue link), filter and night, in time order."""
    names = [job.target_name]
    linked = session.scalar(select(Target.id).where(Target.name == job.target_name))
    query = select(Frame).where(Frame.frame_type == "light", Frame.accepted.is_(True),
                                or_(Frame.target_name.in_(names), Frame.target_id == linked) if linked
                                else Frame.target_name.in_(names))
    if job.filter_name is not None:
        query = query.where(Frame.filter_name == job.filter_name)
    if job.night is not None:
        try:
            night = date.fromisoformat(job.night)
        except ValueError:
            raise InvalidMessage(f"night {job.night!r} is not a date") from None
        query = query.where(Frame.night == night)
    return list(session.scalars(query.order_by(Frame.date_obs, Frame.id)))


def run_final_stack(services, raw) -> list[str]:
    """Stack the job's scope; returns the keys of the products written."""
    job = parse_message(raw, FinalStackJob)
    with services.sessions() as session:
        frames = stack_frames(session, job)
        by_filter: dict[str, list[tuple[int, str, list]]] = {}
        for frame in frames:
            cards = [tuple(c[:3]) for c in frame.header.cards] if frame.header else []
            by_filter.setdefault(frame.filter_name or "", []).append((frame.id, frame.original_name or frame.key,
                                                                      cards))
    scope = f"{job.target_name!r}" + (f", filter {job.filter_name!r}" if job.filter_name else "") \
        + (f", night {job.night}" if job.night else "")
    if not frames:
        raise NothingToStack(f"no accepted light frames of {scope}")
    keys, reasons = [], []
    for filter_name, members in by_filter.items():
        try:
            keys += _stack_filter(services, job, filter_name, members)
        except NothingToStack as exc:
            reasons.append(str(exc))
    if not keys:
        raise NothingToStack("; ".join(reasons))
    keys += _colour_composite(services, job)
    log.info("final stack of %s: %s", scope, ", ".join(keys))
    return keys


def _stack_filter(services, job: FinalStackJob, filter_name: str, members) -> list[str]:
    left_out: list[list] = []
    calibration: dict[int, dict] = {}
    with tempfile.TemporaryDirectory(prefix="obsy-final-stack-") as tmp:
        paths, ids = [], []
        for frame_id, name, cards in members:
            try:
                data, record, _ = calibrate_frame(services, frame_id)
            except (NotALight, FitsReadError, CalibrationError, KeyError, OSError, ObjectStoreError) as exc:
                # a missing object, an unreadable file, masters of another size: this frame only
                left_out.append([frame_id, f"not calibrated: {getattr(exc, 'reason', exc)}"[:300]])
                continue
            header = fits.Header()
            for keyword, value, comment in cards:
                if keyword not in ("SIMPLE", "BITPIX", "EXTEND", "BZERO", "BSCALE", "HISTORY", "COMMENT") \
                        and not keyword.startswith("NAXIS"):
                    header[keyword] = (value, comment)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # long or odd cards from capture programs
                paths.append(write_calibrated(Path(tmp) / f"{frame_id}.fits", data, header, record, name))
            ids.append(frame_id)
            calibration[frame_id] = {"bias": record.bias, "dark": record.dark, "flat": record.flat,
                                     "warnings": record.warnings}
            del data
        if not paths:
            raise NothingToStack(f"filter {filter_name or 'none'}: no frame could be calibrated ({left_out})")
        # a median has no weights; the mean weighs by the grading ingest recorded
        weights = _quality_weights(services, ids) if job.weights == "quality" and job.method == "mean" else None
        try:
            result = stack_files(paths, method=job.method, sigma=job.sigma, weights=weights, workdir=tmp)
        except RegistrationError as exc:
            raise NothingToStack(f"filter {filter_name or 'none'}: {exc}") from exc
        id_of = {str(p): i for p, i in zip(paths, ids)}
        used = [id_of[str(p)] for p in result.used]
        left_out += [[id_of[str(p)], reason[:300]] for p, reason in result.failed]
        fits_path = write_stack(result, Path(tmp) / "stack.fits")
        _, preview = make_previews(result.data)
        parameters = {"target": job.target_name, "filter": filter_name or None, "night": job.night,
                      "method": job.method, "sigma": job.sigma, "weights": job.weights if weights else "none",
                      "frame_weights": dict(zip(map(str, used), result.weights)) if result.weights else None,
                      "frames": len(used), "left_out": left_out, "colour": result.data.ndim == 3,
                      "calibration": {str(i): calibration[i] for i in used},
                      "total_exposure_s": result.header.get("TOTALEXP")}
        base = f"{scope_prefix(job.target_name, job.night)}/{slug(filter_name, 'no-filter')}"
        with services.sessions() as session:
            store_product(session, services.store, kind="stack_fits", key=f"{base}.fits",
                          data=fits_path.read_bytes(), parameters=parameters, frame_ids=used)
            store_product(session, services.store, kind="stack_png", key=f"{base}.png", data=preview,
                          parameters=parameters, frame_ids=used)
            session.commit()
    return [f"{base}.fits", f"{base}.png"]


def _quality_weights(services, frame_ids: list[int]) -> list[float] | None:
    """Star count / HFR^2 as graded at ingest; None (unweighted) if any frame lacks a grade."""
    with services.sessions() as session:
        rows = {f.id: f for f in session.scalars(select(Frame).where(Frame.id.in_(frame_ids)))}
    weights = []
    for frame_id in frame_ids:
        frame = rows[frame_id]
        if not frame.star_count or not frame.hfr_px:
            return None
        weights.append(frame.star_count / frame.hfr_px ** 2)
    return weights


def _colour_composite(services, job: FinalStackJob) -> list[str]:
    """RGB/LRGB preview from the scope's per-filter stacks, when R, G and B (or a colour stack) exist."""
    prefix = scope_prefix(job.target_name, job.night)
    with services.sessions() as session:
        rows = list(session.scalars(select(Product).where(Product.kind == "stack_fits",
                                                          Product.key.like(f"{prefix}/%"))))
        stacks: dict[str, tuple[str, list[int]]] = {}
        for row in rows:
            channel = "RGB" if row.parameters.get("colour") else channel_of(row.parameters.get("filter"))
            if channel is not None:
                stacks[channel] = (row.key, [i.frame_id for i in row.inputs])
    if not ({"R", "G", "B"} <= set(stacks) or "RGB" in stacks):
        return []
    planes = {}
    for channel, (key, _) in stacks.items():
        with fits.open(io.BytesIO(services.store.get_bytes(key))) as hdul:
            planes[channel] = np.array(hdul[0].data, dtype=np.float32)
    try:
        composite = combine_channels(planes)
    except ColourError as exc:
        log.warning("no colour composite for %s: %s", prefix, exc)
        return []
    _, preview = make_previews(composite.rgb)
    frame_ids = sorted({i for _, ids in stacks.values() for i in ids})
    parameters = {"target": job.target_name, "night": job.night, "kind": composite.kind,
                  "reference": composite.reference, "channels": {c: k for c, (k, _) in stacks.items()},
                  "shifts": {c: list(s) for c, s in composite.shifts.items()}}
    key = f"{prefix}/colour.png"
    with services.sessions() as session:
        store_product(session, services.store, kind="colour_png", key=key, data=preview, parameters=parameters,
                      frame_ids=frame_ids)
        session.commit()
    return [key]
