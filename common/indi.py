"""A thread-safe INDI client on top of pyindi-client (``PyIndi.BaseClient``).

pyindi-client calls our callbacks on its own listener thread. Each callback copies what it got
into plain Python snapshots (``PropertySnapshot``) under one ``threading.Condition`` and wakes the
waiters, so the rest of OBSY never reads the C++ structures while the listener thread writes them
and every wait is ``wait_for(predicate, timeout, what)``, which raises an error naming
what did not happen (``IndiError``, or the subclass's ``error`` class). BLOBs are kept as bytes, with the monotonic time they arrived, until taken.
"""
from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterable


log = logging.getLogger(__name__)


class IndiError(Exception):
    """Something the INDI server or a device did not do (or did wrong)."""

try:  # pyindi-client is the optional extra "indi"
    import PyIndi
except ImportError:  # pragma: no cover - exercised only where the extra is missing
    PyIndi = None

IDLE, OK, BUSY, ALERT = "Idle", "Ok", "Busy", "Alert"


@dataclass
class PropertySnapshot:
    device: str
    name: str
    kind: str  # number, switch, text, light, blob
    state: str  # Idle, Ok, Busy, Alert
    values: dict = field(default_factory=dict)  # element -> float | bool | str
    limits: dict = field(default_factory=dict)  # number element -> (min, max)
    serial: int = 0  # bumped by every update, so a waiter can ask for "a newer one"


@dataclass
class Blob:
    device: str
    name: str
    element: str
    data: bytes | bytearray
    format: str
    received: float  # time.monotonic() when the client library handed the decoded BLOB to us


def _require_pyindi(error: type[Exception] = IndiError):
    if PyIndi is None:
        raise error("INDI devices need pyindi-client: scripts/python-env.sh test,indi "
                           "(or pip install --no-deps 'pyindi-client==2.3.0')")
    return PyIndi


_STATES = {}
# Every client ever made, kept until the process ends. pyindi-client's destructor joins the
# client's listener thread; if the garbage collector freed a client while running on that very
# thread (it runs on whichever thread allocates), the join would abort the process. Clients are
# few and long-lived, so keeping them costs nothing; at exit they are disconnected first.
_ALL: list = []


@atexit.register
def _close_all() -> None:
    for client in _ALL:
        client.close(timeout=2.0)


def _state_name(state) -> str:
    if not _STATES:
        _STATES.update({PyIndi.IPS_IDLE: IDLE, PyIndi.IPS_OK: OK, PyIndi.IPS_BUSY: BUSY, PyIndi.IPS_ALERT: ALERT})
    return _STATES.get(state, str(state))


