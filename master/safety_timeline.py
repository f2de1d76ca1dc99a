"""Safety history as a timeline: who said what, from when to when, over a window of time.

Nodes publish their verdict on every change and again every few minutes, so consecutive
records with the same state are one stretch. A gap in the records longer than ``stale_s`` is
shown as ``no data``: a silent node is not a safe one.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


@dataclass(frozen=True)
class Stretch:
    state: str  # safe, unsafe, unknown, or "no data"
    start: datetime
    end: datetime
    reasons: tuple[str, ...] = ()

    def x_pct(self, window_start: datetime, window_s: float) -> float:
        return round(100.0 * (self.start - window_start).total_seconds() / window_s, 3)

    def w_pct(self, window_s: float) -> float:
        return round(100.0 * (self.end - self.start).total_seconds() / window_s, 3)


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)  # SQLite returns naive UTC


def stretches(records, start: datetime, end: datetime, stale_s: float) -> list[Stretch]:
    """``records``: objects with ``state``, ``at`` (and ``reasons``), oldest first; the record just
    before ``start``, if given, sets the state the window opens with."""
    out: list[Stretch] = []
    cursor, state, reasons, last_at = start, "no data", (), None
    for record in records:
        at = _aware(record.at)
        if last_at is not None and (at - last_at).total_seconds() > stale_s:
            silent_from = max(start, last_at + _seconds(stale_s))
            if silent_from > cursor and state != "no data":
                out.append(Stretch(state, cursor, silent_from, reasons))
                cursor = silent_from
            state, reasons = "no data", ()
        if at > cursor and at > start:
            out.append(Stretch(state, cursor, min(at, end), reasons))
            cursor = min(at, end)
        state, reasons, last_at = record.state, tuple(record.reasons or ()), at
        if cursor >= end:
            break
    if cursor < end:
        if last_at is not None and state != "no data" and (end - last_at).total_seconds() > stale_s:
            silent_from = max(cursor, last_at + _seconds(stale_s))
            out.append(Stretch(state, cursor, silent_from, reasons))
            cursor, state, reasons = silent_from, "no data", ()
        out.append(Stretch(state, cursor, end, reasons))
    return _merge(out)


def _seconds(s: float) -> timedelta:
    return timedelta(seconds=s)


def _merge(parts: list[Stretch]) -> list[Stretch]:
    merged: list[Stretch] = []
    for part in parts:
        if part.end <= part.start:
            continue
        if merged and merged[-1].state == part.state and merged[-1].end == part.start:
            merged[-1] = Stretch(part.state, merged[-1].start, part.end, merged[-1].reasons or part.reasons)
        else:
            merged.append(part)
    return merged
