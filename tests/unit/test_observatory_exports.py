"""Exports of the verdict: the Boltwood one-line file (read back with OBSY's own Boltwood parser) and the
ASCOM Alpaca SafetyMonitor served on a free loopback port, queried with requests, plus UDP discovery."""
from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta, timezone

import pytest
import requests

from common.config import ConfigError, load_config
from common.config_example import example
from node_observatory.exports.alpaca_api import AlpacaSafetyMonitor, Verdicts
from node_observatory.exports.alpaca_server import AlpacaServer
from node_observatory.exports.boltwood import BoltwoodFileWriter, boltwood_line, vb_days
from node_observatory.exports.factory import start_exports
from node_observatory.safety import Reading, SafetyStatus, SourceStatus, Verdict
from node_observatory.safety.sources import parse_boltwood_line

UTC = timezone.utc
NOW = datetime(2026, 11, 24, 21, 5, 6, 250000, tzinfo=UTC)
WEATHER = {"sky_minus_ambient_c": -28.5, "ambient_c": 5.7, "sensor_c": 9.5, "wind_kmh": 12.3, "humidity": 75.0,
           "dew_point_c": 1.5, "rain": False, "wet": False}


def status(state: Verdict, values: dict | None = None, source_verdict: Verdict = Verdict.SAFE,
           age_s: float | None = 3.0) -> SafetyStatus:
    reading = Reading("cw", NOW, values if values is not None else WEATHER, source_verdict)
    source = SourceStatus("cw", True, source_verdict, (), age_s, reading)
    return SafetyStatus(NOW, state, state, (), (source,), None)


# --- Boltwood -----------------------------------------------------------------------------

def test_safe_line_reads_back_as_safe_with_the_weather():
    line = boltwood_line(status(Verdict.SAFE), UTC)
    assert line.startswith("2026-11-24 21:05:06.25 C K ")
    when, values, notes = parse_boltwood_line(line, UTC)
    assert when == NOW and notes == []
    assert values["roof_close"] is False and values["alert"] is False
    assert (values["cloud_condition"], values["wind_condition"], values["rain_condition"],
            values["daylight_condition"]) == (1, 1, 1, 1)
    for name in ("sky_minus_ambient_c", "ambient_c", "sensor_c", "wind_kmh", "humidity", "dew_point_c"):
        assert values[name] == pytest.approx(WEATHER[name]), name
    assert line.split()[14] == f"{vb_days(NOW.replace(tzinfo=None)):012.5f}" == "046350.87854"


@pytest.mark.parametrize("state", [Verdict.UNSAFE, Verdict.UNKNOWN])
def test_not_safe_sets_roof_close_and_alert(state):
    when, values, _ = parse_boltwood_line(boltwood_line(status(state, {**WEATHER, "rain": True}), UTC), UTC)
    assert values["roof_close"] is True and values["alert"] is True and values["rain"] is True
    assert values["cloud_condition"] == 0


def test_unknown_without_fresh_data_writes_no_data_values_and_the_age():
    line = boltwood_line(status(Verdict.UNKNOWN, source_verdict=Verdict.UNKNOWN, age_s=4000.0), UTC)
    _, values, notes = parse_boltwood_line(line, UTC)
    assert values["sky_minus_ambient_c"] is None and values["wind_kmh"] is None and values["humidity"] is None
    assert values["seconds_since_valid"] == 4000 and values["alert"] is True and notes
    no_reading = SafetyStatus(NOW, Verdict.UNKNOWN, Verdict.UNKNOWN, (),
                              (SourceStatus("cw", True, Verdict.UNKNOWN, (), None, None),), None)
    assert parse_boltwood_line(boltwood_line(no_reading, UTC), UTC)[1]["seconds_since_valid"] == 99999


def test_local_time_zone_as_boltwood_writes_it():
    import zoneinfo

    line = boltwood_line(status(Verdict.SAFE), zoneinfo.ZoneInfo("America/Denver"))
    assert line.startswith("2026-11-24 14:05:06.25 ")
    assert parse_boltwood_line(line, zoneinfo.ZoneInfo("America/Denver"))[0] == NOW


