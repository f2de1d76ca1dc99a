"""Turn one FITS header, as any capture program wrote it, into a ``FrameMeta``.

Every program spells the same facts differently: the frame type ('Light Frame', 'LIGHT',
'Master Light', 'Zero', 'DarkFlat'), numbers written as strings (PixInsight) or with decimal
commas (Astro Pixel Processor), coordinates in degrees, hours or sexagesimal text, temperatures
in kelvin, dates without a time. This module knows the spellings and never raises on a bad
value: it records a warning and leaves the field ``None``, so one odd card never stops an ingest.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

from astropy.io import fits

__all__ = ["FrameMeta", "classify_frame_type", "normalize_header", "observing_night", "parse_angle", "to_float"]

FRAME_TYPES = ("light", "dark", "flat", "bias", "dark_flat", "unknown")

# Where each fact lives, first match wins. Orders follow how common each spelling is.
FRAME_TYPE_KEYS = ("IMAGETYP", "FRAMETYP", "FRAME", "OBSTYPE", "CALFRAME")  # CALFRAME: Astro Pixel Processor
EXPOSURE_KEYS = ("EXPTIME", "EXPOSURE", "EXP", "ITIME")                    # EXP: DWARF
OBJECT_KEYS = ("OBJECT", "OBJNAME", "TARGET")
FILTER_KEYS = ("FILTER", "FILTNAME", "FILTER1", "FILT-1")                  # FILT-1: APP
CAMERA_KEYS = ("INSTRUME", "CAMERA", "DETECTOR")
TELESCOPE_KEYS = ("TELESCOP",)
SITE_NAME_KEYS = ("SITENAME", "OBSERVAT", "SITE")
TEMP_KEYS = ("CCD-TEMP", "CCD_TEMP", "CCDTEMP", "DET-TEMP", "DETTEMP", "TEMPERAT", "SENSTEMP", "CAMTEMP")
SET_TEMP_KEYS = ("SET-TEMP", "SETTEMP", "SET_TEMP", "CCD-TSET", "CCDTSET", "TEMPSET")
BINNING_PAIRS = (("XBINNING", "YBINNING"), ("CCDXBIN", "CCDYBIN"), ("XBIN", "YBIN"), ("BINX", "BINY"))
GAIN_KEYS = ("GAIN", "GAINRAW", "ISOSPEED")        # never EGAIN: that is e-/ADU, not the setting
OFFSET_KEYS = ("OFFSET", "BLKLEVEL", "BLACKLEV")
FOCAL_KEYS = ("FOCALLEN", "FOCAL", "FOCLEN")
PIXEL_KEYS = ("XPIXSZ", "PIXSIZE1", "XPIXELSZ", "PIXSIZE")
BAYER_KEYS = ("BAYERPAT", "CFAIMAGE", "BAYER")     # CFAIMAGE: APP
LATITUDE_KEYS = ("SITELAT", "LAT-OBS", "OBSGEO-B", "LATITUDE")
LONGITUDE_KEYS = ("SITELONG", "LONG-OBS", "OBSGEO-L", "LONGITUD", "SITELON")
ELEVATION_KEYS = ("SITEELEV", "ALT-OBS", "OBSGEO-H", "ELEVATIO")
TIME_KEYS = ("TIME-OBS", "UT", "UTSTART", "UT-START", "TIME-BEG", "UTC-OBS")

# Capture and processing programs, by a pattern of the words they sign with.
PROGRAMS = (
    (r"n\.?i\.?n\.?a\b|nighttime imaging", "N.I.N.A."),
    (r"sequence generator|\bsgp(ro)?\b", "SGP"),
    (r"maxim\s*dl|\bmaxim\b", "MaxIm DL"),
    (r"astro photography tool|\bapt\b", "APT"),
    (r"sharpcap", "SharpCap"),
    (r"\bkstars\b|\bekos\b", "KStars/EKOS"),
    (r"\bindigo\b", "INDIGO"),
    (r"\bindi\b", "INDI"),
    (r"asiair", "ASIAIR"),
    (r"seestar", "Seestar"),
    (r"dwarf", "DWARF"),
    (r"pixinsight", "PixInsight"),
    (r"astro pixel processor", "Astro Pixel Processor"),
    (r"\bsiril\b", "Siril"),
    (r"\bastap\b", "ASTAP"),
    (r"ccdciel", "CCDciel"),
    (r"firecapture", "FireCapture"),
    (r"voyager", "Voyager"),
    (r"theskyx|\bthe sky x\b", "TheSkyX"),
    (r"\bacp\b", "ACP"),
)


def recognise_program(text: str) -> str | None:
    """Canonical name of a known program mentioned in ``text`` ('ZWO Seestar S50' -> 'Seestar')."""
    for pattern, name in PROGRAMS:
        if re.search(pattern, text, re.I):
            return name
    return None


def classify_frame_type(value: str) -> str | None:
    """Frame type by meaning: 'Light Frame', 'Master Dark', 'Zero', 'Flat Field', 'Flat Dark' ... or None."""
    word = re.sub(r"[^a-z]", "", value.lower())
    word = word.removeprefix("master").removesuffix("frame").removesuffix("image")
    if not word:
        return None
    if "dark" in word and "flat" in word:
        return "dark_flat"
    if "flat" in word:                           # Flat Field, SkyFlat, DomeFlat, MasterFlat
        return "flat"
    if "bias" in word or word in ("zero", "offset"):   # IRAF says 'zero'; some programs 'offset'
        return "bias"
    if "dark" in word:
        return "dark"
    if "light" in word or word in ("object", "science", "sci", "tricolor", "snapshot"):
        return "light"                           # IRAF 'object', MaxIm 'Tricolor Image', NINA 'SNAPSHOT'
    return None

KELVIN_ABOVE = 150.0      # no cooled or ambient sensor reads above 150 °C; such values are kelvin
FAR_FROM_SETPOINT = 3.0   # °C; beyond this the cooler had not settled and calibration will not match
_E_PER_ADU = re.compile(r"e-?\s*/\s*adu|electrons?\s*(per|/)\s*(adu|a/d|data number)", re.I)
_HOURS_COMMENT = re.compile(r"\[h\]|\bhours?\b|\bhms\b|\[hms", re.I)
_DEGREES_COMMENT = re.compile(r"\bdeg", re.I)


@dataclass
class FrameMeta:
    frame_type: str = "unknown"
    filter_name: str | None = None
    exposure_s: float | None = None
    object_name: str | None = None
    date_obs: datetime | None = None
    night: date | None = None
    camera: str | None = None
    telescope: str | None = None
    observer: str | None = None
    site_name: str | None = None
    ccd_temp_c: float | None = None
    set_temp_c: float | None = None
    binning_x: int | None = None
    binning_y: int | None = None
    gain: float | None = None
    offset: float | None = None
    ra_deg: float | None = None
    dec_deg: float | None = None
    site_lat: float | None = None
    site_lon: float | None = None
    site_elev: float | None = None
    focal_length_mm: float | None = None
    pixel_size_um: float | None = None
    width: int | None = None
    height: int | None = None
    bayer_pattern: str | None = None
    capture_program: str | None = None
    warnings: list[str] = field(default_factory=list)


def normalize_header(header: fits.Header) -> FrameMeta:
    """Normalise a header; unknown or unreadable facts are ``None`` and explained in ``warnings``."""
    cards = _Cards(header)
    meta = FrameMeta(warnings=cards.warnings)

    meta.exposure_s = _exposure(cards)
    meta.object_name = cards.text(*OBJECT_KEYS)
    meta.filter_name = _filter(cards)
    meta.camera = cards.text(*CAMERA_KEYS)
    meta.telescope = cards.text(*TELESCOPE_KEYS)
    meta.observer = cards.text("OBSERVER")
    meta.site_name = cards.text(*SITE_NAME_KEYS)
    meta.capture_program = _program(cards)

    meta.site_lat, meta.site_lon, meta.site_elev = _site(cards)
    meta.ra_deg, meta.dec_deg = _pointing(cards)
    meta.date_obs = _date_obs(cards)
    meta.night = observing_night(meta.date_obs, meta.site_lon)

    meta.ccd_temp_c = _temperature(cards, TEMP_KEYS)
    meta.set_temp_c = _temperature(cards, SET_TEMP_KEYS)
    if (meta.ccd_temp_c is not None and meta.set_temp_c is not None
            and abs(meta.ccd_temp_c - meta.set_temp_c) > FAR_FROM_SETPOINT):
        cards.warn(f"sensor at {meta.ccd_temp_c:.1f} °C, {abs(meta.ccd_temp_c - meta.set_temp_c):.1f} °C "
                   f"from its set point {meta.set_temp_c:.1f} °C (cooler not settled?)")
    meta.binning_x, meta.binning_y = _binning(cards)
    meta.gain = _gain(cards)
    meta.offset = cards.number(*OFFSET_KEYS)
    meta.focal_length_mm = cards.number(*FOCAL_KEYS, positive=True)
    meta.pixel_size_um = cards.number(*PIXEL_KEYS, positive=True)
    meta.width, meta.height = _size(cards)
    meta.bayer_pattern = _bayer(cards)

    meta.frame_type = _frame_type(cards, meta)
    return meta


def observing_night(date_obs: datetime | None, longitude: float | None) -> date | None:
    """The date on which the night began: local mean solar time minus 12 h, so a night never splits."""
    if date_obs is None:
        return None
    local = date_obs + timedelta(hours=(longitude or 0.0) / 15.0)
    return (local - timedelta(hours=12)).date()


# --------------------------------------------------------------------------- reading cards


class _Cards:
    """Typed, forgiving access to header values; every rejected value leaves a warning."""

    def __init__(self, header: fits.Header):
        self.header = header
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.warnings.append(message)

    def has(self, key: str) -> bool:
        return key in self.header

    def raw(self, key: str):
        if key not in self.header:
            return None
        try:
            value = self.header[key]
        except Exception:  # an unparsable card: fall back to the text between '=' and '/'
            value = _card_text(self.header, key)
        if isinstance(value, str):
            value = value.strip()
            return value or None
        return value

    def comment(self, key: str) -> str:
        return str(self.header.comments[key] or "") if key in self.header else ""

    def text(self, *keys: str) -> str | None:
        for key in keys:
            value = self.raw(key)
            if value is None or isinstance(value, bool):
                continue
            return " ".join(str(value).split())
        return None

    def number(self, *keys: str, positive: bool = False) -> float | None:
        """The first key holding a usable number; zero or less is 'unknown' when ``positive``."""
        for key in keys:
            value = self.raw(key)
            if value is None:
                continue
            number = to_float(value)
            if number is None:
                self.warn(f"{key} = {value!r} is not a number; ignored")
                continue
            if positive and number <= 0:
                continue  # MaxIm DL writes FOCALLEN = 0 when it does not know
            return number
        return None


def _card_text(header: fits.Header, key: str) -> str | None:
    """The value text of a card astropy cannot parse (e.g. ``EXPTIME = 1,5``), read as written.

    The card's original image is used so that astropy does not 'fix' (and so modify) the header.
    """
    card = header.cards[key]
    image = getattr(card, "_image", None) or card.image
    text = image[10:] if image[8:10] == "= " else image[8:]
    if text.lstrip().startswith("'"):
        return text.strip()[1:].split("'", 1)[0].strip() or None
    text = text.split(" /", 1)[0] if " /" in text else text.split("/", 1)[0]  # 'N/A / no sensor'
    return text.strip() or None


def to_float(value) -> float | None:
    """A finite float from a number or a numeric string ('120.00  ', ' 9,78E-03', '1.5D+02'), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        text = value.strip().replace("D", "E").replace("d", "e")
        if "," in text and "." not in text and text.count(",") == 1:
            text = text.replace(",", ".")  # decimal comma, as European-locale writers produce
        try:
            number = float(text)
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


