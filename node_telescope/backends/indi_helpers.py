"""Pure helpers of the INDI backend: filter slots, coordinates, FITS header completion.

Nothing here talks to a server, so all of it is unit-tested without indiserver.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone

from .base import BackendError

FITS_BLOCK = 2880
CARD = 80

# OBSY frame types -> INDI CCD_FRAME_TYPE elements and FITS IMAGETYP values.
FRAME_TYPES = {
    "light": ("FRAME_LIGHT", "Light Frame"),
    "dark": ("FRAME_DARK", "Dark Frame"),
    "bias": ("FRAME_BIAS", "Bias Frame"),
    "flat": ("FRAME_FLAT", "Flat Field"),
}


def frame_type_element(frame_type: str) -> str:
    try:
        return FRAME_TYPES[frame_type.lower()][0]
    except KeyError:
        raise BackendError(f"frame type {frame_type!r} is not one of {', '.join(FRAME_TYPES)}") from None


def filter_slots(names: dict[str, str]) -> dict[str, int]:
    """FILTER_NAME elements (FILTER_SLOT_NAME_<n> -> name) as {name: slot number}."""
    slots = {}
    for element, name in names.items():
        prefix, _, number = element.rpartition("_")
        if prefix != "FILTER_SLOT_NAME" or not number.isdigit():
            continue
        slots.setdefault(name.strip(), int(number))
    return slots


def slot_for(filter_name: str, names: dict[str, str], aliases: dict[str, str] | None = None) -> int:
    """The wheel slot of a filter: exact name, then a configured alias, then case-insensitive,
    then a one-letter name matching the one name that starts with it (R -> Red, L -> Luminance)."""
    slots = filter_slots(names)
    wanted = (aliases or {}).get(filter_name, filter_name).strip()
    if wanted in slots:
        return slots[wanted]
    folded = {name.casefold(): slot for name, slot in slots.items()}
    if wanted.casefold() in folded:
        return folded[wanted.casefold()]
    if len(wanted) == 1:
        starting = [slot for name, slot in folded.items() if name.startswith(wanted.casefold())]
        if len(starting) == 1:
            return starting[0]
    raise BackendError(f"filter {filter_name!r} is not in the wheel; it holds "
                       f"{', '.join(f'{slot}:{name}' for name, slot in sorted(slots.items(), key=lambda i: i[1]))} "
                       "(rename a slot in FILTER_NAME or add indi.filter_aliases)")


def _offline_iers() -> None:
    from astropy.utils import iers

    iers.conf.auto_download = False
    iers.conf.auto_max_age = None


def j2000_to_jnow(ra_deg: float, dec_deg: float, when: datetime | None = None) -> tuple[float, float]:
    """ICRS/J2000 -> apparent place of date (true equator and equinox, TETE): what INDI mounts
    take and report in EQUATORIAL_EOD_COORD."""
    from astropy import units as u
    from astropy.coordinates import TETE, SkyCoord
    from astropy.time import Time

    _offline_iers()
    t = Time(when or datetime.now(timezone.utc))
    c = SkyCoord(ra=ra_deg * u.deg, dec=dec_deg * u.deg, frame="icrs").transform_to(TETE(obstime=t))
    return float(c.ra.deg) % 360.0, float(c.dec.deg)


def jnow_to_j2000(ra_deg: float, dec_deg: float, when: datetime | None = None) -> tuple[float, float]:
    from astropy import units as u
    from astropy.coordinates import ICRS, TETE, SkyCoord
    from astropy.time import Time

    _offline_iers()
    t = Time(when or datetime.now(timezone.utc))
    c = SkyCoord(ra=ra_deg * u.deg, dec=dec_deg * u.deg, frame=TETE(obstime=t)).transform_to(ICRS())
    return float(c.ra.deg) % 360.0, float(c.dec.deg)


def separation_arcsec(ra1_deg: float, dec1_deg: float, ra2_deg: float, dec2_deg: float) -> float:
    """Great-circle distance (haversine, stable for small angles)."""
    ra1, dec1, ra2, dec2 = map(math.radians, (ra1_deg, dec1_deg, ra2_deg, dec2_deg))
    h = math.sin((dec2 - dec1) / 2) ** 2 + math.cos(dec1) * math.cos(dec2) * math.sin((ra2 - ra1) / 2) ** 2
    return math.degrees(2 * math.asin(min(1.0, math.sqrt(h)))) * 3600.0


def sexagesimal(value: float, hours: bool) -> str:
    """12.5 h -> '12 30 00.00'; -5.25 deg -> '-05 15 00.0' (the OBJCTRA/OBJCTDEC style)."""
    sign = "-" if value < 0 else ("" if hours else "+")
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = (value - d - m / 60) * 3600
    if round(s, 2 if hours else 1) >= 60:
        s, m = 0.0, m + 1
    if m >= 60:
        m, d = 0, d + 1
    return f"{sign}{d:02d} {m:02d} {s:0{5 if hours else 4}.{2 if hours else 1}f}"


def header_length(data: bytes) -> int:
    """Bytes taken by the primary header (a multiple of 2880), found by its END card."""
    for start in range(0, min(len(data), 2880 * 1000), CARD):
        if bytes(data[start:start + 8]) == b"END     ":
            return (start // FITS_BLOCK + 1) * FITS_BLOCK
    raise BackendError("the camera sent data that is not a FITS file (no END card in the primary header)")


def complete_header(data: bytes | bytearray, cards: dict[str, object], keep: tuple[str, ...] = (),
                    drop: tuple[str, ...] = ()) -> bytes:
    """The FITS file with ``cards`` written into its primary header.

    Only the header is parsed and rewritten; the data part is copied as bytes, so this costs a
    few milliseconds even for a 25 MB frame. ``None`` values are skipped. Keys in ``keep`` are
    written only when the driver did not write them (its value is better, e.g. CCD-TEMP); keys
    in ``drop`` are removed (e.g. an OBJECT the driver kept from an earlier target).
    """
    from astropy.io import fits

    if bytes(data[:9]) != b"SIMPLE  =":
        raise BackendError("the camera sent data that is not a FITS file (no SIMPLE card)")
    end = header_length(data)
    header = fits.Header.fromstring(data[:end].decode("ascii", "replace"))
    for key in drop:
        header.remove(key, ignore_missing=True, remove_all=True)
    for key, value in cards.items():
        if value is None or (key in keep and key in header):
            continue
        header[key] = value  # a (value, comment) tuple sets the comment too
    new = header.tostring(padding=True).encode("ascii")
    return b"".join((new, memoryview(data)[end:]))  # one copy of the data part, no slice copy
