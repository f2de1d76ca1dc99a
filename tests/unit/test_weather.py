"""Weather readings: the observatory node's reports, the master's history and public API, and the
remote site's chart."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from common import live
from common.contracts import WeatherReport, parse_message
from common.events import InProcessEventBus
from master.models import WeatherRecord
from master.nodes import record_weather
from master.weather import weather_history
from node_observatory.publish import WeatherPublisher, weather_report
from node_observatory.safety.monitor import SafetyStatus, SourceStatus
from node_observatory.safety.reading import Reading, Verdict
from node_remote.state import LiveState, handle_message
from node_remote.weather import WeatherHistory
from tests.unit.test_web_support import make_app

T0 = datetime(2026, 12, 1, 22, tzinfo=timezone.utc)


def source(name, values, fresh=True, seconds=0):
    reading = Reading(name, T0 + timedelta(seconds=seconds), values)
    return SourceStatus(name, True, Verdict.SAFE if fresh else Verdict.UNKNOWN, () if fresh else ("stale",),
                        5.0, reading, fresh=fresh)


def status(*sources, seconds=0):
    return SafetyStatus(T0 + timedelta(seconds=seconds), Verdict.SAFE, Verdict.SAFE, (), tuple(sources), None)


def test_the_report_has_every_fresh_number_and_flag_and_no_text():
    report = weather_report("roof1", status(
        source("boltwood", {"ambient_c": 4.5, "humidity": 81, "rain": False, "label": "clear", "wind_kmh": None,
                            "bad": float("nan")}, seconds=-20),
        source("station", {"ambient_c": 5.0, "pressure_hpa": 1013}),
        source("old", {"dew_point_c": -2.0}, fresh=False)))
    assert report.values == {"ambient_c": 4.5, "humidity": 81.0, "rain": False, "station.ambient_c": 5.0,
                             "pressure_hpa": 1013.0}
    assert report.sources == ["boltwood", "station"]
    assert report.measured_at == T0 - timedelta(seconds=20)  # no fresher than its oldest part
    again = parse_message(report.to_json(), WeatherReport)  # goes over the wire and back unchanged
    assert again.values == report.values and again.values["rain"] is False
    assert weather_report("roof1", status(source("old", {"ambient_c": 1.0}, fresh=False))) is None


def test_reports_go_out_every_period_only():
    bus = InProcessEventBus()
    got = []
    bus.subscribe(["observatory.*.weather"], lambda key, message: got.append(message))
    publish = WeatherPublisher(bus, "roof1", every_s=60)
    sent = [publish(status(source("s", {"ambient_c": t}), seconds=t)) for t in (0, 30, 61, 100, 125)]
    bus.drain()
    assert sent == [True, False, True, False, True]
    assert [m.values["ambient_c"] for m in got] == [0.0, 61.0, 125.0]


def test_the_master_keeps_the_history_and_thins_long_spans(sessions):
    for minute in range(100):
        record_weather(sessions, WeatherReport(node="roof1", measured_at=T0 + timedelta(minutes=minute),
                                               values={"ambient_c": float(minute)}))
    record_weather(sessions, WeatherReport(node="roof2", measured_at=T0, values={"humidity": 50.0}))
    with sessions() as session:
        assert session.query(WeatherRecord).count() == 101
        history = weather_history(session, T0 + timedelta(minutes=10), T0 + timedelta(hours=3), max_points=20)
    assert set(history) == {"roof1"}  # roof2's only reading is before the span
    points = history["roof1"]
    assert len(points) == 20 and points[0]["values"]["ambient_c"] == 10.0 and points[-1]["values"]["ambient_c"] == 99.0
    times = [p["at"] for p in points]
    assert times == sorted(times) and times[0].endswith("+00:00")


def test_the_public_weather_api(anonymous, sessions):
    client = anonymous
    record_weather(sessions, WeatherReport(node="roof1", measured_at=datetime.now(timezone.utc) - timedelta(hours=1),
                                           values={"ambient_c": 3.0, "rain": True}))
    record_weather(sessions, WeatherReport(node="roof1", measured_at=datetime.now(timezone.utc) - timedelta(hours=30),
                                           values={"ambient_c": 9.0}))
    body = client.get("/api/v1/public/weather").get_json()  # not logged in: live status is public
    assert body["hours"] == 24 and [p["values"] for p in body["nodes"]["roof1"]] == [{"ambient_c": 3.0, "rain": True}]
    assert len(client.get("/api/v1/public/weather?hours=48").get_json()["nodes"]["roof1"]) == 2
    for bad in ("abc", "0", "100"):
        assert client.get(f"/api/v1/public/weather?hours={bad}").status_code == 400


def test_the_remote_chart_follows_the_topic_and_the_masters_history():
    state = LiveState("site1")
    payload = WeatherReport(node="roof1", measured_at=T0, values={"ambient_c": 4.0, "rain": False})
    wire = live.weather_payload(payload).to_json().encode()
    handle_message(state, "obsy", "obsy/site1/weather", wire, True)
    assert state.snapshot()["topics"]["weather"]["values"] == {"ambient_c": 4.0, "rain": False}
    added = state.weather.seed({"roof1": [{"at": (T0 - timedelta(hours=h)).isoformat(), "values": {"ambient_c": 1.0 + h}}
                                          for h in (1, 2, 3)] + [{"at": "garbage"}, "nonsense"]})
    assert added == 3
    assert state.weather.seed({"roof1": [{"at": T0.isoformat(), "values": {"ambient_c": 4.0}}]}) == 0  # known point
    assert state.weather.quantities() == [("roof1", "ambient_c")]  # the flag is not charted
    svg = state.weather.svg(now=T0 + timedelta(minutes=5))
    assert svg.startswith("<svg") and svg.count('class="strip"') == 1 and "<polyline" in svg
    assert svg.count(",") - svg.count('","') >= 4  # four points on the line
    assert "4" in svg and "1" in svg


def test_the_remote_history_forgets_what_is_older_than_a_day():
    history = WeatherHistory(keep_hours=24)
    history.add({"node": "roof1", "at": T0.isoformat(), "values": {"ambient_c": 1.0}})
    history.add({"node": "roof1", "at": (T0 + timedelta(hours=25)).isoformat(), "values": {"ambient_c": 2.0}})
    assert [t for t, _ in history.series()["roof1"]] == [T0 + timedelta(hours=25)]
    assert "no weather readings yet" in WeatherHistory().svg()


@pytest.fixture
def sessions(services):
    return services.sessions


@pytest.fixture
def anonymous(services):
    return make_app(services).test_client()


def test_the_night_report_summarises_the_readings(client, sessions):
    night = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)  # the night of 2026-11-30, at 0 deg longitude
    for hour, (temp, rain) in enumerate([(5.0, False), (3.5, True), (2.0, False)]):
        record_weather(sessions, WeatherReport(node="roof1", measured_at=night + timedelta(hours=8 + hour),
                                               values={"ambient_c": temp, "rain": rain}))
    record_weather(sessions, WeatherReport(node="roof1", measured_at=night + timedelta(days=1, hours=2),
                                           values={"ambient_c": 40.0}))  # the next day: not this night
    page = client.get("/reports/nights/2026-11-30").get_data(as_text=True)
    row = page[page.index('<tr data-quantity="ambient_c">'):]
    row = row[:row.index("</tr>")]
    assert [cell.split(">")[-1] for cell in row.split("</td>")[:-1]] == ["roof1", "ambient_c", "2", "5", "2", "3"]
    assert "yes in 1 of them" in page
    empty = client.get("/reports/nights/2026-11-20").get_data(as_text=True)
    assert "No weather readings were reported this night." in empty
