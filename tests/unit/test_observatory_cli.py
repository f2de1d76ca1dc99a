"""Observatory config, the monitor built from it, and ``obsy observatory``."""
import json
import os
import shutil
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from common.cli import obsy
from common.config import ConfigError, load_config
from common.config_example import example
from node_observatory import cli as observatory_cli
from node_observatory.safety import Verdict
from node_observatory.safety.factory import build_monitor

FIXTURES = Path(__file__).parent / "fixtures" / "observatory"
NOW = datetime(2026, 11, 25, 4, 5, 30, tzinfo=timezone.utc)  # 21:05:30 in New Mexico

CONFIG = f"""
[node]
name = "roof1"
[site]
latitude_deg = 35.3
longitude_deg = -105.35
elevation_m = 2100
[safety]
min_safe_minutes = 10

[[safety.sources]]
name = "cloudwatcher"
type = "boltwood"
path = "{FIXTURES / 'boltwood_metric.txt'}"
cadence_s = 10
max_age_s = 120
timezone = "America/Denver"
thresholds = {{ wind_kmh = {{ unsafe_above = 40, safe_below = 30 }} }}

[[safety.sources]]
name = "sun"
type = "sun"

[[safety.sources]]
name = "kp"
type = "kp"
path = "{FIXTURES / 'kp_planetary.json'}"
max_age_s = 86400
required = false
thresholds = {{ kp = {{ unsafe_above = 4, safe_below = 3 }} }}

[[safety.sources]]
name = "smoke"
type = "smoke"
path = "SMOKE_KML"
required = false
max_age_s = 1e12
within_km = 20
thresholds = {{ smoke_level = {{ unsafe_above = 1.5, safe_below = 0.5 }} }}
"""


@pytest.fixture
def config_path(tmp_path):
    # the smoke reading is stamped with the file's mtime: make it an hour before NOW, not the checkout time
    smoke = tmp_path / "smoke.kml"
    shutil.copyfile(FIXTURES / "smoke.kml", smoke)
    stamp = (NOW - timedelta(hours=1)).timestamp()
    os.utime(smoke, (stamp, stamp))
    path = tmp_path / "observatory.toml"
    path.write_text(CONFIG.replace("SMOKE_KML", str(smoke)))
    return path


def test_example_is_valid_and_its_commented_sources_load(tmp_path):
    text = example("observatory")
    path = tmp_path / "observatory.toml"
    path.write_text(text)
    assert load_config("observatory", path).model_dump() == load_config("observatory").model_dump()
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# sources:")) + 1
    end = lines.index("sources = []")
    uncommented = lines[:start] + [line[2:] for line in lines[start:end]] + lines[end + 1:]
    path.write_text("\n".join(uncommented))
    config = load_config("observatory", path)
    assert [s.type for s in config.safety.sources] == ["boltwood", "indi_weather", "rain_serial", "rain_command",
                                                      "allsky", "sun", "kp"]
    assert config.safety.sources[0].thresholds["wind_kmh"].safe_below == 30


def test_config_defaults_per_type(config_path):
    config = load_config("observatory", config_path)
    sources = {s.name: s for s in config.safety.sources}
    assert sources["cloudwatcher"].unsafe_flags == ["rain"] and sources["kp"].unsafe_flags == []
    assert sources["sun"].thresholds["sun_altitude_deg"].unsafe_above == -12


@pytest.mark.parametrize("source, message", [
    ('name = "a"\ntype = "radar"', "safety.sources.0.type = 'radar'"),
    ('name = "a"\ntype = "json"\npath = "x"\ncommand = "y"', "needs exactly one of path and command"),
    ('name = "a"\ntype = "sun"\npath = "x"', "takes no path or command"),
    ('name = "a"\ntype = "csv"', "type 'csv' needs path"),
    ('name = "a"\ntype = "csv"\ncommand = "x"', "only types json, rain_command may use command"),
    ('name = "a"\ntype = "sun"\ntimezone = "Mars/Olympus"', "'Mars/Olympus' is not an IANA time zone"),
    ('name = "A b"\ntype = "sun"', "safety.sources.0.name = 'A b'"),
    ('name = "a"\ntype = "sun"\ncadence_s = 0', "safety.sources.0.cadence_s = 0"),
    ('name = "a"\ntype = "sun"\nthresholds = { x = { safe_below = 3 } }', "needs unsafe_above or unsafe_below"),
    ('name = "a"\ntype = "sun"\nthresholds = { x = { unsafe_above = 3, safe_below = 4 } }',
     "safe_below 4.0 must not be above unsafe_above 3.0"),
    ('name = "a"\ntype = "sun"\nthresholds = { x = { unsafe_below = 3, safe_above = 2 } }',
     "safe_above 2.0 must not be below unsafe_below 3.0"),
    ('name = "a"\ntype = "sun"\nthresholds = { x = { unsafe_below = 3, safe_below = 2 } }', "safe_below needs unsafe_above"),
    ('name = "a"\ntype = "sun"\nthresholds = { x = { unsafe_above = 3, safe_above = 2 } }', "safe_above needs unsafe_below"),
    ('name = "a"\ntype = "sun"\n[[safety.sources]]\nname = "a"\ntype = "sun"', "repeated: a"),
])
def test_config_errors_name_the_key(tmp_path, source, message):
    path = tmp_path / "observatory.toml"
    path.write_text(f"[[safety.sources]]\n{source}\n")
    with pytest.raises(ConfigError) as info:
        load_config("observatory", path)
    assert message in str(info.value)


def test_config_site_limits(tmp_path):
    path = tmp_path / "observatory.toml"
    path.write_text("[site]\nlatitude_deg = 95\n")
    with pytest.raises(ConfigError, match="site.latitude_deg = 95"):
        load_config("observatory", path)


