"""Where the sky is in an all-sky frame: zenith pixel, horizon radius, orientation and a mask.

The lens is taken to be an equidistant fisheye: a pixel at distance ``d`` from the zenith pixel
sits at altitude ``90 deg x (1 - d / r)``. Azimuth is measured from image "up" (towards smaller y)
turning towards image "left" (east, as seen looking up at the sky), plus ``orientation_deg``,
the azimuth that image "up" points to.

``estimate_sky_circle`` finds the illuminated disc against the dark border of one or more frames:
block-averaged luminance, a threshold between the border's level and the sky's, the largest
connected component with its holes filled, then a circle fitted to the outer envelope of that
component's edge (trees and roofs cut into the disc; they never stick out of it). Edge points on
the frame's own border are left out, so a disc cropped by the sensor still fits.
"""
from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from common.blocks import block_mean

__all__ = ["SkyCircle", "SkyModel", "estimate_sky_circle"]

WORK_SIZE = 400          # frames are block-averaged to about this many pixels on the long side
THRESHOLD_FRACTION = 0.3  # border level + this x (sky level - border level) separates sky from border
MIN_EDGE_POINTS = 20


@dataclass
class SkyCircle:
    cx: float
    cy: float
    radius: float
    method: str                            # "fit", or "frame" when no disc edge could be fitted
    mask: np.ndarray | None = field(default=None, repr=False)  # bool, full size: the bright component


