"""Register light frames on their stars and stack them, in memory that does not grow with their number.

Each frame is read, its stars detected with sep, matched to the reference frame's stars by
astroalign (asterism triangles + RANSAC), resampled onto the reference grid (bilinear by default;
NaN outside its footprint) and written to a disk-backed ``FrameCube``; only one frame is in memory
at a time. The cube is then combined band by band (``combine.combine_cube``): sigma-clipped mean or
median, with a per-pixel map of rejected values and of coverage. A frame that cannot be read or
registered is left out and reported with its reason.

One-shot-colour frames (a Bayer pattern in the header) are debayered first
(``debayer.debayer_bilinear``), registered on the mean of their planes, and each plane goes into
the cube: the stack is then an (R, G, B) cube, each plane combined on its own.
"""
from __future__ import annotations

import os
import warnings as _warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import sep
from astropy.io import fits

from master.fitsmeta.reader import FitsReadError, read_fits

from .combine import DEFAULT_MEMORY_BUDGET, FrameCube, combine_cube
from .debayer import bayer_layout, colour_phase, debayer_bilinear

__all__ = ["RegistrationError", "StackResult", "detect_stars", "find_transform", "stack_files",
           "warp_to", "write_stack", "frame_weight"]

MAX_CONTROL_STARS = 50
DETECT_SIGMA = 5.0
MAX_ELONGATION = 3.0   # a/b above this is a trail segment or a blend, not a star to register on
WEIGHTINGS = ("noise", "stars")


class RegistrationError(Exception):
    """A frame's stars could not be matched to the reference's."""


@dataclass
class StackResult:
    data: np.ndarray                 # float32 (H, W), or (3, H, W) R, G, B for colour frames, on the
                                     # reference grid; NaN where nothing covered
    rejected: np.ndarray             # uint16, same shape: values rejected by clipping per pixel
    coverage: np.ndarray             # uint16, same shape: frames that contributed per pixel
    header: fits.Header              # the reference frame's header, with what made the stack
    used: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)
    shifts: list[tuple[float, float]] = field(default_factory=list)   # (dx, dy) of each used frame


def detect_stars(data: np.ndarray, max_stars: int = MAX_CONTROL_STARS) -> np.ndarray:
    """(x, y) of the brightest compact sources, brightest first, as an (n, 2) array."""
    image = np.ascontiguousarray(data, dtype=np.float32)
    finite = np.isfinite(image)
    if not finite.all():
        image = np.where(finite, image, np.float32(np.median(image[finite])) if finite.any() else 0.0)
    try:
        background = sep.Background(image)
        image = image - background.back()
        objects = sep.extract(image, DETECT_SIGMA, err=background.globalrms, minarea=5)
    except Exception as exc:  # sep raises bare Exception (pixel buffer, memory)
        raise RegistrationError(f"star detection failed: {exc}") from exc
    objects = objects[((objects["flag"] & sep.OBJ_TRUNC) == 0) & (objects["a"] <= MAX_ELONGATION * objects["b"])]
    order = np.argsort(-objects["flux"])[:max_stars]
    return np.column_stack([objects["x"][order], objects["y"][order]])


def find_transform(stars: np.ndarray, reference_stars: np.ndarray):
    """The similarity transform taking this frame's pixel coordinates onto the reference's."""
    import astroalign

    if len(stars) < 3 or len(reference_stars) < 3:
        raise RegistrationError(f"too few stars to register ({len(stars)} here, {len(reference_stars)} "
                                "in the reference)")
    try:
        transform, _ = astroalign.find_transform(stars, reference_stars, max_control_points=MAX_CONTROL_STARS)
    except (astroalign.MaxIterError, ValueError, TypeError) as exc:
        raise RegistrationError(f"no match with the reference's stars: {exc}") from exc
    return transform


def warp_to(data: np.ndarray, transform, shape: tuple[int, int], order: int = 1) -> np.ndarray:
    """``data`` resampled on the reference grid (float32), NaN where it has no pixel."""
    from skimage.transform import warp

    image = np.asarray(data, dtype=np.float32)
    out = warp(image, inverse_map=transform.inverse, output_shape=shape, order=order, mode="constant",
               cval=np.nan, preserve_range=True)
    return out.astype(np.float32)


