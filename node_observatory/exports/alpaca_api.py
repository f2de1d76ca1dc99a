"""The ASCOM Alpaca SafetyMonitor device 0 and the management API, as plain request -> response.

Read-only: the only writes accepted are the connection (``connected``, ``connect``,
``disconnect``), which a client must make before it reads. ``issafe`` is true only while the
node's latest verdict is ``safe`` and younger than ``max_age_s``, and the device is connected:
``unknown``, a stale verdict, or no verdict yet are all false. Every answer carries
``ClientTransactionID`` (echoed, 0 when absent or not an unsigned 32-bit integer),
``ServerTransactionID`` (counting from 1), ``ErrorNumber`` and ``ErrorMessage``. Parameter names
are matched without regard to case; URLs are lower case. A request the device cannot route, or
a PUT with a missing or invalid value, is HTTP 400 with a plain-text reason.
"""
from __future__ import annotations

import itertools
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from ..safety.reading import Verdict

INTERFACE_VERSION = 3  # ISafetyMonitorV3 (ASCOM Platform 7): connect/disconnect/connecting/devicestate
DRIVER_VERSION = "0.1"
NOT_IMPLEMENTED = 0x400
ACTION_NOT_IMPLEMENTED = 0x40C
MAX_UINT32 = 2**32 - 1
NO_VALUE = object()  # a PUT answers without a Value


@dataclass(frozen=True)
class Reply:
    status: int  # HTTP status
    body: dict | str  # JSON envelope, or a plain-text reason for HTTP 400


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class Verdicts:
    """The latest verdict, handed from the monitor loop to the HTTP threads."""

    def __init__(self):
        self._lock = threading.Lock()
        self._state: Verdict | None = None
        self._time: datetime | None = None

    def update(self, state: Verdict, when: datetime) -> None:
        with self._lock:
            self._state, self._time = state, when

    def latest(self) -> tuple[Verdict | None, datetime | None]:
        with self._lock:
            return self._state, self._time


class AlpacaSafetyMonitor:
    def __init__(self, node: str, verdicts: Verdicts, max_age_s: float = 30.0, location: str = "",
                 clock: Callable[[], datetime] = _utc_now):
        self.node = node
        self.verdicts = verdicts
        self.max_age_s = max_age_s
        self.location = location
        self.clock = clock
        self.connected = False
        self.unique_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"obsy:{node}:safetymonitor:0"))
        self._ids = itertools.count(1)
        self._ids_lock = threading.Lock()
        self._gets: dict[str, Callable[[], object]] = {
            "issafe": self.is_safe,
            "connected": lambda: self.connected,
            "connecting": lambda: False,  # connecting is instantaneous
            "name": lambda: f"OBSY {node} safety",
            "description": lambda: f"OBSY observatory node {node}: its combined safety verdict (read-only)",
            "driverinfo": lambda: "OBSY observatory node; IsSafe is true only when the node's state is safe",
            "driverversion": lambda: DRIVER_VERSION,
            "interfaceversion": lambda: INTERFACE_VERSION,
            "supportedactions": lambda: [],
            "devicestate": self.device_state,
        }
        self._management: dict[str, Callable[[], object]] = {
            "/management/apiversions": lambda: [1],
            "/management/v1/description": lambda: {
                "ServerName": f"OBSY observatory node {node}", "Manufacturer": "OBSY",
                "ManufacturerVersion": DRIVER_VERSION, "Location": location},
            "/management/v1/configureddevices": lambda: [{
                "DeviceName": f"OBSY {node} safety", "DeviceType": "SafetyMonitor", "DeviceNumber": 0,
                "UniqueID": self.unique_id}],
        }

    # --- the device --------------------------------------------------------------------------
    def is_safe(self) -> bool:
        state, when = self.verdicts.latest()
        if not self.connected or state is not Verdict.SAFE or when is None:
            return False
        return (self.clock() - when).total_seconds() <= self.max_age_s

    def device_state(self) -> list[dict]:
        return [{"Name": "IsSafe", "Value": self.is_safe()},
                {"Name": "TimeStamp", "Value": self.clock().strftime("%Y-%m-%dT%H:%M:%S.%f")}]

    # --- HTTP ----------------------------------------------------------------------------------
    def _envelope(self, params: dict[str, str], value=NO_VALUE, error: int = 0, message: str = "") -> dict:
        raw = params.get("clienttransactionid", "").strip()
        client_id = int(raw) if raw.isascii() and raw.isdigit() and int(raw) <= MAX_UINT32 else 0
        with self._ids_lock:
            server_id = next(self._ids)
        body = {} if value is NO_VALUE else {"Value": value}
        body.update(ClientTransactionID=client_id, ServerTransactionID=server_id, ErrorNumber=error,
                    ErrorMessage=message)
        return body

    def handle(self, method: str, path: str, params: dict[str, str]) -> Reply:
        """``params``: query (GET) or form (PUT) parameters; names are lower-cased here."""
        params = {k.lower(): v for k, v in params.items()}
        path = path.rstrip("/")
        if path in self._management:
            if method != "GET":
                return Reply(400, f"{path} is read-only: use GET")
            return Reply(200, self._envelope(params, self._management[path]()))
        prefix = "/api/v1/safetymonitor/0/"
        if not path.startswith(prefix):
            return Reply(400, f"no such device or endpoint: {path} (this server has /api/v1/safetymonitor/0/...)")
        name = path[len(prefix):]
        if method == "GET" and name in self._gets:
            return Reply(200, self._envelope(params, self._gets[name]()))
        if method == "PUT":
            return self._put(name, params)
        if name in ("connect", "disconnect", "action", "commandblind", "commandbool", "commandstring"):
            return Reply(400, f"{name} needs PUT")
        return Reply(400, f"safetymonitor has no method {name!r}")

    def _put(self, name: str, params: dict[str, str]) -> Reply:
        if name == "connected":
            value = params.get("connected", "").strip().lower()
            if value not in ("true", "false"):
                return Reply(400, f"Connected must be True or False, not {params.get('connected', '(missing)')!r}")
            self.connected = value == "true"
            return Reply(200, self._envelope(params))
        if name in ("connect", "disconnect"):
            self.connected = name == "connect"
            return Reply(200, self._envelope(params))
        if name == "action":
            return Reply(200, self._envelope(params, error=ACTION_NOT_IMPLEMENTED,
                                             message=f"action {params.get('action', '')!r} is not supported"))
        if name in ("commandblind", "commandbool", "commandstring"):
            return Reply(200, self._envelope(params, error=NOT_IMPLEMENTED, message=f"{name} is not implemented"))
        if name in self._gets:
            return Reply(400, f"{name} is read-only: use GET")
        return Reply(400, f"safetymonitor has no method {name!r}")