@dataclass
class SkyModel:
    cx: float
    cy: float
    radius: float
    orientation_deg: float = 0.0
    mask: np.ndarray | None = field(default=None, repr=False)  # bool, True where sky is visible

    def polar(self, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Altitude and azimuth (degrees) of pixel coordinates."""
        dx = np.asarray(xs, dtype=np.float64) - self.cx
        dy = np.asarray(ys, dtype=np.float64) - self.cy
        alt = 90.0 * (1.0 - np.hypot(dx, dy) / self.radius)
        az = (np.degrees(np.arctan2(-dx, -dy)) + self.orientation_deg) % 360.0
        return alt, az

    def pixel_of(self, alt: float, az: float) -> tuple[float, float]:
        """(x, y) of a sky position, the inverse of ``polar``."""
        d = (1.0 - alt / 90.0) * self.radius
        a = math.radians(az - self.orientation_deg)
        return self.cx - d * math.sin(a), self.cy - d * math.cos(a)

    def visible(self, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
        """True where the mask (if any) shows sky; coordinates outside the frame are not visible."""
        ys = np.asarray(ys)
        xs = np.asarray(xs)
        if self.mask is None:
            return np.ones(np.broadcast(ys, xs).shape, dtype=bool)
        h, w = self.mask.shape
        yi = np.clip(np.round(ys).astype(np.int64), 0, h - 1)
        xi = np.clip(np.round(xs).astype(np.int64), 0, w - 1)
        return self.mask[yi, xi]

    def to_toml(self, mask_path: str | None = None) -> str:
        lines = ["[allsky]",
                 "# zenith pixel, horizon radius (pixels) and the azimuth of image 'up' (degrees)",
                 f"center_x = {self.cx:.1f}", f"center_y = {self.cy:.1f}",
                 f"radius = {self.radius:.1f}", f"orientation_deg = {self.orientation_deg:.1f}"]
        lines.append(f'mask = "{mask_path}"' if mask_path else
                     '# mask = "horizon_mask.png"   # white = sky, black = trees and buildings')
        return "\n".join(lines) + "\n"

    @classmethod
    def from_toml(cls, path: str | Path) -> "SkyModel":
        path = Path(path)
        with open(path, "rb") as fh:
            table = tomllib.load(fh).get("allsky", {})
        try:
            model = cls(float(table["center_x"]), float(table["center_y"]), float(table["radius"]),
                        float(table.get("orientation_deg", 0.0)))
        except KeyError as exc:
            raise ValueError(f"{path}: [allsky] needs center_x, center_y and radius (missing {exc})") from None
        if model.radius <= 0:
            raise ValueError(f"{path}: [allsky] radius must be > 0, got {model.radius}")
        if table.get("mask"):
            mask_path = Path(table["mask"])
            model.mask = load_mask(mask_path if mask_path.is_absolute() else path.parent / mask_path)
        return model


def load_mask(path: str | Path) -> np.ndarray:
    """A horizon mask image: bright pixels are sky, dark ones trees and buildings."""
    from .imageio import load_image

    image = load_image(path)
    return image.data > 0.5 * image.saturation


def _fit_circle(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Algebraic least-squares circle (x-a)^2 + (y-b)^2 = r^2."""
    design = np.column_stack([x, y, np.ones_like(x)])
    rhs = x * x + y * y
    (p, q, s), *_ = np.linalg.lstsq(design, rhs, rcond=None)
    a, b = p / 2.0, q / 2.0
    return a, b, math.sqrt(max(s + a * a + b * b, 0.0))


def estimate_sky_circle(images) -> SkyCircle:
    """Centre and radius of the sky disc from one or more frames of the same camera.

    ``images`` are 2-D arrays (or ``SkyImage``) of one shape; several frames are median-combined
    first, which makes stars, meteors and passing clouds disappear.
    """
    planes = [np.asarray(getattr(im, "data", im), dtype=np.float32) for im in images]
    if not planes:
        raise ValueError("estimate_sky_circle needs at least one image")
    shape = planes[0].shape
    if any(p.shape != shape for p in planes):
        raise ValueError("all frames given to estimate_sky_circle must have the same size")
    h, w = shape
    factor = max(1, int(math.ceil(max(h, w) / WORK_SIZE)))
    small = np.median(np.stack([block_mean(p, factor) for p in planes]), axis=0) if len(planes) > 1 \
        else block_mean(planes[0], factor)
    small = ndimage.uniform_filter(small, 3)
    sh, sw = small.shape
    fallback = SkyCircle((w - 1) / 2.0, (h - 1) / 2.0, math.hypot(w, h) / 2.0, "frame")

    border = float(np.percentile(small, 2))
    yy, xx = np.mgrid[0:sh, 0:sw]
    central = np.hypot(yy - sh / 2.0, xx - sw / 2.0) < 0.25 * min(sh, sw)
    sky = float(np.median(small[central]))
    if not sky > border:
        return fallback
    bright = small > border + THRESHOLD_FRACTION * (sky - border)
    labels, _ = ndimage.label(bright)  # not empty: most central cells are above the threshold
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    component = ndimage.binary_fill_holes(labels == int(np.argmax(sizes)))
    mask = _upsample(component, factor, shape)

    edge = component & ~ndimage.binary_erosion(component)
    ey, ex = np.nonzero(edge)
    inside = (ey > 0) & (ey < sh - 1) & (ex > 0) & (ex < sw - 1)
    ey, ex = ey[inside].astype(np.float64), ex[inside].astype(np.float64)
    if len(ex) >= MIN_EDGE_POINTS:
        a, b, r = _fit_circle(ex, ey)
        for _ in range(10):  # keep the outer envelope: obstacles only ever pull the edge inwards
            resid = np.hypot(ex - a, ey - b) - r
            keep = resid > -max(1.5, 0.02 * r)
            if keep.sum() < MIN_EDGE_POINTS or keep.all():
                break
            ex, ey = ex[keep], ey[keep]
            a, b, r = _fit_circle(ex, ey)
        # Arc coverage: a real horizon edge surrounds the centre; a stray blob does not.
        angles = np.degrees(np.arctan2(ey - b, ex - a))
        covered = len(np.unique((angles // 10).astype(int)))
        if covered >= 9 and 0.15 * min(sh, sw) < r < 1.5 * max(sh, sw) and 0 <= a < sw and 0 <= b < sh:
            # Edge cells are centred half a cell inside the true boundary.
            return SkyCircle((a + 0.5) * factor - 0.5, (b + 0.5) * factor - 0.5, (r + 0.5) * factor,
                             "fit", mask)
    fallback.mask = mask
    return fallback


def _upsample(small: np.ndarray, factor: int, shape: tuple[int, int]) -> np.ndarray:
    big = np.repeat(np.repeat(small, factor, axis=0), factor, axis=1)
    out = np.zeros(shape, dtype=bool)
    h, w = min(shape[0], big.shape[0]), min(shape[1], big.shape[1])
    out[:h, :w] = big[:h, :w]
    if h < shape[0]:
        out[h:, :w] = out[h - 1:h, :w]
    if w < shape[1]:
        out[:, w:] = out[:, w - 1:w]
    return out
