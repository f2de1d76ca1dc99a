"""What a safety source reports: one reading, with its own verdict and reasons."""
from __future__ import annotations

import enum
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Union

Value = Union[float, int, bool, str, None]


class Verdict(str, enum.Enum):
    SAFE = "safe"
    UNSAFE = "unsafe"
    UNKNOWN = "unknown"


_RANK = {Verdict.SAFE: 0, Verdict.UNKNOWN: 1, Verdict.UNSAFE: 2}


def worst(*verdicts: Verdict) -> Verdict:
    """Unsafe beats unknown beats safe."""
    return max(verdicts, key=_RANK.__getitem__, default=Verdict.SAFE)


@dataclass(frozen=True)
class Reading:
    """One measurement from one source.

    ``time`` is when the data was measured (UTC, timezone-aware), not when it was read;
    ``None`` means the source could not say, which the monitor treats as unknown.
    ``verdict`` is the source's own judgement before thresholds (e.g. unsafe when a rain
    flag is set, unknown when the input is malformed); thresholds are applied by the monitor.
    """

    source: str
    time: datetime | None
    values: dict[str, Value] = field(default_factory=dict)
    verdict: Verdict = Verdict.SAFE
    reasons: tuple[str, ...] = ()

    def __post_init__(self):
        if self.time is not None and self.time.tzinfo is None:
            raise ValueError(f"reading time for {self.source!r} must be timezone-aware")

    @classmethod
    def unknown(cls, source: str, reason: str) -> Reading:
        """A reading that says nothing but why: no time, no values."""
        return cls(source, None, {}, Verdict.UNKNOWN, (reason,))

    def to_dict(self) -> dict:
        return {
            "source": self.source,
            "time": self.time.isoformat() if self.time else None,
            "values": {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                       for k, v in self.values.items()},
            "verdict": self.verdict.value,
            "reasons": list(self.reasons),
        }
