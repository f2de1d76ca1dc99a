"""Master calibration frames: bias, dark, dark-flat and flat, built from groups of raw frames.

Frames are grouped by ``calibration_group`` (camera, binning, gain, offset, set temperature
bucketed to a tolerance, exposure for darks, filter for flats). A group is combined with
``combine.combine_cube`` (sigma-clipped mean or median, bounded memory). Darks and dark-flats are
bias-subtracted when a master bias is given (header ``BIASSUB = T``), which lets ``calibrate`` scale
them to another exposure. Flats have their dark-flat (or bias and scaled dark) removed and are each
normalised by their median before combining; the master is normalised to a median of 1.

Every master written by ``write_master`` says what made it: ``NCOMBINE``, the combination method and
thresholds, the group values as ordinary keywords (so ``normalize_header`` reads them back) and one
pair of ``HISTORY`` cards per input: ``input <file name>`` then ``sha256:<hex digest>``.
"""
from __future__ import annotations

import hashlib
import math
import os
import statistics
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyWarning

from master.fitsmeta.normalize import FrameMeta, normalize_header
from master.fitsmeta.reader import FitsReadError, read_fits

from .combine import DEFAULT_MEMORY_BUDGET, FrameCube, combine_cube

__all__ = [
    "CalibrationError", "InputFrame", "Master", "bad_pixel_map", "build_master", "build_master_bias",
    "build_master_dark", "build_master_dark_flat", "build_master_flat", "calibration_group",
    "group_frames", "load_master", "remove_bias_and_dark", "scan_frames", "write_master",
]

MASTER_KINDS = ("bias", "dark", "dark_flat", "flat")
IMAGETYP = {"bias": "Master Bias", "dark": "Master Dark", "dark_flat": "Master DarkFlat", "flat": "Master Flat"}
DEFAULT_TEMP_TOLERANCE = 2.0   # °C: set points closer than this share a master
SAME_EXPOSURE = 1e-3           # relative difference below which two exposures are the same
HOT_SIGMA = 5.0


class CalibrationError(Exception):
    """Frames cannot be combined or calibrated as asked; the message says why."""


@dataclass
class InputFrame:
    """A raw calibration frame on disk: its path, header, normalised metadata and checksum."""
    path: Path
    header: fits.Header
    meta: FrameMeta
    sha256: str
    shape: tuple[int, int]

    def read(self) -> np.ndarray:
        _, data = read_fits(self.path, require_image=True)
        return data


@dataclass
class Master:
    """A master calibration frame in memory (``data`` float32, flats normalised to median 1)."""
    kind: str
    data: np.ndarray
    header: fits.Header
    meta: FrameMeta
    path: Path | None = None
    bad_pixels: np.ndarray | None = None   # bool (H, W), darks only
    rejected: np.ndarray | None = None     # uint16 (H, W): values rejected per pixel while combining

    @property
    def bias_subtracted(self) -> bool:
        return bool(self.header.get("BIASSUB", False))

    @property
    def name(self) -> str:
        return self.path.name if self.path is not None else f"master {self.kind}"


# --------------------------------------------------------------------------- grouping


def calibration_group(meta: FrameMeta, temp_tolerance: float = DEFAULT_TEMP_TOLERANCE) -> tuple:
    """Key shared by frames that may be combined into one master.

    ``(frame_type, camera, binning_x, binning_y, gain, offset, temperature, exposure_s, filter)``.
    The temperature is the set point (or the sensor temperature when no set point is recorded),
    rounded to a multiple of ``temp_tolerance``; it is ``None`` for flats, which do not depend on
    it. Exposure is kept for darks and dark-flats only, the filter for flats only.
    """
    kind = meta.frame_type
    temp = meta.set_temp_c if meta.set_temp_c is not None else meta.ccd_temp_c
    if kind == "flat" or temp is None:
        temp_key = None
    else:
        temp_key = round(round(temp / temp_tolerance) * temp_tolerance, 3) + 0.0  # no -0.0
    exposure = round(meta.exposure_s, 3) if kind in ("dark", "dark_flat") and meta.exposure_s is not None else None
    filter_name = (meta.filter_name or "").strip() or None if kind == "flat" else None
    return (kind, meta.camera, meta.binning_x, meta.binning_y, meta.gain, meta.offset, temp_key, exposure,
            filter_name)


GROUP_FIELDS = ("frame_type", "camera", "binning_x", "binning_y", "gain", "offset", "temperature", "exposure_s",
                "filter")


