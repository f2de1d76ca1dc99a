"""Display levels and stretches: data values to 8-bit grey, as the viewer's tiles show them.

Values are first scaled so that ``black`` is 0 and ``white`` is 1 and clipped to that range, then
a stretch curve maps [0, 1] onto itself. The curves are the ones astropy.visualization defines
(``LogStretch``, ``AsinhStretch`` with their default ``a``), written here in place on float32
because a tile is rendered on every request and astropy's classes work in float64 copies.

The black and white points come from ``levels``: z-scale (astropy's ``ZScaleInterval``),
percentile clips or the full range, all measured on a strided sample of the full-resolution
data, so they describe pixels as the full-resolution tiles show them (block means of a pyramid
level have less noise and would clip too tightly).
"""
from __future__ import annotations

import math

import numpy as np
from astropy.visualization import ZScaleInterval

__all__ = ["STRETCHES", "PERCENTILES", "LOG_A", "ASINH_A", "check", "levels", "histogram", "render", "render_colour", "sample_of"]

STRETCHES = ("linear", "log", "asinh")
PERCENTILES = (99.9, 99.5, 99.0, 98.0, 95.0)
LOG_A = 1000.0   # astropy's LogStretch default
ASINH_A = 0.1    # astropy's AsinhStretch default
SAMPLE_PIXELS = 1_000_000
HISTOGRAM_BINS = 256


def sample_of(image: np.ndarray, pixels: int = SAMPLE_PIXELS) -> np.ndarray:
    """Every k-th pixel of every k-th row, at most about ``pixels`` of them (k whole), finite ones, as float32."""
    step = max(1, math.ceil(math.sqrt(image.size / pixels)))
    sample = np.asarray(image[::step, ::step], dtype=np.float32).ravel()
    return sample[np.isfinite(sample)]


def levels(sample: np.ndarray) -> dict[str, list[float]]:
    """Black and white points by every method the viewer offers: ``zscale``, ``minmax``, ``p99.5``..."""
    if sample.size == 0:
        sample = np.zeros(1, np.float32)
    result = {"zscale": ZScaleInterval().get_limits(sample), "minmax": (sample.min(), sample.max())}
    for p in PERCENTILES:
        result[f"p{p:g}"] = np.percentile(sample, [(100.0 - p) / 2.0, 100.0 - (100.0 - p) / 2.0])
    # A flat image (a bias, a blank stack) has black == white: widen by one unit so it can be drawn.
    return {name: [float(low), float(high) if high > low else float(low) + 1.0] for name, (low, high) in result.items()}


def histogram(sample: np.ndarray, bins: int = HISTOGRAM_BINS) -> dict:
    """Counts over the 99.9 % range (the full range would put a few hot pixels' bins alone at the end)."""
    if sample.size == 0:
        return {"lo": 0.0, "hi": 1.0, "counts": [0] * bins}
    lo, hi = (float(v) for v in np.percentile(sample, [0.05, 99.95]))
    if not hi > lo:
        hi = lo + 1.0
    counts, _ = np.histogram(sample, bins=bins, range=(lo, hi))
    return {"lo": lo, "hi": hi, "counts": counts.tolist()}


def check(stretch: str, black: float, white: float) -> None:
    """Raise ValueError unless ``render`` can use these settings."""
    if stretch not in STRETCHES:
        raise ValueError(f"stretch {stretch!r} is not one of {', '.join(STRETCHES)}")
    if not (math.isfinite(black) and math.isfinite(white) and white > black):
        raise ValueError(f"white ({white}) must be above black ({black}) and both finite")


def render(values: np.ndarray, stretch: str, black: float, white: float) -> np.ndarray:
    """8-bit grey of ``values`` (any shape); NaN and inf are shown black."""
    check(stretch, black, white)
    x = np.subtract(values, black, dtype=np.float32)
    x *= np.float32(1.0 / (white - black))
    x[~np.isfinite(x)] = 0.0  # before the clip, which would turn +inf white
    np.clip(x, 0.0, 1.0, out=x)
    if stretch == "log":
        x *= np.float32(LOG_A)
        np.log1p(x, out=x)
        x *= np.float32(1.0 / math.log1p(LOG_A))
    elif stretch == "asinh":
        x *= np.float32(1.0 / ASINH_A)
        np.arcsinh(x, out=x)
        x *= np.float32(1.0 / math.asinh(1.0 / ASINH_A))
    x *= 255.0
    x += 0.5
    return x.astype(np.uint8)


def render_colour(planes: np.ndarray, stretch: str, blacks, whites) -> np.ndarray:
    """8-bit (h, w, 3) RGB of a (3, h, w) cube, each plane stretched between its own black and white."""
    out = np.empty(planes.shape[1:] + (3,), np.uint8)
    for channel in range(3):
        out[..., channel] = render(planes[channel], stretch, blacks[channel], whites[channel])
    return out
