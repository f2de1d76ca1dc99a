"""Put the safety verdict on the event bus: on every change, and again every so often
so that listeners can tell a live verdict from a stale one."""
from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from common import names
from common.contracts import CloudMap, SafetyState, WeatherReport

log = logging.getLogger(__name__)


class SafetyPublisher:
    def __init__(self, bus, node: str, every_s: float):
        self.bus = bus
        self.node = node
        self.every = timedelta(seconds=every_s)
        self._last_state = None
        self._last_sent: datetime | None = None

    def __call__(self, status) -> bool:
        """Publish ``status`` (a SafetyStatus) if it changed or is due; True when sent."""
        changed = status.state is not self._last_state
        due = self._last_sent is None or status.time - self._last_sent >= self.every
        if not (changed or due):
            return False
        message = SafetyState(node=self.node, state=status.state.value, reasons=list(status.reasons),
                              sent_at=status.time)
        try:
            self.bus.publish(names.safety_key(self.node), message)
        except Exception as exc:  # the broker may be down; the next tick tries again
            log.warning("safety state not published: %s", exc)
            return False
        self._last_state, self._last_sent = status.state, status.time
        return True


class CloudMapPublisher:
    """Each newly judged all-sky image's cloud map, as a ``CloudMap`` event (once per image)."""

    def __init__(self, bus, node: str, monitor):
        self.bus = bus
        self.node = node
        self.sources = [slot.source for slot in monitor.slots if hasattr(slot.source, "map_serial")]
        self._sent: dict[str, int] = {}

    def __call__(self, status=None) -> int:
        sent = 0
        for source in self.sources:
            if source.cloud_map is None or self._sent.get(source.name) == source.map_serial:
                continue
            taken, result = source.cloud_map
            message = CloudMap(node=self.node, source=source.name, taken_at=taken, label=result.label,
                               cloud_fraction=result.cloud_fraction, regions=list(result.regions))
            try:
                self.bus.publish(names.clouds_key(self.node), message)
            except Exception as exc:  # the broker may be down; the next image tries again
                log.warning("cloud map not published: %s", exc)
                continue
            self._sent[source.name] = source.map_serial
            sent += 1
        return sent


class WeatherPublisher:
    """The fresh numeric and yes/no readings of every source, as a ``WeatherReport`` every
    ``every_s`` (and not at all while no source has a fresh value)."""

    def __init__(self, bus, node: str, every_s: float):
        self.bus = bus
        self.node = node
        self.every = timedelta(seconds=every_s)
        self._last_sent: datetime | None = None

    def __call__(self, status) -> bool:
        if self._last_sent is not None and status.time - self._last_sent < self.every:
            return False
        report = weather_report(self.node, status)
        if report is None:
            return False
        try:
            self.bus.publish(names.weather_key(self.node), report)
        except Exception as exc:  # the broker may be down; the next period tries again
            log.warning("weather report not published: %s", exc)
            return False
        self._last_sent = status.time
        return True


def weather_report(node: str, status) -> WeatherReport | None:
    values: dict[str, float | bool] = {}
    sources, times = [], []
    for source in status.sources:
        if not source.fresh or source.reading is None:
            continue
        used = False
        for quantity, value in source.reading.values.items():
            if isinstance(value, bool) or (isinstance(value, (int, float)) and math.isfinite(value)):
                key = quantity if quantity not in values else f"{source.name}.{quantity}"
                values[key] = value if isinstance(value, bool) else float(value)
                used = True
        if used:
            sources.append(source.name)
            times.append(source.reading.time)
    if not values:
        return None
    # The oldest of the readings used: the report is no fresher than its stalest part.
    return WeatherReport(node=node, measured_at=min(times), values=values, sources=sources)
