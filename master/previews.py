"""Thumbnail and preview PNGs of a frame, auto-stretched so that a linear sky frame shows its stars.

Downsampling is a block mean in numpy (an integer factor, the edge remainder dropped), which is
cheap and averages noise instead of aliasing it. The stretch is a midtone transfer function set
from the median and MAD of the downsampled image: shadows clipped 2.8 sigma below the median,
the median sent to 25 % grey, the maximum to white. Thumbnail and preview share one stretch so
they look alike. Rows are written as stored: row 0 at the top of the PNG.

Colour: a cube of three planes is taken as R, G, B, and a Bayer mosaic (give its phase at [0, 0],
``debayer.colour_phase``) is debayered by superpixels, which halves it -- a preview is smaller
anyway. The stretch is linked: each plane gets its own black point (which neutralises the sky's
colour) but all share one range and one midtone, so that colours keep their ratios. Other cubes are
shown as the mean of their planes.

Measured on this machine (2 cores), both PNGs of a 4096x3072 uint16 frame:
    cd /work/main && .venv/bin/python -m timeit -n 5 -r 7 \
        -s "from tests.unit.test_grading import bench_frame; d = bench_frame()" \
        -s "from master.previews import make_previews" \
        "make_previews(d)"
    -> 5 loops, best of 7: 32 msec per loop (block means ~10 ms, stretch ~4 ms, PNG encoding ~20 ms)
"""
from __future__ import annotations

import io
import math
import zlib

import numpy as np
from PIL import Image

from common.blocks import block_mean

__all__ = ["block_mean", "make_previews", "THUMB_MAX", "PREVIEW_MAX"]

THUMB_MAX = 256
PREVIEW_MAX = 1280
SHADOW_SIGMAS = 2.8
TARGET_BACKGROUND = 0.25
# Sky noise barely compresses: zlib's run-length strategy gives the size of level 6 in 2/3 of the time.
PNG_OPTIONS = {"compress_level": 6, "compress_type": zlib.Z_RLE}


def make_previews(data: np.ndarray, bayer_phase: str | None = None) -> tuple[bytes, bytes]:
    """Return ``(thumbnail_png, preview_png)``: at most 256 and 1280 pixels on the long side, 8-bit grey or RGB."""
    plane = np.asarray(data)
    if plane.ndim == 2 and bayer_phase:
        from master.processing.debayer import debayer_superpixel

        plane = debayer_superpixel(plane, bayer_phase)
    if plane.ndim == 3 and plane.shape[0] == 3:
        return _colour_previews(plane)
    if plane.ndim == 3:
        plane = plane.mean(axis=0, dtype=np.float32)
    if plane.ndim != 2 or plane.size == 0:
        raise ValueError(f"make_previews needs a 2-D image, got shape {plane.shape}")
    preview = block_mean(plane, math.ceil(max(plane.shape) / PREVIEW_MAX))
    thumb = block_mean(preview, math.ceil(max(preview.shape) / THUMB_MAX))
    stretch = _Stretch.fit(preview)
    return _png(stretch(thumb)), _png(stretch(preview))


def _colour_previews(cube: np.ndarray) -> tuple[bytes, bytes]:
    if cube[0].size == 0:
        raise ValueError(f"make_previews needs a non-empty image, got shape {cube.shape}")
    factor = math.ceil(max(cube.shape[1:]) / PREVIEW_MAX)
    previews = [block_mean(plane, factor) for plane in cube]
    thumbs = [block_mean(p, math.ceil(max(p.shape) / THUMB_MAX)) for p in previews]
    stretches = _Stretch.linked(previews)
    return (_png(np.dstack([s(t) for s, t in zip(stretches, thumbs)])),
            _png(np.dstack([s(p) for s, p in zip(stretches, previews)])))


class _Stretch:
    """Linear clip to [black, white], then the midtone transfer function with balance ``midtone``."""

    def __init__(self, black: float, white: float, midtone: float):
        self.black, self.white, self.midtone = black, white, midtone

    @classmethod
    def fit(cls, image: np.ndarray) -> "_Stretch":
        sample = image[:: max(1, image.shape[0] // 256), :: max(1, image.shape[1] // 256)]
        sample = sample[np.isfinite(sample)]
        if sample.size == 0:
            return cls(0.0, 1.0, 0.5)
        median = float(np.median(sample))
        mad = 1.4826 * float(np.median(np.abs(sample - median)))
        white = float(np.nanmax(image))
        if not math.isfinite(white):
            white = float(sample.max())
        black = max(float(sample.min()), median - SHADOW_SIGMAS * mad)
        if not white > black:
            return cls(black, black + 1.0, 0.5)  # a flat image: show it as mid grey
        level = (median - black) / (white - black)
        midtone = _mtf(TARGET_BACKGROUND, level) if 0.0 < level < 1.0 else 0.5
        return cls(black, white, midtone)

    @classmethod
    def linked(cls, planes: list[np.ndarray]) -> list["_Stretch"]:
        """One stretch per plane: black points that put every plane's sky at the same level (a grey
        sky), one range (the widest) and one midtone, so that stars keep their colour ratios."""
        stats = []
        for plane in planes:
            sample = plane[:: max(1, plane.shape[0] // 256), :: max(1, plane.shape[1] // 256)]
            sample = sample[np.isfinite(sample)]
            if sample.size == 0:
                return [cls(0.0, 1.0, 0.5) for _ in planes]
            median = float(np.median(sample))
            white = float(np.nanmax(plane)) if np.isfinite(np.nanmax(plane)) else float(sample.max())
            stats.append((median, 1.4826 * float(np.median(np.abs(sample - median))), white))
        shadow = SHADOW_SIGMAS * float(np.mean([mad for _, mad, _ in stats]))
        blacks = [median - shadow for median, _, _ in stats]
        span = max(white - black for (_, _, white), black in zip(stats, blacks))
        if not span > 0:
            return [cls(black, black + 1.0, 0.5) for black in blacks]
        level = shadow / span
        midtone = _mtf(TARGET_BACKGROUND, level) if 0.0 < level < 1.0 else 0.5
        return [cls(black, black + span, midtone) for black in blacks]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        x = (image - self.black) * (1.0 / (self.white - self.black))
        np.clip(x, 0.0, 1.0, out=x)
        x[~np.isfinite(x)] = 0.0
        m = self.midtone
        # MTF(m, x) = (m - 1) x / ((2m - 1) x - m): 0 -> 0, m -> 0.5, 1 -> 1.
        y = (m - 1.0) * x / ((2.0 * m - 1.0) * x - m)
        return (y * 255.0 + 0.5).astype(np.uint8)


def _mtf(m: float, x: float) -> float:
    """Midtone transfer function; _mtf(target, level) is also the balance that sends level to target."""
    return (m - 1.0) * x / ((2.0 * m - 1.0) * x - m)


def _png(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", **PNG_OPTIONS)
    return buffer.getvalue()
