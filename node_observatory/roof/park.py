"""Sources of "is the mount parked", each reading stamped with its time.

The controller asks two independent ones (the mount itself over INDI, and the telescope node's
own reports on the bus) immediately before any roof motion. A reading that is missing, unsure
(``parked is None``) or older than the allowed age counts as *not parked*.
"""
from __future__ import annotations

import logging
import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from common import names
from common.contracts import MountReport

log = logging.getLogger(__name__)

#: a report stamped this far ahead of our clock is still accepted (small clock skew)
FUTURE_TOLERANCE_S = 5.0


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class ParkReading:
    source: str
    parked: bool | None  # None: the source could not tell
    time: datetime | None  # when the source last confirmed this
    reason: str = ""

    def confirms_parked(self, now: datetime, max_age_s: float) -> tuple[bool, str]:
        """(True, "") only for a fresh, definite "parked"; otherwise (False, why not)."""
        if self.time is None:
            return False, f"{self.source}: no report ({self.reason or 'never heard'})"
        age = (now - self.time).total_seconds()
        if age > max_age_s:
            return False, f"{self.source}: report is {age:.0f} s old (max {max_age_s:g} s)"
        if age < -FUTURE_TOLERANCE_S:
            return False, f"{self.source}: report is {-age:.0f} s in the future (check clocks)"
        if self.parked is None:
            return False, f"{self.source}: mount state unknown ({self.reason or 'no detail'})"
        if not self.parked:
            return False, f"{self.source}: mount not parked"
        return True, ""


class ParkSource(ABC):
    name: str = "park"

    @abstractmethod
    def read(self) -> ParkReading:
        """The latest knowledge, never blocking for long."""


class BusParkSource(ParkSource):
    """The telescope node's last ``MountReport`` (``telescope.<node>.mount``) on the event bus."""

    def __init__(self, telescope_node: str, name: str | None = None, on_update: Callable[[], None] | None = None):
        self.node = telescope_node
        self.name = name or f"telescope node {telescope_node}"
        self.on_update = on_update  # e.g. wake the node loop: a park confirmed should close the roof now
        self._lock = threading.Lock()
        self._last = ParkReading(self.name, None, None, "no report from the telescope node yet")

    def subscribe(self, bus) -> None:
        bus.subscribe([names.mount_key(self.node)], self.on_event)

    def on_event(self, routing_key: str, message) -> None:
        if not isinstance(message, MountReport) or message.node != self.node:
            return
        reading = ParkReading(self.name, message.parked, message.sent_at, message.reason or "")
        with self._lock:
            if self._last.time is not None and reading.time < self._last.time:  # never go back in time
                return
            self._last = reading
        if self.on_update is not None:
            self.on_update()

    def read(self) -> ParkReading:
        with self._lock:
            return self._last


class IndiParkSource(ParkSource):
    """The mount's own ``TELESCOPE_PARK`` through a direct INDI connection.

    INDI pushes changes, so a reading is as fresh as the connection: while the client is
    connected and the mount defines the property, it is stamped "now"; otherwise it is unknown.
    Parked means PARK on and the property not Busy (a park in progress is not parked)."""

    def __init__(self, client, device: str, clock: Callable[[], datetime] = utc_now, name: str | None = None):
        self.client = client
        self.device = device
        self.clock = clock
        self.name = name or f"INDI {device}"

    def read(self) -> ParkReading:
        c = self.client
        if not c.connected:
            return ParkReading(self.name, None, None, "INDI server not connected")
        snap = c.get(self.device, "TELESCOPE_PARK")
        if snap is None or not c.value(self.device, "CONNECTION", "CONNECT"):
            return ParkReading(self.name, None, None, f"{self.device} not connected or has no TELESCOPE_PARK")
        if snap.state == "Alert":
            return ParkReading(self.name, None, self.clock(), "TELESCOPE_PARK is in Alert")
        parked = bool(snap.values.get("PARK")) and snap.state != "Busy"
        return ParkReading(self.name, parked, self.clock(), "parking" if snap.state == "Busy" else "")

    def request_park(self) -> None:
        """Ask the mount to park (returns at once)."""
        self.client.send_switch(self.device, "TELESCOPE_PARK", ["PARK"])