# --------------------------------------------------------------------------- frame type


def _frame_type(cards: _Cards, meta: FrameMeta) -> str:
    stacked = cards.number("STACKCNT", "NCOMBINE")
    if stacked and stacked > 1:
        cards.warn(f"a stack of {int(stacked)} frames, not a single exposure")
    for key in FRAME_TYPE_KEYS:
        value = cards.text(key)
        if value is None:
            continue
        kind = classify_frame_type(value)
        if kind is None:
            if key != "FRAME":  # FRAME is also used for other things; stay quiet about it
                cards.warn(f"{key} = {value!r} is not a frame type OBSY knows")
            continue
        if "master" in value.lower() or key == "CALFRAME":
            cards.warn(f"{key} = {value!r}: an integrated master frame, not a single exposure")
        _check_exposure(cards, kind, meta.exposure_s)
        return kind
    return _infer_frame_type(cards, meta)


def _infer_frame_type(cards: _Cards, meta: FrameMeta) -> str:
    if meta.exposure_s == 0:
        cards.warn("no IMAGETYP; frame type inferred as bias from a zero exposure")
        return "bias"
    reasons = [name for name, present in (("OBJECT", meta.object_name), ("pointing", meta.ra_deg is not None))
               if present]
    if reasons:
        cards.warn(f"no IMAGETYP; frame type inferred as light from {' and '.join(reasons)}")
        return "light"
    cards.warn("no IMAGETYP and no OBJECT or pointing; frame type unknown")
    return "unknown"


