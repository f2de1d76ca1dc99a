"""Calibrate light frames with the masters that match them best.

``select_masters`` picks, for one light, a bias, a dark and a flat from a list of masters: each must
agree on camera and binning (bias and dark also on gain, offset and set temperature within a
tolerance, the flat on the filter); among those the nearest temperature, then the nearest date
wins. A dark of the light's exposure is preferred; otherwise, when a bias exists, the dark of the
nearest exposure is scaled. Whatever is missing is said in ``warnings`` -- nothing is skipped
silently -- and ``calibrate_light(..., strict=True)`` raises instead.
"""
from __future__ import annotations

import math
import os
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from astropy.io import fits

from master.fitsmeta.normalize import FrameMeta
from master.fitsmeta.reader import FitsReadError

from .masters import (DEFAULT_TEMP_TOLERANCE, SAME_EXPOSURE, CalibrationError, Master, file_card, load_master,
                      remove_bias_and_dark)

__all__ = ["CalibrationRecord", "Selection", "calibrate_light", "fix_bad_pixels", "load_library",
           "matching_masters", "select_masters", "write_calibrated"]

MIN_FLAT = 0.05
_STRUCTURAL = ("SIMPLE", "BITPIX", "EXTEND", "BZERO", "BSCALE", "BLANK")   # flat values below this (relative to the median) are not divided by


@dataclass
class Selection:
    bias: Master | None = None
    dark: Master | None = None
    flat: Master | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class CalibrationRecord:
    """What was done to a light: masters used (file names), steps, and warnings about what was missing."""
    bias: str | None = None
    dark: str | None = None
    flat: str | None = None
    dark_scale: float | None = None
    bad_pixels_fixed: int = 0
    steps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def load_library(directory: str | os.PathLike) -> tuple[list[Master], list[tuple[Path, str]]]:
    """Every master in ``directory`` (recursively): loaded masters, and (path, reason) for other files."""
    masters: list[Master] = []
    skipped: list[tuple[Path, str]] = []
    for path in sorted(Path(directory).rglob("*")):
        if not path.is_file() or not _looks_fits(path):
            continue
        try:
            masters.append(load_master(path))
        except (FitsReadError, CalibrationError) as exc:
            skipped.append((path, getattr(exc, "reason", str(exc))))
    return masters, skipped


