"""Target lists from files: OAL XML (as KStars' Observation Planner saves it, and other OAL writers) and CSV.

Parsing only: every entry becomes a ``ParsedTarget`` with the Target columns it
gives, or the reason it cannot be a target. Nothing touches the database here
(``master.targets.import_targets`` applies a parsed list).
"""
from __future__ import annotations

import csv
import io
import math
import re
import warnings
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from .catalog.coords import CoordinateError, parse_dec, parse_ra

MAX_ROWS = 5000


class TargetFileError(ValueError):
    """The file as a whole cannot be read (not one bad row)."""


@dataclass
class ParsedTarget:
    where: str  # "line 4" or "target 3": how a person finds the entry in the file
    name: str = ""
    fields: dict = field(default_factory=dict)  # Target column -> value
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # remarks that do not stop the import


# --- OAL ---------------------------------------------------------------------------------------------------

# OAL 2.0 target types (xsi:type) and what OBSY calls them; solar-system bodies cannot be fixed targets.
OAL_TYPES = {
    "deepskyas": "Asterism", "deepskycg": "Galaxy cluster", "deepskycn": "Cluster + Nebula",
    "deepskydn": "Dark Nebula", "deepskyds": "Double star", "deepskygc": "Globular Cluster",
    "deepskygn": "Nebula", "deepskygx": "Galaxy", "deepskyms": "Multiple star", "deepskyoc": "Open Cluster",
    "deepskypn": "Planetary Nebula", "deepskyqs": "Quasar", "deepskysc": "Star cloud", "deepskyna": None,
    "startargettype": "Star", "variablestartargettype": "Variable star",
}
MOVING = {"planettargettype", "moontargettype", "suntargettype", "comettargettype", "minorplanettargettype",
          "planet", "moon", "sun", "comet", "asteroid", "satellite", "dwarf planet"}
ANGLE_UNITS = {"rad": 180 / math.pi, "deg": 1.0, "arcmin": 1 / 60, "arcsec": 1 / 3600}


def _number(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} {text!r} is not a number")
    return value


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].split(":")[-1]


def _child(element: Element, name: str) -> Element | None:
    return next((c for c in element if _local(c.tag) == name), None)


def _text(element: Element | None) -> str:
    return " ".join((element.text or "").split()) if element is not None else ""


def _attr(element: Element, name: str) -> str:
    """An attribute by local name, whatever its namespace (xsi:type, or KStars' plain type)."""
    return next((v for k, v in element.attrib.items() if _local(k) == name), "")


def _angle_deg(element: Element | None, default_unit: str) -> float | None:
    """An OAL angleType in degrees; raises ValueError on a number or unit it cannot read."""
    if element is None or not _text(element):
        return None
    unit = (_attr(element, "unit") or default_unit).strip().lower()
    if unit not in ANGLE_UNITS:
        raise ValueError(f"unit {unit!r} is not one of {', '.join(ANGLE_UNITS)}")
    value = float(_text(element))
    if not math.isfinite(value):
        raise ValueError(f"{_text(element)!r} is not a number")
    return value * ANGLE_UNITS[unit]


def _read_xml(data: bytes) -> Element:
    """The root element: UTF-8/16 or a declared encoding; an undeclared 8-bit file read as Windows-1252.

    KStars writes the list through a QTextStream in the locale's encoding and
    declares none, so a Latin-1 list from an older desktop is common.
    """
    try:
        return fromstring(data)
    except DefusedXmlException:
        raise TargetFileError("the file declares a DTD or entities, which OBSY does not read") from None
    except (LookupError, ValueError) as exc:  # expat: an unknown or multi-byte declared encoding
        raise TargetFileError(f"the file's encoding cannot be read ({exc}): save it as UTF-8") from None
    except ParseError as exc:
        first = exc
    head = data[:200].decode("ascii", "replace")
    declared = re.search(r"<\?xml[^>]*encoding=", head) or data[:2] in (b"\xff\xfe", b"\xfe\xff")
    try:
        data.decode("utf-8")
        undecodable = False
    except UnicodeDecodeError:
        undecodable = True
    if declared or not undecodable:
        raise TargetFileError(f"not well-formed XML: {first}")
    text = re.sub(r"^\s*<\?xml[^>]*\?>", "", data.decode("cp1252", "replace"))
    try:
        return fromstring(text)
    except (ParseError, DefusedXmlException) as exc:
        raise TargetFileError(f"not well-formed XML: {exc}") from None


def _oal_date(root: Element) -> datetime | None:
    """The list's date: KStars' <geodate><date>ddMMyyyy, else the first session's begin."""
    geodate = _child(root, "geodate")
    if geodate is not None:
        try:
            return datetime.strptime(_text(_child(geodate, "date")), "%d%m%Y")
        except ValueError:
            pass
    sessions = _child(root, "sessions")
    for session in (sessions if sessions is not None else []):
        try:
            return datetime.fromisoformat(_text(_child(session, "begin"))[:19])
        except ValueError:
            continue
    return None