def scan_frames(paths: Iterable[str | os.PathLike]) -> tuple[list[InputFrame], list[tuple[Path, str]]]:
    """Read every file once: usable frames, and (path, reason) for each file that is not."""
    frames: list[InputFrame] = []
    errors: list[tuple[Path, str]] = []
    for path in map(Path, paths):
        try:
            header, data = read_fits(path, require_image=True)
        except FitsReadError as exc:
            errors.append((path, exc.reason))
            continue
        digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        frames.append(InputFrame(path, header, normalize_header(header), digest.hexdigest(), data.shape))
    return frames, errors


def group_frames(frames: Iterable[InputFrame], temp_tolerance: float = DEFAULT_TEMP_TOLERANCE
                 ) -> dict[tuple, list[InputFrame]]:
    """Frames by ``calibration_group`` (image shape appended), in input order."""
    groups: dict[tuple, list[InputFrame]] = {}
    for frame in frames:
        groups.setdefault(calibration_group(frame.meta, temp_tolerance) + (frame.shape,), []).append(frame)
    return groups


# --------------------------------------------------------------------------- building


def build_master(kind: str, frames: Sequence[InputFrame | str | os.PathLike], *, bias: Master | None = None,
                 dark: Master | None = None, dark_flat: Master | None = None, method: str = "mean",
                 sigma: float | None = 3.0, iterations: int = 1, temp_tolerance: float = DEFAULT_TEMP_TOLERANCE,
                 hot_sigma: float = HOT_SIGMA, memory_budget: int = DEFAULT_MEMORY_BUDGET,
                 workdir: str | os.PathLike | None = None,
                 progress: Callable[[int], None] | None = None) -> Master:
    """Combine ``frames`` (all of one calibration group) into a master of ``kind``.

    ``bias`` is subtracted from darks, dark-flats and flats; flats also lose ``dark_flat`` (same
    exposure) or else ``dark`` scaled to their exposure. ``progress`` is called once per frame read.
    """
    if kind not in MASTER_KINDS:
        raise ValueError(f"kind must be one of {MASTER_KINDS}, not {kind!r}")
    inputs = _as_inputs(frames)
    if not inputs:
        raise CalibrationError(f"no frames to build a master {kind}")
    keys = {calibration_group(f.meta, temp_tolerance)[1:] for f in inputs}
    if len(keys) > 1:
        raise CalibrationError(f"frames of {len(keys)} different calibration groups cannot make one master "
                               f"{kind}: {sorted(map(str, keys))}")
    wrong = [f.path.name for f in inputs if f.meta.frame_type not in (kind, "unknown")]
    if wrong:
        raise CalibrationError(f"not {kind} frames: {', '.join(wrong)}")
    shapes = {f.shape for f in inputs}
    if len(shapes) > 1:
        raise CalibrationError(f"frames have different sizes {sorted(shapes)}")
    shape = inputs[0].shape
    for other in (bias, dark, dark_flat):
        if other is not None and other.data.shape != shape:
            raise CalibrationError(f"{other.name} is {other.data.shape}, the frames are {shape}")

    notes: list[str] = []
    with FrameCube(len(inputs), shape, workdir) as cube:
        for i, frame in enumerate(inputs):
            data = frame.read().astype(np.float32)
            if kind in ("dark", "dark_flat") and bias is not None:
                data -= bias.data
            elif kind == "flat":
                data, notes = _flat_signal(data, frame.meta.exposure_s, bias, dark, dark_flat)
                level = float(np.median(data))
                if not level > 0:
                    raise CalibrationError(f"{frame.path.name}: flat has a median of {level:g} after "
                                           "bias/dark removal")
                data /= level
            cube[i] = data
            if progress is not None:
                progress(1)
        result = combine_cube(cube, method=method, sigma=sigma, iterations=iterations, memory_budget=memory_budget)
    data = result.data
    if kind == "flat":
        data /= np.float32(np.nanmedian(data))
    header = _master_header(kind, inputs, method, sigma, iterations, temp_tolerance)
    if kind in ("dark", "dark_flat"):
        header["BIASSUB"] = (bias is not None, "bias already subtracted (dark can be scaled)")
    for note in notes:
        header["HISTORY"] = note
    used = [("BIASFILE", bias)] + ([("DARKFILE", dark_flat or dark)] if kind == "flat" else [])
    for name, other in used:
        if other is not None:
            header[name] = file_card(other.name, f"master {other.kind} used")
    master = Master(kind, data, header, normalize_header(header), rejected=result.rejected)
    if kind == "dark":
        master.bad_pixels = bad_pixel_map(master, hot_sigma)
        header["NBADPIX"] = (int(master.bad_pixels.sum()), f"hot pixels above {hot_sigma:g} sigma")
    return master


