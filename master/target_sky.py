"""What the sky does for one target at one site: tonight's track and transit, and the year's best months.

Tonight uses the planner's ``NightSky`` (so the page and the plan agree), kept
per site and night. The months use apparent places from astropy at twelve
dates and the hour-angle formula on a 15-minute grid, all in numpy arrays: a
year costs about as much as one transform, and the sun's part is kept per site
and year. Everything here is cached; the keys carry the date, so a new day
computes anew.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache

import numpy as np

from master.planning.sky import TWILIGHT_SUN_ALT, NightSky, Site, TargetTrack, _offline_astropy

SIDEREAL_DEG_PER_DAY = 360.98564736629
MONTH_STEP_MIN = 15.0


@lru_cache(maxsize=16)
def night_sky(site: Site, night: date) -> NightSky:
    return NightSky(site, night)


def _apparent(ra_deg: float, dec_deg: float, when) -> tuple[np.ndarray, np.ndarray]:
    """Apparent (true equator and equinox of date) places at one or more times, in degrees."""
    import astropy.units as u
    from astropy.coordinates import TETE, SkyCoord
    from astropy.time import Time

    _offline_astropy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        place = SkyCoord(ra_deg * u.deg, dec_deg * u.deg).transform_to(TETE(obstime=Time(when)))
    return np.atleast_1d(place.ra.deg), np.atleast_1d(place.dec.deg)


def _sidereal_deg(site: Site, starts: list[datetime], offsets_days: np.ndarray) -> np.ndarray:
    """Local apparent sidereal time (degrees) at start + offset, one row per start."""
    import astropy.units as u
    from astropy.time import Time

    _offline_astropy()
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


def night_start(site: Site, night: date) -> datetime:
    """Local mean noon of the night's date, where ``NightSky``'s grid starts too."""
    return datetime.combine(night, time(12), tzinfo=timezone.utc) - timedelta(hours=site.longitude_deg / 15.0)


@dataclass
class TargetTonight:
    sky: NightSky
    track: TargetTrack
    transit: datetime | None  # upper culmination nearest local midnight, within the night's grid
    transit_alt: float | None


def _transit(sky: NightSky, ra_deg: float, dec_deg: float) -> datetime | None:
    middle = sky.times[len(sky.times) // 2]
    ra_app, _ = _apparent(ra_deg, dec_deg, middle)
    days = np.array([(t - sky.times[0]).total_seconds() for t in sky.times]) / 86400.0
    hour = (_sidereal_deg(sky.site, [sky.times[0]], days)[0] - ra_app[0] + 180.0) % 360.0 - 180.0
    rising = np.flatnonzero((hour[:-1] < 0) & (hour[1:] >= 0))  # hour angle through 0, not the ±180° wrap
    if rising.size == 0:
        return None
    i = int(rising[np.argmin(np.abs(rising - len(sky.times) / 2))])
    fraction = -hour[i] / (hour[i + 1] - hour[i])
    return sky.times[i] + fraction * sky.step


@lru_cache(maxsize=256)
def target_tonight(site: Site, night: date, ra_deg: float, dec_deg: float) -> TargetTonight:
    sky = night_sky(site, night)
    track = sky.target(ra_deg, dec_deg)
    transit = _transit(sky, ra_deg, dec_deg)
    transit_alt = None
    if transit is not None:
        _, dec_app = _apparent(ra_deg, dec_deg, transit)
        transit_alt = 90.0 - abs(site.latitude_deg - float(dec_app[0]))
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

    _offline_astropy()
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
