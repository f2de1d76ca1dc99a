"""``type = "indi_weather"`` in [[safety.sources]]: config -> factory -> a source whose link keeps the
indiserver connection and the device up (fake client), and a clear unknown when no server answers."""
from __future__ import annotations

import socket
import threading
import time
from datetime import datetime, timezone

import pytest

from common.config import ConfigError, load_config
from common.indi import PropertySnapshot
from node_observatory.safety import Verdict
from node_observatory.safety.factory import build_source
from node_observatory.safety.sources.indi_link import IndiLink
from node_observatory.safety.sources.indi_weather import IndiWeatherSource

NOW = datetime(2026, 1, 1, 22, 0, tzinfo=timezone.utc)


def _config(tmp_path, body: str):
    path = tmp_path / "observatory.toml"
    path.write_text('[[safety.sources]]\nname = "wx"\n' + body)
    return load_config("observatory", path)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens once the socket is closed


def test_config_builds_an_indi_weather_source_that_says_why_it_has_no_data(tmp_path):
    port = _closed_port()
    config = _config(tmp_path, f'type = "indi_weather"\nindi_port = {port}\ndevice = "Weather Simulator"\n'
                               "timeout_s = 2\ncadence_s = 5\n")
    spec = config.safety.sources[0]
    assert (spec.indi_host, spec.indi_port, spec.device, spec.unsafe_flags) == ("127.0.0.1", port, "Weather Simulator", [])
    source = build_source(spec, config.site, wait_fetch=True)
    try:
        assert isinstance(source, IndiWeatherSource) and source.device == "Weather Simulator"
        reading = source.read(NOW)
        assert reading.verdict is Verdict.UNKNOWN
        assert reading.reasons[0].startswith(f"INDI server not connected: cannot connect to indiserver at 127.0.0.1:{port}")
    finally:
        source.client.close()


@pytest.mark.parametrize("body, message", [
    ('type = "indi_weather"\n', "needs device"),
    ('type = "indi_weather"\ndevice = "  "\n', "needs device"),
    ('type = "indi_weather"\ndevice = "W"\npath = "/x"\n', "takes no path"),
    ('type = "indi_weather"\ndevice = "W"\nurl = "http://x.example/"\n', "may use url"),
    ('type = "indi_weather"\ndevice = "W"\nindi_port = 70000\n', "indi_port"),
    ('type = "boltwood"\npath = "/x"\ndevice = "W"\n', "only type 'indi_weather' takes device"),
])
def test_config_errors(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message):
        _config(tmp_path, body)


class FakeClient:
    """Enough of IndiClient: a server that answers, a weather device that starts disconnected."""

    def __init__(self):
        self.connected = False
        self.cond = threading.Condition()
        self.props = {("W", "CONNECTION"): PropertySnapshot("W", "CONNECTION", "switch", "Ok", {"CONNECT": False})}
        self.sent = []

    def open(self, timeout):
        self.connected = True

    def close(self, timeout=5.0):
        self.connected = False

    def get(self, device, name):
        return self.props.get((device, name))

    def value(self, device, name, element, default=None):
        snap = self.get(device, name)
        return snap.values.get(element, default) if snap else default

    def wait_property(self, device, name, timeout):
        if (device, name) not in self.props:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {device} to define {name}")
        return self.props[(device, name)]

    def wait_for(self, predicate, timeout, what):
        if not predicate():
            raise TimeoutError(what)

    def send_switch(self, device, name, on):
        self.sent.append((device, name, list(on)))
        self.props[(device, "CONNECTION")].values["CONNECT"] = True  # the driver connects at once
        self.props[(device, "WEATHER_STATUS")] = PropertySnapshot(device, "WEATHER_STATUS", "light", "Ok",
                                                                  {"WEATHER_RAIN_HAZARD": "Ok"})


def test_link_connects_the_device_and_retries_after_a_failure():
    client = FakeClient()
    link = IndiLink("127.0.0.1", 7624, "W", timeout_s=1, retry_s=0.05, make_client=lambda host, port: client)
    source = IndiWeatherSource("wx", link, "W")
    assert source.read(NOW).reasons == ("INDI server not connected: not connected yet",)
    link.start(wait=True)
    try:
        assert client.sent == [("W", "CONNECTION", ["CONNECT"])]
        assert source.read(NOW).verdict is Verdict.SAFE and link.problem is None
        client.connected = False  # the server went away: unknown at once, then the link reconnects
        assert source.read(NOW).verdict is Verdict.UNKNOWN
        client.props[("W", "CONNECTION")].values["CONNECT"] = False
        for _ in range(100):
            if client.connected and client.value("W", "CONNECTION", "CONNECT"):
                break
            time.sleep(0.02)
        assert source.read(NOW).verdict is Verdict.SAFE and len(client.sent) == 2
    finally:
        link.close()


def test_link_reports_a_device_that_never_appears():
    client = FakeClient()
    client.props.clear()
    link = IndiLink("127.0.0.1", 7624, "W", timeout_s=1, retry_s=10, make_client=lambda host, port: client)
    link.start(wait=True)
    try:
        assert link.connected and "W to define CONNECTION" in link.problem
        reason = IndiWeatherSource("wx", link, "W").read(NOW).reasons[0]
        assert reason == "INDI device W is not connected: timed out after 1 s waiting for W to define CONNECTION"
    finally:
        link.close()
