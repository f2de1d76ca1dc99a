"""The solex_reconstruct job: a filed SER capture → Sol'ex disk FITS + PNG products.

A malformed video or a scan with no disk is not retried: the capture is marked failed with the
reason and ``InvalidMessage`` sends the job to the dead letters. Running it again replaces the
products (same keys), so a redelivered job is harmless.
"""
from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from common.contracts import InvalidMessage, SolexJob, parse_message
from master.models import SerCapture
from .products import store_product
from .ser import SerError, read_ser
from .solex import SolexError, reconstruct, write_products

log = logging.getLogger(__name__)

__all__ = ["run_solex", "product_prefix", "reconstruct_file"]


def product_prefix(capture: SerCapture) -> str:
    night = capture.night.isoformat() if capture.night else "undated"
    return f"products/solex/{night}/{capture.sha256}"


def reconstruct_file(path: str | os.PathLike, out_dir: str | os.PathLike, shifts=(0.0,), *, stem: str,
                     correct: bool = True, spectral_axis: int | None = None):
    """Read a SER scan, rebuild the disk(s), write FITS + PNG; returns (result, paths, header extras).

    Shared by ``obsy solex reconstruct`` and the job. Raises SerError or SolexError with a reason."""
    ser = read_ser(path)
    if ser.frames.ndim != 3:
        raise SolexError("a Sol'ex scan must be a mono video")
    result = reconstruct(ser.frames, tuple(dict.fromkeys((0.0, *shifts))), spectral_axis=spectral_axis,
                         correct=correct)
    extra = {"SERFILE": Path(path).name[:68], "NFRAMES": int(ser.header.frame_count)}
    if ser.header.start_utc:
        extra["DATE-OBS"] = ser.header.start_utc.replace(tzinfo=None).isoformat(timespec="milliseconds")
    if ser.header.observer:
        extra["OBSERVER"] = ser.header.observer[:68]
    return result, write_products(result, out_dir, stem, extra), extra


def _parameters(result, shift: float, capture: SerCapture) -> dict:
    params = {"shift_px": shift, "spectral_axis": result.spectral_axis,
              "line_poly": [float(c) for c in result.line.coefficients], "line_rms_px": result.line.rms,
              "ser_sha256": capture.sha256, "frames": capture.frame_count}
    if result.ellipse is not None:
        params.update(radius_px=result.radius, scale_x=result.scale_x, shear=result.shear,
                      ellipse={"a": result.ellipse.a, "b": result.ellipse.b, "angle_deg": result.ellipse.angle_deg})
    return params


def _fail(services, capture_id: int, reason: str) -> InvalidMessage:
    with services.sessions() as session:
        capture = session.get(SerCapture, capture_id)
        capture.state, capture.reason = "failed", reason[:2000]
        session.commit()
    return InvalidMessage(reason)


def run_solex(services, raw) -> int:
    """Run one solex job; returns the number of products stored."""
    job = parse_message(raw, SolexJob)
    with services.sessions() as session:
        capture = session.get(SerCapture, job.ser_capture_id)
        if capture is None:
            raise InvalidMessage(f"no SER capture with id {job.ser_capture_id}")
        session.expunge(capture)
    with tempfile.TemporaryDirectory(prefix="obsy-solex-") as tmp:
        local = Path(tmp) / "scan.ser"
        services.store.get_file(capture.key, local)
        try:
            result, paths, _ = reconstruct_file(local, Path(tmp) / "out", job.shifts, stem="solex")
        except (SerError, SolexError) as exc:
            raise _fail(services, capture.id, f"SER capture {capture.id} ({capture.key}): {exc}") from None
        prefix = product_prefix(capture)
        with services.sessions() as session:
            for path in paths:
                shift = float(next(s for s in result.images if path.stem.endswith(_label(s))))
                kind = "solex_fits" if path.suffix == ".fits" else "solex_png"
                store_product(session, services.store, kind=kind, key=f"{prefix}/{path.name}",
                              data=path.read_bytes(), parameters=_parameters(result, shift, capture),
                              ser_capture_ids=[capture.id])
            row = session.get(SerCapture, capture.id)
            row.state, row.reason = "done", None
            session.commit()
    log.info("solex: capture %s → %d products under %s", capture.id, len(paths), prefix)
    return len(paths)


def _label(shift: float) -> str:
    from .solex import _shift_label

    return "_" + _shift_label(shift)
