"""The sky over a site for one night on a time grid: sun, moon, twilight, target altitudes.

Two grids: planning slots of ``step_min`` (noon to noon), and a fine grid of
``sub`` samples per slot, ends included, on which constraints are checked so
that a block holds them at every instant from its start to its end.

Targets are computed many at a time: their apparent place (precession,
nutation, aberration) once for the night, then hour angle against the local
apparent sidereal time of every sample. That agrees with astropy's AltAz to a
few arcseconds for stars (no refraction, like AltAz without pressure) and is
what lets a thousand targets be planned in well under a second.

Offline: astropy's bundled IERS table is used as it is (no downloads).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

import numpy as np

TWILIGHT_SUN_ALT = {"civil": -6.0, "nautical": -12.0, "astronomical": -18.0}


def offline_astropy():
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


def _unit(ra_deg, dec_deg) -> np.ndarray:
    ra, dec = np.deg2rad(ra_deg), np.deg2rad(dec_deg)
    return np.stack([np.cos(dec) * np.cos(ra), np.cos(dec) * np.sin(ra), np.sin(dec)], axis=-1)


def night_start(site: Site, night: date, step: timedelta = timedelta(minutes=10)) -> datetime:
    """Where a night's grid starts: local mean noon (from the longitude) of the night's date, moved
    back to a whole multiple of ``step``, so that windows such as 20:00–21:00 fall on slot edges."""
    noon = datetime.combine(night, time(12), tzinfo=timezone.utc) - timedelta(hours=site.longitude_deg / 15.0)
    return noon - timedelta(seconds=noon.timestamp() % step.total_seconds())


class NightSky:
    """Sun, moon and any target from local noon to the next noon."""

    def __init__(self, site: Site, night: date, step_min: float = 10.0, sub: int = 10):
        offline_astropy()
        import astropy.units as u
        from astropy.coordinates import TETE, AltAz, EarthLocation, get_body
        from astropy.time import Time
        from scipy.interpolate import CubicSpline

        self.site = site
        self.night = night
        self.step = timedelta(minutes=step_min)
        self.sub = sub
        noon = night_start(site, night, self.step)
        count = int(round(24 * 60 / step_min))
        self.times = [noon + i * self.step for i in range(count)]
        fine_step = self.step / sub
        self.fine_times = [noon + k * fine_step for k in range(count * sub + 1)]
        self._location = EarthLocation(lat=site.latitude_deg * u.deg, lon=site.longitude_deg * u.deg,
                                       height=site.elevation_m * u.m)
        # Sun, moon and sidereal time from astropy at the slot edges, interpolated onto the fine grid:
        # they move smoothly (cubic interpolation over 10 minutes is good to far below an arcsecond)
        # and astropy's ephemerides cost seconds per thousand instants.
        edges = Time(self.times + [self.times[-1] + self.step])
        frame = AltAz(obstime=edges, location=self._location)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sun = get_body("sun", edges, self._location)
            moon = get_body("moon", edges, self._location)
            sun_alt = sun.transform_to(frame).alt.deg
            moon_alt = moon.transform_to(frame).alt.deg
            last = np.unwrap(edges.sidereal_time("apparent", longitude=site.longitude_deg * u.deg).rad)
            self._mid = edges[len(edges) // 2]
            # The moon seen from the site, in the targets' frame (true equator and equinox).
            moon_tete = moon.transform_to(TETE(obstime=edges, location=self._location))
        elongation = np.deg2rad(sun.separation(moon).deg)
        at = np.arange(count * sub + 1) / sub  # fine samples in units of slots

        def fine(values):
            return CubicSpline(np.arange(count + 1), values, axis=0)(at)

        self.fine_sun_alt = fine(sun_alt)
        self.fine_moon_alt = fine(moon_alt)
        self._last = np.interp(at, np.arange(count + 1), last)
        self._cos_last, self._sin_last = np.cos(self._last), np.sin(self._last)
        below = np.flatnonzero(self.fine_sun_alt < 0)
        self._night_span = (int(below[0]), int(below[-1]) + 1) if below.size else (0, 0)
        moon_unit = fine(_unit(moon_tete.ra.deg, moon_tete.dec.deg))
        self._moon_unit = moon_unit / np.linalg.norm(moon_unit, axis=1, keepdims=True)
        # Illuminated fraction from the sun–moon elongation (good to a few per cent).
        self.fine_moon_illumination = (1 - np.cos(fine(elongation))) / 2
        self.sun_alt = self.fine_sun_alt[:-1:sub]
        self.moon_alt = self.fine_moon_alt[:-1:sub]
        self.moon_illumination = self.fine_moon_illumination[:-1:sub]

    def dark(self, twilight: str = "astronomical") -> np.ndarray:
        return self.sun_alt < TWILIGHT_SUN_ALT[twilight]

    def fine_dark(self, twilight: str = "astronomical") -> np.ndarray:
        return self.fine_sun_alt < TWILIGHT_SUN_ALT[twilight]

    def slots_where(self, fine_ok: np.ndarray) -> np.ndarray:
        """Per slot (last axis), True when every fine sample from its start to its end is True."""
        n = len(self.times)
        inside = fine_ok[..., :-1].reshape(*fine_ok.shape[:-1], n, self.sub).all(axis=-1)
        return inside & fine_ok[..., self.sub::self.sub]

    def night_bounds(self, twilight: str = "astronomical") -> tuple[datetime, datetime] | None:
        """First and last dark instant, to the fine grid's precision."""
        dark = np.flatnonzero(self.fine_dark(twilight))
        if dark.size == 0:
            return None
        return self.fine_times[dark[0]], self.fine_times[dark[-1]]

    def tracks(self, ra_deg, dec_deg, full_day: bool = False, azimuth: bool = False) -> "TargetTrack":
        """Altitude, azimuth and moon separation of many targets on the fine grid: shape (targets, samples)."""
        import astropy.units as u
        from astropy.coordinates import TETE, SkyCoord

        coord = SkyCoord(np.atleast_1d(ra_deg) * u.deg, np.atleast_1d(dec_deg) * u.deg)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            apparent = coord.transform_to(TETE(obstime=self._mid, location=self._location))
        ra, dec = apparent.ra.rad[:, None], apparent.dec.rad[:, None]
        lat = np.deg2rad(self.site.latitude_deg)
        # Only while the sun is below the horizon (no twilight level allows more); elsewhere the
        # target counts as below the horizon, which no constraint allows either.
        span = slice(*self._night_span) if not full_day else slice(None)
        cos_last, sin_last = self._cos_last[None, span], self._sin_last[None, span]
        # cos/sin of the hour angle (sidereal time − RA) from products: no trigonometry per sample.
        cos_h = cos_last * np.cos(ra) + sin_last * np.sin(ra)
        sin_alt = np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * cos_h
        shape = (len(ra), len(self.fine_times))
        alt, az, separation = np.full(shape, -90.0), np.zeros(shape), np.full(shape, 180.0)
        alt[:, span] = np.rad2deg(np.arcsin(np.clip(sin_alt, -1, 1)))
        if self.site.horizon or full_day or azimuth:  # azimuth only where a horizon mask (or a cloud map) needs it
            sin_h = sin_last * np.cos(ra) - cos_last * np.sin(ra)
            az[:, span] = np.mod(np.rad2deg(np.arctan2(
                -np.cos(dec) * sin_h, np.sin(dec) * np.cos(lat) - np.cos(dec) * np.sin(lat) * cos_h)), 360.0)
        target_unit = _unit(apparent.ra.deg, apparent.dec.deg)
        separation[:, span] = np.rad2deg(np.arccos(np.clip(target_unit @ self._moon_unit[span].T, -1, 1)))
        return TargetTrack(alt=alt, az=az, moon_separation=separation,
                           above_horizon=alt > self.site.horizon_alt(az))

    def target(self, ra_deg: float, dec_deg: float) -> "TargetTrack":
        """One target at the start of every slot (for charts)."""
        fine = self.tracks(ra_deg, dec_deg, full_day=True)
        pick = slice(None, -1, self.sub)
        return TargetTrack(fine.alt[0, pick], fine.az[0, pick], fine.moon_separation[0, pick],
                           fine.above_horizon[0, pick])


@dataclass
class TargetTrack:
    alt: np.ndarray
    az: np.ndarray
    moon_separation: np.ndarray
    above_horizon: np.ndarray

    @property
    def airmass(self) -> np.ndarray:
        return airmass(self.alt)


def airmass(alt_deg: np.ndarray) -> np.ndarray:
    # Kasten & Young's formula: finite at the horizon, close to sec(z) high up.
    zenith = 90.0 - np.clip(alt_deg, 0.0, 90.0)
    return 1.0 / (np.cos(np.deg2rad(zenith)) + 0.50572 * (96.07995 - zenith) ** -1.6364)