def build_master_bias(frames, **options) -> Master:
    return build_master("bias", frames, **options)


def build_master_dark(frames, *, bias: Master | None = None, **options) -> Master:
    return build_master("dark", frames, bias=bias, **options)


def build_master_dark_flat(frames, *, bias: Master | None = None, **options) -> Master:
    return build_master("dark_flat", frames, bias=bias, **options)


def build_master_flat(frames, *, bias: Master | None = None, dark: Master | None = None,
                      dark_flat: Master | None = None, **options) -> Master:
    return build_master("flat", frames, bias=bias, dark=dark, dark_flat=dark_flat, **options)


def bad_pixel_map(dark: Master, sigma: float = HOT_SIGMA) -> np.ndarray:
    """Hot pixels of a master dark: more than ``sigma`` robust standard deviations above its median."""
    data = dark.data
    sample = data[::2, ::2] if data.size > 4_000_000 else data
    center = float(np.nanmedian(sample))
    spread = 1.482602218505602 * float(np.nanmedian(np.abs(sample - center)))
    if not spread > 0:
        spread = float(np.nanstd(sample)) or 1.0
    return data > center + sigma * spread


def remove_bias_and_dark(data: np.ndarray, exposure_s: float | None, bias: Master | None,
                         dark: Master | None) -> tuple[np.ndarray, list[str]]:
    """``data`` minus bias and dark current (a new float32 array) and notes on what was done.

    A dark taken at another exposure is scaled by the exposure ratio, which needs its bias removed
    (a bias-subtracted dark, or a bias given here). Without that, the dark is subtracted unscaled and
    the notes say so.
    """
    out = np.asarray(data, dtype=np.float32).copy()
    notes: list[str] = []
    if dark is None:
        if bias is not None:
            out -= bias.data
            notes.append(f"bias {bias.name} subtracted")
        return out, notes
    dark_exp = dark.meta.exposure_s
    same = (exposure_s is not None and dark_exp is not None
            and abs(exposure_s - dark_exp) <= SAME_EXPOSURE * max(abs(dark_exp), 1e-9))
    if dark.bias_subtracted and bias is None:
        raise CalibrationError(f"{dark.name} has its bias removed; a master bias is needed with it")
    if same and not dark.bias_subtracted:
        out -= dark.data
        notes.append(f"dark {dark.name} ({dark_exp:g} s, bias included) subtracted")
        return out, notes
    if bias is None or not exposure_s or not dark_exp:
        out -= dark.data
        notes.append(f"dark {dark.name} subtracted unscaled ({dark_exp} s for a {exposure_s} s frame: "
                     "scaling needs a bias and both exposures)")
        return out, notes
    scale = exposure_s / dark_exp
    out -= bias.data
    current = dark.data if dark.bias_subtracted else dark.data - bias.data
    out -= np.float32(scale) * current
    notes.append(f"bias {bias.name} subtracted")
    notes.append(f"dark {dark.name} ({dark_exp:g} s) scaled by {scale:.6g} and subtracted")
    return out, notes


def _flat_signal(data, exposure_s, bias, dark, dark_flat) -> tuple[np.ndarray, list[str]]:
    if dark_flat is not None:
        return remove_bias_and_dark(data, exposure_s, bias, dark_flat)
    return remove_bias_and_dark(data, exposure_s, bias, dark)


def _as_inputs(frames) -> list[InputFrame]:
    paths = [f for f in frames if not isinstance(f, InputFrame)]
    scanned, errors = scan_frames(paths) if paths else ([], [])
    if errors:
        raise CalibrationError("; ".join(f"{p.name}: {reason}" for p, reason in errors))
    it = iter(scanned)
    return [f if isinstance(f, InputFrame) else next(it) for f in frames]


