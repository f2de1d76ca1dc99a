"""Whether the master re-plans the rest of a night by itself, and why (a pure decision).

Two things change what is worth imaging during a night: the observatory turning safe again
after an unsafe stretch (the sent schedule was interrupted or lost its slots), and a cloud
map that clouds the part of the sky where the next targets of the sent schedule stand. The
master re-plans at most once per ``min_interval_min`` so a flapping sensor or a cloud map every
minute does not restart the telescope over and over.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from master.planning.conditions import CLOUD_LIMIT, CloudCover

DEFAULT_MIN_INTERVAL_MIN = 20.0
UPCOMING = 2  # the current target and the next one: later ones the next map will judge


@dataclass(frozen=True)
class Decision:
    replan: bool
    why: str


def clouded_targets(cover: CloudCover | None, positions: dict[str, tuple[float, float]],
                    limit: float = CLOUD_LIMIT) -> list[str]:
    """Names whose (altitude, azimuth) now lies in a region of the map at least ``limit`` clouded."""
    if cover is None:
        return []
    return [name for name, (alt, az) in positions.items()
            if bool(cover.clouded(np.array([alt]), np.array([az]), limit)[0])]


def decide(remaining: list[str], now: datetime, last_sent_at: datetime | None, *,
           safety: str | None = None, safety_before: str | None = None,
           cover: CloudCover | None = None, positions: dict[str, tuple[float, float]] | None = None,
           last_replan_at: datetime | None = None,
           min_interval_min: float = DEFAULT_MIN_INTERVAL_MIN) -> Decision:
    """``remaining``: the sent schedule's targets not done yet, in order; ``positions``: their
    (alt, az) now; ``safety``/``safety_before``: the observatory's verdict now and before this event."""
    if last_sent_at is None or not remaining:
        return Decision(False, "no schedule sent tonight with targets left")
    newest = max(t for t in (last_sent_at, last_replan_at) if t is not None)
    if now - newest < timedelta(minutes=min_interval_min):
        return Decision(False, f"re-planned or sent less than {min_interval_min:g} min ago")
    if safety == "safe" and safety_before == "unsafe":
        return Decision(True, "the observatory is safe again after an unsafe period")
    upcoming = remaining[:UPCOMING]
    clouded = [n for n in clouded_targets(cover, {n: p for n, p in (positions or {}).items() if n in upcoming})]
    if clouded:
        return Decision(True, f"clouds over {', '.join(clouded)} ({cover.source} at {cover.taken_at:%H:%M} UTC)")
    return Decision(False, "nothing changed for the targets still to come")
