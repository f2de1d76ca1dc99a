"""A roof or dome shutter on an indiserver.

``style="rolloff"`` (e.g. ``indi_rolloff_dome``, device "RollOff Simulator"): DOME_PARK UNPARK opens,
PARK closes; Busy while it moves. ``style="shutter"``: DOME_SHUTTER SHUTTER_OPEN / SHUTTER_CLOSE.
The state is always read from the device's property, never remembered: Ok + PARK (or
SHUTTER_CLOSE) is closed, Ok + UNPARK (SHUTTER_OPEN) open, Busy is moving towards the element
that is on, Alert is error, anything else unknown.
"""
from __future__ import annotations

import threading
from datetime import datetime, timezone
from typing import Callable

from common.indi import ALERT, BUSY, OK, IndiClient

from .base import Roof, RoofError, RoofPosition, RoofStatus

STYLES = {
    # property, (close element, open element)
    "rolloff": ("DOME_PARK", ("PARK", "UNPARK")),
    "shutter": ("DOME_SHUTTER", ("SHUTTER_CLOSE", "SHUTTER_OPEN")),
}


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class RoofClient(IndiClient):
    error = RoofError


class IndiRoof(Roof):
    def __init__(self, client: IndiClient, device: str, style: str = "rolloff",
                 clock: Callable[[], datetime] = utc_now):
        if style not in STYLES:
            raise ValueError(f"style must be one of {sorted(STYLES)}, not {style!r}")
        self.client = client
        self.device = device
        self.name = device
        self.prop, (self.close_element, self.open_element) = STYLES[style]
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: tuple[RoofPosition, datetime] | None = None
        # (serial of the property when we sent a command, the motion it asked for): until the
        # device answers, the client only marks its old copy Busy, with the old element on
        self._sent: tuple[int, RoofPosition] | None = None

    def connect(self, timeout: float = 10.0) -> None:
        """Connect the device (the server connection is the client's) and wait for its property."""
        c = self.client
        c.wait_property(self.device, "CONNECTION", timeout)
        if not c.value(self.device, "CONNECTION", "CONNECT"):
            c.send_switch(self.device, "CONNECTION", ["CONNECT"])
        c.wait_for(lambda: c.props.get((self.device, "CONNECTION")) is not None
                   and c.props[(self.device, "CONNECTION")].values.get("CONNECT")
                   and c.props[(self.device, "CONNECTION")].state == OK, timeout, f"{self.device} to connect")
        c.wait_property(self.device, self.prop, timeout)

    def open(self) -> None:
        self._sent = (self.client.send_switch(self.device, self.prop, [self.open_element]), RoofPosition.OPENING)

    def close(self) -> None:
        self._sent = (self.client.send_switch(self.device, self.prop, [self.close_element]), RoofPosition.CLOSING)

    def abort(self) -> None:
        self.client.send_switch(self.device, "DOME_ABORT_MOTION", ["ABORT"])

    def _position(self) -> tuple[RoofPosition, str]:
        c = self.client
        if not c.connected:
            return RoofPosition.UNKNOWN, "INDI server not connected"
        snap = c.get(self.device, self.prop)
        if snap is None:
            return RoofPosition.UNKNOWN, f"{self.device} has no {self.prop}"
        closed, opened = snap.values.get(self.close_element), snap.values.get(self.open_element)
        if snap.state == ALERT:
            return RoofPosition.ERROR, f"{self.prop} is in Alert"
        if snap.state == BUSY:
            if self._sent is not None and snap.serial <= self._sent[0]:
                return self._sent[1], "command sent"
            if closed:
                return RoofPosition.CLOSING, ""
            if opened:
                return RoofPosition.OPENING, ""
            return RoofPosition.UNKNOWN, f"{self.prop} busy with no element on"
        if snap.state == OK:
            if closed and not opened:
                return RoofPosition.CLOSED, ""
            if opened and not closed:
                return RoofPosition.OPEN, ""
        return RoofPosition.UNKNOWN, f"{self.prop} is {snap.state} with {snap.values}"

    def status(self) -> RoofStatus:
        state, message = self._position()
        now = self.clock()
        with self._lock:
            if self._seen is None or self._seen[0] is not state:
                self._seen = (state, now)
            since = self._seen[1]
        return RoofStatus(state, since, now, message)
