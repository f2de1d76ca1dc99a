"""Boltwood Cloud Sensor II / AAG CloudWatcher "one-line" data file.

One line of space-separated fields (the file is rewritten every few seconds)::

    date time T V sky-amb amb sensor wind hum dew heater R W since now() c w r d C A

========  ===================================================================
T         temperature scale: ``C`` or ``F``
V         wind scale: ``K`` km/h, ``M`` mph, ``m`` m/s
sky-amb   sky minus ambient temperature (a difference: F converts by 5/9 only)
R, W      rain flag, wet flag (0 dry, 1 in the last minute, 2 now)
since     seconds since the last valid reading from the sensor
now()     VB6 serial date of the write (days since 1899-12-30), local time
c w r d   cloud (1 clear, 2 cloudy, 3 very cloudy), wind (1 calm, 2 windy, 3 very windy),
          rain (1 dry, 2 wet, 3 rain), daylight (1 dark, 2 light, 3 very light); 0 = unknown
C A       roof close flag, alert flag
========  ===================================================================

Date and time are the writing PC's local time; the source takes its time zone from config.
Sensor errors are written as special values (-998, -999, 999 for temperatures, negative wind
speeds); they become ``None`` with a note. Output values are metric: ``*_c`` in degrees C,
``wind_kmh`` in km/h.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone, tzinfo
from pathlib import Path

from ..reading import Reading, Value, Verdict
from .base import SafetySource, SourceError, read_text

FIELDS = ("date", "time", "temperature scale", "wind scale", "sky-ambient temperature", "ambient temperature",
          "sensor temperature", "wind speed", "humidity", "dew point", "heater", "rain flag", "wet flag",
          "seconds since last valid reading", "days since last write", "cloud condition", "wind condition",
          "rain condition", "daylight condition", "roof close flag", "alert flag")
WIND_TO_KMH = {"K": 1.0, "M": 1.609344, "m": 3.6}


def _number(fields: list[str], index: int) -> float:
    try:
        return float(fields[index])
    except ValueError:
        raise SourceError(f"field {index + 1} ({FIELDS[index]}) {fields[index]!r} is not a number") from None


def _integer(fields: list[str], index: int, allowed: range) -> int:
    value = _number(fields, index)
    if value != int(value) or int(value) not in allowed:
        raise SourceError(f"field {index + 1} ({FIELDS[index]}) {fields[index]!r} is not one of "
                          f"{allowed.start}..{allowed.stop - 1}")
    return int(value)


def parse_boltwood_line(line: str, tz: tzinfo = timezone.utc) -> tuple[datetime, dict[str, Value], list[str]]:
    """Parse one data line; return the measurement time (UTC), metric values and notes on sensor errors.

    Raises :class:`SourceError` with the offending field for a malformed line.
    """
    fields = line.split()
    if len(fields) < len(FIELDS):
        raise SourceError(f"line has {len(fields)} fields, expected {len(FIELDS)}: {line.strip()[:120]!r}")
    try:
        written = datetime.strptime(f"{fields[0]} {fields[1]}", "%Y-%m-%d %H:%M:%S.%f")
    except ValueError:
        try:
            written = datetime.strptime(f"{fields[0]} {fields[1]}", "%Y-%m-%d %H:%M:%S")
        except ValueError:
            raise SourceError(f"date and time {fields[0]} {fields[1]!r} are not yyyy-mm-dd hh:mm:ss.ss") from None
    scale, wind_scale = fields[2], fields[3]
    if scale not in ("C", "F"):
        raise SourceError(f"field 3 (temperature scale) {scale!r} is not C or F")
    if wind_scale not in WIND_TO_KMH:
        raise SourceError(f"field 4 (wind scale) {wind_scale!r} is not K (km/h), M (mph) or m (m/s)")
    notes: list[str] = []

    def temperature(index: int, difference: bool = False) -> float | None:
        raw = _number(fields, index)
        if raw <= -998 or raw >= 998:
            notes.append(f"{FIELDS[index]}: sensor error value {fields[index]}")
            return None
        if scale == "F":
            return raw * 5 / 9 if difference else (raw - 32) * 5 / 9
        return raw

    values: dict[str, Value] = {
        "sky_minus_ambient_c": temperature(4, difference=True),
        "ambient_c": temperature(5),
        "sensor_c": temperature(6),
        "dew_point_c": temperature(9),
    }
    wind = _number(fields, 7)
    if wind < 0 or wind >= 998:
        notes.append(f"wind speed: sensor error value {fields[7]}")
        values["wind_kmh"] = None
    else:
        values["wind_kmh"] = wind * WIND_TO_KMH[wind_scale]
    humidity = _number(fields, 8)
    if 0 <= humidity <= 100:
        values["humidity"] = humidity
    else:
        notes.append(f"humidity: sensor error value {fields[8]}")
        values["humidity"] = None
    values["heater_pct"] = _number(fields, 10)
    rain_flag = _integer(fields, 11, range(0, 3))
    wet_flag = _integer(fields, 12, range(0, 3))
    since = _number(fields, 13)
    if since < 0:
        raise SourceError(f"field 14 (seconds since last valid reading) {fields[13]!r} is negative")
    _number(fields, 14)
    cloud, wind_c, rain_c, day = (_integer(fields, i, range(0, 4)) for i in (15, 16, 17, 18))
    roof_close = _integer(fields, 19, range(0, 2))
    alert = _integer(fields, 20, range(0, 2))
    if rain_flag == 0 and rain_c == 0:
        values["rain"] = None
        notes.append("rain condition unknown")
    else:
        values["rain"] = rain_flag > 0 or rain_c == 3
    values["wet"] = wet_flag > 0 or rain_c in (2, 3)
    values.update({
        "rain_flag": rain_flag, "wet_flag": wet_flag, "seconds_since_valid": since,
        "cloud_condition": cloud, "wind_condition": wind_c, "rain_condition": rain_c,
        "daylight_condition": day, "roof_close": bool(roof_close), "alert": bool(alert),
    })
    measured = written.replace(tzinfo=tz).astimezone(timezone.utc) - timedelta(seconds=since)
    return measured, values, notes


class BoltwoodSource(SafetySource):
    """Reads the last data line of a Boltwood/AAG one-line file."""

    def __init__(self, name: str, path: str | Path, tz: tzinfo = timezone.utc):
        super().__init__(name)
        self.path = Path(path)
        self.tz = tz

    def measure(self, now: datetime) -> Reading:
        lines = [ln for ln in read_text(self.path, max_bytes=64 * 1024).splitlines()
                 if ln.strip() and not ln.lstrip().startswith("Date")]
        if not lines:
            raise SourceError(f"file {self.path} has no data line")
        try:
            measured, values, notes = parse_boltwood_line(lines[-1], self.tz)
        except SourceError as exc:
            raise SourceError(f"{self.path}: {exc}") from None
        return Reading(self.name, measured, values, Verdict.SAFE, tuple(notes))