def frame_weight(data: np.ndarray, weighting: str) -> float:
    """Weight of a frame: ``noise`` 1/sky rms^2; ``stars`` star count / HFR^2 (sharper, richer frames count more)."""
    image = np.ascontiguousarray(data, dtype=np.float32)
    if weighting == "noise":
        rms = float(sep.Background(np.nan_to_num(image)).globalrms)
        return 1.0 / rms ** 2 if rms > 0 else 0.0
    if weighting == "stars":
        from master.grading import grade_image

        grade = grade_image(np.nan_to_num(image))
        if not grade.star_count or not grade.hfr_px:
            return 0.0
        return grade.star_count / grade.hfr_px ** 2
    raise ValueError(f"weighting must be one of {WEIGHTINGS}, not {weighting!r}")


def stack_files(paths: Sequence[str | os.PathLike], *, method: str = "mean", sigma: float | None = 3.0,
                iterations: int = 1, weights: str | Sequence[float] | None = None, reference: int = 0,
                register: bool = True, interpolation_order: int = 1,
                memory_budget: int = DEFAULT_MEMORY_BUDGET, workdir: str | os.PathLike | None = None,
                progress: Callable[[int], None] | None = None) -> StackResult:
    """Register ``paths`` on ``paths[reference]`` and combine them.

    ``weights``: None, ``"noise"``, ``"stars"`` or one number per path (mean only).
    ``register=False`` stacks frames that are already aligned (they must share the reference's size).
    ``progress`` is called with 1 after each frame is registered.
    """
    paths = [Path(p) for p in paths]
    if not paths:
        raise ValueError("no frames to stack")
    if isinstance(weights, str) and weights not in WEIGHTINGS:
        raise ValueError(f"weights must be one of {WEIGHTINGS} or numbers, not {weights!r}")
    if weights is not None and not isinstance(weights, str) and len(weights) != len(paths):
        raise ValueError("give one weight per frame")
    failed: list[tuple[Path, str]] = []
    order = [reference] + [i for i in range(len(paths)) if i != reference]
    ref_header = ref_shape = ref_stars = None
    channels = 1                     # 3 when the reference is a Bayer mosaic
    cube: FrameCube | None = None
    slots: list[int] = []
    used: list[Path] = []
    frame_weights: list[float] = []
    shifts: list[tuple[float, float]] = []
    exposures: list[float | None] = []
    try:
        for i in order:
            path = paths[i]
            try:
                header, data = read_fits(path, require_image=True)
            except FitsReadError as exc:
                failed.append((path, exc.reason))
                _tick(progress)
                continue
            try:
                planes = _colour_planes(header, data)
            except ValueError as exc:
                failed.append((path, str(exc)))
                _tick(progress)
                continue
            if cube is None:  # the first readable frame in ``order`` is the reference
                ref_header, ref_shape, channels = header, data.shape, len(planes)
                cube = FrameCube(len(paths) * channels, ref_shape, workdir)
                if register:
                    try:
                        ref_stars = detect_stars(_luminance(planes))
                        if len(ref_stars) < 3:
                            raise RegistrationError(f"only {len(ref_stars)} stars detected")
                    except RegistrationError as exc:
                        raise RegistrationError(f"reference {path.name}: {exc}") from exc
            if len(planes) != channels:
                failed.append((path, "a colour frame in a monochrome stack" if len(planes) > 1
                               else "a monochrome frame in a colour stack"))
                _tick(progress)
                continue
            try:
                aligned, shift = _align(planes, ref_shape, ref_stars if register else None,
                                        i == order[0] or not register, interpolation_order)
            except RegistrationError as exc:
                failed.append((path, str(exc)))
                _tick(progress)
                continue
            for c, plane in enumerate(aligned):
                cube[c * len(paths) + len(slots)] = plane
            slots.append(len(slots))
            used.append(path)
            shifts.append(shift)
            exposure = header.get("EXPTIME", header.get("EXPOSURE"))
            exposures.append(float(exposure) if isinstance(exposure, (int, float)) else None)
            if isinstance(weights, str):
                frame_weights.append(frame_weight(_luminance(aligned), weights))
            elif weights is not None:
                frame_weights.append(float(weights[i]))
            del data, planes, aligned
            _tick(progress)
        if cube is None or not slots:
            reasons = "; ".join(f"{p.name}: {r}" for p, r in failed)
            raise RegistrationError(f"no frame could be stacked ({reasons})")
        results = [combine_cube(cube, method=method, sigma=sigma, iterations=iterations,
                                weights=frame_weights or None, frames=[c * len(paths) + s for s in slots],
                                memory_budget=memory_budget) for c in range(channels)]
    finally:
        if cube is not None:
            cube.close()
    header = _stack_header(ref_header, used, failed, exposures, method, sigma, iterations, weights, frame_weights)
    if channels == 1:
        data, rejected, coverage = results[0].data, results[0].rejected, results[0].coverage
    else:
        data, rejected, coverage = (np.stack([getattr(r, name) for r in results])
                                    for name in ("data", "rejected", "coverage"))
        _colour_header(header, ref_header, ref_shape)
    return StackResult(data, rejected, coverage, header, used, failed, frame_weights, shifts)


