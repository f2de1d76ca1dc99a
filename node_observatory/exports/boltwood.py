"""OBSY's verdict as a Boltwood Cloud Sensor II "single line data file".

Software that watches a Boltwood file (ACP, and NINA/SGP/others through a Boltwood-file
SafetyMonitor driver) then follows OBSY. Which fields carry meaning:

* ``C`` (roof close) and ``A`` (alert): 1 unless OBSY's state is ``safe`` (so ``unknown`` is 1).
  These are the fields to configure the reader on.
* ``c w r d`` (cloud, wind, rain, daylight conditions): 1 1 1 1 (clear, calm, dry, dark) when OBSY
  says safe, 0 (unknown) otherwise; they echo the verdict, they are not separate measurements.
* ``since``: 0 while the verdict rests on fresh data; when it is ``unknown``, the age in seconds of
  the oldest required source (99999 when there is none).
* temperatures, wind, humidity, dew point and the ``R``/``W`` rain and wet flags: copied from
  the first fresh source reading with that value (e.g. a Boltwood or INDI weather source), else
  Boltwood's no-data values (-999 for temperatures, -1 for wind and humidity, 0 for flags).
* date, time and ``now()`` are the verdict's time in the configured zone (Boltwood writes the
  PC's local time); units are always C and km/h; the heater field is 0.
"""
from __future__ import annotations

import logging
from datetime import datetime, tzinfo
from pathlib import Path

from common.atomicfile import atomic_write

from ..safety.monitor import SafetyStatus
from ..safety.reading import Verdict

log = logging.getLogger(__name__)

VB_EPOCH = datetime(1899, 12, 30)
NO_TEMPERATURE = -999.0
NO_DATA_SINCE = 99999
#: (reading value name, no-data value) for the measurement fields, in line order
MEASUREMENTS = (("sky_minus_ambient_c", NO_TEMPERATURE), ("ambient_c", NO_TEMPERATURE),
                ("sensor_c", NO_TEMPERATURE), ("wind_kmh", -1.0), ("humidity", -1.0),
                ("dew_point_c", NO_TEMPERATURE))


def vb_days(local: datetime) -> float:
    """Days since 1899-12-30 of a local wall-clock time (the VB6/OLE date Boltwood writes)."""
    return (local.replace(tzinfo=None) - VB_EPOCH).total_seconds() / 86400.0


def _fresh_values(status: SafetyStatus) -> list[dict]:
    return [s.reading.values for s in status.sources if s.reading is not None and s.verdict is not Verdict.UNKNOWN]


def _first(readings: list[dict], name: str, default: float) -> float:
    for values in readings:
        value = values.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    return default


def _since(status: SafetyStatus) -> int:
    if status.state is not Verdict.UNKNOWN:
        return 0
    ages = [s.age_s for s in status.sources if s.required and s.age_s is not None]
    if not ages or len(ages) < sum(1 for s in status.sources if s.required):
        return NO_DATA_SINCE
    return min(NO_DATA_SINCE, max(0, round(max(ages))))


def boltwood_line(status: SafetyStatus, tz: tzinfo | None = None) -> str:
    """One data line for ``status``; ``tz`` None means this machine's local time."""
    local = status.time.astimezone(tz)
    readings = _fresh_values(status)
    sky, ambient, sensor, wind, humidity, dew = (_first(readings, name, none) for name, none in MEASUREMENTS)
    rain = 2 if any(v.get("rain") is True for v in readings) else 0
    wet = 2 if any(v.get("wet") is True for v in readings) else 0
    safe = status.state is Verdict.SAFE
    condition = 1 if safe else 0
    flag = 0 if safe else 1
    stamp = f"{local:%Y-%m-%d %H:%M:%S}.{local.microsecond // 10000:02d}"
    return (f"{stamp} C K {sky:6.1f} {ambient:6.1f} {sensor:6.1f} {wind:6.1f} {round(humidity):3d} {dew:6.1f} "
            f"{0:3d} {rain} {wet} {_since(status):05d} {vb_days(local):012.5f} "
            f"{condition} {condition} {condition} {condition} {flag} {flag}")


class BoltwoodFileWriter:
    """Rewrites the file on every verdict; a write error is logged (once per message), never raised."""

    def __init__(self, path: str | Path, tz: tzinfo | None = None):
        self.path = Path(path)
        self.tz = tz
        self._last_error: str | None = None

    def __call__(self, status: SafetyStatus) -> bool:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # every tick: atomic (readers never see half a line) but not fsynced, to spare the flash
            atomic_write(self.path, (boltwood_line(status, self.tz) + "\n").encode("ascii"), durable=False)
        except OSError as exc:
            message = f"{exc.strerror or exc}"
            if message != self._last_error:
                log.warning("Boltwood file %s not written: %s", self.path, message)
            self._last_error = message
            return False
        self._last_error = None
        return True
