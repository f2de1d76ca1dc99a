# Measured capture times (2-core sandbox, numpy 2.4, Python 3.11; 60 s light in L toward M 31,
# default camera otherwise; best of 3 x 5 calls, sensor maps already built):
#   1280x1024, 645 stars rendered:   light 16 ms, dark 9 ms
#   4096x3072, 6335 stars rendered:  light 114 ms, dark 76 ms
#   4096x3072 with exact_poisson=True: light 368 ms
#   first capture of a size in a process (builds the sensor maps): 62 ms (1280x1024), 341 ms (4096x3072)
#   sky.stars_in_field(..., radius 1 deg, mag 19), cell cache cleared: 2.9 ms (M 31, 9578 stars),
#   1.2 ms (RA 150 Dec +55, 5091 stars), 18 ms (galactic centre, 45623 stars)
# Command (from the repository root; set width/height and 'light'/'dark'):
#   .venv/bin/python -m timeit -n 5 -r 3 -s "from datetime import datetime; \
#     from node_telescope.simulator import SimulatedCamera; c = SimulatedCamera(width=4096, height=3072); \
#     c.capture(10.68, 41.27, 60, 'L', 'light', datetime(2024, 9, 1, 22))" \
#     "c.capture(10.68, 41.27, 60, 'L', 'light', datetime(2024, 9, 1, 22), rng_seed=1)"
"""Simulated astronomical camera: FITS frames like INDI/EKOS writes, without hardware.

What the model does
-------------------
* Light frames show the synthetic catalogue of :mod:`.sky` through a TAN
  projection whose WCS is written into the header; the star positions are
  computed through that same WCS, so a plate solution of the frame is exact.
  Stars are pixel-integrated Gaussians (FWHM = seeing), rendered only on a
  small stamp around each star, with exact Poisson noise.
* The background (sky, dark current, flat-panel light) uses the normal
  approximation of Poisson noise (mean lambda, variance lambda + read noise
  squared), which keeps a 12-megapixel frame well under half a second; set
  ``exact_poisson=True`` for a true Poisson draw (several times slower).
* Every frame type shares one simulated sensor, fixed by ``sensor_seed``:
  vignetting and pixel response non-uniformity (seen by lights and flats),
  hot pixels (lights and darks, scaled by exposure and temperature) and a
  column bias pattern (every frame).  Master calibration frames made from
  this camera therefore really calibrate its lights.
* Flats are lit so that the centre reaches ``flat_level`` of full scale,
  whatever the exposure (as if the panel brightness had been matched).
* ``capture`` returns at once; waiting for the exposure to end is the
  caller's business (simulated time may run faster than real time).
* Data are uint16, written as BITPIX=16 with BZERO=32768 like real cameras.
  With ``bit_depth`` < 16 the values are multiples of 2**(16 - bit_depth),
  as cameras that left-align their ADC output produce.
"""

from __future__ import annotations

import io
import math
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from .sky import stars_in_field

FRAME_TYPES = ("light", "dark", "flat", "bias")
#: IMAGETYP as INDI writes it, FRAME as KStars/EKOS writes it
IMAGETYP = {"light": "Light Frame", "dark": "Dark Frame", "flat": "Flat Frame", "bias": "Bias Frame"}
FRAME = {"light": "Light", "dark": "Dark", "flat": "Flat", "bias": "Bias"}

#: broadband (clear/luminance) electrons per second per cm^2 of aperture for a magnitude-0 star,
#: quantum efficiency and optics included
FLUX0_E_PER_S_CM2 = 1.0e6

#: relative throughput (stars, sky background) per filter, against luminance
_FILTERS: dict[str, tuple[float, float]] = {
    "l": (1.0, 1.0), "lum": (1.0, 1.0), "luminance": (1.0, 1.0), "clear": (1.0, 1.0),
    "c": (1.0, 1.0), "none": (1.0, 1.0), "": (1.0, 1.0),
    "r": (0.32, 0.35), "red": (0.32, 0.35), "g": (0.30, 0.30), "green": (0.30, 0.30),
    "b": (0.25, 0.25), "blue": (0.25, 0.25), "v": (0.30, 0.30), "i": (0.25, 0.30),
    "ha": (0.025, 0.015), "h-alpha": (0.025, 0.015), "halpha": (0.025, 0.015), "h": (0.025, 0.015),
    "oiii": (0.025, 0.02), "o3": (0.025, 0.02), "o": (0.025, 0.02),
    "sii": (0.02, 0.012), "s2": (0.02, 0.012), "s": (0.02, 0.012),
    "dark": (0.0, 0.0), "blank": (0.0, 0.0),
}
_OTHER_FILTER = (0.3, 0.3)

_FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
_SQRT2 = math.sqrt(2.0)


def filter_throughput(filter_name: str | None) -> tuple[float, float]:
    """(star, sky) throughput of a filter relative to luminance."""
    key = (filter_name or "").strip().lower()
    return _FILTERS.get(key, _OTHER_FILTER)


def _erf(x: np.ndarray) -> np.ndarray:
    """Vectorised error function (Abramowitz & Stegun 7.1.26, |error| < 1.5e-7)."""
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.copysign(1.0 - poly * np.exp(-a * a), x)


def _utc(when: datetime | None) -> datetime:
    if when is None:
        return datetime.now(timezone.utc).replace(tzinfo=None)
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc).replace(tzinfo=None)
    return when


def format_ra(ra_deg: float) -> str:
    """'HH MM SS.ss'"""
    cs = int(round((ra_deg % 360.0) / 15.0 * 360000.0)) % (24 * 360000)
    h, rest = divmod(cs, 360000)
    m, rest = divmod(rest, 6000)
    return f"{h:02d} {m:02d} {rest // 100:02d}.{rest % 100:02d}"


def format_dec(dec_deg: float) -> str:
    """'+DD MM SS.s'"""
    sign = "-" if dec_deg < 0 else "+"
    ds = int(round(abs(dec_deg) * 36000.0))
    d, rest = divmod(ds, 36000)
    m, rest = divmod(rest, 600)
    return f"{sign}{d:02d} {m:02d} {rest // 10:02d}.{rest % 10:d}"


def altitude_deg(ra_deg: float, dec_deg: float, when: datetime, lat_deg: float, lon_deg: float) -> float:
    """Altitude of a J2000 position (precession ignored; good to a few tenths of a degree)."""
    when = _utc(when)
    jd = 2440587.5 + (when - datetime(1970, 1, 1)).total_seconds() / 86400.0
    gmst = 280.46061837 + 360.98564736629 * (jd - 2451545.0)
    ha = math.radians((gmst + lon_deg - ra_deg) % 360.0)
    lat, dec = math.radians(lat_deg), math.radians(dec_deg)
    s = math.sin(lat) * math.sin(dec) + math.cos(lat) * math.cos(dec) * math.cos(ha)
    return math.degrees(math.asin(max(-1.0, min(1.0, s))))


def airmass_from_altitude(alt_deg: float) -> float | None:
    """Kasten & Young (1989) airmass; None below the horizon."""
    if alt_deg <= 0.0:
        return None
    return 1.0 / (math.sin(math.radians(alt_deg)) + 0.50572 * (alt_deg + 6.07995) ** -1.6364)


_BLOCK_ROWS = 256  # frames are simulated in bands of rows, each with its own random stream
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()
_SENSORS: OrderedDict[tuple, "_Sensor"] = OrderedDict()  # a few sensors, shared by equal cameras


def _pool() -> ThreadPoolExecutor | None:
    """Worker threads for the row bands (numpy releases the GIL); results do not depend on them."""
    global _POOL
    workers = min(4, os.cpu_count() or 1)
    if workers < 2:
        return None
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="obsy-simcam")
        return _POOL


def _run_blocks(fn, n_blocks: int) -> None:
    pool = _pool()
    if pool is None or n_blocks < 2:
        for i in range(n_blocks):
            fn(i)
    else:
        list(pool.map(fn, range(n_blocks)))


def to_bytes(hdul: fits.HDUList) -> bytes:
    """The FITS file as bytes (what the spool writes and the uploader sends)."""
    buf = io.BytesIO()
    hdul.writeto(buf, output_verify="exception")
    return buf.getvalue()


@dataclass
class _Sensor:
    key: tuple
    response: np.ndarray  # float32 (H, W): vignetting x PRNU, 1.0 at the centre
    hot_index: np.ndarray  # flat indices of hot pixels
    hot_rate: np.ndarray  # their dark current, e-/s at the reference temperature
    column_bias: np.ndarray  # float32 (W,), ADU


