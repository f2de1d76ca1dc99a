"""Thresholds with hysteresis: one limit to become unsafe, another to become safe again."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime

from .reading import Value, Verdict


def _number(value: Value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    return None


@dataclass
class HysteresisRule:
    """A latched limit on one value of a reading.

    ``direction="above"``: unsafe when value > ``unsafe``, safe again when value <= ``safe``
    (``safe`` <= ``unsafe``). ``direction="below"``: unsafe when value < ``unsafe``, safe again
    when value >= ``safe`` (``safe`` >= ``unsafe``). Between the two limits the previous
    verdict holds; with no previous verdict the band counts as unsafe.

    ``unsafe_after_s`` (default 0: at once) asks for the value to stay beyond the unsafe limit
    that long, measured on reading times, before a safe verdict turns unsafe, so that a single
    gust does not close the roof. It never delays a first verdict: with no earlier verdict a
    value beyond the limit is unsafe at once.
    """

    quantity: str
    unsafe: float
    safe: float
    direction: str = "above"
    unsafe_after_s: float = 0.0
    latched: Verdict | None = field(default=None, init=False)
    beyond_since: datetime | None = field(default=None, init=False)

    def __post_init__(self):
        if self.direction not in ("above", "below"):
            raise ValueError(f"direction must be 'above' or 'below', not {self.direction!r}")
        if self.direction == "above" and self.safe > self.unsafe:
            raise ValueError(f"{self.quantity}: safe limit {self.safe} must not exceed unsafe limit {self.unsafe}")
        if self.direction == "below" and self.safe < self.unsafe:
            raise ValueError(f"{self.quantity}: safe limit {self.safe} must not be below unsafe limit {self.unsafe}")
        if self.unsafe_after_s < 0:
            raise ValueError(f"{self.quantity}: unsafe_after_s must not be negative")

    def update(self, values: dict[str, Value], when: datetime | None = None) -> tuple[Verdict, str | None]:
        """Feed a new reading's values (measured at ``when``); return the verdict and a reason if any."""
        value = _number(values.get(self.quantity))
        if value is None:
            return Verdict.UNKNOWN, f"{self.quantity}: no valid value"
        if self.direction == "above":
            beyond, back = value > self.unsafe, value <= self.safe
        else:
            beyond, back = value < self.unsafe, value >= self.safe
        pending = None
        if not beyond:
            self.beyond_since = None
            if back:
                self.latched = Verdict.SAFE
        elif self.latched is not Verdict.SAFE or self.unsafe_after_s <= 0 or when is None:
            self.latched = Verdict.UNSAFE
        else:
            self.beyond_since = self.beyond_since or when
            held = (when - self.beyond_since).total_seconds()
            if held >= self.unsafe_after_s:
                self.latched = Verdict.UNSAFE
            else:
                pending = (f"{self.quantity} {value:g} {self.direction} {self.unsafe:g} for {held:.0f} s; "
                           f"unsafe after {self.unsafe_after_s:g} s")
        if self.latched is None:
            return Verdict.UNSAFE, (f"{self.quantity} {value:g} is between the unsafe limit {self.unsafe:g} "
                                    f"and the safe limit {self.safe:g} with no earlier verdict")
        if self.latched is Verdict.UNSAFE:
            return Verdict.UNSAFE, (f"{self.quantity} {value:g} (unsafe {self.direction} {self.unsafe:g}, "
                                    f"safe again at {self.safe:g})")
        return Verdict.SAFE, pending


@dataclass
class FlagRule:
    """A boolean value that makes the source unsafe at once while true (e.g. rain): no hysteresis."""

    quantity: str

    def update(self, values: dict[str, Value], when: datetime | None = None) -> tuple[Verdict, str | None]:
        value = values.get(self.quantity)
        if value is None:
            return Verdict.UNKNOWN, f"{self.quantity}: not reported"
        if not isinstance(value, (bool, int, float)):
            return Verdict.UNKNOWN, f"{self.quantity}: {value!r} is not a flag"
        if value:
            return Verdict.UNSAFE, f"{self.quantity} reported"
        return Verdict.SAFE, None
