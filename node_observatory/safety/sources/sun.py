"""Sun altitude at the site, from a low-precision solar formula (no astropy at run time).

The formula (mean longitude and anomaly of the Sun, equation of centre, obliquity, Greenwich
mean sidereal time) is good to about 0.01 degree in position, far better than a twilight limit
needs; a unit test checks it against astropy. No atmospheric refraction is added: the altitude
is geometric, which is what twilight limits such as -12 degrees (nautical) refer to.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone

from ..reading import Reading, Verdict
from .base import SafetySource

_J2000 = datetime(2000, 1, 1, 12, tzinfo=timezone.utc)


def sun_altitude_deg(when: datetime, latitude_deg: float, longitude_deg: float) -> float:
    """Geometric altitude of the Sun's centre in degrees; longitude east positive."""
    if when.tzinfo is None:
        raise ValueError("when must be timezone-aware")
    n = (when - _J2000).total_seconds() / 86400.0
    mean_longitude = math.radians((280.460 + 0.9856474 * n) % 360.0)
    anomaly = math.radians((357.528 + 0.9856003 * n) % 360.0)
    ecliptic_longitude = (mean_longitude + math.radians(1.915) * math.sin(anomaly)
                          + math.radians(0.020) * math.sin(2 * anomaly))
    obliquity = math.radians(23.439 - 0.0000004 * n)
    right_ascension = math.atan2(math.cos(obliquity) * math.sin(ecliptic_longitude), math.cos(ecliptic_longitude))
    declination = math.asin(math.sin(obliquity) * math.sin(ecliptic_longitude))
    sidereal_deg = (280.46061837 + 360.98564736629 * n) % 360.0
    hour_angle = math.radians(sidereal_deg + longitude_deg) - right_ascension
    latitude = math.radians(latitude_deg)
    sin_altitude = (math.sin(latitude) * math.sin(declination)
                    + math.cos(latitude) * math.cos(declination) * math.cos(hour_angle))
    return math.degrees(math.asin(max(-1.0, min(1.0, sin_altitude))))


class SunSource(SafetySource):
    """Reports ``sun_altitude_deg``; the limit (e.g. unsafe above -12) is a threshold in config."""

    def __init__(self, name: str, latitude_deg: float, longitude_deg: float):
        super().__init__(name)
        self.latitude_deg = latitude_deg
        self.longitude_deg = longitude_deg

    def measure(self, now: datetime) -> Reading:
        altitude = sun_altitude_deg(now, self.latitude_deg, self.longitude_deg)
        return Reading(self.name, now, {"sun_altitude_deg": round(altitude, 3)}, Verdict.SAFE, ())
