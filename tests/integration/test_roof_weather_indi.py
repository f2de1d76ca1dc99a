"""The INDI weather source against ``indi_simulator_weather`` on a test-owned indiserver:
fine weather is safe, injected rain (WEATHER_CONTROL Precip, then WEATHER_REFRESH) is unsafe,
and a stopped server makes the source unknown; the same through the config and the safety factory."""
from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from common.config import load_config
from common.indi import IndiClient
from node_observatory.safety.factory import build_source
from node_observatory.safety.reading import Verdict
from node_observatory.safety.sources.indi_weather import IndiWeatherSource
from tests.servers import IndiServer

WEATHER = "Weather Simulator"
pytestmark = pytest.mark.timeout(60)


def test_indi_weather_source_sees_rain():
    server = IndiServer(drivers=["indi_simulator_weather"])
    server.start()
    client = IndiClient("127.0.0.1", server.port)
    try:
        client.open(10)
        client.wait_property(WEATHER, "CONNECTION", 10)
        client.send_switch(WEATHER, "CONNECTION", ["CONNECT"])
        for name in ("WEATHER_STATUS", "WEATHER_CONTROL", "WEATHER_REFRESH"):
            client.wait_property(WEATHER, name, 10)
        source = IndiWeatherSource("wx", client, WEATHER)
        now = lambda: datetime.now(timezone.utc)  # noqa: E731
        client.wait_for(lambda: source.read(now()).verdict is Verdict.SAFE, 10, "fine weather")
        assert source.read(now()).values["rain_hour"] == 0.0
        client.send_numbers(WEATHER, "WEATHER_CONTROL", {"Precip": 5.0})
        client.send_switch(WEATHER, "WEATHER_REFRESH", ["REFRESH"])
        # the driver sends WEATHER_PARAMETERS and WEATHER_STATUS one after the other: wait for both
        client.wait_for(lambda: source.read(now()).values.get("rain_hour") == 5.0
                        and source.read(now()).verdict is Verdict.UNSAFE, 10, "rain to be unsafe")
        assert any("rain_hour beyond its limit" in r for r in source.read(now()).reasons)
        server.stop()
        client.wait_for(lambda: not client.connected, 10, "the client to see the server gone")
        assert source.read(now()).verdict is Verdict.UNKNOWN
    finally:
        client.close()
        server.stop()


def _until(predicate, timeout: float, what: str) -> None:
    """Poll: the source's link has its own client, whose updates wake no waiter here."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        time.sleep(0.1)


def test_indi_weather_source_from_config_reconnects_after_a_server_restart(tmp_path):
    """``type = "indi_weather"`` through the safety factory: the link connects the device itself,
    rain is unsafe, a stopped server is unknown with the reason, and a restart is safe again."""
    server = IndiServer(drivers=["indi_simulator_weather"])
    server.start()
    config_file = tmp_path / "observatory.toml"
    config_file.write_text(f'[[safety.sources]]\nname = "wx"\ntype = "indi_weather"\nindi_port = {server.port}\n'
                           f'device = "{WEATHER}"\ncadence_s = 5\ntimeout_s = 5\n')
    config = load_config("observatory", config_file)
    source = build_source(config.safety.sources[0], config.site)  # the node's way: no waiting
    control = IndiClient("127.0.0.1", server.port)
    now = lambda: datetime.now(timezone.utc)  # noqa: E731
    try:
        control.open(10)
        _until(lambda: source.read(now()).verdict is Verdict.SAFE, 15, "fine weather through the link")
        control.wait_property(WEATHER, "WEATHER_CONTROL", 10)
        control.send_numbers(WEATHER, "WEATHER_CONTROL", {"Precip": 5.0})
        control.send_switch(WEATHER, "WEATHER_REFRESH", ["REFRESH"])
        _until(lambda: source.read(now()).verdict is Verdict.UNSAFE, 10, "rain to be unsafe")
        server.stop()
        _until(lambda: source.read(now()).verdict is Verdict.UNKNOWN, 10, "the source to see the server gone")
        assert source.read(now()).reasons[0].startswith("INDI server not connected")
        server.start()  # same port; a fresh driver: fine weather again, device disconnected
        _until(lambda: source.read(now()).verdict is Verdict.SAFE, 30, "the link to reconnect")
    finally:
        control.close()
        source.client.close()
        server.stop()