def _check_exposure(cards: _Cards, kind: str, exposure: float | None) -> None:
    if exposure is None:
        return
    if kind == "bias" and exposure > 1.0:
        cards.warn(f"a bias frame with a {exposure:g} s exposure: is the frame type right?")
    elif kind in ("light", "dark", "flat", "dark_flat") and exposure == 0:
        cards.warn(f"a {kind} frame with a zero exposure: is the frame type right?")


# --------------------------------------------------------------------------- simple fields


def _exposure(cards: _Cards) -> float | None:
    seconds = cards.number(*EXPOSURE_KEYS)
    if seconds is None and (micro := cards.number("EXPOINUS")) is not None:
        seconds = micro / 1e6  # ZWO writes the exposure in microseconds under this key
    if seconds is not None and seconds < 0:
        cards.warn(f"negative exposure {seconds:g} s; ignored")
        return None
    return seconds


def _filter(cards: _Cards) -> str | None:
    name = cards.text(*FILTER_KEYS)
    if name is None or name.lower() in ("none", "n/a", "na", "-", "unknown"):
        return None
    return name


def _program(cards: _Cards) -> str | None:
    software = [cards.text(key) for key in ("SWCREATE", "CREATOR", "SWACQUIR", "PROGRAM", "SOFTWARE", "ORIGIN")]
    extra = [cards.text("INSTRUME"), cards.text("TELESCOP")]
    notes = [str(v) for key in ("COMMENT", "HISTORY") if key in cards.header for v in cards.header[key]]
    for text in software + extra + notes:
        if text and (name := recognise_program(text)):
            return name
    # An unknown program: keep its own words, skipping bare version numbers (Seestar's PROGRAM).
    for text in software:
        if text and re.search(r"[A-Za-z]{2}", text):
            return text
    return None