def _to_j2000(ra: float, dec: float, equinox: str, when: datetime | None) -> tuple[float, float]:
    import astropy.units as u
    from astropy.coordinates import FK4, TETE, SkyCoord
    from astropy.time import Time

    from .planning.sky import offline_astropy

    offline_astropy()
    if equinox == "b1950":
        frame = FK4(equinox="B1950")
    else:  # of date: KStars stores apparent places (precessed, nutated, aberrated) = TETE
        frame = TETE(obstime=Time(when))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        icrs = SkyCoord(ra * u.deg, dec * u.deg, frame=frame).icrs
    return float(icrs.ra.deg) % 360.0, float(icrs.dec.deg)


def _oal_target(element: Element, where: str, kstars: bool, when: datetime | None) -> ParsedTarget:
    parsed = ParsedTarget(where, _text(_child(element, "name")))
    if not parsed.name:
        parsed.error = "no <name>"
        return parsed
    parsed.where = f"{where} ({parsed.name})"
    kind = _attr(element, "type")
    key = kind.split(":")[-1].lower()
    if key in MOVING:
        parsed.error = f"a {kind.split(':')[-1]} moves on the sky and cannot be a fixed target"
        return parsed
    fields = parsed.fields
    fields["object_type"] = OAL_TYPES[key] if key in OAL_TYPES else (kind.split(":")[-1] or None)  # KStars: "Galaxy"
    position = _child(element, "position")
    try:
        ra = _angle_deg(_child(position, "ra"), "rad") if position is not None else None
        dec = _angle_deg(_child(position, "dec"), "rad") if position is not None else None
    except ValueError as exc:
        parsed.error = f"position: {exc}"
        return parsed
    if ra is not None and dec is not None:
        if not (-90 <= dec <= 90):
            parsed.error = f"declination {dec:.4f}° is outside -90..+90°"
            return parsed
        ra %= 360.0
        frame = _child(position, "frame")
        equinox = _text(_child(frame, "equinox")).lower() if frame is not None else ""
        if not equinox and kstars:
            equinox = "eqofdate"  # KStars writes the current-epoch place and no frame
        if equinox in ("eqofdate", "b1950"):
            if equinox == "eqofdate" and when is None:
                parsed.notes.append("position of date but the file has no date: read as J2000")
            else:
                ra, dec = _to_j2000(ra, dec, equinox, when)
        fields["ra_deg"], fields["dec_deg"] = ra, dec
    try:
        magnitude = next((float(_text(_child(element, n))) for n in ("visMag", "apparentMag", "magnitude")
                          if _text(_child(element, n))), None)
        large = _angle_deg(_child(element, "largeDiameter"), "arcmin")
        small = _angle_deg(_child(element, "smallDiameter"), "arcmin")
        pa = _text(_child(element, "pa"))  # OAL: position angle in degrees
        if pa:
            fields["position_angle_deg"] = _number(pa, "position angle") % 180.0
    except ValueError as exc:
        parsed.error = str(exc)
        return parsed
    fields["magnitude"] = magnitude
    fields["size_major_arcmin"] = large * 60 if large is not None else None
    fields["size_minor_arcmin"] = small * 60 if small is not None else None
    aliases = [_text(c) for c in element if _local(c.tag) == "alias" and _text(c)]
    if aliases:
        fields["common_names"] = aliases
    constellation = _text(_child(element, "constellation"))
    if constellation:
        fields["constellation"] = constellation
    notes = (_child(element, "notes").text or "").strip() if _child(element, "notes") is not None else ""
    if notes:
        fields["notes"] = notes
    return parsed


def parse_oal(data: bytes) -> list[ParsedTarget]:
    root = _read_xml(data)
    if _local(root.tag) != "observations":
        raise TargetFileError(f"not an OAL observing list: the root element is <{_local(root.tag)}>, not <observations>")
    targets = _child(root, "targets")
    entries = [c for c in (targets if targets is not None else []) if _local(c.tag) == "target"]
    if not entries:
        raise TargetFileError("the OAL file has no <targets> with a <target> in it")
    if len(entries) > MAX_ROWS:
        raise TargetFileError(f"{len(entries)} targets: at most {MAX_ROWS} per file")
    when = _oal_date(root)
    parsed = []
    for number, element in enumerate(entries, start=1):
        kstars = _text(_child(element, "datasource")).lower() == "kstars"
        parsed.append(_oal_target(element, f"target {number}", kstars, when))
    return parsed


# --- CSV ---------------------------------------------------------------------------------------------------

