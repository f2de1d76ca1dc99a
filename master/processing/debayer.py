"""One-shot-colour frames: where each colour sits in the mosaic, and interpolating the missing ones.

The header names the 2x2 cell (``BAYERPAT``, or APP's ``CFAIMAGE``) as seen from the image's top-left
corner. ``XBAYROFF``/``YBAYROFF`` shift where the cell starts. ``ROWORDER`` says which stored row is
the top: ``TOP-DOWN`` (what most capture programs write, and what we assume when it is missing)
puts the cell's first row on the first stored row; ``BOTTOM-UP`` puts it on the last one, so for
an even number of rows the cell's rows swap. ``colour_phase`` folds all of it into one pattern
that starts at array index [0, 0], which is the only form the rest of the code uses.

Calibration happens on the mosaic (the masters are mosaics too); colour is interpolated after it:
bilinear (every pixel keeps its measured colour, the other two are the mean of the nearest
neighbours of that colour) for stacking, or the cheaper superpixel (one RGB pixel per 2x2 cell,
half the size) for previews.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from master.fitsmeta.normalize import BAYER_KEYS

__all__ = ["PATTERNS", "BayerLayout", "bayer_layout", "colour_phase", "channel_masks", "debayer_bilinear",
           "debayer_superpixel", "same_colour_step"]

PATTERNS = ("RGGB", "BGGR", "GRBG", "GBRG")
CHANNELS = "RGB"
_KERNEL = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]], dtype=np.float32)


@dataclass(frozen=True)
class BayerLayout:
    pattern: str            # as the header names it, from the image's top-left
    x_offset: int = 0
    y_offset: int = 0
    bottom_up: bool = False


def bayer_layout(header) -> BayerLayout | None:
    """The mosaic described by a FITS header, or None for a monochrome (or already debayered) frame."""
    if int(header.get("NAXIS", 2) or 2) > 2 and int(header.get("NAXIS3", 1) or 1) > 1:
        return None
    for key in BAYER_KEYS:
        value = header.get(key)
        if isinstance(value, str) and value.strip().upper().replace(" ", "") in PATTERNS:
            return BayerLayout(value.strip().upper().replace(" ", ""), _offset(header, "XBAYROFF", "BAYOFFX"),
                               _offset(header, "YBAYROFF", "BAYOFFY"),
                               str(header.get("ROWORDER", "")).strip().upper() == "BOTTOM-UP")
    return None


def _offset(header, *keys) -> int:
    for key in keys:
        value = header.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return int(value) % 2
    return 0


def colour_phase(layout: BayerLayout, height: int) -> str:
    """The 2x2 pattern starting at array index [0, 0] of an image ``height`` rows high."""
    y0 = layout.y_offset + ((height - 1) if layout.bottom_up else 0)
    x0 = layout.x_offset
    p = layout.pattern
    return "".join(p[2 * ((y0 + dy) % 2) + (x0 + dx) % 2] for dy in (0, 1) for dx in (0, 1))


def channel_masks(shape: tuple[int, int], phase: str) -> dict[str, np.ndarray]:
    """Bool maps of where R, G and B were measured, for a mosaic whose [0, 0] cell is ``phase``."""
    if phase not in PATTERNS:
        raise ValueError(f"unknown Bayer pattern {phase!r} (one of {', '.join(PATTERNS)})")
    masks = {c: np.zeros(shape, dtype=bool) for c in CHANNELS}
    for k, colour in enumerate(phase):
        masks[colour][k // 2::2, k % 2::2] = True
    return masks


def debayer_bilinear(mosaic: np.ndarray, phase: str) -> np.ndarray:
    """(3, H, W) float32 R, G, B planes of the same size as the mosaic.

    Normalised convolution: the kernel weighs the measured neighbours of each colour, and dividing
    by the same convolution of the colour's mask makes it their mean, at the edges too. NaN
    (missing) values count as not measured.
    """
    data = np.asarray(mosaic, dtype=np.float32)
    if data.ndim != 2:
        raise ValueError(f"a Bayer mosaic is 2-D, not of shape {data.shape}")
    masks = channel_masks(data.shape, phase)
    finite = np.isfinite(data)
    out = np.empty((3,) + data.shape, dtype=np.float32)
    for index, colour in enumerate(CHANNELS):
        mask = masks[colour] & finite
        values = ndimage.convolve(np.where(mask, data, np.float32(0.0)), _KERNEL, mode="constant")
        weights = ndimage.convolve(mask.astype(np.float32), _KERNEL, mode="constant")
        with np.errstate(invalid="ignore", divide="ignore"):
            plane = values / weights
        plane[mask] = data[mask]     # a measured value is kept as it is
        out[index] = plane
    return out


def debayer_superpixel(mosaic: np.ndarray, phase: str) -> np.ndarray:
    """(3, H//2, W//2) float32: each 2x2 cell gives one pixel (its R, the mean of its two G, its B)."""
    data = np.asarray(mosaic, dtype=np.float32)
    h, w = (data.shape[0] // 2) * 2, (data.shape[1] // 2) * 2
    if phase not in PATTERNS:
        raise ValueError(f"unknown Bayer pattern {phase!r} (one of {', '.join(PATTERNS)})")
    cells = [data[k // 2:h:2, k % 2:w:2] for k in range(4)]
    greens = [cells[k] for k, c in enumerate(phase) if c == "G"]
    return np.stack([cells[phase.index("R")], (greens[0] + greens[1]) * np.float32(0.5), cells[phase.index("B")]])


def same_colour_step(layout: BayerLayout | None) -> int:
    """Distance to the nearest neighbour of the same colour along a row or column: 2 in a mosaic."""
    return 2 if layout is not None else 1
