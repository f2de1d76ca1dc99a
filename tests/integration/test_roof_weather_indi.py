"""The INDI weather source against ``indi_simulator_weather`` on a test-owned indiserver:
fine weather is safe, injected rain (WEATHER_CONTROL Precip, then WEATHER_REFRESH) is unsafe,
and a stopped server makes the source unknown."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from common.indi import IndiClient
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
