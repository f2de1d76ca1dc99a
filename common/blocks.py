"""Block means of 2-D images: binning for previews, pyramids and cloud detection."""
from __future__ import annotations

import numpy as np

__all__ = ["block_mean"]


def block_mean(plane: np.ndarray, factor: int) -> np.ndarray:
    """Mean of factor x factor blocks as float32 (the last partial row/column of blocks is dropped).

    Strided adds (rows first, then columns) run at memory speed; uint16 sums stay exact in uint32.
    """
    if factor <= 1:
        return plane.astype(np.float32, copy=False)
    h, w = plane.shape
    if h < factor or w < factor:  # smaller than one block along an axis: repeat the edge
        plane = np.pad(plane, ((0, max(0, factor - h)), (0, max(0, factor - w))), mode="edge")
        h, w = plane.shape
    plane = plane[: h - h % factor, : w - w % factor]
    if plane.dtype.kind in "ub" and plane.dtype.itemsize <= 2:
        accumulator = np.uint32
    elif plane.dtype.kind == "i" and plane.dtype.itemsize <= 2:
        accumulator = np.int32
    else:
        accumulator = np.float64 if plane.dtype.itemsize > 4 or plane.dtype.kind in "iu" else np.float32
    rows = plane[0::factor].astype(accumulator)
    for k in range(1, factor):
        rows += plane[k::factor]
    blocks = rows[:, 0::factor].astype(np.float32)
    for k in range(1, factor):
        blocks += rows[:, k::factor]
    blocks *= 1.0 / (factor * factor)
    return blocks
