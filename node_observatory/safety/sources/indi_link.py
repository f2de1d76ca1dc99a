"""Keep one indiserver connection, and one device on it, up for a safety source.

The node must start and keep deciding whatever the indiserver does, so connecting runs in a
background thread that retries every ``retry_s``: it connects to the server, turns the device's
``CONNECTION`` on, and after a server restart does both again. Until then the link looks like a
client that is not connected, and :attr:`problem` says why; the source reports that as unknown.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

log = logging.getLogger(__name__)


def _indi_client(host: str, port: int):
    from common.indi import IndiClient

    return IndiClient(host, port)


class IndiLink:
    """Has the ``connected`` / ``get`` / ``value`` a source reads, whatever the client's state."""

    def __init__(self, host: str, port: int, device: str, timeout_s: float = 10.0, retry_s: float = 10.0,
                 make_client: Callable[[str, int], object] = _indi_client):
        self.host, self.port, self.device = host, int(port), device
        self.timeout_s = timeout_s
        self.retry_s = retry_s
        self.make_client = make_client
        self.client = None
        self.problem: str | None = "not connected yet"
        self._stop = threading.Event()
        self._ready = threading.Event()  # the first attempt has finished, well or not
        self._thread: threading.Thread | None = None

    @property
    def connected(self) -> bool:
        return self.client is not None and bool(self.client.connected)

    def get(self, device: str, name: str):
        return self.client.get(device, name) if self.client is not None else None

    def value(self, device: str, name: str, element: str, default=None):
        return self.client.value(device, name, element, default) if self.client is not None else default

    def start(self, wait: bool = False) -> None:
        """Start the background thread; ``wait``: return after its first attempt (a one-shot report)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"indi-link-{self.device}", daemon=True)
            self._thread.start()
        if wait:
            self._ready.wait(self.timeout_s * 3 + 1.0)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self.timeout_s + 1.0)
        if self.client is not None:
            self.client.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._connect_once()
                self.problem = None
            except Exception as exc:  # every failure is retried; the source shows the reason meanwhile
                if str(exc) != self.problem:
                    log.warning("INDI %s at %s:%d: %s", self.device, self.host, self.port, exc)
                self.problem = str(exc) or type(exc).__name__
            self._ready.set()
            self._stop.wait(self.retry_s)

    def _connect_once(self) -> None:
        if self.client is None:
            self.client = self.make_client(self.host, self.port)
        client = self.client
        if not client.connected:
            # after the server went away pyindi still holds the old connection ("Already connected")
            client.close(timeout=1.0)
            client.open(self.timeout_s)
        client.wait_property(self.device, "CONNECTION", self.timeout_s)
        if not client.value(self.device, "CONNECTION", "CONNECT"):
            client.send_switch(self.device, "CONNECTION", ["CONNECT"])
            client.wait_for(lambda: client.value(self.device, "CONNECTION", "CONNECT"), self.timeout_s,
                            f"{self.device} to connect")
        client.wait_property(self.device, "WEATHER_STATUS", self.timeout_s)
