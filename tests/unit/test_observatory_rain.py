"""Rain sensors: a serial sensor on a real pseudo-terminal, and a contact read by a command."""
import os
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

from common.config import ConfigError, load_config
from node_observatory.safety import Verdict
from node_observatory.safety.factory import build_monitor
from node_observatory.safety.sources.rain import CommandRainSource, SerialRainSource, WetRule
from node_observatory.safety.sources.serial_line import SerialLines

T0 = datetime(2026, 12, 1, 22, 0, tzinfo=timezone.utc)
PY = sys.executable


@pytest.fixture
def pty():
    master, slave = os.openpty()
    yield master, os.ttyname(slave)
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass


def config_with(tmp_path, source: str, min_safe_minutes: float = 10):
    path = tmp_path / "observatory.toml"
    path.write_text(f"[safety]\nmin_safe_minutes = {min_safe_minutes}\n[[safety.sources]]\n{source}\n")
    return load_config("observatory", path)


def test_serial_sensor_through_the_monitor_rain_is_unsafe_at_once(tmp_path, pty):
    master, device = pty
    monitor = build_monitor(config_with(tmp_path, f'name = "rg9"\ntype = "rain_serial"\npath = "{device}"\n'
                                                  'cadence_s = 1\nmax_age_s = 30'))
    try:
        os.write(master, b"R 0\r\n")
        first = monitor.step(T0)
        assert first.conditions is Verdict.SAFE and first.sources[0].reading.values == {"rain": False, "rain_value": 0.0}
        os.write(master, b"R 0\r\nR 3\r\n")  # only the newest line counts
        wet = monitor.step(T0 + timedelta(seconds=1))
        assert wet.state is Verdict.UNSAFE and "rg9: rain reported" in wet.reasons
        os.write(master, b"R 0\r\n")
        dry = monitor.step(T0 + timedelta(seconds=2))
        # dry again: the conditions are safe at once, the state waits the minimum safe time
        assert dry.conditions is Verdict.SAFE and dry.state is Verdict.UNSAFE
        quiet = monitor.step(T0 + timedelta(seconds=40))  # the sensor said nothing for 38 s
        assert quiet.state is Verdict.UNKNOWN and "stale" in quiet.reasons[0]
    finally:
        monitor.slots[0].source.port.close()


def test_partial_lines_wait_for_their_end_and_noise_is_ignored(pty):
    master, device = pty
    source = SerialRainSource("rg9", SerialLines(device), WetRule(r"^\s*R\s*(\d+)", wet_above=0))
    try:
        os.write(master, b"power on, firmware 1.2\n")
        assert "no line matches" in source.read(T0).reasons[0]
        os.write(master, b"R ")
        assert source.read(T0).verdict is Verdict.UNKNOWN
        os.write(master, b"1\n")
        reading = source.read(T0 + timedelta(seconds=1))
        assert reading.values["rain"] is True and reading.time == T0 + timedelta(seconds=1)
        # nothing new: the last reading is kept with its own time (so the monitor sees it age)
        assert source.read(T0 + timedelta(seconds=5)).time == T0 + timedelta(seconds=1)
    finally:
        source.port.close()


def test_unmatched_lines_name_the_last_line(pty):
    master, device = pty
    source = SerialRainSource("rg9", SerialLines(device), WetRule(r"^\s*R\s*(\d+)", wet_above=0))
    try:
        os.write(master, b"power on, firmware 1.2\n")
        reading = source.read(T0)
        assert reading.verdict is Verdict.UNKNOWN and "last line 'power on, firmware 1.2'" in reading.reasons[0]
        assert "nothing received" in SerialRainSource("x", SerialLines(device), source.rule).read(T0).reasons[0]
    finally:
        source.port.close()


def test_rg15_intensity_with_a_poll_command(pty):
    master, device = pty
    source = SerialRainSource("rg15", SerialLines(device, 9600), WetRule(r"RInt\s+([\d.]+)", wet_above=0), send="R\n")
    try:
        assert source.read(T0).verdict is Verdict.UNKNOWN
        assert os.read(master, 100) == b"R\n"  # the sensor was asked
        os.write(master, b"Acc 0.01 mm, EventAcc 0.01 mm, TotalAcc 0.01 mm, RInt 0.25 mmph\r\n")
        reading = source.read(T0)
        assert reading.values == {"rain": True, "rain_value": 0.25}
    finally:
        source.port.close()


def test_a_lost_or_missing_device_is_unknown_with_the_reason(tmp_path, pty):
    master, device = pty
    source = SerialRainSource("rg9", SerialLines(device), WetRule(r"R (\d)", wet_above=0))
    os.write(master, b"R 0\n")
    assert source.read(T0).verdict is Verdict.SAFE
    os.close(master)  # the sensor's USB adapter is pulled
    lost = source.read(T0 + timedelta(seconds=1))
    assert lost.verdict is Verdict.UNKNOWN and "lost" in lost.reasons[0] and source.port.fd is None
    # the pseudo-terminal is gone for good: reopening says so
    assert "does not exist" in source.read(T0 + timedelta(seconds=2)).reasons[0]