def _master_header(kind: str, inputs: list[InputFrame], method: str, sigma, iterations: int,
                   temp_tolerance: float) -> fits.Header:
    meta = inputs[0].meta
    header = fits.Header()
    header["IMAGETYP"] = (IMAGETYP[kind], "master calibration frame")
    header["FRAME"] = (IMAGETYP[kind], "master calibration frame")
    if meta.camera is not None:
        header["INSTRUME"] = (meta.camera, "camera")
    if meta.binning_x is not None:
        header["XBINNING"] = (meta.binning_x, "binning in width")
    if meta.binning_y is not None:
        header["YBINNING"] = (meta.binning_y, "binning in height")
    if meta.gain is not None:
        header["GAIN"] = (meta.gain, "gain setting")
    if meta.offset is not None:
        header["OFFSET"] = (meta.offset, "offset setting")
    setpoints = [f.meta.set_temp_c for f in inputs if f.meta.set_temp_c is not None]
    temps = [f.meta.ccd_temp_c for f in inputs if f.meta.ccd_temp_c is not None]
    if setpoints:
        header["SET-TEMP"] = (round(statistics.median(setpoints), 2), "median set point of the inputs (C)")
    if temps:
        header["CCD-TEMP"] = (round(statistics.mean(temps), 2), "mean sensor temperature of the inputs (C)")
    exposures = [f.meta.exposure_s for f in inputs if f.meta.exposure_s is not None]
    if exposures:
        header["EXPTIME"] = (statistics.median(exposures), "median exposure of the inputs (s)")
    if kind == "flat" and meta.filter_name:
        header["FILTER"] = (meta.filter_name, "filter")
    dates = sorted(f.meta.date_obs for f in inputs if f.meta.date_obs is not None)
    if dates:
        header["DATE-OBS"] = (_iso(dates[len(dates) // 2]), "median start of the inputs (UTC)")
        header["DATE-BEG"] = (_iso(dates[0]), "first input (UTC)")
        header["DATE-END"] = (_iso(dates[-1]), "last input (UTC)")
    header["NCOMBINE"] = (len(inputs), "frames combined")
    header["COMBMETH"] = (method, "combination of the frames")
    header["CLIPSIG"] = (float(sigma) if sigma is not None else "none", "sigma-clipping threshold (median, MAD)")
    header["CLIPITER"] = (iterations, "clipping passes")
    header["TEMPTOL"] = (temp_tolerance, "set points grouped within this (C)")
    header["SWCREATE"] = ("OBSY processing", "software that made this file")
    for frame in inputs:
        header["HISTORY"] = f"input {frame.path.name}"
        header["HISTORY"] = f"sha256:{frame.sha256}"   # on its own card: 71 characters fit in one
    return header


def file_card(name: str, comment: str) -> str | tuple[str, str]:
    """A file name as a keyword value, with its comment when both fit in one 80-character card."""
    name = name[:68]
    return (name, comment) if len(name) + len(comment) <= 45 else name


def _iso(when: datetime) -> str:
    return when.replace(tzinfo=None).isoformat(timespec="milliseconds")


# --------------------------------------------------------------------------- files


def write_master(master: Master, path: str | os.PathLike, overwrite: bool = True) -> Path:
    """Write a master as float32 FITS; a dark's bad-pixel map goes in a ``BADPIX`` extension."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    hdus = [fits.PrimaryHDU(data=master.data.astype(np.float32), header=master.header)]
    if master.bad_pixels is not None:
        hdus.append(fits.ImageHDU(data=master.bad_pixels.astype(np.uint8), name="BADPIX"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AstropyWarning)  # long HISTORY cards are fine
        fits.HDUList(hdus).writeto(path, overwrite=overwrite, output_verify="silentfix")
    master.path = path
    return path


def load_master(path: str | os.PathLike) -> Master:
    """Read a master written by ``write_master`` (or any frame whose type says master/calibration)."""
    path = Path(path)
    header, data = read_fits(path, require_image=True)
    meta = normalize_header(header)
    if meta.frame_type not in MASTER_KINDS:
        raise CalibrationError(f"{path.name}: not a calibration frame (type {meta.frame_type})")
    bad = None
    if meta.frame_type == "dark":
        with fits.open(path) as hdul:   # read_fits has checked the file; the map is an extension
            if "BADPIX" in hdul:
                bad = hdul["BADPIX"].data.astype(bool)
    data = np.asarray(data, dtype=np.float32)
    if meta.frame_type == "flat":
        level = float(np.nanmedian(data))
        if not level > 0 or not math.isfinite(level):
            raise CalibrationError(f"{path.name}: flat with median {level:g}")
        if abs(level - 1.0) > 1e-3:
            data = data / np.float32(level)
    return Master(meta.frame_type, data, header, meta, path=path, bad_pixels=bad)