COLUMNS = {
    "name": ("name", "target", "object"), "ra": ("ra", "ra_j2000", "raj2000", "right ascension", "ra (j2000)"),
    "dec": ("dec", "de", "dec_j2000", "dej2000", "declination", "dec (j2000)"),
    "object_type": ("object_type", "type"), "magnitude": ("magnitude", "mag", "vmag"),
    "size_arcmin": ("size_arcmin", "size"), "size_major_arcmin": ("size_major_arcmin", "major_arcmin"),
    "size_minor_arcmin": ("size_minor_arcmin", "minor_arcmin"), "constellation": ("constellation", "con"),
    "tags": ("tags", "tag"), "public": ("public",), "notes": ("notes", "note", "comment", "comments"),
    "catalog_id": ("catalog_id", "catalogue_id"), "also_known_as": ("also_known_as", "common_names", "aliases"),
    "position_angle_deg": ("position_angle_deg", "pa", "position_angle"),
}
YES, NO = {"yes", "y", "true", "1", "public"}, {"no", "n", "false", "0", "", "private"}


def _decode(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _split(text: str) -> list[str]:
    return [t.strip() for t in re.split(r"[;,]", text) if t.strip()]


def _size(text: str) -> tuple[float | None, float | None]:
    """'178x63', '178 × 63', '10' (arcminutes)."""
    parts = [p for p in re.split(r"\s*[x×*]\s*", text.strip().lower()) if p]
    if not parts or len(parts) > 2:
        raise ValueError(f"size {text!r} is not like 178x63 or 10 (arcminutes)")
    values = [_number(p.rstrip("'′"), "size") for p in parts]
    if any(v <= 0 for v in values):
        raise ValueError(f"size {text!r} must be positive")
    return values[0], values[1] if len(values) == 2 else None


def _csv_row(row: dict[str, str], where: str) -> ParsedTarget:
    parsed = ParsedTarget(where, " ".join(row.get("name", "").split()))
    if not parsed.name:
        parsed.error = "no name"
        return parsed
    parsed.where = f"{where} ({parsed.name})"
    fields = parsed.fields
    try:
        if row.get("ra") or row.get("dec"):
            fields["ra_deg"], fields["dec_deg"] = parse_ra(row.get("ra", "")), parse_dec(row.get("dec", ""))
        if row.get("magnitude"):
            fields["magnitude"] = _number(row["magnitude"], "magnitude")
        if row.get("size_arcmin"):
            fields["size_major_arcmin"], fields["size_minor_arcmin"] = _size(row["size_arcmin"])
        for column in ("size_major_arcmin", "size_minor_arcmin"):
            if row.get(column):
                fields[column] = _size(row[column])[0]
        if row.get("position_angle_deg"):
            fields["position_angle_deg"] = _number(row["position_angle_deg"], "position angle") % 180.0
        public = row.get("public", "").lower()
        if public not in YES | NO:
            raise ValueError(f"public {row['public']!r} is not yes or no")
        if public:
            fields["public"] = public in YES
    except CoordinateError as exc:
        parsed.error = str(exc)
        return parsed
    except ValueError as exc:
        parsed.error = str(exc)
        return parsed
    for column in ("object_type", "constellation", "notes", "catalog_id"):
        if row.get(column):
            fields[column] = row[column]
    if row.get("tags"):
        fields["tags"] = sorted(set(_split(row["tags"])))
    if row.get("also_known_as"):
        fields["common_names"] = _split(row["also_known_as"].replace(",", ";"))
    return parsed


def parse_csv(data: bytes | str) -> list[ParsedTarget]:
    text = _decode(data) if isinstance(data, bytes) else data
    # The header names the columns and holds no separators of its own: its commonest separator is the file's.
    first_line = text.lstrip("\ufeff").split("\n", 1)[0]
    delimiter = max(",;\t", key=lambda d: (first_line.count(d), d == ","))
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    if not header:
        raise TargetFileError("the CSV is empty")
    aliases = {alias: column for column, names in COLUMNS.items() for alias in names}
    columns = [aliases.get(h.strip().lower().lstrip("\ufeff")) for h in header]
    if "name" not in columns:
        raise TargetFileError("the CSV needs a header row with a name column (and ra, dec unless the "
                              f"names are in the catalogue); found {', '.join(h.strip() for h in header)}")
    parsed = []
    for values in reader:
        if not any(v.strip() for v in values):
            continue
        if len(parsed) >= MAX_ROWS:
            raise TargetFileError(f"more than {MAX_ROWS} rows")
        row = {c: v.strip() for c, v in zip(columns, values) if c}
        entry = _csv_row(row, f"line {reader.line_num}")
        if len(values) > len(header) and any(v.strip() for v in values[len(header):]):
            entry.notes.append(f"{len(values) - len(header)} value(s) beyond the header were ignored")
        parsed.append(entry)
    if not parsed:
        raise TargetFileError("the CSV has a header but no rows")
    return parsed


def parse_target_file(data: bytes, filename: str = "") -> list[ParsedTarget]:
    """OAL or CSV, by content (a leading '<' is XML) rather than by the file's name."""
    head = data[:64].lstrip(b"\xef\xbb\xbf\xff\xfe\x00 \t\r\n")
    if head.startswith(b"<") or filename.lower().endswith((".xml", ".oal", ".obslist")):
        return parse_oal(data)
    return parse_csv(data)