def _looks_fits(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith((".fits", ".fit", ".fts", ".fz", ".fits.gz", ".fit.gz"))


# --------------------------------------------------------------------------- selection


def select_masters(light: FrameMeta, masters: Iterable[Master],
                   temp_tolerance: float = DEFAULT_TEMP_TOLERANCE,
                   shape: tuple[int, int] | None = None) -> Selection:
    """The best bias, dark and flat for ``light`` among ``masters`` (see the module docstring)."""
    masters = [m for m in masters if shape is None or m.data.shape == tuple(shape)]
    selection = Selection()
    biases = matching_masters(light, masters, "bias", temp_tolerance)
    selection.bias = _best(light, biases)
    darks = matching_masters(light, masters, "dark", temp_tolerance)
    same = [d for d in darks if _same_exposure(light.exposure_s, d.meta.exposure_s)]
    if same:
        selection.dark = _best(light, same)
    elif darks and selection.bias is not None and light.exposure_s:
        selection.dark = min(darks, key=lambda d: (_log_ratio(light.exposure_s, d.meta.exposure_s),
                                                   *_distance(light, d)))
    elif darks:
        selection.dark = _best(light, darks)
        selection.warnings.append(f"no dark of {light.exposure_s} s and no bias to scale "
                                  f"{selection.dark.name}: it is subtracted unscaled")
    flats = [m for m in matching_masters(light, masters, "flat", None)
             if _norm(m.meta.filter_name) == _norm(light.filter_name)]
    selection.flat = _best(light, flats)
    for kind in ("bias", "dark", "flat"):
        if getattr(selection, kind) is None:
            selection.warnings.append(f"no matching master {kind} ({_describe(light, kind)})")
    return selection


def matching_masters(light: FrameMeta, masters: list[Master], kind: str, temp_tolerance: float | None) -> list[Master]:
    """Masters of ``kind`` that agree with ``light`` on camera, binning (gain, offset unless flats) and temperature."""
    out = []
    for m in masters:
        if m.kind != kind:
            continue
        keys = ["camera", "binning_x", "binning_y"] + (["gain", "offset"] if kind != "flat" else [])
        if any(not _agree(getattr(light, k), getattr(m.meta, k)) for k in keys):
            continue
        if temp_tolerance is not None:
            lt, mt = _temp(light), _temp(m.meta)
            if lt is not None and mt is not None and abs(lt - mt) > temp_tolerance:
                continue
        out.append(m)
    return out


def _agree(a, b) -> bool:
    """Equal, or unknown on one side (headers often lack a key; a wrong match is then the user's call)."""
    if a is None or b is None:
        return True
    if isinstance(a, str) or isinstance(b, str):
        return _norm(str(a)) == _norm(str(b))
    return math.isclose(float(a), float(b), rel_tol=1e-6, abs_tol=1e-9)


def _norm(text: str | None) -> str:
    return (text or "").strip().lower()


def _temp(meta: FrameMeta) -> float | None:
    return meta.set_temp_c if meta.set_temp_c is not None else meta.ccd_temp_c


def _same_exposure(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= SAME_EXPOSURE * max(abs(b), 1e-9)


def _log_ratio(a: float, b: float | None) -> float:
    return abs(math.log(a / b)) if b and a > 0 and b > 0 else math.inf


def _distance(light: FrameMeta, m: Master) -> tuple[float, float]:
    lt, mt = _temp(light), _temp(m.meta)
    dt = abs(lt - mt) if lt is not None and mt is not None else math.inf
    if light.date_obs is not None and m.meta.date_obs is not None:
        dd = abs((light.date_obs.replace(tzinfo=None) - m.meta.date_obs.replace(tzinfo=None)).total_seconds())
    else:
        dd = math.inf
    return dt, dd


def _best(light: FrameMeta, candidates: list[Master]) -> Master | None:
    return min(candidates, key=lambda m: _distance(light, m)) if candidates else None


def _describe(light: FrameMeta, kind: str) -> str:
    parts = [f"camera {light.camera}", f"bin {light.binning_x}x{light.binning_y}"]
    if kind == "flat":
        parts.append(f"filter {light.filter_name}")
    else:
        parts += [f"gain {light.gain}", f"offset {light.offset}", f"temperature {_temp(light)}"]
        if kind == "dark":
            parts.append(f"exposure {light.exposure_s} s")
    return ", ".join(parts)


# --------------------------------------------------------------------------- calibration


def calibrate_light(data: np.ndarray, meta: FrameMeta, *, bias: Master | None = None, dark: Master | None = None,
                    flat: Master | None = None, bad_pixels: np.ndarray | None | bool = True,
                    strict: bool = False, warnings: Iterable[str] = ()) -> tuple[np.ndarray, CalibrationRecord]:
    """(light - bias - scaled dark) / flat, hot pixels replaced; float32 data and the record.

    ``bad_pixels``: a bool map, ``True`` for the dark's own map, ``False``/``None`` for none.
    ``strict`` raises ``CalibrationError`` when a master is missing; otherwise the record's
    ``warnings`` list it.
    """
    record = CalibrationRecord(warnings=list(warnings))
    bias_needed = (dark is None or dark.bias_subtracted
                   or not _same_exposure(meta.exposure_s, dark.meta.exposure_s))
    for kind, m in (("bias", bias), ("dark", dark), ("flat", flat)):
        if m is None:
            said = any(w.startswith(f"no matching master {kind}") for w in record.warnings)
            if not said and (kind != "bias" or bias_needed):
                record.warnings.append(f"no master {kind} given")
        elif m.data.shape != np.shape(data):
            raise CalibrationError(f"{m.name} is {m.data.shape}, the light is {np.shape(data)}")
        else:
            setattr(record, kind, m.name)
    if bias is None and bias_needed and dark is not None and dark.bias_subtracted:
        raise CalibrationError(f"{dark.name} has its bias removed; a master bias is needed with it")
    out, notes = remove_bias_and_dark(data, meta.exposure_s, bias, dark)
    record.steps += notes
    if dark is not None and bias is not None and dark.meta.exposure_s and meta.exposure_s:
        record.dark_scale = meta.exposure_s / dark.meta.exposure_s
    if any("unscaled" in n for n in notes) and not any("unscaled" in w for w in record.warnings):
        record.warnings.append(notes[-1])
    if strict and record.warnings:
        raise CalibrationError("; ".join(record.warnings))
    if flat is not None:
        weak = ~(flat.data > MIN_FLAT)
        divisor = np.where(weak, np.float32(1.0), flat.data)
        out /= divisor
        record.steps.append(f"divided by flat {flat.name}")
        if weak.any():
            record.warnings.append(f"{int(weak.sum())} pixels where the flat is below {MIN_FLAT} were not flat-fielded")
    if bad_pixels is True:
        bad_pixels = dark.bad_pixels if dark is not None else None
    if isinstance(bad_pixels, np.ndarray) and bad_pixels.any():
        # In a Bayer mosaic the nearest pixels of the same colour are two away.
        step = 2 if meta.bayer_pattern else 1
        record.bad_pixels_fixed = fix_bad_pixels(out, bad_pixels, step)
        record.steps.append(f"{record.bad_pixels_fixed} bad pixels replaced by the median of their neighbours"
                            + (" of the same colour" if step == 2 else ""))
    return out, record


def fix_bad_pixels(data: np.ndarray, bad: np.ndarray, step: int = 1) -> int:
    """Replace each bad pixel, in place, by the median of its good 8 neighbours ``step`` pixels away.

    Returns how many were replaced."""
    h, w = data.shape
    ys, xs = np.nonzero(bad)
    if not len(ys):
        return 0
    values = np.full((len(ys), 8), np.nan, dtype=np.float32)
    k = 0
    for dy in (-step, 0, step):
        for dx in (-step, 0, step):
            if dy == 0 and dx == 0:
                continue
            y, x = ys + dy, xs + dx
            inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
            yc, xc = np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)
            ok = inside & ~bad[yc, xc]
            values[ok, k] = data[yc[ok], xc[ok]]
            k += 1
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore", RuntimeWarning)   # all-NaN rows: a cluster of bad pixels
        replacement = np.nanmedian(values, axis=1)
    keep = np.isfinite(replacement)
    data[ys[keep], xs[keep]] = replacement[keep]
    return int(keep.sum())


def write_calibrated(path: str | os.PathLike, data: np.ndarray, header: fits.Header, record: CalibrationRecord,
                     source_name: str | None = None) -> Path:
    """The calibrated light as float32 FITS: the original header plus CALSTAT and the masters used."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = fits.Header()
    for card in header.cards:
        if card.keyword in _STRUCTURAL or card.keyword.startswith("NAXIS"):
            continue
        out.append(card, end=True)
    done = "B" * bool(record.bias) + "D" * bool(record.dark) + "F" * bool(record.flat)
    out["CALSTAT"] = (done or "none", "calibration applied: B bias, D dark, F flat")
    for key, value in (("BIASFILE", record.bias), ("DARKFILE", record.dark), ("FLATFILE", record.flat)):
        if value:
            out[key] = file_card(value, "master used")
    if record.dark_scale is not None:
        out["DARKSCAL"] = (round(record.dark_scale, 6), "dark scaled by exposure ratio")
    if source_name:
        out["HISTORY"] = f"calibrated from {source_name}"
    for note in record.steps + [f"warning: {w}" for w in record.warnings]:
        out["HISTORY"] = note
    fits.PrimaryHDU(data=np.asarray(data, dtype=np.float32), header=out).writeto(
        path, overwrite=True, output_verify="silentfix")
    return path