def _colour_planes(header, data) -> list[np.ndarray]:
    """[the frame as float32] for a monochrome frame, [R, G, B] planes for a Bayer mosaic."""
    layout = bayer_layout(header)
    if layout is None:
        if data.ndim != 2:
            raise ValueError(f"cannot stack an image of shape {data.shape} (only 2-D frames and Bayer mosaics)")
        return [np.asarray(data, dtype=np.float32)]
    return list(debayer_bilinear(data, colour_phase(layout, data.shape[0])))


def _luminance(planes) -> np.ndarray:
    if len(planes) == 1:
        return planes[0]
    return np.mean(np.stack(planes), axis=0, dtype=np.float32)


BAYER_CARDS = ("BAYERPAT", "CFAIMAGE", "BAYER", "XBAYROFF", "YBAYROFF", "BAYOFFX", "BAYOFFY")


def _colour_header(header: fits.Header, ref_header, ref_shape) -> None:
    """The stack is R, G, B planes now, not a mosaic: say so and drop the pattern."""
    layout = bayer_layout(ref_header)
    for key in BAYER_CARDS:
        header.remove(key, ignore_missing=True, remove_all=True)
    header["COLORTYP"] = ("RGB", "planes: red, green, blue")
    header["HISTORY"] = f"debayered (bilinear) from {colour_phase(layout, ref_shape[0])} at pixel [0, 0]"


def _tick(progress) -> None:
    if progress is not None:
        progress(1)


def _align(planes, ref_shape, ref_stars, is_reference: bool, order: int):
    """The planes on the reference grid and their (dx, dy); every plane moves with the same transform."""
    if is_reference:
        if planes[0].shape != tuple(ref_shape):
            raise RegistrationError(f"size {planes[0].shape} differs from the reference's {tuple(ref_shape)}")
        return planes, (0.0, 0.0)
    transform = find_transform(detect_stars(_luminance(planes)), ref_stars)
    dx, dy = (float(v) for v in transform.translation)
    return [warp_to(plane, transform, ref_shape, order) for plane in planes], (dx, dy)


def _stack_header(ref_header, used, failed, exposures, method, sigma, iterations, weights,
                  frame_weights) -> fits.Header:
    header = fits.Header()
    for card in ref_header.cards:
        if card.keyword in ("SIMPLE", "BITPIX", "EXTEND", "BZERO", "BSCALE", "BLANK", "HISTORY", "COMMENT") \
                or card.keyword.startswith("NAXIS"):
            continue
        header.append(card, end=True)
    header["IMAGETYP"] = ("Light Frame", "stacked light")
    header["NCOMBINE"] = (len(used), "frames stacked")
    if None not in exposures:
        header["TOTALEXP"] = (sum(exposures), "total exposure of the frames stacked (s)")
    header["COMBMETH"] = (method, "combination of the frames")
    header["CLIPSIG"] = (float(sigma) if sigma is not None else "none", "sigma-clipping threshold (median, MAD)")
    header["CLIPITER"] = (iterations, "clipping passes")
    header["WEIGHTS"] = (weights if isinstance(weights, str) else ("given" if weights is not None else "none"),
                         "frame weighting")
    header["NREJFRM"] = (len(failed), "frames left out (unreadable or not registered)")
    for k, path in enumerate(used):
        extra = f" weight {frame_weights[k]:.6g}" if frame_weights else ""
        header["HISTORY"] = f"stacked {path.name}{extra}"
    for path, reason in failed:
        header["HISTORY"] = f"left out {path.name}: {reason}"[:2000]
    return header


def write_stack(result: StackResult, path: str | os.PathLike) -> Path:
    """The stack as float32 FITS, with ``REJECTED`` and ``COVERAGE`` maps as uint16 extensions."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    hdus = fits.HDUList([
        fits.PrimaryHDU(data=result.data, header=result.header),
        fits.ImageHDU(data=result.rejected, name="REJECTED"),
        fits.ImageHDU(data=result.coverage, name="COVERAGE"),
    ])
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        hdus.writeto(path, overwrite=True, output_verify="silentfix")
    return path