def test_writer_replaces_the_file_and_reports_errors_without_raising(tmp_path):
    path = tmp_path / "out" / "oneline.txt"
    writer = BoltwoodFileWriter(path, UTC)
    assert writer(status(Verdict.SAFE)) and path.read_text().count("\n") == 1
    assert writer(status(Verdict.UNSAFE)) and path.read_text().split()[-2:] == ["1", "1"]
    assert [p.name for p in path.parent.iterdir()] == ["oneline.txt"]  # no temp file left behind
    (tmp_path / "blocked").write_text("a file where a directory should be")
    assert BoltwoodFileWriter(tmp_path / "blocked" / "oneline.txt")(status(Verdict.SAFE)) is False


# --- Alpaca -------------------------------------------------------------------------------

class Clock:
    def __init__(self):
        self.now = NOW

    def __call__(self):
        return self.now


@pytest.fixture
def alpaca():
    verdicts, clock = Verdicts(), Clock()
    device = AlpacaSafetyMonitor("roof1", verdicts, max_age_s=30, location="Test site", clock=clock)
    server = AlpacaServer(device, "127.0.0.1", 0, discovery_port=0).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        yield server, verdicts, clock, base
    finally:
        server.stop()


def _get(base, method, **params):
    reply = requests.get(f"{base}/api/v1/safetymonitor/0/{method}", params=params, timeout=5)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _put(base, method, **form):
    return requests.put(f"{base}/api/v1/safetymonitor/0/{method}", data=form, timeout=5)


def test_management_api(alpaca):
    server, _, _, base = alpaca
    versions = requests.get(f"{base}/management/apiversions", params={"ClientTransactionID": 7}, timeout=5).json()
    assert versions["Value"] == [1] and versions["ClientTransactionID"] == 7 and versions["ErrorNumber"] == 0
    description = requests.get(f"{base}/management/v1/description", timeout=5).json()["Value"]
    assert description["Location"] == "Test site" and description["Manufacturer"] == "OBSY"
    devices = requests.get(f"{base}/management/v1/configureddevices", timeout=5).json()["Value"]
    assert devices == [{"DeviceName": "OBSY roof1 safety", "DeviceType": "SafetyMonitor", "DeviceNumber": 0,
                        "UniqueID": server.device.unique_id}]


def test_issafe_is_true_only_when_connected_and_the_fresh_state_is_safe(alpaca):
    _, verdicts, clock, base = alpaca
    verdicts.update(Verdict.SAFE, NOW)
    assert _get(base, "issafe")["Value"] is False  # not connected yet
    reply = _put(base, "connected", Connected="True", ClientTransactionID="42")
    assert reply.status_code == 200
    body = reply.json()
    assert "Value" not in body and body["ClientTransactionID"] == 42 and body["ErrorNumber"] == 0
    assert _get(base, "connected")["Value"] is True
    assert _get(base, "issafe")["Value"] is True
    verdicts.update(Verdict.UNKNOWN, NOW)
    assert _get(base, "issafe")["Value"] is False
    verdicts.update(Verdict.UNSAFE, NOW)
    assert _get(base, "issafe")["Value"] is False
    verdicts.update(Verdict.SAFE, NOW)
    clock.now = NOW + timedelta(seconds=31)  # the node loop stopped feeding verdicts
    assert _get(base, "issafe")["Value"] is False
    state = {d["Name"]: d["Value"] for d in _get(base, "devicestate")["Value"]}
    assert state["IsSafe"] is False and state["TimeStamp"].startswith("2026-11-24T21:05:37")
    assert _put(base, "disconnect").status_code == 200 and _get(base, "connected")["Value"] is False


def test_common_members_and_transaction_ids(alpaca):
    _, _, _, base = alpaca
    first = _get(base, "name", clienttransactionid="9")
    second = _get(base, "interfaceversion", ClientTransactionID="not a number")
    for odd in ("²", "-1", str(2**32)):  # a digit isdigit() accepts but int() refuses; out of uint32
        assert _get(base, "name", ClientTransactionID=odd)["ClientTransactionID"] == 0
    assert first["Value"] == "OBSY roof1 safety" and first["ClientTransactionID"] == 9
    assert second["Value"] == 3 and second["ClientTransactionID"] == 0
    assert second["ServerTransactionID"] > first["ServerTransactionID"] >= 1
    for method in ("description", "driverinfo", "driverversion"):
        body = _get(base, method)
        assert isinstance(body["Value"], str) and body["Value"] and body["ErrorMessage"] == ""
    assert _get(base, "supportedactions")["Value"] == [] and _get(base, "connecting")["Value"] is False
    for key in ("ClientTransactionID", "ServerTransactionID", "ErrorNumber", "ErrorMessage"):
        assert key in _get(base, "connected")


