"""The one way a frame becomes a model's input, shared by training and inference.

Centre square crop (the fisheye disc sits in the middle of a landscape frame; cropping the sides
keeps it round, as Teachable Machine does), area-average resize (keeps faint cloud light), pixels scaled from 0..full scale to -1..1 (Teachable Machine's convention,
so its models and ours take the same input).
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from common.blocks import block_mean

from .imageio import SkyImage

__all__ = ["model_input"]


def model_input(image: SkyImage, height: int, width: int, channels: int) -> np.ndarray:
    """``height x width x channels`` float32 in -1..1 from a luminance or colour ``SkyImage``."""
    data = image.data
    if channels == 1 and data.ndim == 3:
        data = data.mean(axis=2, dtype=np.float32)
    if channels == 3 and data.ndim == 2:
        data = np.repeat(data[..., None], 3, axis=2)
    if channels not in (1, 3):
        raise ValueError(f"the model wants {channels} colour planes; only 1 or 3 are supported")
    h, w = data.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = data[top:top + side, left:left + side]
    planes = square[..., None] if square.ndim == 2 else square
    out = np.stack([_resize(planes[..., i], height, width) for i in range(planes.shape[2])], axis=-1)
    return np.clip(out * (2.0 / max(float(image.saturation), 1e-9)) - 1.0, -1.0, 1.0).astype(np.float32)


def _resize(plane: np.ndarray, height: int, width: int) -> np.ndarray:
    # Pillow takes ~40 ms just to take in a 3000x3000 float image: a block mean down to about
    # twice the input size first halves that. On smaller frames the block mean costs more than
    # it saves (measured: 1080x1080 to 128, 4 ms without, 8 ms with), hence the factor of 8.
    factor = min(plane.shape[0] // (2 * height), plane.shape[1] // (2 * width))
    if factor >= 8:
        plane = block_mean(plane, factor)
    small = Image.fromarray(np.ascontiguousarray(plane, dtype=np.float32), "F")
    return np.asarray(small.resize((width, height), Image.Resampling.BOX), dtype=np.float32)
