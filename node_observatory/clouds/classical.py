"""Classical all-sky cloud detector: counts the stars the sky shows where a clear sky would show them.

Speed: ``tests/bench/bench_clouds.py`` (wall and CPU time per frame, against JPEG decoding).
CPU time of sky circle + classify on one core (``taskset -c 1``, OMP_NUM_THREADS=1, other work
running), 2026-12-01, best of 5, over the ten real frames in /work/shared/data/allsky: 75-130 ms
(the Milky Way frame 311 ms before sep's threshold tree was switched off, 130 ms after). Most of
the time is sep: its background (whole frame) and extraction (the sky's bounding box only).

How it works, for a camera it has never seen:
1. The frame is reduced to luminance; frames wider than 2048 pixels are binned 2x2 (their stars
   span several pixels, and binning halves the noise and quarters the time).
2. Guards: a near-constant frame (blank), a frame mostly at full scale (saturated) or a bright sky
   (daylight) gives ``unknown`` with the reason; nothing below is meaningful then.
3. The Moon: the largest compact blob at full scale, and the halo around it (out to where the
   sky falls back towards its normal level), is left out of every region. Regions mostly inside
   the halo are reported with ``cloud_fraction = None`` instead of being called cloudy.
4. Stars: sep finds sources on the background-subtracted image (5 sigma against the frame's RMS)
   in the usable sky only; point sources are told from hot pixels and cloud texture by their size
   (isophotal flux / peak, 2.5-10 pixels) and sharpness (peak / smoothed peak): the lumps of a lit
   cloud are large and flat, a hot pixel is tiny.
5. Regions: an altitude/azimuth grid above ``min_altitude`` (default 20 deg): two rings of eight
   sectors and a zenith cap. Each region's solid angle comes from the equidistant projection,
   weighted by how many stars atmospheric extinction leaves at that altitude.
6. Expected stars: the camera is unknown, so the density of a clear sky is taken from the frame
   itself (the best regions, pooled) but never below a floor (``reference_density``, stars per
   steradian), which stops an overcast frame from calibrating itself as clear. If those best
   regions are themselves partly clouded (blotchy texture, or cloud-bright cells) the density is
   corrected up. A region's cloud fraction is the share of its expected stars that is missing
   beyond one sigma of Poisson noise.
7. Lit clouds: when the star-poor regions are clearly brighter than the star-rich ones (light
   pollution or moonlight on the clouds), cells brighter than halfway between the two levels are
   mapped as cloud, and that finer map adjusts each region's star estimate within a margin
   (widest for half-clouded regions, narrow where all or none of the stars are missing).
   Not under moonlight, where glare outshines the clouds.
8. Overall fraction: the solid-angle-weighted mean over the judged regions; labels by thresholds
   (clear < 0.15 <= partly < 0.5 <= cloudy < 0.85 <= overcast).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import sep
from scipy import ndimage

from common.blocks import block_mean

from .imageio import SkyImage
from .skymodel import SkyModel

__all__ = ["CloudResult", "classify", "label_for", "REGION_RINGS", "AZIMUTH_SECTORS"]

MIN_ALTITUDE = 20.0
REGION_RINGS = (45.0, 70.0)           # ring edges above the minimum altitude; cap above the last
AZIMUTH_SECTORS = 8
BIN_ABOVE = 2048                      # bin 2x2 when the frame's long side exceeds this
COARSE_CELLS = 160                    # coarse grid: about this many cells across the sky disc
DETECT_SIGMA = 5.0
MIN_AREA = 3
DEBLEND_CONT = 1.0                    # no deblending: stars are counted, not measured, and deblending was most of the time
DEBLEND_NTHRESH = 1                   # ... and no threshold tree either: sep builds it even when it splits nothing
MIN_STAR_AREA = 2.5                   # flux / peak (pixels); hot pixels are smaller
MAX_STAR_AREA = 10.0                  # cloud lumps are larger
MIN_SHARPNESS = 1.25                  # peak / filtered peak; cloud lumps are flatter
MIN_AXIS_RATIO = 0.35
BEST_SHARE = 0.35                     # clear-sky density: the best regions, this share of the area
CLEAR_SHARE = 0.85                    # ... scaled by this (the best regions are a little lucky)
TEXTURE_SCALE = 4.0                   # coarse cells: structure smaller than this is cloud texture
TEXTURE_CLEAR = 5.0                   # texture (x pixel noise) of a sky that may well be clear
TEXTURE_CLOUDY = 14.0                 # texture of a sky that is surely clouded
BRIGHT_CONTRAST = 8.0                 # clouds this much brighter than clear sky (x cell noise) are mapped
BRIGHT_MARGIN = 0.3                   # how far the brightness map may move a half-clouded region
NOISE_ALLOWANCE = 1.0                 # sigmas of Poisson shortfall not counted as cloud
DEFAULT_REFERENCE_DENSITY = 25.0      # stars per steradian (effective): floor for a clear sky
EXTINCTION_MAG = 0.25                 # mag per airmass
COUNT_SLOPE = 0.45                    # d log10 N / d mag of star counts
MOON_LEVEL = 0.9                      # share of full scale that marks the Moon's disc
MOON_MIN_RADIUS = 0.02                # smaller saturated blobs are planets or bright stars
MOON_HALO_LEVEL = 0.05                # halo ends where the sky is this close to its normal level
MOON_MAX_HALO = 0.6                   # the halo left out reaches at most this share of the horizon radius
MOON_EXCLUDED = 0.6                   # regions more excluded than this are not judged
SATURATED_SHARE = 0.5                 # more of the sky than this at full scale: saturated
DAYLIGHT_LEVEL = 0.5                  # median sky above this share of full scale: daylight
SHORT_EXPOSURE_S = 0.01               # exposures this short are daytime exposures
LABELS = ((0.15, "clear"), (0.5, "partly"), (0.85, "cloudy"))


@dataclass
class CloudResult:
    label: str
    cloud_fraction: float | None
    stars_detected: int | None             # None from the ML detector, which counts no stars
    regions: list[dict] = field(default_factory=list)
    reason: str | None = None
    detector: str = "classical"
    moon: dict | None = None
    # Stars per effective steradian a clear sky was expected to show. Recorded on a known clear
    # night, it is the camera's ``reference_density``: then even a sky clouded everywhere alike
    # (which the frame alone cannot tell from a dim clear sky) is judged against a real clear sky.
    clear_density: float | None = None
    probabilities: dict | None = None      # per class, from the ML detector

    def to_dict(self) -> dict:
        return asdict(self)


def label_for(fraction: float) -> str:
    for limit, label in LABELS:
        if fraction < limit:
            return label
    return "overcast"


def classify(image, model: SkyModel, *, exposure_s: float | None = None,
             min_altitude: float = MIN_ALTITUDE,
             reference_density: float = DEFAULT_REFERENCE_DENSITY) -> CloudResult:
    """Cloud fraction, label and per-region map of one all-sky frame.

    ``image`` is a ``SkyImage`` or a 2-D array (its saturation is then taken from its dtype, or
    its maximum for floats). ``model`` places the sky in the frame. ``reference_density`` is the
    least density of stars (per effective steradian) a clear sky shows with this camera: the
    default suits an unknown camera; a value measured on a clear night (``clear_density`` of its
    result) makes the detector judge against that camera's real clear sky.
    """
    sky_image = image if isinstance(image, SkyImage) else _as_sky_image(image)
    data, sat = sky_image.data, float(sky_image.saturation)
    if model.mask is not None and model.mask.shape != data.shape:
        raise ValueError(f"the sky mask is {model.mask.shape[1]}x{model.mask.shape[0]} pixels, "
                         f"the image {data.shape[1]}x{data.shape[0]}")
    binning = max(1, math.ceil(max(data.shape) / BIN_ABOVE))
    if binning > 1:
        data = block_mean(data, binning)
    geo = _Geometry(data.shape, model, binning, min_altitude)
    if not geo.sky.any():
        return CloudResult("unknown", None, 0, [], f"no visible sky above {min_altitude:g} deg in the frame")

    coarse = block_mean(data, geo.step)
    reason = _guard(data, coarse[geo.sky], sat, sky_image.integer, exposure_s)
    if reason:
        return CloudResult("unknown", None, 0, [], reason)

    moon, excluded = _moon(coarse, geo, sat)
    xs, ys, star_noise, starless = _stars(data, geo.sky & ~excluded, geo.step)
    cell_y = np.clip((ys / geo.step).astype(np.int64), 0, geo.region.shape[0] - 1)
    cell_x = np.clip((xs / geo.step).astype(np.int64), 0, geo.region.shape[1] - 1)
    keep = geo.sky[cell_y, cell_x] & ~excluded[cell_y, cell_x]
    star_region = geo.region[cell_y[keep], cell_x[keep]]

    # Sky brightness and texture are judged without the stars: bright or large stars raise the
    # mean of the cells they fall in, which reads as blotchy cloud on a dense clear sky.
    regions, clear_density = _regions(geo, block_mean(starless, geo.step), excluded, star_region, star_noise,
                                      reference_density, use_brightness=moon is None)
    judged = [r for r in regions if r["cloud_fraction"] is not None]
    weights = np.array([r.pop("_area") for r in regions])
    if not judged:
        return CloudResult("unknown", None, int(keep.sum()), regions,
                           "every region is hidden by the Moon's glare", moon=moon,
                           clear_density=round(clear_density, 2))
    weights = weights[[r["cloud_fraction"] is not None for r in regions]]
    fraction = float(np.dot(weights, [r["cloud_fraction"] for r in judged]) / weights.sum())
    return CloudResult(label_for(fraction), round(fraction, 3), int(keep.sum()), regions, moon=moon,
                       clear_density=round(clear_density, 2))


# --------------------------------------------------------------------------- steps


def _as_sky_image(array) -> SkyImage:
    from .imageio import _saturation, luminance

    image = luminance(array)
    sat, integer = _saturation(np.asarray(array), image)
    return SkyImage(image, sat, integer)


class _Geometry:
    """Altitude, azimuth, solid angle, visibility and region of every coarse cell."""

    def __init__(self, shape, model: SkyModel, binning: int, min_altitude: float):
        radius = model.radius / binning
        self.step = max(2, int(round(2 * radius / COARSE_CELLS)))
        self.binning = binning
        self.radius_cells = radius / self.step
        h, w = shape
        gh, gw = h // self.step, w // self.step
        # centre of each coarse cell, in original-frame pixels
        ys = ((np.arange(gh) + 0.5) * self.step * binning - 0.5)[:, None]
        xs = ((np.arange(gw) + 0.5) * self.step * binning - 0.5)[None, :]
        self.alt, self.az = model.polar(ys, xs)
        self.sky = (self.alt >= min_altitude) & model.visible(ys, xs)
        zenith = np.radians(90.0 - self.alt)
        with np.errstate(invalid="ignore", divide="ignore"):
            sinc = np.where(zenith > 1e-6, np.sin(zenith) / zenith, 1.0)
        cell = (self.step * binning * (math.pi / 2) / model.radius) ** 2
        self.solid = np.where(self.sky, sinc * cell, 0.0)
        airmass = 1.0 / np.sin(np.radians(np.clip(self.alt, 5.0, 90.0)))
        self.weight = 10.0 ** (-COUNT_SLOPE * EXTINCTION_MAG * (airmass - 1.0))
        edges = [min_altitude] + [e for e in REGION_RINGS if e > min_altitude] + [90.0001]
        self.rings = list(zip(edges[:-1], edges[1:]))
        ring = np.clip(np.searchsorted(edges, self.alt, side="right") - 1, 0, len(self.rings) - 1)
        sector = np.minimum((self.az / (360.0 / AZIMUTH_SECTORS)).astype(np.int64), AZIMUTH_SECTORS - 1)
        last = len(self.rings) - 1
        self.region = np.where(ring == last, last * AZIMUTH_SECTORS, ring * AZIMUTH_SECTORS + sector)
        self.region = np.where(self.sky, self.region, -1)
        self.n_regions = last * AZIMUTH_SECTORS + 1
        self.min_altitude = min_altitude

    def bounds(self, index: int) -> tuple[float, float, float, float]:
        ring, sector = divmod(index, AZIMUTH_SECTORS)
        lo, hi = self.rings[ring]
        if ring == len(self.rings) - 1:
            return lo, 90.0, 0.0, 360.0
        width = 360.0 / AZIMUTH_SECTORS
        return lo, hi, sector * width, (sector + 1) * width


def _guard(data, sky_cells, sat: float, integer: bool, exposure_s: float | None) -> str | None:
    """A reason the frame cannot be judged, or None."""
    sample = data[::3, ::3]
    low, high = np.percentile(sample, [0.1, 99.9])
    tolerance = max(3.0 if integer else 0.0, 1e-3 * sat)
    if high - low <= tolerance:
        return f"blank frame: pixel values span only {high - low:.3g} (near-constant)"
    if np.mean(sky_cells >= 0.98 * sat) > SATURATED_SHARE:
        return (f"saturated frame: {100 * np.mean(sky_cells >= 0.98 * sat):.0f}% of the sky is at "
                f"full scale")
    black = float(np.percentile(sample, 0.5))
    median = float(np.median(sky_cells))
    level = (median - black) / max(sat - black, 1e-9)
    if level > DAYLIGHT_LEVEL:
        return f"daylight: the sky's median is {100 * level:.0f}% of full scale"
    if exposure_s is not None and exposure_s < SHORT_EXPOSURE_S and level > 0.1:
        return f"daylight: a {exposure_s:g} s exposure shows a sky at {100 * level:.0f}% of full scale"
    return None


def _moon(coarse, geo: _Geometry, sat: float) -> tuple[dict | None, np.ndarray]:
    """The Moon's disc and halo, as a dict and a mask of coarse cells to leave out."""
    excluded = np.zeros(geo.sky.shape, dtype=bool)
    coarse = coarse[: geo.sky.shape[0], : geo.sky.shape[1]]
    inside = geo.alt >= 0
    bright = (coarse >= MOON_LEVEL * sat) & inside
    if not bright.any():
        return None, excluded
    labels, _ = ndimage.label(bright)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    blob = labels == int(np.argmax(sizes))
    if blob.sum() > 0.5 * max(geo.sky.sum(), 1) or blob.sum() < math.pi * (MOON_MIN_RADIUS * geo.radius_cells) ** 2:
        return None, excluded
    by, bx = np.nonzero(blob)
    cy, cx = by.mean(), bx.mean()
    r_moon = max(1.0, math.sqrt(blob.sum() / math.pi))
    yy, xx = np.indices(coarse.shape)
    dist = np.hypot(yy - cy, xx - cx)
    normal = float(np.percentile(coarse[geo.sky], 25)) if geo.sky.any() else 0.0
    limit = normal + MOON_HALO_LEVEL * (sat - normal)
    halo = 3.0 * r_moon
    max_halo = MOON_MAX_HALO * geo.radius_cells
    ring_index = dist.astype(np.int64)
    medians = ndimage.median(coarse, labels=np.where(inside, ring_index + 1, 0),
                             index=np.arange(1, int(min(dist.max(), max_halo)) + 2))
    medians = np.atleast_1d(medians)
    above = np.nonzero(~(np.nan_to_num(medians, nan=0.0) > limit))[0]
    # The halo reaches 1.5x as far as the glare stays above the limit (all the way if it never drops).
    halo = max(halo, 1.5 * float(above[0]) if len(above) else max_halo)
    halo = min(max(halo, 3.0 * r_moon), max_halo)
    excluded = dist <= halo
    scale = geo.step * geo.binning
    return {"x": round(float((cx + 0.5) * scale), 1), "y": round(float((cy + 0.5) * scale), 1),
            "radius_px": round(float(r_moon * scale), 1), "halo_px": round(float(halo * scale), 1)}, excluded