@dataclass
class SimulatedCamera:
    """Configuration of a simulated mono camera on a telescope, and its ``capture``."""

    width: int = 1280
    height: int = 1024
    pixel_size_um: float = 3.76
    focal_length_mm: float = 530.0
    aperture_mm: float = 106.0
    bit_depth: int = 16
    read_noise_e: float = 3.5
    gain_e_per_adu: float = 1.0
    gain_setting: int = 100  # GAIN keyword: the driver's gain control, not e-/ADU
    offset_setting: int = 50  # OFFSET keyword
    dark_current_e_per_s: float = 0.01  # per pixel at dark_reference_temp_c
    dark_reference_temp_c: float = -10.0
    dark_doubling_c: float = 6.0  # dark current doubles every this many degrees
    bias_level_adu: float = 500.0
    seeing_fwhm_arcsec: float = 3.0
    sky_e_per_s: float = 2.0  # per pixel, luminance filter
    zero_point_mag: float | None = None  # magnitude giving 1 e-/s (luminance); None: from aperture
    extinction_mag_per_airmass: float = 0.2
    rotation_deg: float = 0.0  # position angle of the frame's up direction, east of north
    vignetting: float = 0.25  # fraction of light lost in the corners
    prnu: float = 0.005  # pixel response non-uniformity, rms
    hot_pixel_fraction: float = 1e-4
    flat_level: float = 0.5  # flat centre level, fraction of full scale
    mag_limit: float = 19.0  # faintest catalogue star ever rendered
    exact_poisson: bool = False
    sensor_seed: int = 1
    camera_name: str = "OBSY Simulator CCD"
    telescope_name: str = "OBSY Simulator Telescope"
    observer: str = "OBSY"
    _sensor: _Sensor | None = field(default=None, init=False, repr=False, compare=False)

    # ----------------------------------------------------------------- optics
    @property
    def plate_scale_arcsec(self) -> float:
        """Arcseconds per pixel."""
        return 206.264806 * self.pixel_size_um / self.focal_length_mm

    @property
    def field_of_view_deg(self) -> tuple[float, float]:
        s = self.plate_scale_arcsec / 3600.0
        return self.width * s, self.height * s

    @property
    def fwhm_px(self) -> float:
        return self.seeing_fwhm_arcsec / self.plate_scale_arcsec

    @property
    def zero_point(self) -> float:
        if self.zero_point_mag is not None:
            return self.zero_point_mag
        area_cm2 = math.pi * (self.aperture_mm / 20.0) ** 2
        return 2.5 * math.log10(FLUX0_E_PER_S_CM2 * area_cm2)

    @property
    def full_scale_adu(self) -> int:
        q = 1 << (16 - self.bit_depth)
        return ((1 << self.bit_depth) - 1) * q

    def wcs_cards(self, ra_deg: float, dec_deg: float) -> list[tuple[str, Any, str]]:
        """TAN WCS of a frame centred on (ra, dec), for rows stored top-down (north up at PA 0)."""
        s = self.plate_scale_arcsec / 3600.0
        th = math.radians(self.rotation_deg)
        c, n = math.cos(th), math.sin(th)
        # east to the left for increasing x; y grows downward (ROWORDER TOP-DOWN)
        cd11, cd12 = -s * c + 0.0, -s * n + 0.0
        cd21, cd22 = s * n + 0.0, -s * c + 0.0
        return [
            ("CTYPE1", "RA---TAN", "gnomonic projection"),
            ("CTYPE2", "DEC--TAN", "gnomonic projection"),
            ("CUNIT1", "deg", ""),
            ("CUNIT2", "deg", ""),
            ("RADESYS", "ICRS", ""),
            ("EQUINOX", 2000.0, "equinox of the coordinates"),
            ("CRVAL1", float(ra_deg % 360.0), "RA of the reference pixel (deg)"),
            ("CRVAL2", float(dec_deg), "Dec of the reference pixel (deg)"),
            ("CRPIX1", (self.width + 1) / 2.0, "reference pixel, axis 1"),
            ("CRPIX2", (self.height + 1) / 2.0, "reference pixel, axis 2"),
            ("CD1_1", cd11, "deg per pixel"),
            ("CD1_2", cd12, "deg per pixel"),
            ("CD2_1", cd21, "deg per pixel"),
            ("CD2_2", cd22, "deg per pixel"),
        ]

    def wcs(self, ra_deg: float, dec_deg: float) -> WCS:
        hdr = fits.Header()
        hdr["NAXIS"] = 2
        hdr["NAXIS1"] = self.width
        hdr["NAXIS2"] = self.height
        for k, v, _ in self.wcs_cards(ra_deg, dec_deg):
            hdr[k] = v
        return WCS(hdr)

    # ----------------------------------------------------------------- sensor
    def _get_sensor(self) -> _Sensor:
        key = (self.width, self.height, self.vignetting, self.prnu, self.hot_pixel_fraction, self.sensor_seed)
        if self._sensor is not None and self._sensor.key == key:
            return self._sensor
        with _POOL_LOCK:
            cached = _SENSORS.get(key)
        if cached is not None:
            self._sensor = cached
            return cached
        w, h = self.width, self.height
        root = np.random.SeedSequence([0x5E4505, self.sensor_seed, w, h])
        defect_seed, *block_seeds = root.spawn(1 + (h + _BLOCK_ROWS - 1) // _BLOCK_ROWS)
        xx = (np.arange(w, dtype=np.float32) - np.float32((w - 1) / 2.0)) ** 2
        yy = (np.arange(h, dtype=np.float32) - np.float32((h - 1) / 2.0)) ** 2
        corner = np.float32(xx[0] + yy[0])
        response = np.empty((h, w), dtype=np.float32)

        def block(i: int) -> None:
            r0, r1 = i * _BLOCK_ROWS, min(h, (i + 1) * _BLOCK_ROWS)
            out = response[r0:r1]
            np.add(yy[r0:r1, None], xx[None, :], out=out)
            out *= np.float32(-self.vignetting) / corner
            out += np.float32(1.0)
            if self.prnu > 0:
                prnu = np.random.default_rng(block_seeds[i]).standard_normal(out.shape, dtype=np.float32)
                prnu *= np.float32(self.prnu)
                prnu += np.float32(1.0)
                out *= prnu

        _run_blocks(block, len(block_seeds))
        rng = np.random.default_rng(defect_seed)
        n_hot = int(round(self.hot_pixel_fraction * w * h))
        hot_index = np.sort(rng.choice(w * h, size=n_hot, replace=False)) if n_hot else np.empty(0, np.int64)
        # mostly warm pixels, a tail of really hot ones (e-/s at the reference temperature)
        hot_rate = np.minimum(0.2 * 10.0 ** rng.exponential(0.5, n_hot), 200.0)
        column_bias = rng.normal(0.0, 1.0, w).astype(np.float32)
        self._sensor = _Sensor(key, response, hot_index, hot_rate, column_bias)
        with _POOL_LOCK:
            _SENSORS[key] = self._sensor
            while len(_SENSORS) > 3:
                _SENSORS.popitem(last=False)
        return self._sensor

    def dark_current_at(self, ccd_temp_c: float) -> float:
        """Mean dark current, e-/s per pixel, at a sensor temperature (hot pixels scale alike)."""
        return self.dark_current_e_per_s * 2.0 ** ((ccd_temp_c - self.dark_reference_temp_c) / self.dark_doubling_c)

    # ----------------------------------------------------------------- stars
    def stars_on_frame(
        self,
        ra_deg: float,
        dec_deg: float,
        exposure_s: float,
        filter_name: str | None = "L",
        airmass: float | None = None,
        mag_limit: float | None = None,
    ) -> dict[str, np.ndarray]:
        """Catalogue stars that land on (or next to) the frame: ra, dec, mag, x, y (0-based), electrons.

        x, y are 0-based pixel coordinates of the stored array (data[y, x]).
        """
        star_t, sky_t = filter_throughput(filter_name)
        if mag_limit is None:
            mag_limit = self._render_limit(exposure_s, star_t, sky_t)
        sigma = self.fwhm_px / _FWHM_PER_SIGMA
        margin_px = 4.0 * sigma + 3.0
        half_diag_px = 0.5 * math.hypot(self.width, self.height) + margin_px
        radius = half_diag_px * self.plate_scale_arcsec / 3600.0
        ra, dec, mag = stars_in_field(ra_deg, dec_deg, radius, mag_limit)
        x, y = self.wcs(ra_deg, dec_deg).wcs_world2pix(ra, dec, 0)
        keep = (x > -margin_px) & (x < self.width - 1 + margin_px) & (y > -margin_px) & (y < self.height - 1 + margin_px)
        ext = 10.0 ** (-0.4 * self.extinction_mag_per_airmass * airmass) if airmass else 1.0
        electrons = 10.0 ** (-0.4 * (mag[keep] - self.zero_point)) * star_t * ext * exposure_s
        return {"ra": ra[keep], "dec": dec[keep], "mag": mag[keep], "x": x[keep], "y": y[keep], "electrons": electrons}

    def _render_limit(self, exposure_s: float, star_t: float, sky_t: float) -> float:
        """Stars whose peak is under half the background noise are not worth drawing."""
        if star_t <= 0 or exposure_s <= 0:
            return -99.0
        sigma2 = (self.fwhm_px / _FWHM_PER_SIGMA) ** 2 + 1.0 / 12.0
        peak_fraction = min(1.0, 1.0 / (2.0 * math.pi * sigma2))
        bg_sigma = math.sqrt(
            (self.sky_e_per_s * sky_t + self.dark_current_e_per_s) * exposure_s + self.read_noise_e**2
        )
        limit = self.zero_point + 2.5 * math.log10(star_t * exposure_s * peak_fraction / (0.5 * bg_sigma))
        return min(self.mag_limit, limit)

    def _star_electrons(self, x: np.ndarray, y: np.ndarray, e: np.ndarray, response: np.ndarray,
                        rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Poisson photo-electrons of every star, on a stamp around each: (flat pixel index, e-), by index."""
        h, w = response.shape
        sigma = self.fwhm_px / _FWHM_PER_SIGMA
        inv = 1.0 / (_SQRT2 * sigma)
        peak = e / (2.0 * math.pi * sigma * sigma)
        # stamp radius: out to where the profile falls below 0.05 e-
        need = sigma * np.sqrt(2.0 * np.log(np.maximum(peak / 0.05, 1.0)))
        radius = np.clip(np.ceil(need), max(2, math.ceil(2.5 * sigma)), 100).astype(np.int64)
        flat_resp = response.reshape(-1)
        all_idx, all_e = [], []
        for r in np.unique(radius):
            sel = radius == r
            xs, ys, es = x[sel], y[sel], e[sel]
            offs = np.arange(-r, r + 1)
            px = np.rint(xs).astype(np.int64)[:, None] + offs  # (N, S)
            py = np.rint(ys).astype(np.int64)[:, None] + offs
            wx = 0.5 * (_erf((px + 0.5 - xs[:, None]) * inv) - _erf((px - 0.5 - xs[:, None]) * inv))
            wy = 0.5 * (_erf((py + 0.5 - ys[:, None]) * inv) - _erf((py - 0.5 - ys[:, None]) * inv))
            wx = np.where((px >= 0) & (px < w), wx, 0.0)
            wy = np.where((py >= 0) & (py < h), wy, 0.0)
            lam = es[:, None, None] * wy[:, :, None] * wx[:, None, :]  # (N, S, S)
            idx = np.clip(py, 0, h - 1)[:, :, None] * w + np.clip(px, 0, w - 1)[:, None, :]
            on = lam > 0
            idx = idx[on]
            all_idx.append(idx)
            all_e.append(rng.poisson(lam[on] * flat_resp[idx]).astype(np.float32))
        idx = np.concatenate(all_idx)
        counts = np.concatenate(all_e)
        order = np.argsort(idx, kind="stable")
        return idx[order], counts[order]

    # ----------------------------------------------------------------- capture
    def capture(
        self,
        ra_deg: float | None = None,
        dec_deg: float | None = None,
        exposure_s: float = 1.0,
        filter_name: str | None = "L",
        frame_type: str = "light",
        when: datetime | None = None,
        object_name: str | None = None,
        site: tuple[float, float, float] | None = None,
        ccd_temp_c: float = -10.0,
        rng_seed: int | None = None,
    ) -> fits.HDUList:
        """Expose one frame and return it as a FITS HDUList (uint16, BZERO 32768).

        ``when`` is the UTC start of the exposure (naive datetimes are taken as UTC);
        ``site`` is (latitude deg, east longitude deg, elevation m).
        """
        kind = str(frame_type).strip().lower()
        if kind not in FRAME_TYPES:
            raise ValueError(f"frame_type must be one of {FRAME_TYPES}, not {frame_type!r}")
        if exposure_s < 0 or not math.isfinite(exposure_s):
            raise ValueError(f"exposure_s must be >= 0, not {exposure_s!r}")
        if kind == "light" and (ra_deg is None or dec_deg is None):
            raise ValueError("a light frame needs ra_deg and dec_deg")
        if not 8 <= int(self.bit_depth) <= 16:
            raise ValueError(f"bit_depth must be between 8 and 16, not {self.bit_depth!r}")
        when = _utc(when)
        sensor = self._get_sensor()
        h, w = self.height, self.width
        star_t, sky_t = filter_throughput(filter_name)
        gain = float(self.gain_e_per_adu)

        alt = airmass = None
        if site is not None and ra_deg is not None and dec_deg is not None:
            alt = altitude_deg(ra_deg, dec_deg, when, site[0], site[1])
            airmass = airmass_from_altitude(alt)

        # stars first, as a sparse list of (pixel index, photo-electrons), sorted by index
        star_idx = np.empty(0, np.int64)
        star_e = np.empty(0, np.float32)
        seeds = np.random.SeedSequence(rng_seed)
        star_seed, *block_seeds = seeds.spawn(1 + (h + _BLOCK_ROWS - 1) // _BLOCK_ROWS)
        if kind == "light" and exposure_s > 0 and star_t > 0:
            st = self.stars_on_frame(ra_deg, dec_deg, exposure_s, filter_name, airmass)
            if len(st["x"]):
                star_idx, star_e = self._star_electrons(
                    st["x"], st["y"], st["electrons"], sensor.response, np.random.default_rng(star_seed)
                )

        # expected background electrons per pixel: a scale on the response map, or flat
        dark_e = self.dark_current_at(ccd_temp_c) * exposure_s
        if kind == "light":
            bg_scale, bg_const = self.sky_e_per_s * sky_t * exposure_s, dark_e
        elif kind == "flat":
            bg_scale, bg_const = self.flat_level * (self.full_scale_adu - self.bias_level_adu) * gain, dark_e
        else:
            bg_scale, bg_const = 0.0, dark_e
        temp_factor = 2.0 ** ((ccd_temp_c - self.dark_reference_temp_c) / self.dark_doubling_c)
        hot_e = (sensor.hot_rate * temp_factor * exposure_s).astype(np.float32)
        offset_row = (sensor.column_bias + np.float32(self.bias_level_adu)).astype(np.float32)
        data = np.empty((h, w), dtype=np.uint16)
        q = 1 << (16 - int(self.bit_depth))
        full = np.float32(self.full_scale_adu)
        rn2 = np.float32(self.read_noise_e**2)
        inv_gain = np.float32(1.0 / gain)

        def block(i: int) -> None:
            r0, r1 = i * _BLOCK_ROWS, min(h, (i + 1) * _BLOCK_ROWS)
            brng = np.random.default_rng(block_seeds[i])
            if bg_scale > 0:
                lam = sensor.response[r0:r1] * np.float32(bg_scale)
                lam += np.float32(bg_const)
            else:
                lam = np.full((r1 - r0, w), bg_const, dtype=np.float32)
            lo, hi = np.searchsorted(sensor.hot_index, [r0 * w, r1 * w])
            if hi > lo:
                lam.reshape(-1)[sensor.hot_index[lo:hi] - r0 * w] += hot_e[lo:hi]
            if self.exact_poisson:
                img = brng.poisson(lam).astype(np.float32)
                img += brng.standard_normal(lam.shape, dtype=np.float32) * np.float32(self.read_noise_e)
            else:
                img = brng.standard_normal(lam.shape, dtype=np.float32)
                img *= np.sqrt(lam + rn2)
                img += lam
            lo, hi = np.searchsorted(star_idx, [r0 * w, r1 * w])
            if hi > lo:
                np.add.at(img.reshape(-1), star_idx[lo:hi] - r0 * w, star_e[lo:hi])
            # electrons -> ADU
            img *= inv_gain
            img += offset_row
            np.rint(img, out=img)
            if q > 1:
                img /= q
                np.floor(img, out=img)
                img *= q
            np.clip(img, 0, full, out=img)
            data[r0:r1] = img

        _run_blocks(block, len(block_seeds))

        hdr = self._header(
            kind, ra_deg, dec_deg, exposure_s, filter_name, when, object_name, site, ccd_temp_c, alt, airmass
        )
        hdu = fits.PrimaryHDU(data=data, header=hdr)
        # EXTEND, BSCALE, BZERO right after the mandatory keywords, in the order astropy writes them
        hh = hdu.header
        hh.insert("NAXIS2", ("EXTEND", True, "FITS dataset may contain extensions"), after=True)
        for key, comment in (("BZERO", "offset data range to that of unsigned short"),
                             ("BSCALE", "default scaling factor")):
            value = hh[key]
            del hh[key]
            hh.insert("EXTEND", (key, value, comment), after=True)
        return fits.HDUList([hdu])

    def _header(self, kind, ra_deg, dec_deg, exposure_s, filter_name, when, object_name, site, ccd_temp_c,
                alt, airmass) -> fits.Header:
        hdr = fits.Header()
        scale = self.plate_scale_arcsec
        cards: list[tuple[str, Any, str]] = [
            ("ROWORDER", "TOP-DOWN", "Row order"),
            ("INSTRUME", self.camera_name, "CCD name"),
            ("TELESCOP", self.telescope_name, "Telescope name"),
            ("OBSERVER", self.observer, "Observer name"),
        ]
        if object_name:
            cards.append(("OBJECT", str(object_name), "Object name"))
        cards += [
            ("EXPTIME", float(exposure_s), "Total exposure time (s)"),
            ("CCD-TEMP", float(ccd_temp_c), "CCD temperature (Celsius)"),
            ("SET-TEMP", float(ccd_temp_c), "CCD temperature setpoint (Celsius)"),
            ("PIXSIZE1", float(self.pixel_size_um), "Pixel size 1 (microns)"),
            ("PIXSIZE2", float(self.pixel_size_um), "Pixel size 2 (microns)"),
            ("XBINNING", 1, "Binning factor in width"),
            ("YBINNING", 1, "Binning factor in height"),
            ("XPIXSZ", float(self.pixel_size_um), "X binned pixel size (microns)"),
            ("YPIXSZ", float(self.pixel_size_um), "Y binned pixel size (microns)"),
            ("FRAME", FRAME[kind], "Frame type"),
            ("IMAGETYP", IMAGETYP[kind], "Frame type"),
        ]
        if filter_name is not None:
            cards.append(("FILTER", str(filter_name), "Filter"))
        cards += [
            ("GAIN", int(self.gain_setting), "Gain"),
            ("OFFSET", int(self.offset_setting), "Offset"),
            ("EGAIN", float(self.gain_e_per_adu), "Electrons per ADU"),
            ("FOCALLEN", float(self.focal_length_mm), "Focal length (mm)"),
            ("APTDIA", float(self.aperture_mm), "Telescope aperture (mm)"),
            ("SCALE", round(scale, 6), "Arcseconds per pixel"),
        ]
        if site is not None:
            cards += [
                ("SITELAT", float(site[0]), "Site latitude (deg)"),
                ("SITELONG", float(site[1]), "Site east longitude (deg)"),
            ]
            if len(site) > 2 and site[2] is not None:
                cards.append(("SITEELEV", float(site[2]), "Site elevation (m)"))
        if kind == "light" and alt is not None:
            cards.append(("OBJCTALT", round(alt, 4), "Object altitude (deg)"))
            if airmass is not None:
                cards.append(("AIRMASS", round(airmass, 4), "Airmass"))
        if ra_deg is not None and dec_deg is not None:
            cards += [
                ("OBJCTRA", format_ra(ra_deg), "Object J2000 RA (hours)"),
                ("OBJCTDEC", format_dec(dec_deg), "Object J2000 Dec (degrees)"),
                ("RA", float(ra_deg % 360.0), "Object J2000 RA (deg)"),
                ("DEC", float(dec_deg), "Object J2000 Dec (deg)"),
            ]
        cards.append(("DATE-OBS", when.isoformat(timespec="milliseconds"), "UTC start of the exposure"))
        mjd = (when - datetime(1858, 11, 17)).total_seconds() / 86400.0
        cards.append(("MJD-OBS", round(mjd, 8), "MJD of the start of the exposure"))
        if kind == "light":
            cards += self.wcs_cards(ra_deg, dec_deg)
        cards.append(("SWCREATE", "OBSY simulator", "Software that made this file"))
        for key, value, comment in cards:
            hdr[key] = (value, comment)
        return hdr