def _temperature(cards: _Cards, keys: tuple[str, ...]) -> float | None:
    for key in keys:
        value = cards.number(key)
        if value is None:
            continue
        if value > KELVIN_ABOVE:
            celsius = value - 273.15
            cards.warn(f"{key} = {value:g} read as kelvin ({celsius:.1f} °C)")
            value = celsius
        if not -200.0 <= value <= 100.0:
            cards.warn(f"{key} = {value:g} °C is not a plausible sensor temperature; ignored")
            continue
        return round(value, 3)
    return None


def _binning(cards: _Cards) -> tuple[int | None, int | None]:
    for kx, ky in BINNING_PAIRS:
        if cards.has(kx) or cards.has(ky):
            x, y = _bin_value(cards, kx), _bin_value(cards, ky)
            if x is not None or y is not None:
                return x if x is not None else y, y if y is not None else x
    for key in ("BINNING", "CCDSUM", "BIN"):
        value = cards.text(key)
        if value is None:
            continue
        parts = re.findall(r"\d+", value)
        if len(parts) in (1, 2) and re.fullmatch(r"\s*\d+\s*([x*X ,]\s*\d+)?\s*", value):
            x, y = int(parts[0]), int(parts[-1])
            if 1 <= x <= 16 and 1 <= y <= 16:
                return x, y
        cards.warn(f"{key} = {value!r} is not a binning like '2x2'; ignored")
    return None, None


