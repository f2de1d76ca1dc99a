"""A deterministic synthetic star catalogue covering the whole sky.

The sky is cut into declination bands one degree high; each band is cut in
right ascension into cells of roughly one square degree (fewer, wider cells
toward the poles, so cell areas stay close to equal).  The stars of a cell
come from a random generator seeded by the cell's (band, column) index only,
so the same part of the sky always shows the same stars, whatever the
pointing, field size or order of the queries.

Inside a cell the stars form a Poisson process in "cumulative count" space:
the k-th brightest star sits where the expected number of stars brighter
than it, ``N(<m) = A * 10**(SLOPE * (m - 10))``, reaches the k-th arrival
time.  Stars are therefore drawn brightest first, and a shallow query sees
exactly the bright prefix of a deep one.  ``A`` (stars per square degree
brighter than magnitude 10) rises toward a fake galactic plane.  The counts
are steeper for bright stars (``BRIGHT_SLOPE`` below magnitude 10), which
gives a few thousand naked-eye stars over the whole sky.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

import numpy as np

#: changing this gives a different (but equally deterministic) sky
CATALOGUE_SEED = 0x0B5E_5C1E

#: slope of the cumulative number counts, log10 N(<m) per magnitude (m >= 10)
SLOPE = 0.3
#: the same slope for stars brighter than magnitude 10
BRIGHT_SLOPE = 0.45
#: stars per square degree brighter than magnitude 10 at the galactic poles
POLE_DENSITY_AT_10 = 3.0
#: how many times denser the galactic plane is than the poles
PLANE_CONTRAST = 9.0
#: e-folding scale height of the fake disc, in degrees of galactic latitude
PLANE_SCALE_DEG = 10.0
#: nothing brighter than this is generated
BRIGHTEST_MAG = -1.5

_BAND_DEG = 1.0
_N_BANDS = 180

# north galactic pole, J2000 (for the fake plane only)
_NGP_RA = math.radians(192.85948)
_NGP_DEC = math.radians(27.12825)

_CACHE_CELLS = 1024
_cache: OrderedDict[tuple[int, int], tuple[float, np.ndarray, np.ndarray, np.ndarray]] = OrderedDict()
_cache_lock = threading.Lock()


def _n_cols(band: int) -> int:
    """Number of RA cells in a declination band (equal-area-ish)."""
    dec_mid = -90.0 + (band + 0.5) * _BAND_DEG
    return max(1, int(round(360.0 * math.cos(math.radians(dec_mid)))))


def _cell_bounds(band: int, col: int) -> tuple[float, float, float, float]:
    n = _n_cols(band)
    width = 360.0 / n
    dec0 = -90.0 + band * _BAND_DEG
    return col * width, (col + 1) * width, dec0, dec0 + _BAND_DEG


def galactic_latitude_deg(ra_deg: float, dec_deg: float) -> float:
    ra, dec = math.radians(ra_deg), math.radians(dec_deg)
    sin_b = math.sin(dec) * math.sin(_NGP_DEC) + math.cos(dec) * math.cos(_NGP_DEC) * math.cos(ra - _NGP_RA)
    return math.degrees(math.asin(max(-1.0, min(1.0, sin_b))))


def density_at_10(ra_deg: float, dec_deg: float) -> float:
    """Stars per square degree brighter than magnitude 10 at this position."""
    b = abs(galactic_latitude_deg(ra_deg, dec_deg))
    return POLE_DENSITY_AT_10 * (1.0 + PLANE_CONTRAST * math.exp(-b / PLANE_SCALE_DEG))


def expected_count(mag_limit: float, density10: float, area_deg2: float) -> float:
    """Expected number of stars brighter than ``mag_limit`` in an area."""
    slope = SLOPE if mag_limit >= 10.0 else BRIGHT_SLOPE
    return density10 * area_deg2 * 10.0 ** (slope * (mag_limit - 10.0))


def _generate_cell(band: int, col: int, depth: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ra0, ra1, dec0, dec1 = _cell_bounds(band, col)
    s0, s1 = math.sin(math.radians(dec0)), math.sin(math.radians(dec1))
    area_deg2 = math.radians(ra1 - ra0) * (s1 - s0) * (180.0 / math.pi) ** 2
    a10 = density_at_10(0.5 * (ra0 + ra1), 0.5 * (dec0 + dec1))
    mu = expected_count(depth, a10, area_deg2)
    k = int(mu + 6.0 * math.sqrt(mu) + 16)
    while True:
        rng = np.random.default_rng(np.random.SeedSequence([CATALOGUE_SEED, band, col]))
        # one row per star: (arrival gap, ra, dec); rows are a stable prefix
        u = rng.random((k, 3))
        arrivals = np.cumsum(-np.log1p(-u[:, 0]))
        if arrivals[-1] > mu:
            break
        k *= 2
    n = int(np.searchsorted(arrivals, mu, side="right"))
    u = u[:n]
    log_x = np.log10(arrivals[:n] / (a10 * area_deg2))
    mag = 10.0 + log_x / np.where(log_x >= 0.0, SLOPE, BRIGHT_SLOPE)
    np.maximum(mag, BRIGHTEST_MAG, out=mag)
    ra = ra0 + (ra1 - ra0) * u[:, 1]
    dec = np.degrees(np.arcsin(s0 + (s1 - s0) * u[:, 2]))
    return ra, dec, mag


def _cell_stars(band: int, col: int, mag_limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    key = (band, col)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
    if hit is None or hit[0] < mag_limit:
        depth = max(mag_limit, 16.0)
        ra, dec, mag = _generate_cell(band, col, depth)
        hit = (depth, ra, dec, mag)
        with _cache_lock:
            _cache[key] = hit
            _cache.move_to_end(key)
            while len(_cache) > _CACHE_CELLS:
                _cache.popitem(last=False)
    _, ra, dec, mag = hit
    # magnitudes rise monotonically inside a cell: the bright prefix
    n = int(np.searchsorted(mag, mag_limit, side="right"))
    return ra[:n], dec[:n], mag[:n]


def _cells_for(ra_deg: float, dec_deg: float, radius_deg: float):
    dec_lo = max(-90.0, dec_deg - radius_deg)
    dec_hi = min(90.0, dec_deg + radius_deg)
    b_lo = max(0, int(math.floor((dec_lo + 90.0) / _BAND_DEG)))
    b_hi = min(_N_BANDS - 1, int(math.floor((dec_hi + 90.0) / _BAND_DEG)))
    if abs(dec_deg) + radius_deg >= 89.9:
        half_width = 180.0
    else:
        s = math.sin(math.radians(radius_deg)) / math.cos(math.radians(dec_deg))
        half_width = 180.0 if s >= 1.0 else math.degrees(math.asin(s)) + 1e-6
    for band in range(b_lo, b_hi + 1):
        n = _n_cols(band)
        if half_width >= 180.0:
            cols = range(n)
        else:
            width = 360.0 / n
            c_lo = int(math.floor((ra_deg - half_width) / width))
            c_hi = int(math.floor((ra_deg + half_width) / width))
            if c_hi - c_lo + 1 >= n:
                cols = range(n)
            else:
                cols = sorted({c % n for c in range(c_lo, c_hi + 1)})
        for col in cols:
            yield band, col


def stars_in_field(
    ra_deg: float, dec_deg: float, radius_deg: float, mag_limit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stars within ``radius_deg`` of (ra, dec), brighter than ``mag_limit``.

    Returns three float64 arrays (ra_deg, dec_deg, mag), sorted brightest
    first.  The result depends only on the arguments.
    """
    if radius_deg <= 0:
        empty = np.empty(0)
        return empty, empty.copy(), empty.copy()
    ra_deg = float(ra_deg) % 360.0
    dec_deg = float(dec_deg)
    radius_deg = min(float(radius_deg), 180.0)
    parts = [_cell_stars(b, c, mag_limit) for b, c in _cells_for(ra_deg, dec_deg, radius_deg)]
    if not parts:
        empty = np.empty(0)
        return empty, empty.copy(), empty.copy()
    ra = np.concatenate([p[0] for p in parts])
    dec = np.concatenate([p[1] for p in parts])
    mag = np.concatenate([p[2] for p in parts])
    # haversine separation from the field centre
    d0 = math.radians(dec_deg)
    dr = np.radians(dec)
    h = np.sin((dr - d0) * 0.5) ** 2 + math.cos(d0) * np.cos(dr) * np.sin(np.radians(ra - ra_deg) * 0.5) ** 2
    keep = h <= math.sin(math.radians(radius_deg) * 0.5) ** 2
    ra, dec, mag = ra[keep], dec[keep], mag[keep]
    order = np.argsort(mag, kind="stable")
    return ra[order], dec[order], mag[order]
