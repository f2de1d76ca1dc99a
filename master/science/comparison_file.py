"""Comparison stars from a catalogue file the user provides.

A CSV (comma, semicolon or tab) with a header row naming at least the RA, Dec and magnitude
columns (``name``/``auid``/``label``, ``ra``, ``dec``, ``mag``/``v``/``vmag``...), RA in degrees or
``hh:mm:ss``, Dec in degrees or ``±dd:mm:ss``; or a chart saved from AAVSO VSP as JSON. Every bad
line is named; nothing is guessed.
"""
from __future__ import annotations

import csv
import io
import json

from astropy import units as u
from astropy.coordinates import Angle

from .run_request import RequestError

__all__ = ["parse_catalogue", "parse_angle"]

NAME_COLUMNS = ("name", "auid", "label", "id", "star")
RA_COLUMNS = ("ra", "ra_deg", "raj2000", "ra_j2000", "_raj2000")
DEC_COLUMNS = ("dec", "dec_deg", "dej2000", "dec_j2000", "_dej2000", "decj2000")
MAG_COLUMNS = ("mag", "magnitude", "v", "vmag", "v_mag", "mag_v")
MAX_STARS = 200


def parse_angle(text: str, hours: bool) -> float:
    """Degrees from ``123.4`` or a sexagesimal ``hh:mm:ss`` (RA, hours) / ``dd:mm:ss`` (Dec)."""
    text = str(text).strip()
    try:
        return float(text)
    except ValueError:
        pass
    try:
        return float(Angle(text, unit=u.hourangle if hours else u.deg).deg)
    except (ValueError, TypeError):
        raise ValueError(f"{text!r} is not an angle") from None


def _column(header: list[str], choices: tuple[str, ...], what: str, required: bool = True) -> int | None:
    folded = [h.strip().lower() for h in header]
    for choice in choices:
        if choice in folded:
            return folded.index(choice)
    if required:
        raise RequestError(f"the catalogue file has no {what} column (one of: {', '.join(choices)})")
    return None


def _csv_stars(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    try:
        dialect = csv.Sniffer().sniff(lines[0] if lines else "", delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    rows = [r for r in csv.reader(io.StringIO(text), dialect) if r and not r[0].lstrip().startswith("#")]
    if len(rows) < 2:
        raise RequestError("the catalogue file needs a header row and at least one star")
    header, body = rows[0], rows[1:]
    name_at = _column(header, NAME_COLUMNS, "name", required=False)
    ra_at, dec_at = _column(header, RA_COLUMNS, "RA"), _column(header, DEC_COLUMNS, "Dec")
    mag_at = _column(header, MAG_COLUMNS, "magnitude")
    stars = []
    for number, row in enumerate(body, 2):
        try:
            ra, dec = parse_angle(row[ra_at], hours=True), parse_angle(row[dec_at], hours=False)
            mag = float(row[mag_at])
        except (IndexError, ValueError) as exc:
            raise RequestError(f"catalogue line {number}: {exc if isinstance(exc, ValueError) else 'too few columns'}"
                               ) from None
        if not (0 <= ra < 360 and -90 <= dec <= 90):
            raise RequestError(f"catalogue line {number}: RA must be 0–360 and Dec −90–90 degrees")
        name = row[name_at].strip() if name_at is not None and row[name_at].strip() else f"C{len(stars) + 1}"
        stars.append({"name": name[:40], "ra": ra, "dec": dec, "mag": mag, "source": "catalogue file"})
    return stars


def parse_catalogue(data: bytes, band: str = "V") -> list[dict]:
    """The comparison stars of an uploaded file (CSV, or a VSP chart in JSON)."""
    from .vsp import chart_comparisons

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise RequestError("the catalogue file is not UTF-8 text") from None
    if not text.strip():
        raise RequestError("the catalogue file is empty")
    if text.lstrip().startswith("{"):
        try:
            chart = json.loads(text)
        except json.JSONDecodeError as exc:
            raise RequestError(f"the catalogue file is not valid JSON: {exc}") from None
        stars = chart_comparisons(chart, band)
    else:
        stars = _csv_stars(text)
    if len(stars) > MAX_STARS:
        raise RequestError(f"the catalogue file has {len(stars)} stars; at most {MAX_STARS} are measured")
    return stars
