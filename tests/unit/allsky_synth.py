"""Synthetic all-sky frames of known cloud cover, for the cloud detectors' tests and benchmark.

``make_sky`` draws an equidistant fisheye disc on a black border with trees cutting into the
horizon, a star field thinned towards the horizon by extinction, Gaussian noise, and optionally a
saturated Moon with its halo and a cloud layer: a smooth random field thresholded so that a known
share of the sky above 20 deg is covered; clouds hide the stars behind them and are brighter.

The default ``Fisheye`` is a small 900x700 camera (what the unit tests use). Other sizes keep the
sky's layout (the disc fills the same share of the frame, clouds have the same angular size) and
the stars' size in pixels, as a camera with more pixels behind a similar lens would see it.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from astropy.io import fits
from PIL import Image
from scipy import ndimage

from node_observatory.clouds import SkyModel

SKY, BORDER, NOISE = 30.0, 2.0, 2.5


@dataclass(frozen=True)
class Fisheye:
    width: int = 900
    height: int = 700
    cx: float = 452.3
    cy: float = 348.7
    radius: float = 330.0

    @classmethod
    def scaled(cls, width: int, height: int) -> "Fisheye":
        """The default camera's layout in a frame of ``width`` x ``height``: disc fills the height."""
        base = cls()
        scale = height / base.height
        return cls(width, height, width / 2 + (base.cx - base.width / 2) * scale, base.cy * scale,
                   base.radius * scale)

    @property
    def scale(self) -> float:
        return self.radius / Fisheye().radius


DEFAULT = Fisheye()
WIDTH, HEIGHT = DEFAULT.width, DEFAULT.height
CX, CY, RADIUS = DEFAULT.cx, DEFAULT.cy, DEFAULT.radius


@functools.cache
def sky_geometry(camera: Fisheye = DEFAULT):
    """Altitude, azimuth and visibility (trees) of every pixel; cached, read-only."""
    yy, xx = np.indices((camera.height, camera.width), dtype=np.float64)
    model = SkyModel(camera.cx, camera.cy, camera.radius)
    alt, az = model.polar(yy, xx)
    # Trees: the horizon rises to 12-25 deg over two stretches of azimuth (never above 20 deg far).
    horizon = np.zeros_like(az)
    horizon += np.where((az > 30) & (az < 80), 12.0 + 4.0 * np.sin(np.radians(az * 7)) ** 2, 0.0)
    horizon += np.where((az > 200) & (az < 230), 15.0, 0.0)
    visible = alt > horizon
    for array in (alt, az, visible):
        array.flags.writeable = False
    return alt, az, visible


def cloud_truth(cover: np.ndarray, alt: np.ndarray, visible: np.ndarray) -> float:
    """Share of the sky above 20 deg (by solid angle) that is covered."""
    sky = visible & (alt >= 20)
    zenith = np.radians(90 - alt[sky])
    weight = np.where(zenith > 1e-6, np.sin(zenith) / np.maximum(zenith, 1e-6), 1.0)
    return float(np.sum(weight * cover[sky]) / np.sum(weight))


def make_sky(*, seed: int = 1, coverage: float = 0.0, moon: bool = False, stars: int = 8000,
             level: float = SKY, moon_alt: float = 50.0, halo_px: float = 35.0,
             cloud_light: float = 25.0, camera: Fisheye = DEFAULT,
             star_sigma: float = 0.9) -> tuple[np.ndarray, float]:
    """An 8-bit-scale float frame and its true cloud fraction above 20 deg.

    ``halo_px`` is in the default camera's pixels (scaled with the camera); ``star_sigma`` is the
    stars' Gaussian sigma in this camera's pixels.
    """
    rng = np.random.default_rng(seed)
    alt, az, visible = sky_geometry(camera)
    height, width, s = camera.height, camera.width, camera.scale
    image = np.full((height, width), BORDER)
    image[visible] = level + 4.0 * (1 - alt[visible] / 90.0)  # a little light pollution low down

    cover = np.zeros((height, width), dtype=bool)
    truth = 0.0
    if coverage > 0:
        block = max(1, round(4 * s))
        field = ndimage.gaussian_filter(rng.normal(size=(-(-height // block), -(-width // block))), 7.0)
        field = np.kron(field, np.ones((block, block)))[:height, :width]
        sky = visible & (alt >= 20)
        zenith = np.radians(90 - alt[sky])
        weight = np.sin(zenith) / np.maximum(zenith, 1e-6)
        order = np.argsort(-field[sky])
        covered = np.cumsum(weight[order]) / weight.sum()
        threshold = field[sky][order][np.searchsorted(covered, coverage)]
        cover = (field >= threshold) & visible
        truth = cloud_truth(cover, alt, visible)

    # Stars: uniform on the sphere, thinned by extinction towards the horizon.
    star_alt = np.degrees(np.arcsin(rng.uniform(0, 1, stars)))
    star_az = rng.uniform(0, 360, stars)
    airmass = 1 / np.sin(np.radians(np.maximum(star_alt, 5)))
    kept = rng.uniform(0, 1, stars) < 10 ** (-0.45 * 0.25 * (airmass - 1))
    star_alt, star_az = star_alt[kept], star_az[kept]
    d = (1 - star_alt / 90) * camera.radius
    sx = camera.cx - d * np.sin(np.radians(star_az))
    sy = camera.cy - d * np.cos(np.radians(star_az))
    peaks = 10.0 * 10 ** rng.uniform(0, 1.3, len(sx))
    ix, iy = np.round(sx).astype(int), np.round(sy).astype(int)
    reach = max(4, round(4.5 * star_sigma))
    inside = (ix > reach) & (ix < width - reach - 1) & (iy > reach) & (iy < height - reach - 1)
    ix, iy, sx, sy, peaks = ix[inside], iy[inside], sx[inside], sy[inside], peaks[inside]
    seen = visible[iy, ix]
    amplitude = np.where(seen, peaks * np.where(cover[iy, ix], 0.03, 1.0), 0.0)
    stars_img = np.zeros_like(image)
    for dy in range(-reach, reach + 1):
        for dx in range(-reach, reach + 1):
            r2 = (ix + dx - sx) ** 2 + (iy + dy - sy) ** 2
            np.add.at(stars_img, (iy + dy, ix + dx), amplitude * np.exp(-r2 / (2 * star_sigma ** 2)))
    image += stars_img

    if coverage > 0:  # lit clouds: brighter, with structure of their own
        lumps = ndimage.gaussian_filter(rng.normal(size=image.shape), 6 * s)
        lumps *= 6 / (6 * s)  # the same contrast whatever the smoothing (the noise averages as 1/sigma)
        image += np.where(cover, cloud_light * (1 + 2.4 * lumps), 0.0)
    if moon:
        mx, my = SkyModel(camera.cx, camera.cy, camera.radius).pixel_of(moon_alt, 140.0)
        yy, xx = np.indices(image.shape)
        dist = np.hypot(xx - mx, yy - my)
        image += np.where(visible, 180.0 * np.exp(-np.maximum(dist - 10 * s, 0) / (halo_px * s)), 0.0)
        image[dist <= 10 * s] = 255.0
    image += rng.normal(0, NOISE, image.shape)
    return np.clip(image, 0, 255), truth


def save_jpeg(image: np.ndarray, path) -> str:
    Image.fromarray(np.round(image).astype(np.uint8), "L").save(path, quality=92)
    return str(path)


def save_fits16(image: np.ndarray, path) -> str:
    fits.PrimaryHDU(np.round(image * 256).astype(np.uint16)).writeto(path)
    return str(path)