def _bin_value(cards: _Cards, key: str) -> int | None:
    value = cards.number(key)
    if value is None:
        return None
    if value != int(value) or not 1 <= value <= 16:
        cards.warn(f"{key} = {value:g} is not a binning factor; ignored")
        return None
    return int(value)


def _gain(cards: _Cards) -> float | None:
    """The camera's gain setting. GAIN sometimes holds e-/ADU (IRAF, SBIG); that is EGAIN's job."""
    for key in GAIN_KEYS:
        value = cards.number(key)
        if value is None:
            continue
        if _E_PER_ADU.search(cards.comment(key)):
            cards.warn(f"{key} = {value:g} is a conversion factor in e-/ADU, not a gain setting; ignored")
            continue
        return value
    return None


def _size(cards: _Cards) -> tuple[int | None, int | None]:
    # ZNAXISn first: in the raw table header of a tile-compressed image NAXISn describe the table.
    for kx, ky in (("ZNAXIS1", "ZNAXIS2"), ("NAXIS1", "NAXIS2"), ("IMAGEW", "IMAGEH")):
        x, y = cards.number(kx, positive=True), cards.number(ky, positive=True)
        if x and y:
            return int(x), int(y)
    return None, None


def _bayer(cards: _Cards) -> str | None:
    for key in BAYER_KEYS:
        value = cards.text(key)
        if value is None:
            continue
        pattern = value.upper().replace(" ", "")
        if re.fullmatch(r"[RGB]{4}", pattern):
            return pattern
        if pattern.lower() not in ("no", "none", "false", "mono", "f", "0"):
            cards.warn(f"{key} = {value!r} names no Bayer pattern; ignored")
    return None


# --------------------------------------------------------------------------- places and pointing


