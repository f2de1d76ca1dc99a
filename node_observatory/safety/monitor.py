"""Combine the latest reading of every source into one safety state.

Rules (ARCHITECTURE.md, "Safety"):

* each source is read on its own cadence; its latest reading is kept with its time;
* a reading older than the source's ``max_age_s`` (or none at all) is ``unknown``;
* thresholds have hysteresis (:class:`~.rules.HysteresisRule`); flags such as rain are unsafe at once;
* required sources decide the state: any unsafe -> ``unsafe``; otherwise any unknown -> ``unknown``;
  otherwise the conditions are safe, and the state becomes ``safe`` only after they have stayed
  safe for ``min_safe_s`` (until then the state is ``unsafe``, with the time still to wait);
* advisory sources are reported with their verdicts but never change the state;
* ``unknown`` acts as unsafe: :attr:`SafetyStatus.is_safe` is true only for ``safe``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from .reading import Reading, Verdict, Value, worst
from .sources.base import SafetySource

#: a reading stamped further than this into the future is not trusted (clock skew)
FUTURE_TOLERANCE_S = 120.0


class Rule(Protocol):
    quantity: str

    def update(self, values: dict[str, Value], when: datetime | None = None) -> tuple[Verdict, str | None]: ...


@dataclass
class SourcePolicy:
    cadence_s: float = 60.0
    max_age_s: float = 300.0
    required: bool = True
    rules: list[Rule] = field(default_factory=list)

    def __post_init__(self):
        if self.cadence_s <= 0 or self.max_age_s <= 0:
            raise ValueError("cadence_s and max_age_s must be positive")


@dataclass(frozen=True)
class SourceStatus:
    name: str
    required: bool
    verdict: Verdict
    reasons: tuple[str, ...]
    age_s: float | None
    reading: Reading | None
    fresh: bool = False  # the reading is recent enough to be believed (not stale, not from the future)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "required": self.required,
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
            "age_s": None if self.age_s is None else round(self.age_s, 3),
            "reading": self.reading.to_dict() if self.reading else None,
        }


class SourceSlot:
    """One source, its policy, and what it last said (after thresholds)."""

    def __init__(self, source: SafetySource, policy: SourcePolicy):
        self.source = source
        self.policy = policy
        self.reading: Reading | None = None
        self.verdict = Verdict.UNKNOWN
        self.reasons: tuple[str, ...] = ("no reading yet",)
        self.next_due: datetime | None = None

    @property
    def name(self) -> str:
        return self.source.name

    def poll(self, now: datetime) -> bool:
        """Read the source if it is due; return whether it was read."""
        if self.next_due is not None and now < self.next_due:
            return False
        self.next_due = now + timedelta(seconds=self.policy.cadence_s)
        self.accept(self.source.read(now))
        return True

    def accept(self, reading: Reading) -> None:
        """Take a new reading and apply the thresholds (which updates their latches)."""
        self.reading = reading
        verdicts = [reading.verdict]
        reasons = list(reading.reasons)
        if reading.verdict is not Verdict.UNKNOWN or reading.values:
            for rule in self.policy.rules:
                verdict, reason = rule.update(reading.values, reading.time)
                verdicts.append(verdict)
                if reason:
                    reasons.append(reason)
        self.verdict = worst(*verdicts)
        self.reasons = tuple(reasons)

    def status(self, now: datetime) -> SourceStatus:
        required = self.policy.required
        if self.reading is None:
            return SourceStatus(self.name, required, Verdict.UNKNOWN, ("no reading yet",), None, None)
        if self.reading.time is None:
            return SourceStatus(self.name, required, Verdict.UNKNOWN,
                                self.reasons or ("reading has no time",), None, self.reading)
        age = (now - self.reading.time).total_seconds()
        if age > self.policy.max_age_s:
            reason = f"stale: data is {age:.0f} s old (max {self.policy.max_age_s:g} s)"
            return SourceStatus(self.name, required, Verdict.UNKNOWN, (reason,), age, self.reading)
        if age < -FUTURE_TOLERANCE_S:
            reason = (f"data time {self.reading.time.isoformat()} is {-age:.0f} s in the future "
                      "(check clocks and time zone)")
            return SourceStatus(self.name, required, Verdict.UNKNOWN, (reason,), age, self.reading)
        return SourceStatus(self.name, required, self.verdict, self.reasons, age, self.reading, fresh=True)


@dataclass(frozen=True)
class SafetyStatus:
    time: datetime
    state: Verdict
    conditions: Verdict
    reasons: tuple[str, ...]
    sources: tuple[SourceStatus, ...]
    safe_since: datetime | None

    @property
    def is_safe(self) -> bool:
        return self.state is Verdict.SAFE

    def to_dict(self) -> dict:
        return {
            "time": self.time.isoformat(),
            "state": self.state.value,
            "is_safe": self.is_safe,
            "conditions": self.conditions.value,
            "reasons": list(self.reasons),
            "safe_since": self.safe_since.isoformat() if self.safe_since else None,
            "sources": [s.to_dict() for s in self.sources],
        }


class SafetyMonitor:
    """Polls sources on their cadence and computes the observatory's one safety state.

    ``hold_at_start``: when true (the default, for the running node) the first safe state also
    waits ``min_safe_s``, so a restart does not reopen the roof at once after rain. A one-shot
    status report passes false to show the conditions as they are now.
    """

    def __init__(self, slots: list[SourceSlot], min_safe_s: float = 900.0, hold_at_start: bool = True):
        names = [s.name for s in slots]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicates)}")
        if min_safe_s < 0:
            raise ValueError("min_safe_s must not be negative")
        self.slots = list(slots)
        self.min_safe_s = float(min_safe_s)
        self.hold_at_start = hold_at_start
        self._state: Verdict | None = None
        self._safe_since: datetime | None = None

    def poll(self, now: datetime) -> list[str]:
        """Read every source that is due; return the names read."""
        return [slot.name for slot in self.slots if slot.poll(now)]

    def step(self, now: datetime) -> SafetyStatus:
        self.poll(now)
        return self.evaluate(now)

    def evaluate(self, now: datetime) -> SafetyStatus:
        statuses = tuple(slot.status(now) for slot in self.slots)
        required = [s for s in statuses if s.required]
        reasons: list[str] = []
        if not required:
            conditions = Verdict.UNKNOWN
            reasons.append("no required safety source is configured")
        else:
            conditions = worst(*(s.verdict for s in required))
            for s in required:
                if s.verdict is not Verdict.SAFE:
                    reasons += [f"{s.name}: {r}" for r in s.reasons] or [f"{s.name}: {s.verdict.value}"]
        if conditions is not Verdict.SAFE:
            self._safe_since = None
            state = conditions
        else:
            if self._safe_since is None:
                self._safe_since = now
            waited = (now - self._safe_since).total_seconds()
            if self._state is Verdict.SAFE:
                state = Verdict.SAFE
            elif self._state is None and not self.hold_at_start:
                state = Verdict.SAFE
            elif waited >= self.min_safe_s:
                state = Verdict.SAFE
            else:
                state = Verdict.UNSAFE
                reasons.append(f"conditions safe for {waited:.0f} s; waiting until {self.min_safe_s:.0f} s "
                               f"of continuous safe conditions")
        for s in statuses:
            if not s.required and s.verdict is not Verdict.SAFE:
                label = f"{s.name} (advisory)"
                reasons += [f"{label}: {r}" for r in s.reasons] or [f"{label}: {s.verdict.value}"]
        self._state = state
        return SafetyStatus(now, state, conditions, tuple(reasons), statuses, self._safe_since)
