"""Per-filter stacks into one colour image: RGB, or LRGB with a luminance stack.

The stacks of one target were each registered on their own first frame, so they are registered to
each other here first: on the stars of the luminance stack (or of the first colour one), with the
same star matching and resampling as ``stack``. In LRGB the colour comes from R, G and B and the
brightness from L: each pixel's R, G, B are scaled so that their mean is L (all after removing each
stack's sky level). The result is linear (3, H, W) float32; ``previews.make_previews`` stretches it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .stack import RegistrationError, detect_stars, find_transform, warp_to

__all__ = ["ColourError", "ColourComposite", "channel_of", "combine_channels"]

_NAMES = {"L": ("l", "lum", "luminance", "clear", "c", "uvir", "uv/ir", "l-pro", "none"),
          "R": ("r", "red"), "G": ("g", "green", "v"), "B": ("b", "blue")}


class ColourError(ValueError):
    """The stacks given cannot make a colour image (a channel missing, or not registrable)."""


@dataclass
class ColourComposite:
    rgb: np.ndarray                       # float32 (3, H, W), linear, sky levels removed
    kind: str                             # "RGB" or "LRGB"
    reference: str                        # channel whose grid the others were moved onto
    shifts: dict[str, tuple[float, float]] = field(default_factory=dict)


def channel_of(filter_name: str | None) -> str | None:
    """'L', 'R', 'G' or 'B' for a filter name as capture programs write it; None for others (Ha, ...)."""
    name = (filter_name or "").strip().lower()
    return next((channel for channel, names in _NAMES.items() if name in names), None)


def combine_channels(stacks: dict[str, np.ndarray]) -> ColourComposite:
    """``stacks``: channel ('L', 'R', 'G', 'B') -> 2-D stack, or 'RGB' -> a (3, H, W) one-shot-colour stack."""
    planes = dict(stacks)
    from_cube: set[str] = set()          # planes of one one-shot-colour stack share its grid
    if "RGB" in planes:
        cube = np.asarray(planes.pop("RGB"))
        if cube.ndim != 3 or cube.shape[0] != 3:
            raise ColourError(f"an RGB stack has three planes, not shape {cube.shape}")
        for index, channel in enumerate("RGB"):
            if channel not in planes:
                planes[channel] = cube[index]
                from_cube.add(channel)
    missing = [c for c in "RGB" if c not in planes]
    if missing:
        raise ColourError(f"a colour image needs R, G and B stacks; missing {', '.join(missing)}")
    reference = "L" if "L" in planes else "R"
    ref = np.asarray(planes[reference], dtype=np.float32)
    ref_stars = detect_stars(ref)
    aligned, shifts = {}, {}
    for channel, data in planes.items():
        data = np.asarray(data, dtype=np.float32)
        if channel == reference or (reference in from_cube and channel in from_cube):
            aligned[channel], shifts[channel] = data, (0.0, 0.0)
            continue
        try:
            transform = find_transform(detect_stars(data), ref_stars)
        except RegistrationError as exc:
            raise ColourError(f"the {channel} stack cannot be registered on the {reference} stack: {exc}") from exc
        aligned[channel] = warp_to(data, transform, ref.shape)
        shifts[channel] = tuple(float(v) for v in transform.translation)
    rgb = np.stack([_sky_removed(aligned[c]) for c in "RGB"])
    kind = "RGB"
    if "L" in aligned:
        rgb = _with_luminance(rgb, _sky_removed(aligned["L"]))
        kind = "LRGB"
    return ColourComposite(rgb, kind, reference, shifts)


def _sky_removed(plane: np.ndarray) -> np.ndarray:
    finite = plane[np.isfinite(plane)]
    return plane - np.float32(np.median(finite)) if finite.size else plane


def _with_luminance(rgb: np.ndarray, lum: np.ndarray) -> np.ndarray:
    mean = rgb.mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        scale = np.where(mean > 0, lum / mean, 0.0).astype(np.float32)
    return rgb * scale