def _stars(data: np.ndarray, usable: np.ndarray, step: int):
    """Positions of point sources in the usable sky (binned frame pixels), the pixel noise, and
    the frame with the point sources' pixels replaced by the local background.

    Everything outside the usable coarse cells (trees, text overlays, the Moon) is set to the
    background first, and only their bounding box is searched: nothing is found outside, and sep
    spends no time there.
    """
    image = np.array(data, dtype=np.float32, order="C")  # a copy: the caller's frame is left alone
    # The background and its noise come from the whole frame (border included: the thresholds
    # downstream were set with that noise); only the usable sky's bounding box is searched.
    bkg = sep.Background(image, bw=64, bh=64, fw=3, fh=3)
    noise = max(float(bkg.globalrms), 1e-6)
    none = np.zeros(0)
    gh, gw = min(usable.shape[0], data.shape[0] // step), min(usable.shape[1], data.shape[1] // step)
    rows, cols = np.nonzero(usable[:gh, :gw].any(axis=1))[0], np.nonzero(usable[:gh, :gw].any(axis=0))[0]
    if len(rows) == 0:
        return none, none, noise, image
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    window = (slice(r0 * step, r1 * step), slice(c0 * step, c1 * step))
    back = bkg.back()[window]
    box = np.array(image[window], dtype=np.float32, order="C")
    box -= back
    # Zero what is hidden through a (cells, step, cells, step) view: no full-size mask is built.
    box.reshape(r1 - r0, step, c1 - c0, step)[...] *= usable[r0:r1, None, c0:c1, None]
    objects, segments = _extract(box, noise)
    if len(objects) == 0:
        return none, none, noise, image
    with np.errstate(divide="ignore", invalid="ignore"):
        area = np.where(objects["peak"] > 0, objects["flux"] / objects["peak"], np.inf)
        sharp = np.where(objects["cpeak"] > 0, objects["peak"] / objects["cpeak"], 0.0)
        ratio = np.where(objects["a"] > 0, objects["b"] / objects["a"], 0.0)
    star = (area >= MIN_STAR_AREA) & (area <= MAX_STAR_AREA) & (sharp >= MIN_SHARPNESS) & (ratio >= MIN_AXIS_RATIO)
    # Segment ids are object indices + 1: a lookup table marks the stars' pixels (cloud lumps stay).
    is_star = np.concatenate([[False], star])[segments]
    image[window][is_star] = back[is_star]
    return objects["x"][star] + c0 * step, objects["y"][star] + r0 * step, noise, image


def _extract(image, rms):
    """sep's catalogue and segmentation map; a sky too busy for sep's pixel buffer is searched again
    at twice the threshold with a larger buffer."""
    options = dict(err=rms, minarea=MIN_AREA, deblend_cont=DEBLEND_CONT, deblend_nthresh=DEBLEND_NTHRESH,
                   segmentation_map=True)
    try:
        return sep.extract(image, DETECT_SIGMA, **options)
    except Exception as exc:  # sep raises a bare Exception when its pixel buffer overflows
        if "pixel buffer full" not in str(exc):
            raise
    default = sep.get_extract_pixstack()
    sep.set_extract_pixstack(max(default, image.size // 4))
    try:
        return sep.extract(image, DETECT_SIGMA * 2, **options)
    finally:
        sep.set_extract_pixstack(default)


def _regions(geo: _Geometry, coarse, excluded, star_region, noise: float,
             reference_density: float, use_brightness: bool = True) -> list[dict]:
    """The per-region map. ``use_brightness`` is off under moonlight: glare outshines clouds."""
    n = geo.n_regions
    coarse = coarse[: geo.sky.shape[0], : geo.sky.shape[1]]
    usable = geo.sky & ~excluded
    index = np.where(geo.sky, geo.region, n)  # n collects everything outside
    index_ok = np.where(usable, geo.region, n)
    area = np.bincount(index.ravel(), weights=geo.solid.ravel(), minlength=n + 1)[:n]
    area_ok = np.bincount(index_ok.ravel(), weights=geo.solid.ravel(), minlength=n + 1)[:n]
    effective = np.bincount(index_ok.ravel(), weights=(geo.solid * geo.weight).ravel(), minlength=n + 1)[:n]
    stars = np.bincount(star_region, minlength=n)[:n].astype(float) if len(star_region) else np.zeros(n)
    judged = (area > 0) & (area_ok > (1 - MOON_EXCLUDED) * area)
    level = ndimage.median_filter(coarse, 3)  # cell brightness without the stars in it
    texture = _texture(level, geo, usable, noise)

    best = _best_regions(stars, effective, judged)
    pooled = stars[best].sum() / max(effective[best].sum(), 1e-12) if len(best) else 0.0
    first = _star_fraction(stars, effective, max(CLEAR_SHARE * pooled, reference_density), judged)

    # Lit clouds: if the star-poor regions are clearly brighter than the star-rich ones, cells
    # brighter than halfway between the two levels are cloud. This maps cloud finer than stars can.
    bright = _bright_cells(level, geo, usable, best, first, noise) if use_brightness else None
    if bright is not None:
        share = np.bincount(index_ok.ravel(), weights=(bright & usable).ravel().astype(float), minlength=n + 1)[:n]
        cells = np.bincount(index_ok.ravel(), minlength=n + 1)[:n]
        bright_share = share / np.maximum(cells, 1)
    else:
        bright_share = None
    # The best regions calibrate the clear density; if they are partly clouded themselves
    # (bright cells, or blotchy texture where thin cloud dims every star alike), correct for it.
    contamination = np.minimum(_texture_cloud(texture), _blotchy_share(level, geo, usable, noise))
    if bright_share is not None:
        contamination = np.maximum(contamination, bright_share)
    if len(best):
        dirty = float(np.dot(effective[best], contamination[best]) / max(effective[best].sum(), 1e-12))
        pooled /= max(1.0 - dirty, 0.2)
    clear_density = max(CLEAR_SHARE * pooled, reference_density)
    fractions = _star_fraction(stars, effective, clear_density, judged)
    if bright_share is not None:
        # Stars are surest when none or all are missing; the brightness map refines the middle.
        margin = BRIGHT_MARGIN * (1.0 - np.abs(2.0 * fractions - 1.0)) + 0.1
        fractions = np.clip(bright_share, fractions - margin, fractions + margin)

    regions = []
    for i in range(n):
        if area[i] <= 0:
            continue
        alt_min, alt_max, az_min, az_max = geo.bounds(i)
        regions.append({"alt_min": round(alt_min, 1), "alt_max": round(min(alt_max, 90.0), 1),
                        "az_min": az_min, "az_max": az_max,
                        "cloud_fraction": round(float(fractions[i]), 3) if judged[i] else None,
                        "stars": int(stars[i]), "texture": round(float(texture[i]), 2),
                        "_area": float(area_ok[i])})
    return regions, float(clear_density)


def _star_fraction(stars, effective, clear_density: float, judged) -> np.ndarray:
    """Per region, the share of the expected stars that is missing, beyond Poisson noise."""
    expected = clear_density * effective
    allowance = np.minimum(NOISE_ALLOWANCE * np.sqrt(expected), 0.5 * expected)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = (expected - stars - allowance) / (expected - allowance)
    return np.where(judged & (expected > 0), np.clip(np.nan_to_num(fraction, nan=1.0), 0.0, 1.0), 1.0)


def _best_regions(stars, effective, judged) -> np.ndarray:
    """The regions with the most stars for their size, together ``BEST_SHARE`` of the judged area.

    Ranked by a cautious density (one sigma below the count) so that small lucky regions do not
    lead; only regions of a fair size take part. Pooling several keeps the selection bias small.
    """
    if not judged.any():
        return np.zeros(0, dtype=int)
    fair = judged & (effective >= 0.3 * np.median(effective[judged]))
    cautious = (stars - np.sqrt(stars)) / np.maximum(effective, 1e-12)
    order = [i for i in np.argsort(-cautious) if fair[i]]
    total = float(effective[fair].sum())
    picked, area = [], 0.0
    for i in order:
        picked.append(i)
        area += float(effective[i])
        if area >= BEST_SHARE * total and len(picked) >= 2:
            break
    return np.array(picked, dtype=int)


def _bright_cells(coarse, geo: _Geometry, usable, best, fraction, noise: float):
    """A map of cloud-bright cells, or None when this frame's clouds are not brighter than its sky."""
    star_rich = usable & np.isin(geo.region, best)
    star_poor = usable & np.isin(geo.region, np.nonzero(fraction >= 0.7)[0])
    if star_rich.sum() < 8 or star_poor.sum() < 8:
        return None
    clear_level = float(np.percentile(coarse[star_rich], 5))
    cloud_level = float(np.median(coarse[star_poor]))
    if cloud_level - clear_level < BRIGHT_CONTRAST * noise / geo.step:
        return None
    return coarse > 0.5 * (clear_level + cloud_level)


def _texture(level, geo: _Geometry, usable, noise: float) -> np.ndarray:
    """Per region: how blotchy the sky is at cloud scales, in units of the pixel noise.

    On the median-filtered coarse cells (stars gone), the large-scale gradient is removed, and the
    robust spread of what is left is compared with the noise a coarse cell would have from pixel
    noise alone. Clear sky scores about 1-4, lit clouds 5-30.
    """
    residual = level - ndimage.gaussian_filter(level, TEXTURE_SCALE)
    cell_noise = noise / geo.step
    out = np.zeros(geo.n_regions)
    for i in range(geo.n_regions):
        values = residual[usable & (geo.region == i)]
        if len(values) >= 8:
            out[i] = 1.4826 * np.median(np.abs(values - np.median(values))) / cell_noise
    return out


def _blotchy_share(level, geo: _Geometry, usable, noise: float) -> np.ndarray:
    """Per region, the share of its cells that are blotchy (residual beyond what a clear sky's
    texture allows): a region with a few lumpy clouds is only that much contaminated, however
    lumpy they are (the region-wide texture saturates at a few clouds)."""
    residual = np.abs(level - ndimage.gaussian_filter(level, TEXTURE_SCALE))
    blotchy = (residual > TEXTURE_CLEAR * noise / geo.step) & usable
    index = np.where(usable, geo.region, geo.n_regions)
    share = np.bincount(index.ravel(), weights=blotchy.ravel().astype(float), minlength=geo.n_regions + 1)
    cells = np.bincount(index.ravel(), minlength=geo.n_regions + 1)
    return (share / np.maximum(cells, 1))[: geo.n_regions]


def _texture_cloud(texture):
    return np.clip((np.asarray(texture) - TEXTURE_CLEAR) / (TEXTURE_CLOUDY - TEXTURE_CLEAR), 0.0, 1.0)
