"""Safety sources: Boltwood, JSON, CSV, sun altitude and the NOAA parsers, on recorded-format fixtures."""
import json
import os
import sys
import zoneinfo
from datetime import datetime, timezone
from pathlib import Path

import pytest

from node_observatory.safety import Verdict
from node_observatory.safety.sources import (BoltwoodSource, CsvSource, JsonSource, KpSource, OvationSource,
                                             SmokeSource, SourceError, SunSource, aurora_probability,
                                             parse_boltwood_line, parse_csv_text, parse_json_text, parse_kp,
                                             parse_ovation, parse_smoke_kml, smoke_at, sun_altitude_deg)
from node_observatory.safety.sources.base import parse_time, read_bytes, run_command

FIXTURES = Path(__file__).parent / "fixtures" / "observatory"
NOW = datetime(2026, 11, 24, 21, 5, 30, tzinfo=timezone.utc)
UTC = timezone.utc


# --- Boltwood -----------------------------------------------------------------------------

def test_boltwood_metric_line():
    reading = BoltwoodSource("cw", FIXTURES / "boltwood_metric.txt").read(NOW)
    assert reading.verdict is Verdict.SAFE and reading.reasons == ()
    assert reading.time == datetime(2026, 11, 24, 21, 5, 6, 250000, tzinfo=UTC)  # written minus 4 s since valid
    v = reading.values
    assert (v["sky_minus_ambient_c"], v["ambient_c"], v["sensor_c"], v["wind_kmh"]) == (-28.5, 5.7, 9.5, 12.3)
    assert (v["humidity"], v["dew_point_c"], v["heater_pct"]) == (75, 1.5, 3)
    assert v["rain"] is False and v["wet"] is False and v["roof_close"] is False and v["alert"] is False
    assert (v["cloud_condition"], v["wind_condition"], v["rain_condition"], v["daylight_condition"]) == (1, 1, 1, 1)


def test_boltwood_fahrenheit_mph_rain_and_header_line():
    reading = BoltwoodSource("cw", FIXTURES / "boltwood_imperial.txt").read(NOW)
    v = reading.values
    assert v["sky_minus_ambient_c"] == pytest.approx(-22.5)  # a difference: 5/9 only, no offset
    assert v["ambient_c"] == pytest.approx(10.0) and v["sensor_c"] == pytest.approx(12.0)
    assert v["dew_point_c"] == pytest.approx(5.0)
    assert v["wind_kmh"] == pytest.approx(40.2336)
    assert v["rain"] is True and v["wet"] is True and v["roof_close"] is True and v["alert"] is True
    assert (v["rain_flag"], v["wet_flag"], v["seconds_since_valid"]) == (2, 2, 2)


def test_boltwood_metres_per_second_and_local_time_zone():
    line = "2026-07-01 23:30:00.00 C m  -20.0 15.0 18.0 10.0 60 7.0 0 0 0 00000 046204.97917 1 2 1 1 0 0"
    when, values, notes = parse_boltwood_line(line, zoneinfo.ZoneInfo("Europe/Paris"))
    assert values["wind_kmh"] == pytest.approx(36.0)
    assert when == datetime(2026, 7, 1, 21, 30, tzinfo=UTC) and notes == []


def test_boltwood_error_values_become_missing_with_notes():
    reading = BoltwoodSource("cw", FIXTURES / "boltwood_errors.txt").read(NOW)
    v = reading.values
    assert v["sky_minus_ambient_c"] is None and v["sensor_c"] is None and v["dew_point_c"] is None
    assert v["wind_kmh"] is None and v["humidity"] is None and v["ambient_c"] == 5.7
    assert "sky-ambient temperature: sensor error value -998.0" in reading.reasons
    assert "wind speed: sensor error value -1.0" in reading.reasons
    assert v["rain"] is None and "rain condition unknown" in reading.reasons


