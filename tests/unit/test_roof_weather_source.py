"""The INDI weather source's verdicts from WEATHER_STATUS lights (fake client)."""
from __future__ import annotations

from datetime import datetime, timezone

from common.indi import PropertySnapshot
from node_observatory.safety.reading import Verdict
from node_observatory.safety.sources.indi_weather import IndiWeatherSource

NOW = datetime(2026, 1, 1, 22, 0, tzinfo=timezone.utc)


class Client:
    def __init__(self):
        self.connected = True
        self.props = {}

    def put(self, name, kind, state, **values):
        self.props[name] = PropertySnapshot("Weather", name, kind, state, values)

    def get(self, device, name):
        return self.props.get(name)

    def value(self, device, name, element, default=None):
        snap = self.props.get(name)
        return snap.values.get(element, default) if snap else default


def test_lights_decide_and_parameters_become_values():
    client = Client()
    source = IndiWeatherSource("wx", client, "Weather")
    assert source.read(NOW).verdict is Verdict.UNKNOWN  # not connected
    client.put("CONNECTION", "switch", "Ok", CONNECT=True)
    assert "no WEATHER_STATUS" in source.read(NOW).reasons[0]
    client.put("WEATHER_PARAMETERS", "number", "Ok", WEATHER_RAIN_HAZARD=0.0, WEATHER_WIND_SPEED=3.0)
    client.put("WEATHER_STATUS", "light", "Ok", WEATHER_RAIN_HAZARD="Ok", WEATHER_WIND_SPEED="Ok")
    reading = source.read(NOW)
    assert reading.verdict is Verdict.SAFE and reading.time == NOW
    assert reading.values == {"rain_hazard": 0.0, "wind_speed": 3.0}
    client.put("WEATHER_STATUS", "light", "Alert", WEATHER_RAIN_HAZARD="Alert", WEATHER_WIND_SPEED="Busy")
    reading = source.read(NOW)
    assert reading.verdict is Verdict.UNSAFE and len(reading.reasons) == 2
    assert "rain_hazard beyond its limit" in " ".join(reading.reasons)
    client.put("WEATHER_STATUS", "light", "Idle", WEATHER_RAIN_HAZARD="Idle", WEATHER_WIND_SPEED="Ok")
    assert source.read(NOW).verdict is Verdict.UNKNOWN
    client.connected = False
    assert source.read(NOW).time is None