def test_read_errors_and_reopening(tmp_path, pty, monkeypatch):
    master, device = pty
    port = SerialLines(device)
    port.write("")  # a write before any read opens the port
    assert port.fd is not None and port.poll() == []
    monkeypatch.setattr(os, "read", lambda fd, n: (_ for _ in ()).throw(OSError(5, "Input/output error")))
    with pytest.raises(Exception, match="lost: Input/output error"):
        port.poll()
    monkeypatch.undo()
    os.write(master, b"R 1\n")
    assert port.poll() == ["R 1"]  # reopened at the next poll
    monkeypatch.setattr(os, "write", lambda fd, data: (_ for _ in ()).throw(BlockingIOError()))
    port.write("R\n")  # a full output buffer: skipped, asked again next time
    monkeypatch.setattr(os, "write", lambda fd, data: (_ for _ in ()).throw(OSError(5, "Input/output error")))
    with pytest.raises(Exception, match="lost: Input/output error"):
        port.write("R\n")
    monkeypatch.undo()
    assert port.fd is None
    rule = WetRule(r"R (\d)", wet_above=0)
    missing = SerialRainSource("x", SerialLines(str(tmp_path / "ttyUSB9")), rule).read(T0)
    assert "does not exist" in missing.reasons[0]
    plain = tmp_path / "plain.txt"
    plain.write_text("R 1\n")
    assert "not a serial device" in SerialRainSource("x", SerialLines(str(plain)), rule).read(T0).reasons[0]
    with pytest.raises(ValueError, match="baud 1234"):
        SerialLines(device, 1234)


# --- command contact ----------------------------------------------------------------------

def command_source(code: str, **kwargs) -> CommandRainSource:
    rule = WetRule(r"(-?\d+)", wet_above=kwargs.pop("wet_above", None), wet_below=kwargs.pop("wet_below", None))
    return CommandRainSource("contact", f"{PY} -c '{code}'", rule, **kwargs)


def test_active_low_contact_output():
    assert command_source("print(0)", wet_below=1).read(T0).values == {"rain": True, "rain_value": 0.0}
    assert command_source("print(1)", wet_below=1).read(T0).values["rain"] is False
    garbage = command_source("print(\"chip not found\")", wet_below=1).read(T0)
    assert garbage.verdict is Verdict.UNKNOWN and "printed 'chip not found'" in garbage.reasons[0]


def test_exit_code_contact():
    assert command_source("raise SystemExit(1)", wet_above=0, decide="exit_code").read(T0).values["rain"] is True
    assert command_source("raise SystemExit(0)", wet_above=0, decide="exit_code").read(T0).values["rain"] is False
    odd = command_source("import sys; sys.stderr.write(\"no gpio\"); raise SystemExit(2)", wet_above=0,
                         decide="exit_code").read(T0)
    assert odd.verdict is Verdict.UNKNOWN and "status 2" in odd.reasons[0] and "no gpio" in odd.reasons[0]


def test_a_failing_missing_or_hanging_command_is_unknown_in_bounded_time():
    failing = command_source("import sys; sys.stderr.write(\"gpioget: permission denied\"); sys.exit(1)",
                             wet_below=1).read(T0)
    assert failing.verdict is Verdict.UNKNOWN and "permission denied" in failing.reasons[0]
    missing = CommandRainSource("c", "no-such-gpioget gpiochip0 17", WetRule(r"(\d)", 0)).read(T0)
    assert "command not found: no-such-gpioget" in missing.reasons[0]
    # a shell whose background child keeps the output pipe open: the whole group is killed
    hanging = CommandRainSource("c", "sh -c 'sleep 30 & sleep 30'", WetRule(r"(\d)", 0), timeout_s=0.5)
    started = time.monotonic()
    reading = hanging.read(T0)
    assert time.monotonic() - started < 3.0
    assert reading.verdict is Verdict.UNKNOWN and "did not finish within 0.5 s" in reading.reasons[0]


def test_command_contact_from_config(tmp_path):
    monitor = build_monitor(config_with(tmp_path, f'name = "contact"\ntype = "rain_command"\n'
                                                  f'command = "{PY} -c \'print(0)\'"\nwet_below = 1\ntimeout_s = 5'))
    status = monitor.step(T0)
    assert status.state is Verdict.UNSAFE and "contact: rain reported" in status.reasons


@pytest.mark.parametrize("source, message", [
    ('name = "r"\ntype = "rain_serial"', "needs path"),
    ('name = "r"\ntype = "rain_serial"\npath = "/dev/ttyS0"\nbaud = 1234', "baud 1234 is not one of"),
    ('name = "r"\ntype = "rain_command"\npath = "/x"', "needs command and no path"),
    ('name = "r"\ntype = "rain_command"\ncommand = "x"\npattern = "R \\\\d"', "exactly one group"),
    ('name = "r"\ntype = "rain_command"\ncommand = "x"\npattern = "R ("', "is not a regular expression"),
    ('name = "r"\ntype = "rain_command"\ncommand = "x"\nwet_above = 0\nwet_below = 1', "not both"),
    ('name = "r"\ntype = "rain_command"\ncommand = "x"\nunsafe_flags = []', "always unsafe"),
    ('name = "r"\ntype = "rain_command"\ncommand = "x"\ndecide = "exit_code"\nwet_exit = 0', "must differ"),
])
def test_bad_rain_config_names_the_problem(tmp_path, source, message):
    with pytest.raises(ConfigError, match=message):
        config_with(tmp_path, source)
