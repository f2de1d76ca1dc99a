"""What the sky does for one target at one site: tonight's track and transit, and the year's best months.

Apparent places come from astropy (TETE: precession, nutation, aberration; the
moon topocentric), a few per night or per year; altitudes on the grids come from
the hour angle in numpy arrays. Tonight matches the planner's ``NightSky`` (same
grid, same airmass, same illumination) to a tenth of a degree; the tests check
it. Everything is cached; the keys carry the date, so a new day computes anew.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

import numpy as np

from master.planning.sky import TWILIGHT_SUN_ALT, Site, TargetTrack, night_start, offline_astropy

SIDEREAL_DEG_PER_DAY = 360.98564736629
MONTH_STEP_MIN = 15.0


def _apparent(ra_deg: float, dec_deg: float, when) -> tuple[np.ndarray, np.ndarray]:
    """Apparent (true equator and equinox of date) places at one or more times, in degrees."""
    import astropy.units as u
    from astropy.coordinates import TETE, SkyCoord
    from astropy.time import Time

    offline_astropy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        place = SkyCoord(ra_deg * u.deg, dec_deg * u.deg).transform_to(TETE(obstime=Time(when)))
    return np.atleast_1d(place.ra.deg), np.atleast_1d(place.dec.deg)


def _sidereal_deg(site: Site, starts: list[datetime], offsets_days: np.ndarray) -> np.ndarray:
    """Local apparent sidereal time (degrees) at start + offset, one row per start."""
    import astropy.units as u
    from astropy.time import Time

    offline_astropy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = Time(starts).sidereal_time("apparent", longitude=site.longitude_deg * u.deg).deg
    return (np.atleast_1d(first)[:, None] + SIDEREAL_DEG_PER_DAY * offsets_days[None, :]) % 360.0


def altitude_azimuth(lat_deg: float, ra_deg, dec_deg, lst_deg) -> tuple[np.ndarray, np.ndarray]:
    """Geometric altitude and azimuth (north through east) from the hour angle."""
    lat, dec = np.deg2rad(lat_deg), np.deg2rad(dec_deg)
    hour = np.deg2rad(np.asarray(lst_deg) - ra_deg)
    sin_alt = np.sin(lat) * np.sin(dec) + np.cos(lat) * np.cos(dec) * np.cos(hour)
    alt = np.rad2deg(np.arcsin(np.clip(sin_alt, -1, 1)))
    az = np.rad2deg(np.arctan2(-np.cos(dec) * np.sin(hour), np.sin(dec) * np.cos(lat) - np.cos(dec) * np.sin(lat) * np.cos(hour)))
    return alt, np.mod(az, 360.0)


@dataclass
class TargetTonight:
    sky: "TonightSky"
    track: TargetTrack
    transit: datetime | None  # upper culmination nearest local midnight, within the night's grid
    transit_alt: float | None


class TonightSky:
    """Sun, moon and sidereal time over a site from local noon to noon, on ``NightSky``'s grid and with its
    attributes (times, step, sun_alt, moon_alt, moon_illumination, dark()).

    The sun's and moon's apparent places are computed hourly and interpolated to the grid (the moon
    moves half a degree an hour), altitudes come from the hour angle: a few hundred milliseconds a night
    where the planner's full transforms take seconds, within 0.1° of them.
    """

    def __init__(self, site: Site, night: date, step_min: float = 10.0):
        import astropy.units as u
        from astropy.coordinates import TETE, EarthLocation, get_body
        from astropy.time import Time

        offline_astropy()
        self.site, self.step = site, timedelta(minutes=step_min)
        start = night_start(site, night, self.step)
        count = int(round(24 * 60 / step_min))
        self.times = [start + i * self.step for i in range(count)]
        days = np.arange(count) * step_min / (24 * 60)
        self.lst_deg = _sidereal_deg(site, [start], days)[0]
        hours = np.arange(0, 25) / 24.0
        knots = Time([start + timedelta(days=float(h)) for h in hours])
        location = EarthLocation(lat=site.latitude_deg * u.deg, lon=site.longitude_deg * u.deg,
                                 height=site.elevation_m * u.m)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = TETE(obstime=knots, location=location)  # topocentric: the moon's parallax is a degree
            sun = get_body("sun", knots, location).transform_to(frame)
            moon = get_body("moon", knots, location).transform_to(frame)

        def along(angle, wrap: bool) -> np.ndarray:
            if not wrap:
                return np.interp(days, hours, angle)
            return np.rad2deg(np.interp(days, hours, np.unwrap(np.deg2rad(angle)))) % 360.0

        sun_ra, sun_dec = along(sun.ra.deg, True), along(sun.dec.deg, False)
        self.moon_ra_deg, self.moon_dec_deg = along(moon.ra.deg, True), along(moon.dec.deg, False)
        self.sun_alt, _ = altitude_azimuth(site.latitude_deg, sun_ra, sun_dec, self.lst_deg)
        self.moon_alt, _ = altitude_azimuth(site.latitude_deg, self.moon_ra_deg, self.moon_dec_deg, self.lst_deg)
        elongation = np.deg2rad(_separation_deg(sun_ra, sun_dec, self.moon_ra_deg, self.moon_dec_deg))
        self.moon_illumination = (1 - np.cos(elongation)) / 2  # as the planner's NightSky

    def dark(self, twilight: str = "astronomical") -> np.ndarray:
        return self.sun_alt < TWILIGHT_SUN_ALT[twilight]


@lru_cache(maxsize=16)
def tonight_sky(site: Site, night: date) -> TonightSky:
    return TonightSky(site, night)


def _separation_deg(ra1, dec1, ra2, dec2) -> np.ndarray:
    r1, d1, r2, d2 = (np.deg2rad(v) for v in (ra1, dec1, ra2, dec2))
    cos = np.sin(d1) * np.sin(d2) + np.cos(d1) * np.cos(d2) * np.cos(r1 - r2)
    return np.rad2deg(np.arccos(np.clip(cos, -1.0, 1.0)))


def _transit(sky: TonightSky, ra_app: float) -> datetime | None:
    hour = (sky.lst_deg - ra_app + 180.0) % 360.0 - 180.0
    rising = np.flatnonzero((hour[:-1] < 0) & (hour[1:] >= 0))  # hour angle through 0, not the ±180° wrap
    if rising.size == 0:
        return None
    i = int(rising[np.argmin(np.abs(rising - len(sky.times) / 2))])
    fraction = -hour[i] / (hour[i + 1] - hour[i])
    return sky.times[i] + fraction * sky.step


@lru_cache(maxsize=256)
def target_tonight(site: Site, night: date, ra_deg: float, dec_deg: float) -> TargetTonight:
    """The target on the night's grid: the hour-angle formula on its apparent place at local midnight."""
    sky = tonight_sky(site, night)
    ra_app, dec_app = (float(v[0]) for v in _apparent(ra_deg, dec_deg, sky.times[len(sky.times) // 2]))
    alt, az = altitude_azimuth(site.latitude_deg, ra_app, dec_app, sky.lst_deg)
    track = TargetTrack(alt=alt, az=az, moon_separation=_separation_deg(ra_app, dec_app, sky.moon_ra_deg, sky.moon_dec_deg),
                        above_horizon=alt > site.horizon_alt(az))
    transit = _transit(sky, ra_app)
    transit_alt = 90.0 - abs(site.latitude_deg - dec_app) if transit is not None else None
    return TargetTonight(sky, track, transit, transit_alt)


@dataclass(frozen=True)
class YearSky:
    nights: tuple[date, ...]  # the 15th of each month
    starts: tuple[datetime, ...]
    offsets_days: np.ndarray  # the grid from local noon, shared by every night
    lst_deg: np.ndarray  # nights × grid
    sun_alt: np.ndarray  # nights × grid


@lru_cache(maxsize=8)
def year_sky(site: Site, year: int) -> YearSky:
    from astropy.coordinates import TETE, get_body
    from astropy.time import Time

    offline_astropy()
    nights = tuple(date(year, month, 15) for month in range(1, 13))
    starts = tuple(night_start(site, n) for n in nights)
    offsets = np.arange(0, 24 * 60, MONTH_STEP_MIN) / (24 * 60)
    lst = _sidereal_deg(site, list(starts), offsets)
    midnights = Time([s + timedelta(hours=12) for s in starts])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # The sun moves 0.5° in a night: one place per night is enough for twilight.
        place = get_body("sun", midnights).transform_to(TETE(obstime=midnights))
    ra_sun, dec_sun = place.ra.deg[:, None], place.dec.deg[:, None]
    sun_alt, _ = altitude_azimuth(site.latitude_deg, ra_sun, dec_sun, lst)
    return YearSky(nights, starts, offsets, lst, sun_alt)


@dataclass(frozen=True)
class MonthSky:
    month: int  # 1..12
    dark_hours: float  # hours in the twilight's darkness with the target above min_alt and the horizon mask
    midnight_alt: float  # altitude at local mean midnight
    best: bool = False


@lru_cache(maxsize=256)
def best_months(site: Site, year: int, ra_deg: float, dec_deg: float, min_alt_deg: float = 30.0,
                twilight: str = "astronomical") -> tuple[MonthSky, ...]:
    year_grid = year_sky(site, year)
    from astropy.time import Time

    ra_app, dec_app = _apparent(ra_deg, dec_deg, Time([s + timedelta(hours=12) for s in year_grid.starts]))
    alt, az = altitude_azimuth(site.latitude_deg, ra_app[:, None], dec_app[:, None], year_grid.lst_deg)
    usable = (alt >= min_alt_deg) & (alt > site.horizon_alt(az)) & (year_grid.sun_alt < TWILIGHT_SUN_ALT[twilight])
    hours = usable.sum(axis=1) * MONTH_STEP_MIN / 60.0
    midnight = int(round(0.5 / (MONTH_STEP_MIN / (24 * 60))))
    top = hours.max()
    return tuple(MonthSky(m + 1, float(hours[m]), float(alt[m, midnight]), bool(top > 0 and hours[m] >= 0.8 * top))
                 for m in range(12))