class IndiClient((PyIndi.BaseClient if PyIndi is not None else object)):
    """Connects to one indiserver and mirrors its devices' properties.

    Errors are raised as ``self.error`` (``IndiError``); a caller may subclass and set its own."""

    error: type[Exception] = IndiError

    def __init__(self, host: str, port: int):
        _require_pyindi(self.error)
        super().__init__()
        _ALL.append(self)
        self.setServer(host, int(port))
        self.host, self.port = host, int(port)
        self.cond = threading.Condition()
        self.props: dict[tuple[str, str], PropertySnapshot] = {}
        self.devices: set[str] = set()
        self.interfaces: dict[str, int] = {}
        self.blobs: deque[Blob] = deque()
        self.messages: deque[str] = deque(maxlen=50)
        self.connected = False
        self.disconnect_code: int | None = None
        self._serial = 0

    # --- connection ------------------------------------------------------------
    def open(self, timeout: float) -> None:
        self.setConnectionTimeout(max(1, int(timeout)), 0)
        if not self.connectServer():
            raise self.error(f"cannot connect to indiserver at {self.host}:{self.port} "
                               f"(is it running and reachable?)")
        self.wait_for(lambda: self.connected, timeout, f"indiserver {self.host}:{self.port} to answer")

    def close(self, timeout: float = 5.0) -> None:
        """Disconnect and wait until the listener thread has said so.

        pyindi-client's destructor joins its listener thread; freeing a client whose
        listener is still delivering a callback deadlocks the process. So a client is
        kept referenced (``_ALL``) for the life of the process."""
        try:
            if self.isServerConnected():
                self.disconnectServer()
            with self.cond:
                self.cond.wait_for(lambda: not self.connected, timeout)
        except Exception as exc:  # closing is best effort
            log.debug("disconnectServer: %s", exc)

    # --- callbacks (listener thread) -------------------------------------------
    def serverConnected(self):
        with self.cond:
            self.connected, self.disconnect_code = True, None
            self.cond.notify_all()

    def serverDisconnected(self, code):
        with self.cond:
            self.connected, self.disconnect_code = False, code
            self.cond.notify_all()

    def newDevice(self, device):
        with self.cond:
            self.devices.add(device.getDeviceName())
            self.cond.notify_all()

    def removeDevice(self, device):
        name = device.getDeviceName()
        with self.cond:
            self.devices.discard(name)
            for key in [k for k in self.props if k[0] == name]:
                del self.props[key]
            self.cond.notify_all()

    def newProperty(self, prop):
        self._snapshot(prop)

    def updateProperty(self, prop):
        self._snapshot(prop)

    def removeProperty(self, prop):
        with self.cond:
            self.props.pop((prop.getDeviceName(), prop.getName()), None)
            self.cond.notify_all()

    def newMessage(self, device, message_id):
        try:
            text = device.messageQueue(message_id)
        except Exception:
            text = "?"
        self.messages.append(f"{device.getDeviceName()}: {text}")

    def _snapshot(self, prop) -> None:
        arrived = time.monotonic()
        try:
            kind_code = prop.getType()
            device, name = prop.getDeviceName(), prop.getName()
            state = _state_name(prop.getState())
            values, limits, blobs = {}, {}, []
            if kind_code == PyIndi.INDI_NUMBER:
                kind = "number"
                for w in PyIndi.PropertyNumber(prop):
                    values[w.getName()] = w.getValue()
                    limits[w.getName()] = (w.getMin(), w.getMax())
            elif kind_code == PyIndi.INDI_SWITCH:
                kind = "switch"
                for w in PyIndi.PropertySwitch(prop):
                    values[w.getName()] = w.getState() == PyIndi.ISS_ON
            elif kind_code == PyIndi.INDI_TEXT:
                kind = "text"
                for w in PyIndi.PropertyText(prop):
                    values[w.getName()] = w.getText()
            elif kind_code == PyIndi.INDI_LIGHT:
                kind = "light"
                for w in PyIndi.PropertyLight(prop):
                    values[w.getName()] = _state_name(w.getState())
            elif kind_code == PyIndi.INDI_BLOB:
                kind = "blob"
                for w in PyIndi.PropertyBlob(prop):
                    if w.getSize() > 0 and state == OK:
                        # getblobdata() copies the decoded BLOB into a new bytearray: keep that one copy
                        blobs.append(Blob(device, name, w.getName(), w.getblobdata(), w.getFormat(), arrived))
            else:
                return
            with self.cond:
                self._serial += 1
                self.props[(device, name)] = PropertySnapshot(device, name, kind, state, values, limits, self._serial)
                if name == "DRIVER_INFO" and "DRIVER_INTERFACE" in values:
                    try:
                        self.interfaces[device] = int(values["DRIVER_INTERFACE"])
                    except ValueError:
                        pass
                self.blobs.extend(blobs)
                self.cond.notify_all()
        except Exception:  # never let an exception cross into the C++ listener thread
            log.exception("INDI property callback failed")

    # --- reading and waiting ---------------------------------------------------
    def get(self, device: str, name: str) -> PropertySnapshot | None:
        with self.cond:
            return self.props.get((device, name))

    def value(self, device: str, name: str, element: str, default=None):
        snap = self.get(device, name)
        return snap.values.get(element, default) if snap else default

    def wait_for(self, predicate: Callable[[], object], timeout: float, what: str,
                 abort: threading.Event | None = None, on_abort: Callable[[], Exception] | None = None):
        """Wait until predicate() is true (called under the lock); ``self.error`` after timeout.

        With ``abort``: stop waiting as soon as it is set and raise ``on_abort()``."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                result = predicate()
                if result:
                    return result
                if abort is not None and abort.is_set():
                    raise on_abort() if on_abort else self.error(f"aborted while waiting for {what}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self.error(f"timed out after {timeout:g} s waiting for {what}")
                self.cond.wait(min(left, 0.2) if abort is not None else left)

    def wait_property(self, device: str, name: str, timeout: float) -> PropertySnapshot:
        return self.wait_for(lambda: self.props.get((device, name)), timeout,
                             f"{device} to define {name}")

    def notify(self) -> None:
        with self.cond:
            self.cond.notify_all()

    # --- sending ---------------------------------------------------------------
    def _device(self, device: str):
        dev = self.getDevice(device)
        if dev is None or not dev.isValid():
            raise self.error(f"INDI device {device!r} is not on the server")
        return dev

    def send_switch(self, device: str, name: str, on: Iterable[str], exclusive: bool = True) -> int:
        """Turn the given elements on (the others off when exclusive); returns the serial before."""
        on = set(on)
        prop = self._device(device).getSwitch(name)
        if not prop.isValid():
            raise self.error(f"{device} has no switch property {name}")
        names = {w.getName() for w in prop}
        if not on <= names:
            raise self.error(f"{device}.{name} has no element {sorted(on - names)}; it has {sorted(names)}")
        for w in prop:
            if w.getName() in on:
                w.setState(PyIndi.ISS_ON)
            elif exclusive:
                w.setState(PyIndi.ISS_OFF)
        return self._send(prop, self.sendNewSwitch, device, name)

    def send_numbers(self, device: str, name: str, values: dict[str, float]) -> int:
        prop = self._device(device).getNumber(name)
        if not prop.isValid():
            raise self.error(f"{device} has no number property {name}")
        found = set()
        for w in prop:
            if w.getName() in values:
                w.setValue(float(values[w.getName()]))
                found.add(w.getName())
        if found != set(values):
            raise self.error(f"{device}.{name} has no element {sorted(set(values) - found)}")
        return self._send(prop, self.sendNewNumber, device, name)

    def send_texts(self, device: str, name: str, values: dict[str, str]) -> int:
        prop = self._device(device).getText(name)
        if not prop.isValid():
            raise self.error(f"{device} has no text property {name}")
        for w in prop:
            if w.getName() in values:
                w.setText(str(values[w.getName()]))
        return self._send(prop, self.sendNewText, device, name)

    def _send(self, prop, sender, device: str, name: str) -> int:
        with self.cond:
            snap = self.props.get((device, name))
            serial = snap.serial if snap else 0
            if snap is not None:  # the client now expects an answer: treat the local copy as busy
                snap.state = BUSY
        sender(prop)
        return serial

    def newer(self, device: str, name: str, serial: int) -> PropertySnapshot | None:
        """The snapshot if it was updated after ``serial`` (call under the lock, from predicates)."""
        snap = self.props.get((device, name))
        return snap if snap is not None and snap.serial > serial else None
