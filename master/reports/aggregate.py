"""Per-target and per-night summaries of frame rows, as plain data the pages, charts and CSV use.

The functions take any objects with the ``Frame`` attributes they read (database rows in the portal,
simple namespaces in the tests), so the arithmetic is tested without a database.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from statistics import median

NO_FILTER = "(none)"
TREND_FIELDS = (("hfr_px", "HFR (px)"), ("star_count", "Stars"), ("background", "Background (ADU)"))


def aware(when: datetime | None) -> datetime | None:
    if when is None:
        return None
    return when.replace(tzinfo=timezone.utc) if when.tzinfo is None else when  # SQLite hands back naive UTC


@dataclass
class Tally:
    """Frames of one group: how many were kept and thrown away, and the seconds of exposure kept."""
    accepted: int = 0
    rejected: int = 0
    accepted_s: float = 0.0
    rejected_s: float = 0.0

    def add(self, frame) -> None:
        seconds = frame.exposure_s or 0.0
        if frame.accepted:
            self.accepted += 1
            self.accepted_s += seconds
        else:
            self.rejected += 1
            self.rejected_s += seconds

    @property
    def total(self) -> int:
        return self.accepted + self.rejected


@dataclass
class TrendPoint:
    when: datetime
    value: float
    accepted: bool
    frame_id: int


@dataclass
class TargetReport:
    """Light frames of one target: integration by filter and night, rejections and quality over time."""
    nights: list[date] = field(default_factory=list)
    filters: list[str] = field(default_factory=list)
    by_night_filter: dict[tuple[date, str], Tally] = field(default_factory=dict)
    by_filter: dict[str, Tally] = field(default_factory=dict)
    total: Tally = field(default_factory=Tally)
    reasons: list[tuple[str, int]] = field(default_factory=list)  # most frequent first
    trends: dict[str, list[TrendPoint]] = field(default_factory=dict)  # TREND_FIELDS name -> points in time order
    undated: int = 0  # frames without a night, counted in the totals but in no night's column


def filter_of(frame) -> str:
    return frame.filter_name or NO_FILTER


def reason_of(frame) -> str:
    return (frame.reject_reason or "no reason recorded").strip() or "no reason recorded"


def target_report(frames) -> TargetReport:
    report = TargetReport()
    nights, filters, reasons = set(), set(), Counter()
    cells: dict[tuple[date, str], Tally] = defaultdict(Tally)
    per_filter: dict[str, Tally] = defaultdict(Tally)
    trends: dict[str, list[TrendPoint]] = {name: [] for name, _ in TREND_FIELDS}
    for frame in frames:
        name = filter_of(frame)
        filters.add(name)
        per_filter[name].add(frame)
        report.total.add(frame)
        if frame.night is None:
            report.undated += 1
        else:
            nights.add(frame.night)
            cells[(frame.night, name)].add(frame)
        if not frame.accepted:
            reasons[reason_of(frame)] += 1
        when = aware(frame.date_obs)
        if when is not None:
            for attribute, _ in TREND_FIELDS:
                value = getattr(frame, attribute)
                if value is not None:
                    trends[attribute].append(TrendPoint(when, float(value), bool(frame.accepted), frame.id))
    report.nights, report.filters = sorted(nights), sorted(filters)
    report.by_night_filter, report.by_filter = dict(cells), dict(per_filter)
    report.reasons = sorted(reasons.items(), key=lambda item: (-item[1], item[0]))
    report.trends = {name: sorted(points, key=lambda p: (p.when, p.frame_id)) for name, points in trends.items()}
    return report


@dataclass
class CapturedGroup:
    """One target in one filter on a night (calibration frames: their type and filter)."""
    frame_type: str
    target: str
    filter_name: str
    tally: Tally
    first: datetime | None
    last: datetime | None
    median_hfr: float | None


def night_groups(frames) -> list[CapturedGroup]:
    """What a night captured, lights first by target then filter, calibration frames after."""
    groups: dict[tuple[str, str, str], list] = defaultdict(list)
    for frame in frames:
        target = (frame.target_name or "") if frame.frame_type == "light" else ""
        groups[(frame.frame_type, target, filter_of(frame))].append(frame)
    out = []
    for (kind, target, name), members in groups.items():
        tally = Tally()
        for frame in members:
            tally.add(frame)
        times = [t for t in (aware(f.date_obs) for f in members) if t is not None]
        hfrs = [f.hfr_px for f in members if f.hfr_px is not None and f.accepted]
        out.append(CapturedGroup(kind, target, name, tally, min(times, default=None), max(times, default=None),
                                 median(hfrs) if hfrs else None))
    return sorted(out, key=lambda g: (g.frame_type != "light", g.frame_type, g.target, g.filter_name))


@dataclass
class WeatherNote:
    """A reason an observatory node gave for its verdict, and when during the window it was given."""
    node: str
    reason: str
    first: datetime
    last: datetime
    reports: int


def weather_notes(records) -> list[WeatherNote]:
    """The reasons observatory nodes reported with their verdicts (weather limits, rain, clouds, stale
    sources...), once each per node, in the order they first appeared."""
    notes: dict[tuple[str, str], WeatherNote] = {}
    for record in records:
        at = aware(record.at)
        for reason in record.reasons or ():
            key = (record.node_name, reason)
            note = notes.get(key)
            if note is None:
                notes[key] = WeatherNote(record.node_name, reason, at, at, 1)
            else:
                note.first, note.last, note.reports = min(note.first, at), max(note.last, at), note.reports + 1
    return sorted(notes.values(), key=lambda n: (n.first, n.node, n.reason))