@pytest.mark.parametrize("line, message", [
    ("2026-11-24 21:05:10.25 C K -28.5", "line has 5 fields, expected 21"),
    ("2026-13-24 21:05:10.25 C K -28.5 5.7 9.5 12.3 75 1.5 3 0 0 4 46350.8 1 1 1 1 0 0", "are not yyyy-mm-dd"),
    ("2026-11-24 21:05:10 X K -28.5 5.7 9.5 12.3 75 1.5 3 0 0 4 46350.8 1 1 1 1 0 0", "temperature scale) 'X'"),
    ("2026-11-24 21:05:10 C Q -28.5 5.7 9.5 12.3 75 1.5 3 0 0 4 46350.8 1 1 1 1 0 0", "wind scale) 'Q'"),
    ("2026-11-24 21:05:10 C K -28.5 5.7 9.5 12.3 75 1.5 3 7 0 4 46350.8 1 1 1 1 0 0", "rain flag) '7' is not one of 0..2"),
    ("2026-11-24 21:05:10 C K -28.5 5.7 9.5 12.3 75 1.5 3 0 0 -4 46350.8 1 1 1 1 0 0", "is negative"),
    ("2026-11-24 21:05:10 C K -28.5 5.7 9.5 12.3 75 1.5 3 0 0 4 46350.8 1 1 1.5 1 0 0", "rain condition) '1.5'"),
])
def test_boltwood_malformed_lines_name_the_problem(line, message):
    with pytest.raises(SourceError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_boltwood_line(line)


def test_boltwood_malformed_missing_and_empty_files_are_unknown(tmp_path):
    reading = BoltwoodSource("cw", FIXTURES / "boltwood_malformed.txt").read(NOW)
    assert reading.verdict is Verdict.UNKNOWN and reading.time is None
    assert "field 8 (wind speed) 'windy' is not a number" in reading.reasons[0]
    assert "does not exist" in BoltwoodSource("cw", tmp_path / "none.txt").read(NOW).reasons[0]
    (tmp_path / "empty.txt").write_text("\n\n")
    assert "has no data line" in BoltwoodSource("cw", tmp_path / "empty.txt").read(NOW).reasons[0]


# --- JSON and CSV -------------------------------------------------------------------------

def test_json_file_source():
    reading = JsonSource("station", path=FIXTURES / "weather.json").read(NOW)
    assert reading.verdict is Verdict.SAFE and reading.time == datetime(2026, 11, 24, 21, 5, tzinfo=UTC)
    assert reading.values["wind_kmh"] == 12.5 and reading.values["rain"] is False
    assert reading.values["sky_minus_ambient_c"] == pytest.approx(-25.5)
    assert reading.values["pressure_hpa"] == 1013.2 and reading.values["station"] == "garden"


def test_json_command_source(tmp_path):
    doc = json.dumps({"time": "2026-11-24T22:05:00+01:00", "wind_kmh": 3, "rain": True})
    script = tmp_path / "weather.py"
    script.write_text(f"print({doc!r})\n")
    reading = JsonSource("station", command=f"{sys.executable} {script}").read(NOW)
    assert reading.time == datetime(2026, 11, 24, 21, 5, tzinfo=UTC) and reading.values["rain"] is True
    failing = JsonSource("station", command=f"{sys.executable} -c 'import sys; sys.exit(\"no sensor\")'").read(NOW)
    assert failing.verdict is Verdict.UNKNOWN and "exited with status 1: no sensor" in failing.reasons[0]
    missing = JsonSource("station", command="/nonexistent/weather-tool").read(NOW)
    assert "command not found" in missing.reasons[0]
    with pytest.raises(ValueError):
        JsonSource("station", path="a", command="b")
    with pytest.raises(SourceError, match="did not finish"):
        run_command(f"{sys.executable} -c 'import time; time.sleep(5)'", timeout_s=0.2)
    with pytest.raises(SourceError, match="empty"):
        run_command("   ")


@pytest.mark.parametrize("text, message", [
    ("", "input is empty"),
    ("{not json", "not JSON"),
    ("[1, 2]", "JSON list, expected an object"),
    ('{"wind_kmh": 3}', "no 'time' field"),
    ('{"time": "yesterday"}', "not an ISO 8601"),
    ('{"time": 5}', "not an ISO 8601 string"),
    ('{"time": "2026-11-24T21:00:00Z", "wind_kmh": "fast"}', "'wind_kmh' = 'fast' is not a number"),
    ('{"time": "2026-11-24T21:00:00Z", "wind_kmh": true}', "is not a number"),
    ('{"time": "2026-11-24T21:00:00Z", "rain": "no"}', "'rain' = 'no' is not true or false"),
])
def test_json_malformed(text, message):
    with pytest.raises(SourceError, match=message):
        parse_json_text(text)


def test_json_naive_time_uses_zone_and_nested_values_are_ignored():
    when, values, notes = parse_json_text('{"time": "2026-07-01 23:00:00", "rain": 0, "extra": {"a": 1}}',
                                          zoneinfo.ZoneInfo("Europe/Paris"))
    assert when == datetime(2026, 7, 1, 21, 0, tzinfo=UTC)
    assert values == {"rain": False} and "ignored" in notes[0]


def test_csv_source_reads_the_last_row(tmp_path):
    reading = CsvSource("csv", FIXTURES / "weather.csv").read(NOW)
    assert reading.time == datetime(2026, 11, 24, 21, 5, tzinfo=UTC)
    assert reading.values["wind_kmh"] == 44.0 and reading.values["rain"] is True
    assert reading.values["sky_minus_ambient_c"] == pytest.approx(-24.5)
    (tmp_path / "bad.csv").write_text("time,wind_kmh\n2026-11-24T21:00:00Z,3,4\n")
    bad = CsvSource("csv", tmp_path / "bad.csv").read(NOW)
    assert bad.verdict is Verdict.UNKNOWN and "2 cells but the header has 2" not in bad.reasons[0]
    assert "3 cells but the header has 2" in bad.reasons[0]


@pytest.mark.parametrize("text, message", [
    ("time,wind_kmh\n", "header row and at least one data row"),
    ("time,wind_kmh\n2026-11-24T21:00:00Z,gale\n", "'wind_kmh' = 'gale' is not a number"),
    ("when,wind_kmh\n2026-11-24T21:00:00Z,3\n", "no 'time' field"),
])
def test_csv_malformed(text, message):
    with pytest.raises(SourceError, match=message):
        parse_csv_text(text)


def test_csv_cells():
    when, values, _ = parse_csv_text("Time,rain,note,humidity\n2026-11-24T21:00:00Z,yes,dewy,\n")
    assert values == {"rain": True, "note": "dewy", "humidity": None}


def test_input_size_limit_and_time_parsing(tmp_path):
    big = tmp_path / "big.json"
    big.write_bytes(b" " * 2000)
    with pytest.raises(SourceError, match="larger than 1000 bytes"):
        read_bytes(big, max_bytes=1000)
    assert parse_time("2026-11-24T21:00:00z") == datetime(2026, 11, 24, 21, tzinfo=UTC)


# --- Sun ----------------------------------------------------------------------------------

@pytest.mark.parametrize("moment, lat, lon", [
    ("2024-06-21T04:00:00", 43.93, 5.71),     # Haute-Provence, summer sunrise
    ("2025-12-21T16:30:00", 43.93, 5.71),     # winter dusk
    ("2026-03-20T02:00:00", -30.17, -70.80),  # Chile, night
    ("2025-09-01T12:00:00", 64.0, -150.0),    # Alaska, longitude wraps into the next day
])
def test_sun_altitude_matches_astropy(moment, lat, lon):
    from astropy.utils import iers

    iers.conf.auto_download = False
    iers.conf.auto_max_age = None
    import astropy.units as u
    from astropy.coordinates import AltAz, EarthLocation, get_sun
    from astropy.time import Time

    when = Time(moment, scale="utc")
    frame = AltAz(obstime=when, location=EarthLocation(lat=lat * u.deg, lon=lon * u.deg, height=0 * u.m))
    expected = get_sun(when).transform_to(frame).alt.deg
    ours = sun_altitude_deg(datetime.fromisoformat(moment).replace(tzinfo=UTC), lat, lon)
    assert ours == pytest.approx(expected, abs=0.5)


def test_sun_source_and_aware_time():
    reading = SunSource("sun", 43.93, 5.71).read(datetime(2025, 12, 21, 22, tzinfo=UTC))
    assert reading.time == datetime(2025, 12, 21, 22, tzinfo=UTC)
    assert reading.values["sun_altitude_deg"] < -40
    with pytest.raises(ValueError):
        sun_altitude_deg(datetime(2025, 1, 1), 0, 0)


# --- NOAA: Kp -----------------------------------------------------------------------------

def test_kp_planetary_takes_the_latest_value_not_in_the_future():
    reading = KpSource("kp", FIXTURES / "kp_planetary.json").read(NOW)
    assert reading.values == {"kp": 4.33} and reading.time == datetime(2026, 11, 24, 18, tzinfo=UTC)
    earlier = KpSource("kp", FIXTURES / "kp_planetary.json").read(datetime(2026, 11, 24, 16, tzinfo=UTC))
    assert earlier.values == {"kp": 5.67}


def test_kp_forecast_skips_predictions_and_reports_the_next_24h_maximum():
    reading = KpSource("kp", FIXTURES / "kp_forecast.json").read(NOW)
    assert reading.values == {"kp": 4.33, "kp_max_next_24h": 6.67}
    points = parse_kp(json.loads((FIXTURES / "kp_forecast.json").read_text()))
    assert [p.kind for p in points][:3] == ["observed", "observed", "estimated"]


def test_kp_one_minute_objects():
    reading = KpSource("kp", FIXTURES / "kp_1m.json").read(NOW)
    assert reading.values == {"kp": 4.0} and reading.time == datetime(2026, 11, 24, 21, tzinfo=UTC)


@pytest.mark.parametrize("text, message", [
    ("", "input is empty"),
    ("[]", "non-empty JSON array"),
    ("{}", "non-empty JSON array"),
    ('[["time_tag","Kp"]]', "header but no values"),
    ('[["when","Kp"],["2026-11-24 12:00:00","3"]]', "lacks time_tag and kp"),
    ('[["time_tag","Kp"],["2026-11-24 12:00:00"]]', "row 2 is not a list of 2 cells"),
    ('[["time_tag","Kp"],["2026-11-24 12:00:00","high"]]', "Kp row 2 'high' is not a number"),
    ('[["time_tag","Kp"],["2026-11-24 12:00:00","12"]]', "outside 0..9"),
    ('[{"kp_index": 3}]', "not an object with a time_tag"),
    ('[{"time_tag": "2026-11-24T12:00:00", "estimated_kp": null, "kp_index": null}]', "None is not a number"),
    ("[3, 4]", "neither an array of arrays"),
])
def test_kp_malformed(tmp_path, text, message):
    path = tmp_path / "kp.json"
    path.write_text(text)
    reading = KpSource("kp", path).read(NOW)
    assert reading.verdict is Verdict.UNKNOWN and message in reading.reasons[0]


def test_kp_with_only_future_values_is_unknown():
    reading = KpSource("kp", FIXTURES / "kp_planetary.json").read(datetime(2026, 11, 24, tzinfo=UTC))
    assert reading.verdict is Verdict.UNKNOWN and "no observed or estimated Kp" in reading.reasons[0]


# --- NOAA: OVATION ------------------------------------------------------------------------

def test_ovation_probability_at_nearest_grid_point_with_longitude_wrap():
    reading = OvationSource("aurora", FIXTURES / "ovation.json", 45.2, 5.8).read(NOW)
    assert reading.values["aurora_probability"] == 7
    assert reading.time == datetime(2026, 11, 24, 21, tzinfo=UTC)
    assert reading.values["aurora_forecast_time"] == "2026-11-24T21:45:00+00:00"
    ovation = parse_ovation(json.loads((FIXTURES / "ovation.json").read_text()))
    assert aurora_probability(ovation.points, 45.6, -0.4) == (86, 0, 46)   # -0.4 is 359.6 -> 0
    assert aurora_probability(ovation.points, 44.0, -1.6) == (84, 358, 44)
    assert aurora_probability(ovation.points, 44.0, 359.9) == (84, 0, 44)
    assert aurora_probability(ovation.points, -50.0, 10.0) == (3, 10, -45)


@pytest.mark.parametrize("doc, message", [
    ("", "input is empty"),
    ("[]", "not a JSON object"),
    ('{"Observation Time": "2026-11-24T21:00:00Z", "Forecast Time": "2026-11-24T21:30:00Z"}', "no 'coordinates'"),
    ('{"Observation Time": "2026-11-24T21:00:00Z", "Forecast Time": "2026-11-24T21:30:00Z", "coordinates": []}',
     "coordinates are empty"),
    ('{"Observation Time": "2026-11-24T21:00:00Z", "Forecast Time": "x", "coordinates": [[0, 0, 1]]}', "ISO 8601"),
    ('{"Observation Time": "2026-11-24T21:00:00Z", "Forecast Time": "2026-11-24T21:30:00Z", "coordinates": [[0, 0]]}',
     "is not [lon, lat, probability]"),
    ('{"Observation Time": "2026-11-24T21:00:00Z", "Forecast Time": "2026-11-24T21:30:00Z", "coordinates": [[0, 95, 1]]}',
     "out of range"),
])
def test_ovation_malformed(tmp_path, doc, message):
    path = tmp_path / "ovation.json"
    path.write_text(doc)
    reading = OvationSource("aurora", path, 45, 5).read(NOW)
    assert reading.verdict is Verdict.UNKNOWN and message in reading.reasons[0]


# --- NOAA: HMS smoke ----------------------------------------------------------------------

def test_smoke_kml_densest_polygon_near_the_site():
    polygons = parse_smoke_kml((FIXTURES / "smoke.kml").read_bytes())
    assert sorted(p.level for p in polygons) == [1, 2, 3]
    assert smoke_at(polygons, 35.3, -105.35, 10) == (2, 0.0)              # inside medium (and light)
    level, distance = smoke_at(polygons, 35.25, -105.25, 1)                  # in the medium polygon's hole
    assert level == 1 and distance == 0.0
    level, distance = smoke_at(polygons, 35.25, -102.0, 50)                  # 0.5 deg east of the heavy one
    assert level == 3 and distance == pytest.approx(0.5 * 111.195 * 0.8166, rel=0.01)
    assert smoke_at(polygons, 35.25, -102.0, 40) == (0, None)
    assert smoke_at(polygons, 10.0, 10.0, 50) == (0, None)


def test_smoke_source_reading_uses_the_file_time(tmp_path):
    path = tmp_path / "smoke.kml"
    path.write_bytes((FIXTURES / "smoke.kml").read_bytes())
    stamp = datetime(2026, 11, 24, 20, tzinfo=UTC).timestamp()
    os.utime(path, (stamp, stamp))
    reading = SmokeSource("smoke", path, 35.3, -105.35, 50).read(NOW)
    assert reading.time == datetime(2026, 11, 24, 20, tzinfo=UTC)
    assert reading.values["smoke_level"] == 2 and reading.values["smoke_density"] == "medium"
    wide = SmokeSource("smoke", path, 35.3, -105.35, 300).read(NOW)
    assert wide.values["smoke_level"] == 3 and wide.values["smoke_distance_km"] == pytest.approx(213, abs=2)
    clear = SmokeSource("smoke", path, 10.0, 10.0, 50).read(NOW)
    assert clear.values == {"smoke_level": 0, "smoke_density": "none", "smoke_distance_km": None,
                            "smoke_polygons": 3}


EMPTY_KML = b'<?xml version="1.0"?><kml xmlns="http://www.opengis.net/kml/2.2"><Document></Document></kml>'
BOMB = b'<?xml version="1.0"?><!DOCTYPE kml [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><kml>&b;</kml>'


def _polygon(folder, coords):
    return (f'<kml><Folder><name>{folder}</name><Placemark><Polygon><outerBoundaryIs><LinearRing>'
            f'<coordinates>{coords}</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>'
            f'</Folder></kml>').encode()


def test_smoke_kml_without_smoke_is_an_empty_analysis():
    assert parse_smoke_kml(EMPTY_KML) == []


@pytest.mark.parametrize("data, message", [
    (b"", "KML is empty"),
    (b"<kml><Folder>", "not well-formed"),
    (b"<html/>", "expected <kml>"),
    (BOMB, "KML refused"),
    (_polygon("Smoke (Heavy)", "1,2 3,4"), "fewer than 3 points"),
    (_polygon("Smoke (Heavy)", "1,2 3 4,5"), "'3' is not lon,lat"),
    (_polygon("Smoke (Heavy)", "1,2 3,x 4,5"), "KML latitude 'x' is not a number"),
    (_polygon("Smoke", "1,2 3,4 4,5"), "no density"),
    (b"<kml><Folder><name>Heavy</name><Placemark><Polygon/></Placemark></Folder></kml>", "no outer boundary"),
])
def test_smoke_kml_malformed(tmp_path, data, message):
    path = tmp_path / "smoke.kml"
    path.write_bytes(data)
    reading = SmokeSource("smoke", path, 35.0, -105.0).read(NOW)
    assert reading.verdict is Verdict.UNKNOWN and message in reading.reasons[0]


def test_read_helpers_report_os_errors(tmp_path):
    latin = tmp_path / "latin.json"
    latin.write_bytes('{"time": "2026-11-24T21:00:00Z", "station": "Besan\xe7on"}'.encode("latin-1"))
    assert JsonSource("j", path=latin).read(NOW).values["station"] == "Besan\u00e7on"
    assert "cannot read" in JsonSource("j", path=tmp_path).read(NOW).reasons[0]  # a directory
    script = tmp_path / "not-executable"
    script.write_text("#!/bin/sh\n")
    assert "cannot run" in JsonSource("j", command=str(script)).read(NOW).reasons[0]
    with pytest.raises(SourceError, match="printed more than 10 bytes"):
        run_command(f"{sys.executable} -c 'print(100 * \"x\")'", max_bytes=10)
    from node_observatory.safety.sources.base import file_mtime
    with pytest.raises(SourceError, match="cannot stat"):
        file_mtime(tmp_path / "gone.kml")


def test_kp_rejects_non_finite_and_non_scalar_values(tmp_path):
    path = tmp_path / "kp.json"
    path.write_text('[["time_tag","Kp"],["2026-11-24 12:00:00","NaN"]]')
    assert "not a finite number" in KpSource("kp", path).read(NOW).reasons[0]
    path.write_text('[["time_tag","Kp"],["2026-11-24 12:00:00",[3]]]')
    assert "[3] is not a number" in KpSource("kp", path).read(NOW).reasons[0]


def test_smoke_density_from_the_placemark_when_the_folder_does_not_say():
    data = (b'<kml><Document><Placemark><name>Heavy smoke</name><Polygon><outerBoundaryIs><LinearRing>'
            b'<coordinates>0,0 1,0 1,1 0,1</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark>'
            b'</Document></kml>')
    assert [p.level for p in parse_smoke_kml(data)] == [3]