def test_monitor_from_config(config_path):
    monitor = build_monitor(load_config("observatory", config_path), hold_at_start=False)
    status = monitor.step(NOW)
    by_name = {s.name: s for s in status.sources}
    assert status.state is Verdict.SAFE, status.reasons
    assert by_name["kp"].verdict is Verdict.UNSAFE and by_name["smoke"].verdict is Verdict.UNSAFE
    assert any(r.startswith("kp (advisory): kp 4.33") for r in status.reasons)
    noon = monitor.step(NOW + timedelta(hours=12))
    assert noon.state is Verdict.UNSAFE  # sun up (unsafe) beats the stale Boltwood file (unknown)
    assert any(r.startswith("sun: sun_altitude_deg") for r in noon.reasons)
    assert any(r.startswith("cloudwatcher: stale") for r in noon.reasons)


def test_status_once_json(config_path, monkeypatch):
    monkeypatch.setattr(observatory_cli, "utc_now", lambda: NOW)
    result = CliRunner().invoke(obsy, ["observatory", "status", "--once", "--json", "--config", str(config_path)])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["state"] == "safe" and data["is_safe"] is True and data["node"] == "roof1"
    sources = {s["name"]: s for s in data["sources"]}
    assert sources["cloudwatcher"]["age_s"] == 23.75
    assert sources["cloudwatcher"]["reading"]["values"]["wind_kmh"] == 12.3
    assert sources["kp"]["required"] is False and sources["kp"]["verdict"] == "unsafe"
    assert sources["sun"]["reading"]["values"]["sun_altitude_deg"] < -12


def test_status_table_and_unsafe_exit_status(config_path, monkeypatch):
    monkeypatch.setattr(observatory_cli, "utc_now", lambda: NOW + timedelta(hours=1))
    result = CliRunner().invoke(obsy, ["observatory", "--config", str(config_path), "status", "--once"])
    assert result.exit_code == 1
    assert result.output.startswith("state: unknown")
    assert "cloudwatcher: stale: data is 3624 s old (max 120 s)" in result.output
    assert "cloudwatcher     required  unknown     3624 s  sky_minus_ambient_c=-28.5" in result.output


def test_status_reports_a_bad_config(tmp_path):
    path = tmp_path / "observatory.toml"
    path.write_text("[safety]\nmin_safe_minutes = -1\n")
    result = CliRunner().invoke(obsy, ["observatory", "status", "--once", "--config", str(path)])
    assert result.exit_code == 1 and "safety.min_safe_minutes = -1" in result.output


def test_config_example_command():
    result = CliRunner().invoke(obsy, ["config", "example", "observatory"])
    assert result.exit_code == 0 and "[[safety.sources]]" in result.output


def test_loop_prints_each_change_of_state(config_path):
    config_path.write_text(config_path.read_text().replace("max_age_s = 120", "max_age_s = 900"))
    monitor = build_monitor(load_config("observatory", config_path))
    stop = threading.Event()
    times = iter([NOW + timedelta(seconds=10 * i) for i in range(100)])
    lines = []

    def clock():
        moment = next(times, None)
        if moment is None or moment >= NOW + timedelta(seconds=890):
            stop.set()
        return moment or NOW

    last = observatory_cli.run_loop(monitor, 0, stop, lines.append, clock)
    # held unsafe for the minimum safe time, then safe; then the Boltwood data goes stale
    assert [line.split()[2] for line in lines] == ["unsafe:", "safe:", "unknown:"]
    assert "waiting until 600 s" in lines[0]
    assert lines[1].startswith("2026-11-25T04:15:30+00:00 safety safe")
    assert lines[2].startswith("2026-11-25T04:20:10+00:00 safety unknown: cloudwatcher: stale")
    assert last.state is Verdict.UNKNOWN


def test_a_wake_steps_the_loop_at_once(config_path):
    """A park report or a roof command must not wait for the next tick (the roof closes as soon as
    the mount is confirmed parked)."""
    monitor = build_monitor(load_config("observatory", config_path))
    stop, wake, steps = threading.Event(), threading.Event(), []
    loop = threading.Thread(target=observatory_cli.run_loop,
                            args=(monitor, 60.0, stop, lambda line: None, lambda: NOW, steps.append, wake))
    loop.start()
    try:
        deadline = time.monotonic() + 5
        while not steps and time.monotonic() < deadline:
            time.sleep(0.01)
        wake.set()
        while len(steps) < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(steps) == 2  # the second step came from the wake, long before the 60 s tick
    finally:
        stop.set()
        wake.set()
        loop.join(5)
    assert not loop.is_alive()


def test_node_command_runs_the_loop(config_path, monkeypatch):
    calls = []
    monkeypatch.setattr(observatory_cli.signal, "signal", lambda *a: None)
    monkeypatch.setattr(observatory_cli, "run_loop", lambda monitor, tick_s, stop, echo, **kw: calls.append(len(monitor.slots)))
    result = CliRunner().invoke(obsy, ["observatory", "--config", str(config_path)])
    assert result.exit_code == 0 and "safety monitor with 4 source(s)" in result.output
    assert calls == [4]


def test_status_without_once_is_refused(config_path):
    result = CliRunner().invoke(obsy, ["observatory", "status", "--config", str(config_path)])
    assert result.exit_code == 2 and "use --once" in result.output


def test_table_shows_a_source_without_reading(config_path):
    monitor = build_monitor(load_config("observatory", config_path))
    text = observatory_cli.format_status(monitor.evaluate(NOW))
    assert "cloudwatcher     required  unknown          -  \n" in text
    assert "! no reading yet" in text
