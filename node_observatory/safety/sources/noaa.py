"""NOAA space-weather and smoke products, read from a file or fetched over HTTP (:mod:`.feed`).

* SWPC planetary Kp: an array of arrays of strings whose first row is the header, either
  ``["time_tag","Kp","a_running","station_count"]`` (observed) or
  ``["time_tag","kp","observed","noaa_scale"]`` (forecast; ``observed`` is ``observed``,
  ``estimated`` or ``predicted``). The 1-minute product is an array of objects
  ``{"time_tag", "kp_index", "estimated_kp", "kp"}``. Times are UTC.
  Values: ``kp`` (the latest value not in the future), ``kp_max_next_24h`` when predictions exist.
* SWPC OVATION aurora: ``{"Observation Time", "Forecast Time", "Data Format", "coordinates":
  [[lon 0..359, lat -90..90, probability 0..100], ...], "type"}``. Value: ``aurora_probability``
  at the grid point nearest the site (longitude wraps at 360).
* NOAA HMS smoke KML: folders named by density (Light, Medium, Heavy) holding Placemark
  Polygons. Values: ``smoke_level`` (0 none, 1 light, 2 medium, 3 heavy), ``smoke_density`` and
  ``smoke_distance_km`` of the densest polygon containing the site or within the configured
  distance. The KML carries no reliable analysis time, so the reading time is the file's mtime
  (or the fetch time of a fetched copy).

Each source takes a path or an input with ``load(now) -> (bytes, time, notes)``: a
:class:`~.base.FileInput` or a :class:`~.feed.Feed`; ``*_document`` parse the bytes (a feed uses
them to refuse a garbage response before it replaces the cached copy).

Malformed or empty input never raises out of a source: it becomes an ``unknown`` reading.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from ..reading import Reading, Verdict
from .base import MAX_INPUT_BYTES, FileInput, SafetySource, SourceError, decode_text, parse_time

try:  # defusedxml refuses entity expansion and external references
    from defusedxml import ElementTree as _SafeET
except ImportError:  # pragma: no cover - exercised only where defusedxml is missing
    _SafeET = None
import xml.etree.ElementTree as _ET

MAX_KML_BYTES = 16 * 1024 * 1024
KM_PER_DEGREE = 111.195


def as_input(where, max_bytes: int = MAX_INPUT_BYTES):
    """A path becomes a :class:`FileInput`; anything else is taken to have ``load`` and ``label``."""
    return FileInput(where, max_bytes) if isinstance(where, (str, Path)) else where


def _load_json(text: str) -> object:
    if not text.strip():
        raise SourceError("input is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"input is not JSON: {exc}") from None


def _float(value: object, what: str) -> float:
    if isinstance(value, bool) or value is None:
        raise SourceError(f"{what} {value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SourceError(f"{what} {value!r} is not a number") from None
    if not math.isfinite(number):
        raise SourceError(f"{what} {value!r} is not a finite number")
    return number


# --- Kp -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KpPoint:
    time: datetime
    kp: float
    kind: str  # observed, estimated or predicted


def parse_kp(data: object) -> list[KpPoint]:
    """Parse any of the three SWPC Kp layouts into points sorted by time."""
    if not isinstance(data, list) or not data:
        raise SourceError("Kp data is not a non-empty JSON array")
    points: list[KpPoint] = []
    if isinstance(data[0], list):
        header = [str(h).strip().lower() for h in data[0]]
        if "time_tag" not in header or "kp" not in header:
            raise SourceError(f"Kp header {data[0]!r} lacks time_tag and kp columns")
        t_col, kp_col = header.index("time_tag"), header.index("kp")
        kind_col = header.index("observed") if "observed" in header else None
        for number, row in enumerate(data[1:], start=2):
            if not isinstance(row, list) or len(row) != len(header):
                raise SourceError(f"Kp row {number} is not a list of {len(header)} cells")
            kind = str(row[kind_col]).lower() if kind_col is not None else "observed"
            points.append(KpPoint(parse_time(row[t_col]), _float(row[kp_col], f"Kp row {number}"), kind))
    elif isinstance(data[0], dict):
        for number, row in enumerate(data, start=1):
            if not isinstance(row, dict) or "time_tag" not in row:
                raise SourceError(f"Kp entry {number} is not an object with a time_tag")
            raw = row.get("estimated_kp", row.get("kp_index"))
            points.append(KpPoint(parse_time(row["time_tag"]), _float(raw, f"Kp entry {number}"), "estimated"))
    else:
        raise SourceError("Kp data is neither an array of arrays nor an array of objects")
    if not points:
        raise SourceError("Kp data has a header but no values")
    for point in points:
        if not 0 <= point.kp <= 9:
            raise SourceError(f"Kp {point.kp:g} at {point.time.isoformat()} is outside 0..9")
    return sorted(points, key=lambda p: p.time)


def kp_document(body: bytes) -> list[KpPoint]:
    return parse_kp(_load_json(decode_text(body)))


class KpSource(SafetySource):
    def __init__(self, name: str, where):
        super().__init__(name)
        self.input = as_input(where)

    def measure(self, now: datetime) -> Reading:
        body, _, notes = self.input.load(now)
        try:
            points = kp_document(body)
        except SourceError as exc:
            raise SourceError(f"{self.input.label}: {exc}") from None
        past = [p for p in points if p.kind != "predicted" and p.time <= now]
        if not past:
            raise SourceError(f"{self.input.label}: no observed or estimated Kp at or before {now.isoformat()}")
        latest = past[-1]
        values = {"kp": latest.kp}
        # a predicted 3-hour interval that started less than 3 h ago still lies ahead in part
        ahead = [p.kp for p in points
                 if p.kind == "predicted" and now - timedelta(hours=3) < p.time <= now + timedelta(hours=24)]
        if ahead:
            values["kp_max_next_24h"] = max(ahead)
        return Reading(self.name, latest.time, values, Verdict.SAFE, notes)


# --- OVATION aurora -------------------------------------------------------------------------

@dataclass(frozen=True)
class Ovation:
    observation_time: datetime
    forecast_time: datetime
    points: list[tuple[float, float, float]]  # lon 0..360, lat, probability


def parse_ovation(data: object) -> Ovation:
    if not isinstance(data, dict):
        raise SourceError("OVATION data is not a JSON object")
    for key in ("Observation Time", "Forecast Time", "coordinates"):
        if key not in data:
            raise SourceError(f"OVATION data has no {key!r}")
    coordinates = data["coordinates"]
    if not isinstance(coordinates, list) or not coordinates:
        raise SourceError("OVATION coordinates are empty")
    points = []
    for number, item in enumerate(coordinates, start=1):
        if not isinstance(item, list) or len(item) != 3:
            raise SourceError(f"OVATION coordinate {number} is not [lon, lat, probability]")
        lon, lat, prob = (_float(v, f"OVATION coordinate {number}") for v in item)
        if not (0 <= lon <= 360 and -90 <= lat <= 90 and 0 <= prob <= 100):
            raise SourceError(f"OVATION coordinate {number} {item!r} is out of range")
        points.append((lon, lat, prob))
    return Ovation(parse_time(data["Observation Time"]), parse_time(data["Forecast Time"]), points)


def aurora_probability(points: list[tuple[float, float, float]], latitude_deg: float,
                       longitude_deg: float) -> tuple[float, float, float]:
    """Probability at the grid point nearest the site; returns (probability, grid lon, grid lat)."""
    site_lon = longitude_deg % 360.0

    def distance(point):
        dlon = abs((point[0] - site_lon + 180.0) % 360.0 - 180.0)
        return dlon * dlon + (point[1] - latitude_deg) ** 2

    lon, lat, prob = min(points, key=distance)
    return prob, lon, lat


def ovation_document(body: bytes) -> Ovation:
    return parse_ovation(_load_json(decode_text(body)))


class OvationSource(SafetySource):
    def __init__(self, name: str, where, latitude_deg: float, longitude_deg: float):
        super().__init__(name)
        self.input = as_input(where)
        self.latitude_deg = latitude_deg
        self.longitude_deg = longitude_deg

    def measure(self, now: datetime) -> Reading:
        body, _, notes = self.input.load(now)
        try:
            ovation = ovation_document(body)
        except SourceError as exc:
            raise SourceError(f"{self.input.label}: {exc}") from None
        prob, lon, lat = aurora_probability(ovation.points, self.latitude_deg, self.longitude_deg)
        values = {"aurora_probability": prob, "aurora_grid_lon": lon, "aurora_grid_lat": lat,
                  "aurora_forecast_time": ovation.forecast_time.isoformat()}
        return Reading(self.name, ovation.observation_time, values, Verdict.SAFE, notes)


# --- HMS smoke ------------------------------------------------------------------------------

DENSITIES = ("light", "medium", "heavy")


@dataclass(frozen=True)
class SmokePolygon:
    level: int  # 1 light, 2 medium, 3 heavy
    outer: list[tuple[float, float]]  # (lon, lat)
    holes: list[list[tuple[float, float]]]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(element, name: str) -> str:
    for child in element:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def _level(text: str) -> int:
    lowered = text.lower()
    for level in (3, 2, 1):
        if DENSITIES[level - 1] in lowered:
            return level
    return 0


def _ring(element) -> list[tuple[float, float]]:
    for node in element.iter():
        if _local(node.tag) == "coordinates":
            ring = []
            for token in (node.text or "").split():
                parts = token.split(",")
                if len(parts) < 2:
                    raise SourceError(f"KML coordinate {token!r} is not lon,lat")
                ring.append((_float(parts[0], "KML longitude"), _float(parts[1], "KML latitude")))
            if len(ring) < 3:
                raise SourceError("KML polygon ring has fewer than 3 points")
            return ring
    raise SourceError("KML polygon boundary has no coordinates")


def parse_smoke_kml(data: bytes) -> list[SmokePolygon]:
    """Parse HMS smoke polygons; an empty KML (no smoke analysed) gives an empty list."""
    if not data.strip():
        raise SourceError("KML is empty")
    if len(data) > MAX_KML_BYTES:
        raise SourceError(f"KML is larger than {MAX_KML_BYTES} bytes")
    try:
        if _SafeET is not None:
            root = _SafeET.fromstring(data)
        else:  # pragma: no cover
            if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
                raise SourceError("KML with a DTD is refused")
            root = _ET.fromstring(data)
    except _ET.ParseError as exc:
        raise SourceError(f"KML is not well-formed XML: {exc}") from None
    except SourceError:
        raise
    except Exception as exc:  # defusedxml's refusals
        raise SourceError(f"KML refused: {type(exc).__name__}") from None
    if _local(root.tag) != "kml":
        raise SourceError(f"root element is <{_local(root.tag)}>, expected <kml>")
    polygons: list[SmokePolygon] = []

    def walk(element, level: int) -> None:
        if _local(element.tag) == "Folder":
            level = _level(_child_text(element, "name")) or level
        if _local(element.tag) == "Placemark":
            own = _level(_child_text(element, "name")) or _level(_child_text(element, "description"))
            mark_level = level or own
            for node in element.iter():
                if _local(node.tag) != "Polygon":
                    continue
                if not mark_level:
                    raise SourceError("smoke polygon outside a Light/Medium/Heavy folder and with no density")
                outer, holes = None, []
                for part in node:
                    if _local(part.tag) == "outerBoundaryIs":
                        outer = _ring(part)
                    elif _local(part.tag) == "innerBoundaryIs":
                        holes.append(_ring(part))
                if outer is None:
                    raise SourceError("KML polygon has no outer boundary")
                polygons.append(SmokePolygon(mark_level, outer, holes))
            return
        for child in element:
            walk(child, level)

    walk(root, 0)
    return polygons


def _project(lon: float, lat: float, lon0: float, lat0: float) -> tuple[float, float]:
    dlon = (lon - lon0 + 180.0) % 360.0 - 180.0
    return dlon * math.cos(math.radians(lat0)) * KM_PER_DEGREE, (lat - lat0) * KM_PER_DEGREE


def _inside(ring: list[tuple[float, float]]) -> bool:
    """Is the origin inside the projected ring (even-odd rule)?"""
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1]):
        if (y1 > 0) != (y2 > 0) and 0 < x1 + (0 - y1) * (x2 - x1) / (y2 - y1):
            inside = not inside
    return inside


def _edge_distance(ring: list[tuple[float, float]]) -> float:
    best = math.inf
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1]):
        dx, dy = x2 - x1, y2 - y1
        length2 = dx * dx + dy * dy
        t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(x1 * dx + y1 * dy) / length2))
        best = min(best, math.hypot(x1 + t * dx, y1 + t * dy))
    return best


def smoke_at(polygons: list[SmokePolygon], latitude_deg: float, longitude_deg: float,
             within_km: float) -> tuple[int, float | None]:
    """Densest smoke level containing the site or within ``within_km``; returns (level, distance km)."""
    best_level, best_distance = 0, None
    for polygon in polygons:
        outer = [_project(lon, lat, longitude_deg, latitude_deg) for lon, lat in polygon.outer]
        holes = [[_project(lon, lat, longitude_deg, latitude_deg) for lon, lat in h] for h in polygon.holes]
        if _inside(outer) and not any(_inside(h) for h in holes):
            distance = 0.0
        else:
            distance = min([_edge_distance(outer)] + [_edge_distance(h) for h in holes])
        if distance > within_km:
            continue
        if polygon.level > best_level or (polygon.level == best_level and distance < best_distance):
            best_level, best_distance = polygon.level, distance
    return best_level, best_distance


def smoke_document(body: bytes) -> list[SmokePolygon]:
    return parse_smoke_kml(body)


class SmokeSource(SafetySource):
    def __init__(self, name: str, where, latitude_deg: float, longitude_deg: float,
                 within_km: float = 50.0):
        super().__init__(name)
        self.input = as_input(where, MAX_KML_BYTES)
        self.latitude_deg = latitude_deg
        self.longitude_deg = longitude_deg
        self.within_km = within_km

    def measure(self, now: datetime) -> Reading:
        data, fetched, notes = self.input.load(now)
        try:
            polygons = smoke_document(data)
        except SourceError as exc:
            raise SourceError(f"{self.input.label}: {exc}") from None
        level, distance = smoke_at(polygons, self.latitude_deg, self.longitude_deg, self.within_km)
        values = {"smoke_level": level, "smoke_density": "none" if level == 0 else DENSITIES[level - 1],
                  "smoke_distance_km": None if distance is None else round(distance, 1),
                  "smoke_polygons": len(polygons)}
        return Reading(self.name, fetched, values, Verdict.SAFE, notes)