def test_bad_requests_are_400_and_unsupported_commands_are_alpaca_errors(alpaca):
    _, _, _, base = alpaca
    assert _put(base, "connected", Connected="maybe").status_code == 400
    assert _put(base, "connected").status_code == 400
    assert _put(base, "issafe", IsSafe="True").status_code == 400
    assert requests.get(f"{base}/api/v1/safetymonitor/0/nosuchthing", timeout=5).status_code == 400
    assert requests.get(f"{base}/api/v1/safetymonitor/1/issafe", timeout=5).status_code == 400
    assert requests.get(f"{base}/api/v1/camera/0/connected", timeout=5).status_code == 400
    action = _put(base, "action", Action="open", Parameters="").json()
    assert action["ErrorNumber"] == 0x40C and "open" in action["ErrorMessage"]
    assert _put(base, "commandblind", Command="x", Raw="false").json()["ErrorNumber"] == 0x400
    raw = requests.put(f"{base}/api/v1/safetymonitor/0/connected", data=b"\xff\xfe=\x00", timeout=5)
    assert raw.status_code == 400


def test_a_bug_in_the_device_is_a_500_and_the_server_stays_up(alpaca, monkeypatch):
    server, _, _, base = alpaca
    monkeypatch.setattr(server.device, "is_safe", lambda: 1 / 0)
    server.device._gets["issafe"] = server.device.is_safe
    reply = requests.get(f"{base}/api/v1/safetymonitor/0/issafe", timeout=5)
    assert reply.status_code == 500 and "ZeroDivisionError" in reply.text
    assert _get(base, "connected")["Value"] is False


def test_discovery_answers_with_the_http_port(alpaca):
    server, _, _, _ = alpaca
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.settimeout(2)
        probe.sendto(b"alpacadiscovery1", ("127.0.0.1", server.discovery_port))
        data, _ = probe.recvfrom(1024)
        assert json.loads(data) == {"AlpacaPort": server.port}
        probe.settimeout(0.3)
        probe.sendto(b"hello", ("127.0.0.1", server.discovery_port))
        with pytest.raises(socket.timeout):
            probe.recvfrom(1024)


# --- config and the node ------------------------------------------------------------------

def test_exports_from_config_are_off_by_default_and_feed_both_outputs(tmp_path):
    assert start_exports(load_config("observatory")).describe() == "no exports"
    text = example("observatory")
    assert "[alpaca]\n" in text and "[boltwood_export]\n" in text and 'host = "127.0.0.1"' in text
    path = tmp_path / "observatory.toml"
    path.write_text(f'[boltwood_export]\npath = "{tmp_path / "bw.txt"}"\ntimezone = "UTC"\n'
                    "[alpaca]\nenabled = true\nport = 0\n")
    exports = start_exports(load_config("observatory", path))
    try:
        assert "Alpaca SafetyMonitor http://127.0.0.1:" in exports.describe()
        exports(SafetyStatus(datetime.now(UTC), Verdict.SAFE, Verdict.SAFE, (), (), None))
        base = f"http://127.0.0.1:{exports.server.port}"
        _put(base, "connected", Connected="true")
        assert _get(base, "issafe")["Value"] is True
        assert (tmp_path / "bw.txt").read_text().split()[-2:] == ["0", "0"]
    finally:
        exports.close()


def test_a_port_in_use_leaves_the_node_running_without_alpaca(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        path = tmp_path / "observatory.toml"
        path.write_text(f"[alpaca]\nenabled = true\nport = {busy.getsockname()[1]}\n")
        exports = start_exports(load_config("observatory", path))
        assert exports.server is None and exports.describe() == "no exports"
        exports(status(Verdict.SAFE))  # still takes verdicts without failing


def test_export_config_errors(tmp_path):
    path = tmp_path / "observatory.toml"
    path.write_text('[boltwood_export]\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError, match="not an IANA time zone"):
        load_config("observatory", path)
    path.write_text("[alpaca]\nport = 70000\n")
    with pytest.raises(ConfigError, match="alpaca.port"):
        load_config("observatory", path)
