"""Rain sensors: a line-oriented serial sensor (Hydreon RG-9/RG-15 style) and a contact read by a command.

Both report ``rain`` (true while wet), which the default ``unsafe_flags = ["rain"]`` makes unsafe
at once, with no hysteresis, and ``rain_value`` (the number the decision was made on).

A reading's number comes from a regular expression with one group (e.g. ``R\\s*(\\d+)`` for the
RG-9's ``R 0`` .. ``R 7``, or ``RInt\\s+([\\d.]+)`` for the RG-15's rain intensity); it is wet when
above ``wet_above`` or, for an active-low contact, below ``wet_below``.
"""
from __future__ import annotations

import re
from datetime import datetime

from ..reading import Reading, Verdict
from .base import SafetySource, SourceError, last_line, run_argv
from .serial_line import SerialLines

SERIAL_PATTERN = r"^\s*R\s*(\d+)"
COMMAND_PATTERN = r"(-?\d+(?:\.\d+)?)"


class WetRule:
    """Turn a line of text into (wet, value), or say why it cannot."""

    def __init__(self, pattern: str, wet_above: float | None = None, wet_below: float | None = None):
        if (wet_above is None) == (wet_below is None):
            raise ValueError("give exactly one of wet_above and wet_below")
        try:
            self.regex = re.compile(pattern)
        except re.error as exc:
            raise ValueError(f"pattern {pattern!r} is not a regular expression: {exc}") from None
        if self.regex.groups != 1:
            raise ValueError(f"pattern {pattern!r} must have exactly one group (the number), not {self.regex.groups}")
        self.wet_above, self.wet_below = wet_above, wet_below

    def match(self, line: str) -> float | None:
        found = self.regex.search(line)
        if not found:
            return None
        try:
            return float(found.group(1))
        except (TypeError, ValueError):
            return None

    def wet(self, value: float) -> bool:
        return value > self.wet_above if self.wet_above is not None else value < self.wet_below

    def reading(self, name: str, when: datetime, value: float) -> Reading:
        return Reading(name, when, {"rain": self.wet(value), "rain_value": value}, Verdict.SAFE, ())


class SerialRainSource(SafetySource):
    """A sensor that writes lines on a serial port; the newest matching line is the reading.

    The reading's time is when the line was taken from the port, so a sensor that goes quiet
    turns stale (unknown). ``send``, when given, is written at every read (a poll command for a
    sensor that only answers when asked)."""

    def __init__(self, name: str, port: SerialLines, rule: WetRule, send: str = ""):
        super().__init__(name)
        self.port = port
        self.rule = rule
        self.send = send
        self.last: Reading | None = None
        self.unmatched = ""

    def measure(self, now: datetime) -> Reading:
        lines = self.port.poll()
        if self.send:
            self.port.write(self.send)
        for line in reversed(lines):
            value = self.rule.match(line)
            if value is not None:
                self.last = self.rule.reading(self.name, now, value)
                break
        else:
            if lines:
                self.unmatched = lines[-1][:120]
        if self.last is None:
            if self.unmatched:
                raise SourceError(f"{self.port.path}: no line matches {self.rule.regex.pattern!r}; "
                                  f"last line {self.unmatched!r}")
            raise SourceError(f"{self.port.path}: nothing received from the sensor yet")
        return self.last  # an old line keeps its time, so the monitor sees it go stale


class CommandRainSource(SafetySource):
    """A contact (GPIO pin, relay) read by a command, e.g. ``gpioget gpiochip0 17``.

    ``decide = "output"``: the number in the output decides; a failing command is unknown.
    ``decide = "exit_code"``: ``wet_exit`` means wet, ``dry_exit`` dry, anything else unknown."""

    def __init__(self, name: str, command: str, rule: WetRule, *, timeout_s: float = 10.0, decide: str = "output",
                 wet_exit: int = 1, dry_exit: int = 0):
        super().__init__(name)
        if decide not in ("output", "exit_code"):
            raise ValueError(f"decide must be 'output' or 'exit_code', not {decide!r}")
        if wet_exit == dry_exit:
            raise ValueError("wet_exit and dry_exit must differ")
        self.command = command
        self.rule = rule
        self.timeout_s = timeout_s
        self.decide = decide
        self.wet_exit, self.dry_exit = wet_exit, dry_exit

    def measure(self, now: datetime) -> Reading:
        done = run_argv(self.command, self.timeout_s)
        program = done.args[0]
        if self.decide == "exit_code":
            if done.returncode not in (self.wet_exit, self.dry_exit):
                raise SourceError(f"command {program} exited with status {done.returncode} (wet {self.wet_exit}, "
                                  f"dry {self.dry_exit}): {last_line(done.stderr)}")
            wet = done.returncode == self.wet_exit
            return Reading(self.name, now, {"rain": wet, "rain_value": float(done.returncode)}, Verdict.SAFE, ())
        if done.returncode != 0:
            raise SourceError(f"command {program} exited with status {done.returncode}: {last_line(done.stderr)}")
        output = last_line(done.stdout)
        value = self.rule.match(output)
        if value is None:
            raise SourceError(f"command {program} printed {output!r}, which does not match "
                              f"{self.rule.regex.pattern!r}")
        return self.rule.reading(self.name, now, value)
