"""Coordinates as people type them: sexagesimal or decimal, J2000."""
from __future__ import annotations

import re

from astropy import units as u
from astropy.coordinates import Angle


class CoordinateError(ValueError):
    pass


def _has_sexagesimal(text: str) -> bool:
    return bool(re.search(r"[:hms°'\"d ]", text.strip()))


def parse_ra(text: str) -> float:
    """'10:41:02', '10h41m02s', '10 41 02' (hours) or '160.26' (degrees) → degrees."""
    text = text.strip()
    try:
        if _has_sexagesimal(text):
            angle = Angle(text, unit=u.hourangle)
        else:
            angle = Angle(float(text), unit=u.deg)
    except (ValueError, u.UnitsError) as exc:
        raise CoordinateError(f"right ascension {text!r} is not understood: give hours as 10:41:02 or degrees as 160.26") from exc
    value = angle.to_value(u.deg)
    if not 0 <= value < 360:
        raise CoordinateError(f"right ascension {text!r} is outside 0..24 h")
    return value


def parse_dec(text: str) -> float:
    """'+41:16:09', '41d16m09s', '-05 23 28' or '41.27' → degrees."""
    text = text.strip()
    try:
        angle = Angle(text if _has_sexagesimal(text) else float(text), unit=u.deg)
    except (ValueError, u.UnitsError) as exc:
        raise CoordinateError(f"declination {text!r} is not understood: give +41:16:09 or 41.27") from exc
    value = angle.to_value(u.deg)
    if not -90 <= value <= 90:
        raise CoordinateError(f"declination {text!r} is outside -90..+90°")
    return value


def format_ra(deg: float, precision: int = 1) -> str:
    return Angle(deg, unit=u.deg).to_string(unit=u.hourangle, sep=":", precision=precision, pad=True)


def format_dec(deg: float, precision: int = 0) -> str:
    return Angle(deg, unit=u.deg).to_string(unit=u.deg, sep=":", precision=precision, alwayssign=True, pad=True)
