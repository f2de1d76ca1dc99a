"""An INDI weather device (e.g. ``indi_simulator_weather``) as a safety source.

``WEATHER_STATUS`` is a light vector, one light per parameter: Ok is within limits, Busy is the
driver's warning band, Alert is beyond its danger limit, Idle means not yet judged. The source's
verdict: any Alert or Busy light is unsafe (the roof cares about a warning too), all Ok is safe,
anything else (Idle, no property, server or device gone) is unknown. ``WEATHER_PARAMETERS``
numbers are the reading's values, named without the ``WEATHER_`` prefix in lower case
(``WEATHER_RAIN_HAZARD`` -> ``rain_hazard``) so that the usual thresholds can apply to them.

INDI pushes updates, so a reading is stamped with the time it is read while the device is
connected; a dropped connection makes the source unknown at once. The client is usually an
:class:`~.indi_link.IndiLink`, which keeps the connection up and says why it is not.
"""
from __future__ import annotations

from datetime import datetime

from ..reading import Reading, Verdict
from .base import SafetySource, SourceError


def value_name(element: str) -> str:
    name = element[len("WEATHER_"):] if element.startswith("WEATHER_") else element
    return name.lower()


class IndiWeatherSource(SafetySource):
    def __init__(self, name: str, client, device: str):
        super().__init__(name)
        self.client = client
        self.device = device

    def measure(self, now: datetime) -> Reading:
        c = self.client
        why = getattr(c, "problem", None)  # an IndiLink says why it is not connected
        because = f": {why}" if why else ""
        if not c.connected:
            raise SourceError(f"INDI server not connected{because}")
        if not c.value(self.device, "CONNECTION", "CONNECT"):
            raise SourceError(f"INDI device {self.device} is not connected{because}")
        status = c.get(self.device, "WEATHER_STATUS")
        if status is None:
            raise SourceError(f"{self.device} has no WEATHER_STATUS")
        params = c.get(self.device, "WEATHER_PARAMETERS")
        values = {value_name(k): float(v) for k, v in (params.values if params else {}).items()}
        bad = sorted(value_name(k) + (" beyond its limit" if s == "Alert" else " in its warning band")
                     for k, s in status.values.items() if s in ("Alert", "Busy"))
        unjudged = sorted(value_name(k) for k, s in status.values.items() if s not in ("Alert", "Busy", "Ok"))
        if bad:
            return Reading(self.name, now, values, Verdict.UNSAFE, tuple(f"{self.device}: {b}" for b in bad))
        if unjudged or not status.values:
            why = f"{self.device}: not judged yet: {', '.join(unjudged) or 'no parameters'}"
            return Reading(self.name, now, values, Verdict.UNKNOWN, (why,))
        return Reading(self.name, now, values, Verdict.SAFE)
