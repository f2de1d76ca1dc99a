"""The sky over a site for one night on a time grid: sun, moon, twilight, target altitudes.

Offline: astropy's bundled IERS table is used as it is (no downloads); its
precision is far beyond what planning needs.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import numpy as np

TWILIGHT_SUN_ALT = {"civil": -6.0, "nautical": -12.0, "astronomical": -18.0}


def _offline_astropy():
    from astropy.utils import iers

    iers.conf.auto_download = False
    iers.conf.auto_max_age = None


@dataclass(frozen=True)
class Site:
    latitude_deg: float
    longitude_deg: float
    elevation_m: float = 0.0
    horizon: tuple[tuple[float, float], ...] = ()  # (azimuth, altitude) points; empty = flat

    def horizon_alt(self, azimuth_deg: np.ndarray) -> np.ndarray:
        if not self.horizon:
            return np.zeros_like(azimuth_deg)
        points = sorted(self.horizon)
        az = np.array([p[0] for p in points] + [points[0][0] + 360.0])
        alt = np.array([p[1] for p in points] + [points[0][1]])
        return np.interp(np.mod(azimuth_deg, 360.0), az, alt, period=None)


class NightSky:
    """Sun, moon and any target on a regular grid from local noon to the next noon."""

    def __init__(self, site: Site, night: date, step_min: float = 10.0):
        _offline_astropy()
        import astropy.units as u
        from astropy.coordinates import AltAz, EarthLocation, get_body
        from astropy.time import Time

        self.site = site
        self.step = timedelta(minutes=step_min)
        # The night of a date starts at local noon (from the longitude) of that date.
        noon = datetime.combine(night, time(12), tzinfo=timezone.utc) - timedelta(hours=site.longitude_deg / 15.0)
        count = int(round(24 * 60 / step_min))
        self.times = [noon + i * self.step for i in range(count)]
        self._location = EarthLocation(lat=site.latitude_deg * u.deg, lon=site.longitude_deg * u.deg,
                                       height=site.elevation_m * u.m)
        self._atimes = Time(self.times)
        self._frame = AltAz(obstime=self._atimes, location=self._location)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sun = get_body("sun", self._atimes, self._location)
            moon = get_body("moon", self._atimes, self._location)
            self.sun_alt = sun.transform_to(self._frame).alt.deg
            moon_altaz = moon.transform_to(self._frame)
        self.moon_alt = moon_altaz.alt.deg
        self._moon = moon
        # Illuminated fraction from the sun–moon elongation (good to a few per cent).
        elongation = np.deg2rad(sun.separation(moon).deg)
        self.moon_illumination = (1 - np.cos(elongation)) / 2

    def dark(self, twilight: str = "astronomical") -> np.ndarray:
        return self.sun_alt < TWILIGHT_SUN_ALT[twilight]

    def night_bounds(self, twilight: str = "astronomical") -> tuple[datetime, datetime] | None:
        dark = np.flatnonzero(self.dark(twilight))
        if dark.size == 0:
            return None
        return self.times[dark[0]], self.times[dark[-1]] + self.step

    def target(self, ra_deg: float, dec_deg: float) -> "TargetTrack":
        import astropy.units as u
        from astropy.coordinates import SkyCoord

        coord = SkyCoord(ra_deg * u.deg, dec_deg * u.deg)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            altaz = coord.transform_to(self._frame)
            separation = self._moon.separation(coord).deg
        alt, az = altaz.alt.deg, altaz.az.deg
        return TargetTrack(alt=alt, az=az, moon_separation=separation,
                           above_horizon=alt > self.site.horizon_alt(az))


@dataclass
class TargetTrack:
    alt: np.ndarray
    az: np.ndarray
    moon_separation: np.ndarray
    above_horizon: np.ndarray

    @property
    def airmass(self) -> np.ndarray:
        # Kasten & Young's formula: finite at the horizon, close to sec(z) high up.
        zenith = 90.0 - np.clip(self.alt, 0.0, 90.0)
        return 1.0 / (np.cos(np.deg2rad(zenith)) + 0.50572 * (96.07995 - zenith) ** -1.6364)