def parse_angle(value, *, hours: bool = False) -> float | None:
    """Degrees from a number or from text: '-16 10 58.8', '+46:52:00.408', '18h20m48s', '3.7167', '12 30 W'.

    With ``hours`` the value is in hours (right ascension) and is returned in degrees.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        number = float(value)
        return number * 15.0 if hours and math.isfinite(number) else (number if math.isfinite(number) else None)
    text = str(value).strip()
    match = re.fullmatch(
        r"([+-])?\s*(\d+(?:[.,]\d*)?)(?:[\s:hHdD°]+(\d+(?:[.,]\d*)?))?(?:[\s:mM']+(\d+(?:[.,]\d*)?))?"
        r"\s*[sS\"]?\s*([NSEWnsew])?", text)
    if not match:
        return None
    sign, first, minutes, seconds, hemisphere = match.groups()
    parts = [float(p.replace(",", ".")) for p in (first, minutes, seconds) if p is not None]
    if any(p >= 60 for p in parts[1:]):
        return None
    number = parts[0] + sum(p / 60 ** i for i, p in enumerate(parts[1:], start=1))
    if sign == "-" or (hemisphere and hemisphere.upper() in "SW"):
        number = -number
    return number * 15.0 if hours else number


def _angle_card(cards: _Cards, key: str, *, ra: bool = False, default_hours: bool = False) -> float | None:
    value = cards.raw(key)
    if value is None:
        return None
    hours = False
    if ra:
        # Sexagesimal text is hours by universal habit; a bare number is degrees unless the comment says hours.
        is_text = isinstance(value, str) and len(re.findall(r"\d+(?:[.,]\d*)?", value)) >= 2
        comment = cards.comment(key)
        hours = is_text or bool(_HOURS_COMMENT.search(comment)) or (
            default_hours and not _DEGREES_COMMENT.search(comment))
    angle = parse_angle(value, hours=hours)
    if angle is None:
        cards.warn(f"{key} = {value!r} is not an angle; ignored")
    return angle


def _pointing(cards: _Cards) -> tuple[float | None, float | None]:
    sources = [("RA", "DEC", False), ("OBJCTRA", "OBJCTDEC", True), ("RA_OBS", "DEC_OBS", False),
               ("OBJRA", "OBJDEC", False), ("TELRA", "TELDEC", False)]
    ctype1, ctype2 = cards.text("CTYPE1") or "", cards.text("CTYPE2") or ""
    if ctype1.upper().startswith("RA") and ctype2.upper().startswith("DEC"):
        sources.append(("CRVAL1", "CRVAL2", False))  # the plate solution, when the mount said nothing
    for ra_key, dec_key, hours in sources:
        if not (cards.has(ra_key) and cards.has(dec_key)):
            continue
        ra = _angle_card(cards, ra_key, ra=True, default_hours=hours)
        dec = _angle_card(cards, dec_key)
        if ra is None or dec is None:
            continue
        if ra == 0 and dec == 0:
            cards.warn(f"{ra_key}/{dec_key} are 0/0, a placeholder written without a mount; ignored")
            continue
        if not (0 <= ra < 360.0001 and -90 <= dec <= 90):
            cards.warn(f"{ra_key}/{dec_key} = {ra:g}/{dec:g} degrees are out of range; ignored")
            continue
        return round(ra % 360.0, 7), round(dec, 7)
    return None, None


def _site(cards: _Cards) -> tuple[float | None, float | None, float | None]:
    lat = _first_angle(cards, LATITUDE_KEYS, 90.0)
    lon = _first_angle(cards, LONGITUDE_KEYS, 360.0)
    if lon is not None and lon > 180:
        lon -= 360.0  # east-positive, -180..180
    elev = cards.number(*ELEVATION_KEYS)
    if elev is None and cards.has("ALTITUDE") and re.search(r"\bm(et(er|re)s?)?\b|\[m", cards.comment("ALTITUDE")):
        elev = cards.number("ALTITUDE")  # ALTITUDE is the target's altitude in some programs: trust only metres
    if lat is None and lon is None and all(cards.has(k) for k in ("OBSGEO-X", "OBSGEO-Y", "OBSGEO-Z")):
        lat, lon, elev = _geocentric(cards)
    if elev is not None and not -500 <= elev <= 9000:
        cards.warn(f"site elevation {elev:g} m is not plausible; ignored")
        elev = None
    return lat, lon, (round(elev, 1) if elev is not None else None)


def _first_angle(cards: _Cards, keys: tuple[str, ...], limit: float) -> float | None:
    for key in keys:
        angle = _angle_card(cards, key)
        if angle is None:
            continue
        if abs(angle) > limit:
            cards.warn(f"{key} = {angle:g} degrees is out of range; ignored")
            continue
        return round(angle, 6)
    return None


def _geocentric(cards: _Cards) -> tuple[float | None, float | None, float | None]:
    from astropy import units as u
    from astropy.coordinates import EarthLocation

    xyz = [cards.number(k) for k in ("OBSGEO-X", "OBSGEO-Y", "OBSGEO-Z")]
    if None in xyz or math.hypot(*xyz) < 6e6:
        return None, None, None
    where = EarthLocation.from_geocentric(*xyz, unit=u.m).geodetic
    return round(float(where.lat.deg), 6), round(float(where.lon.deg), 6), round(float(where.height.to_value(u.m)), 1)


# --------------------------------------------------------------------------- time

_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|[+-]\d{2}:?\d{2})?",
    re.I)
_OLD_DATE = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{2})")
_TIME = re.compile(r"(\d{1,2})[:\s](\d{1,2})[:\s](\d{1,2})(?:[.,](\d+))?")


def _date_obs(cards: _Cards) -> datetime | None:
    """UTC start of exposure: DATE-OBS (with TIME-OBS/UT when it is a date only), else MJD/JD."""
    for key in ("DATE-OBS", "DATE-BEG", "DATE_OBS"):
        value = cards.text(key)
        if value is None:
            continue
        parsed = _parse_date(value)
        if parsed is None:
            cards.warn(f"{key} = {value!r} is not a date; ignored")
            continue
        moment, has_time = parsed
        if has_time:
            return moment
        time_of_day = _time_of_day(cards)
        if time_of_day is not None:
            return moment + time_of_day
        julian = _julian(cards)
        if julian is not None and julian.date() == moment.date():
            return julian
        cards.warn(f"{key} = {value!r} is a date without a time; 00:00 UTC assumed")
        return moment
    julian = _julian(cards, allow_whole_days=True)
    if julian is None:
        cards.warn("no DATE-OBS, MJD-OBS or JD: observation time unknown")
    return julian


def _parse_date(text: str) -> tuple[datetime, bool] | None:
    match = _ISO.fullmatch(text.strip())
    if match:
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        try:
            moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0),
                              int(second or 0), int((fraction or "0")[:6].ljust(6, "0")), tzinfo=timezone.utc)
        except ValueError:
            return None
        if zone and zone.upper() != "Z":
            sign = -1 if zone[0] == "-" else 1
            digits = zone[1:].replace(":", "")
            moment -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return moment, hour is not None
    match = _OLD_DATE.fullmatch(text.strip())
    if match:
        # The pre-2000 'DD/MM/YY' form; the standard says 19YY but late writers meant 20YY.
        day, month, year = (int(g) for g in match.groups())
        year += 1900 if year >= 70 else 2000
        try:
            return datetime(year, month, day, tzinfo=timezone.utc), False
        except ValueError:
            return None
    return None


def _time_of_day(cards: _Cards) -> timedelta | None:
    for key in TIME_KEYS:
        value = cards.text(key)
        if value is None:
            continue
        match = _TIME.fullmatch(value.strip())
        if match and int(match[1]) < 24 and int(match[2]) < 60 and int(match[3]) < 61:
            fraction = float(f"0.{match[4]}") if match[4] else 0.0
            return timedelta(hours=int(match[1]), minutes=int(match[2]), seconds=int(match[3]) + fraction)
        cards.warn(f"{key} = {value!r} is not a time of day; ignored")
    return None


def _julian(cards: _Cards, allow_whole_days: bool = False) -> datetime | None:
    mjd = cards.number("MJD-OBS", "MJD_OBS", "MJD-BEG")
    if mjd is None and (jd := cards.number("JD", "JD-OBS", "JD_OBS")) is not None:
        mjd = jd - 2400000.5
    if mjd is None or not 15000 < mjd < 100000:  # 1900 .. 2132
        return None
    if mjd == int(mjd) and not allow_whole_days:
        return None  # a whole MJD carries only the date, which DATE-OBS already gave
    moment = datetime(1858, 11, 17, tzinfo=timezone.utc) + timedelta(days=mjd)
    return moment.replace(microsecond=(moment.microsecond // 1000) * 1000)
