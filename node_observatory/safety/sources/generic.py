"""Generic weather readings from a JSON document (file or command output) or a CSV file.

JSON schema (one object; every field but ``time`` is optional)::

    {
      "time": "2026-11-24T21:05:00Z",  # when measured, ISO 8601; without an offset the source's time zone
      "wind_kmh": 12.5,                # wind speed, km/h
      "humidity": 81,                  # relative humidity, %
      "rain": false,                   # true while it rains
      "sky_temp_c": -21.0,             # infrared sky temperature, degrees C
      "ambient_c": 4.5                 # air temperature, degrees C
    }

Any other top-level number, boolean, string or null is kept as a value of the same name, so a
threshold may name it. When both ``sky_temp_c`` and ``ambient_c`` are given, the reading also has
``sky_minus_ambient_c`` (the usual cloud indicator: clear sky is far below ambient).

CSV: a header row naming the columns (same names as above, ``time`` required) and one row per
reading; the last non-empty row is the current reading. Numbers are read as numbers, ``true/false``
and ``yes/no`` as booleans (``rain`` also accepts 0/1), empty cells as missing.
"""
from __future__ import annotations

import csv
import io
import json
import math
from datetime import datetime, timezone, tzinfo
from pathlib import Path

from ..reading import Reading, Value, Verdict
from .base import SafetySource, SourceError, parse_time, read_text, run_command

NUMBER_FIELDS = ("wind_kmh", "humidity", "sky_temp_c", "ambient_c")
BOOL_FIELDS = ("rain",)


def _finish(raw: dict[str, object], tz: tzinfo) -> tuple[datetime, dict[str, Value], list[str]]:
    if "time" not in raw:
        raise SourceError("reading has no 'time' field")
    when = parse_time(raw["time"], tz)
    values: dict[str, Value] = {}
    notes: list[str] = []
    for key, value in raw.items():
        if key == "time":
            continue
        if key in NUMBER_FIELDS:
            if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))
                                      or not math.isfinite(value)):
                raise SourceError(f"field {key!r} = {value!r} is not a number")
        elif key in BOOL_FIELDS:
            if isinstance(value, (int, float)) and not isinstance(value, bool) and value in (0, 1):
                value = bool(value)
            if value is not None and not isinstance(value, bool):
                raise SourceError(f"field {key!r} = {value!r} is not true or false")
        elif isinstance(value, (dict, list)):
            notes.append(f"field {key!r} is not a plain value; ignored")
            continue
        values[key] = value
    if isinstance(values.get("sky_temp_c"), (int, float)) and isinstance(values.get("ambient_c"), (int, float)):
        values["sky_minus_ambient_c"] = float(values["sky_temp_c"]) - float(values["ambient_c"])
    return when, values, notes


def parse_json_text(text: str, tz: tzinfo = timezone.utc) -> tuple[datetime, dict[str, Value], list[str]]:
    if not text.strip():
        raise SourceError("input is empty")
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"input is not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise SourceError(f"input is a JSON {type(raw).__name__}, expected an object")
    return _finish(raw, tz)


def _cell(text: str) -> Value:
    text = text.strip()
    if not text:
        return None
    lowered = text.lower()
    if lowered in ("true", "yes"):
        return True
    if lowered in ("false", "no"):
        return False
    try:
        return float(text)
    except ValueError:
        return text


def parse_csv_text(text: str, tz: tzinfo = timezone.utc) -> tuple[datetime, dict[str, Value], list[str]]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if len(lines) < 2:
        raise SourceError("CSV needs a header row and at least one data row")
    header = [h.strip() for h in next(csv.reader(io.StringIO(lines[0])))]
    row = next(csv.reader(io.StringIO(lines[-1])))
    if len(row) != len(header):
        raise SourceError(f"last CSV row has {len(row)} cells but the header has {len(header)}")
    raw: dict[str, object] = {}
    for name, cell in zip(header, row):
        raw[name.lower() if name.lower() == "time" else name] = cell.strip() if name.lower() == "time" else _cell(cell)
    for key in NUMBER_FIELDS:
        if isinstance(raw.get(key), str):
            raise SourceError(f"column {key!r} = {raw[key]!r} is not a number")
    return _finish(raw, tz)


class JsonSource(SafetySource):
    """A JSON reading from a file, or from the standard output of a command."""

    def __init__(self, name: str, path: str | Path | None = None, command: str | None = None,
                 tz: tzinfo = timezone.utc, timeout_s: float = 20.0):
        super().__init__(name)
        if bool(path) == bool(command):
            raise ValueError("give exactly one of path and command")
        self.path = Path(path) if path else None
        self.command = command
        self.tz = tz
        self.timeout_s = timeout_s

    def measure(self, now: datetime) -> Reading:
        if self.path is not None:
            text, origin = read_text(self.path, max_bytes=1024 * 1024), str(self.path)
        else:
            text, origin = run_command(self.command, self.timeout_s), f"command {self.command.split()[0]}"
        try:
            when, values, notes = parse_json_text(text, self.tz)
        except SourceError as exc:
            raise SourceError(f"{origin}: {exc}") from None
        return Reading(self.name, when, values, Verdict.SAFE, tuple(notes))


class CsvSource(SafetySource):
    """The last row of a CSV file with a header row."""

    def __init__(self, name: str, path: str | Path, tz: tzinfo = timezone.utc):
        super().__init__(name)
        self.path = Path(path)
        self.tz = tz

    def measure(self, now: datetime) -> Reading:
        text = read_text(self.path)
        try:
            when, values, notes = parse_csv_text(text, self.tz)
        except SourceError as exc:
            raise SourceError(f"{self.path}: {exc}") from None
        return Reading(self.name, when, values, Verdict.SAFE, tuple(notes))
