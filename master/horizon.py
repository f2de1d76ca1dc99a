"""A site's horizon mask as text people type: "azimuth altitude" pairs, in degrees."""
from __future__ import annotations

import re

_ENTRY_SPLIT = re.compile(r"[,;\n]+")
_PAIR_SPLIT = re.compile(r"[\s:/]+")


class HorizonError(ValueError):
    pass


def parse_horizon(text: str) -> list[list[float]]:
    """``"0 15, 90 20"`` (or one pair a line, or ``az:alt``) → ``[[0, 15], [90, 20]]`` sorted by azimuth."""
    points: dict[float, float] = {}
    for entry in _ENTRY_SPLIT.split(text or ""):
        entry = entry.strip()
        if not entry:
            continue
        parts = _PAIR_SPLIT.split(entry)
        if len(parts) != 2:
            raise HorizonError(f"{entry!r} is not an 'azimuth altitude' pair")
        try:
            azimuth, altitude = float(parts[0]), float(parts[1])
        except ValueError:
            raise HorizonError(f"{entry!r} is not two numbers") from None
        if not 0 <= azimuth < 360:
            raise HorizonError(f"azimuth {parts[0]} must be from 0 up to (not including) 360")
        if not 0 <= altitude <= 90:
            raise HorizonError(f"altitude {parts[1]} must be from 0 to 90")
        if azimuth in points:
            raise HorizonError(f"azimuth {parts[0]} is given twice")
        points[azimuth] = altitude
    return [[az, points[az]] for az in sorted(points)]


def format_horizon(points: list | None) -> str:
    return ", ".join(f"{az:g} {alt:g}" for az, alt in points or [])
